"""``Service``: what the routes act on. It starts runs, waits on them, cancels them and records
approval decisions, always through the store and the queue, never by running a step itself.

Embedded mode: an ``InProcessQueue`` and in-process ``StreamingWorker``s advance the runs, and
tokens travel on an ``InProcessBus``. Production mode: the same calls, with the ``RunQueue`` the
configuration names and no workers here; with a PostgreSQL queue, tokens come from the workers over
a ``PgBus`` (LISTEN/NOTIFY on the queue's database). Every object is tenant-scoped: a run of
another tenant is "not found".
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import uuid
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any, cast

from keel.errors import ApprovalError, ConfigError
from keel.events import ApprovalDecided, ApprovalRequested, Event, ModelResponded, RunResumed
from keel.loop.state import RunState
from keel.runtime.bus import EventBus, InProcessBus, bus_for_queue
from keel.runtime.queue import InProcessQueue, Job, RunQueue
from keel.serve.errors import not_found
from keel.serve.ratelimit import RateLimiter, memory_buckets, redis_buckets
from keel.serve.registry import AgentRegistry
from keel.serve.schemas import ApprovalView, RunSummary, pending_calls, scope_session, unscope_session
from keel.serve.tailing import NotifyingStore
from keel.serve.workers import StreamingWorker, fail_run
from keel.store.base import RunRecord, RunStore, SeqConflict

if TYPE_CHECKING:
    from keel.serve.config import ServeConfig
    from keel.serve.keys import KeyStore

__all__ = ["Service"]

log = logging.getLogger("keel.serve")


async def _open_store(config: ServeConfig) -> tuple[RunStore, bool]:
    if not isinstance(config.store, str):
        return config.store, False
    if config.store.startswith(("postgres://", "postgresql://")):
        from keel.store.postgres import PostgresStore

        return await PostgresStore(config.store).open(), True
    from keel.store.sqlite import SQLiteStore

    return SQLiteStore(config.store), True


async def _open_queue(config: ServeConfig) -> RunQueue:
    factory = config.queue_factory
    if factory is None:
        return InProcessQueue()
    if isinstance(factory, str) and "://" in factory:
        try:
            from keel.runtime.cli import open_queue
        except ImportError:
            raise ConfigError(f"no shared queue backend for {factory!r} in this install") from None
        queue: Any = await open_queue(factory)
        return cast(RunQueue, queue)
    if isinstance(factory, str):
        from keel.cli import load_object

        factory = load_object(factory)
    if not callable(factory):
        raise ConfigError(f"the queue factory {config.queue_factory!r} is not callable")
    made = factory()
    if inspect.isawaitable(made):
        made = await made
    if not isinstance(made, RunQueue):
        raise ConfigError(f"the queue factory returned {type(made).__name__}, not a keel RunQueue")
    return made


async def _open_limiter(config: ServeConfig) -> tuple[RateLimiter, Any]:
    if not config.redis_url:
        return RateLimiter(config.limits, memory_buckets), None
    try:
        import redis.asyncio as aioredis
    except ImportError:
        raise ConfigError("Redis rate limits need the serve extra: pip install 'keel[serve]'") from None
    client = aioredis.from_url(config.redis_url)
    return RateLimiter(config.limits, redis_buckets(client)), client


class Service:
    """The service's state: store, keys, queue, agents, workers, limits. Open with ``Service.open``."""

    def __init__(
        self,
        config: ServeConfig,
        registry: AgentRegistry,
        store: RunStore,
        keys: KeyStore,
        queue: RunQueue,
        limiter: RateLimiter,
        bus: EventBus | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.store = store
        self.keys = keys
        self.queue = queue
        self.limiter = limiter
        self.bus: EventBus = bus if bus is not None else InProcessBus()
        self.workers: list[StreamingWorker] = []
        self._worker_tasks: list[asyncio.Task[None]] = []
        self._meters: set[asyncio.Task[None]] = set()
        self._closers: list[Any] = []

    @classmethod
    async def open(cls, config: ServeConfig, registry: AgentRegistry | None = None) -> Service:
        """Open the store, key database, queue and limiter; start in-process workers."""
        from keel.serve.keys import open_key_store

        registry = registry or AgentRegistry.from_sources(config.agents, entry_points=config.entry_points)
        if config.mode == "production":
            registry.check_worker_names()
        store, own_store = await _open_store(config)
        keys = config.keys if config.keys is not None and not isinstance(config.keys, str) else None
        own_keys = keys is None
        if keys is None:
            keys = await open_key_store(config.key_store_location())
        queue = await _open_queue(config)
        limiter, redis_client = await _open_limiter(config)
        # every in-process append goes through the wrapper, so tailers wake at once
        shared = NotifyingStore(store, poll_s=0.25 if config.mode == "production" else 1.0)
        registry.bind(shared)
        bus = bus_for_queue(queue) or InProcessBus()
        bus.on_mark = shared.wake  # a worker's mark: the run's new events are in the store
        svc = cls(config, registry, shared, keys, queue, limiter, bus)
        svc._closers = [bus.close, queue.close]
        if redis_client is not None:
            svc._closers.append(redis_client.aclose)
        if own_keys:
            svc._closers.append(keys.close)
        if own_store:
            svc._closers.append(shared.close)
        await svc._start_workers()
        return svc

    async def _start_workers(self) -> None:
        agents = self.registry.as_mapping()
        for i in range(self.config.in_process_workers):
            w = StreamingWorker(
                self.queue, agents, bus=self.bus, concurrency=self.config.worker_concurrency, name=f"api/{i}"
            )
            self.workers.append(w)
            self._worker_tasks.append(asyncio.create_task(w.run()))
        if self.workers:
            await self._recover()

    async def _recover(self) -> None:
        """Re-enqueue runs a previous process left running (embedded mode owns its store)."""
        for rec in await self.store.list_runs(status="running", limit=100_000):
            first = await self.store.events(rec.run_id, limit=1)
            meta = first[0].metadata if first and first[0].type == "run_started" else {}
            name = str(meta.get("agent") or rec.agent)
            if self.registry.get(name) is None or rec.parent_run_id is not None:
                continue
            await self.queue.put(Job(run_id=rec.run_id, agent=name, tenant=rec.tenant, priority="batch"))

    async def close(self) -> None:
        """Stop the workers (in-flight steps finish and are persisted), then close everything."""
        for w in self.workers:
            w.stop()
        await asyncio.gather(*self._worker_tasks, return_exceptions=True)
        for t in list(self._meters):
            t.cancel()
        await asyncio.gather(*self._meters, return_exceptions=True)
        for close in self._closers:
            with contextlib.suppress(Exception):
                await close()

    # -- reading, tenant-scoped ---------------------------------------------------------------------

    async def record(self, run_id: str, tenant: str) -> RunRecord:
        rec = await self.store.get_run(run_id)
        if rec is None or rec.tenant != tenant:
            raise not_found("run", run_id)
        return rec

    async def state(self, run_id: str, tenant: str) -> RunState:
        await self.record(run_id, tenant)
        return RunState.from_events(run_id, await self.store.events(run_id))

    async def session(self, tenant: str, session_id: str) -> tuple[list[RunSummary], list[Any]]:
        recs = await self.store.list_runs(
            session_id=scope_session(tenant, session_id), tenant=tenant, limit=1000
        )
        recs = [r for r in recs if r.parent_run_id is None]
        if not recs:
            raise not_found("session", session_id)
        messages: list[Any] = []
        for r in recs:
            messages.extend(RunState.from_events(r.run_id, await self.store.events(r.run_id)).messages)
        return [summary(r) for r in recs], messages

    async def approvals(self, tenant: str) -> list[ApprovalView]:
        out = []
        for rec in await self.store.list_runs(status="suspended", tenant=tenant, limit=1000):
            st = RunState.from_events(rec.run_id, await self.store.events(rec.run_id))
            if st.approvals_pending:
                out.append(
                    ApprovalView(
                        run_id=rec.run_id,
                        agent=str(st.metadata.get("agent") or st.agent),
                        session_id=unscope_session(st.session_id),
                        pending=pending_calls(st),
                    )
                )
        return out

    # -- acting -------------------------------------------------------------------------------------

    async def start_run(
        self,
        agent_name: str,
        message: str,
        *,
        tenant: str,
        key_id: str,
        session_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        priority: str = "interactive",
        run_id: str | None = None,
    ) -> str:
        """Record a run (``Agent.start``) and enqueue it for a worker; returns its id."""
        agent = self.registry.get(agent_name)
        if agent is None:
            raise not_found("agent", agent_name)
        meta = {**(metadata or {}), "tenant": tenant, "key_id": key_id, "agent": agent_name}
        meta["priority"] = priority
        rid = await agent.start(
            message,
            session_id=scope_session(tenant, session_id),
            metadata=meta,
            run_id=run_id or uuid.uuid4().hex,
        )
        # a stream subscribed before the run existed must be listening before any worker can
        # publish: everything after run_started is live for it
        await self.bus.ready(rid, live_after=0)
        await self.queue.put(Job(run_id=rid, agent=agent_name, priority=priority, tenant=tenant))
        self._meter(rid, key_id, tenant, after=0)
        return rid

    async def wait(self, run_id: str, *, after: int = -1, timeout_s: float | None = None) -> RunState:
        """Wait until the run finishes, fails or suspends (or ``timeout_s`` passes); return its state."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s or self.config.wait_timeout_s):
                async with contextlib.aclosing(self.events(run_id, after=after)) as events:
                    async for _ in events:
                        pass
        return RunState.from_events(run_id, await self.store.events(run_id))

    def events(
        self,
        run_id: str,
        *,
        after: int = -1,
        deltas: asyncio.Queue[Any] | None = None,
        stop_on_suspend: bool = True,
    ) -> AsyncGenerator[Event | None, None]:
        """The run's events after ``after`` (and live deltas) until it ends or suspends."""
        from keel.serve.sse import merged_events

        return merged_events(
            self.store,
            run_id,
            after=after,
            deltas=deltas,
            stop_on_suspend=stop_on_suspend,
            keepalive_s=self.config.keepalive_s,
        )

    async def cancel(self, run_id: str, by: str) -> RunState:
        """Cancel a step in flight here (if any), then end the run with ``run_failed: cancelled``."""
        tasks = [t for w in self.workers if (t := w.cancel(run_id)) is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        return await fail_run(self.store, run_id, "cancelled", f"cancelled by {by}")

    async def decide(
        self,
        run_id: str,
        *,
        approved: bool,
        call_id: str | None,
        reason: str,
        by: str,
        key_id: str,
        tenant: str,
    ) -> RunState:
        """Record an approval decision and enqueue the run so a worker resumes it.

        The same records as ``Agent.resume(run_id, decision)``, without running the next step here.
        """
        for _ in range(20):
            events = await self.store.events(run_id)
            state = RunState.from_events(run_id, events)
            if not state.approvals_pending:
                raise ApprovalError(f"run {run_id} has no pending approval (status: {state.status})")
            target = call_id or next(iter(state.approvals_pending))
            if target not in state.approvals_pending:
                raise ApprovalError(f"run {run_id} has no pending approval for call {target!r}")
            seq = state.last_seq + 1
            batch: list[Event] = [
                ApprovalDecided(
                    run_id=run_id, seq=seq, call_id=target, approved=approved, reason=reason, by=by
                )
            ]
            if len(state.approvals_pending) == 1:
                batch.append(RunResumed(run_id=run_id, seq=seq + 1, worker="api"))
            try:
                await self.store.append(run_id, batch)
            except SeqConflict:
                continue
            for ev in batch:
                state.apply(ev)
            if state.status == "running":
                name = str(state.metadata.get("agent") or state.agent)
                prio = str(state.metadata.get("priority", "interactive"))
                await self.queue.put(Job(run_id=run_id, agent=name, priority=prio, tenant=tenant))
                self._meter(run_id, key_id, tenant, after=state.last_seq)
            return state
        raise ApprovalError(f"run {run_id} kept changing; try the decision again")

    # -- token metering -----------------------------------------------------------------------------

    def _meter(self, run_id: str, key_id: str, tenant: str, *, after: int) -> None:
        """Charge the run's model tokens to the key and tenant as they are spent (in the background,
        so a client that disconnects is charged all the same)."""
        if not self.limiter.meters_tokens:
            return
        task = asyncio.create_task(self._charge(run_id, key_id, tenant, after))
        self._meters.add(task)
        task.add_done_callback(self._meters.discard)

    async def _charge(self, run_id: str, key_id: str, tenant: str, after: int) -> None:
        try:
            async with contextlib.aclosing(self.store.tail(run_id, after)) as tail:  # type: ignore[type-var]
                async for ev in tail:
                    if isinstance(ev, ModelResponded):
                        await self.limiter.charge_tokens(key_id, tenant, ev.usage.total_tokens)
                    elif isinstance(ev, ApprovalRequested):
                        return  # the decision starts a new meter
        except Exception:  # metering must never break a run; the limiter's backend may be down
            log.warning("token metering of run %s stopped", run_id, exc_info=True)


def summary(rec: RunRecord) -> RunSummary:
    return RunSummary(
        run_id=rec.run_id, agent=rec.agent, status=rec.status, created=rec.created, updated=rec.updated
    )
