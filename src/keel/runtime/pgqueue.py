"""``PgQueue``: the run queue on PostgreSQL, built on procrastinate's job engine.

Jobs live in procrastinate's tables (``procrastinate_jobs``) in the same database as the
``PostgresStore``, so the queue adds no server. What procrastinate provides and Keel uses as is:

- ``procrastinate_fetch_job_v2``: claim the highest-priority due job with ``FOR UPDATE SKIP LOCKED``;
- job ``lock`` = the run id: two steps of one run never run at once, even if the run is enqueued twice;
- ``queueing_lock`` = the run id: enqueueing a run that is already waiting is a no-op;
- ``scheduled_at`` for scheduled runs, integer priorities for the priority classes;
- ``LISTEN/NOTIFY`` (channel ``procrastinate_queue_v1#<queue>``) to wake idle workers at once;
- worker rows with heartbeats (``procrastinate_workers``): a worker that stops heartbeating for
  ``lease_s`` seconds is stalled, and its jobs are put back (``retry_job``) for other workers.

What Keel adds on top: the reaper that redelivers stalled jobs (procrastinate leaves that to the
application), lease-guarded ``ack``/``release`` (a worker that lost its lease cannot delete a job that
another worker now holds), per-tenant concurrency limits, a notification when a run is re-enqueued
for its next step (procrastinate only notifies on insert), one fetch stream per process instead of
one per waiting lane, and asynchronous commits for queue transitions (see ``_ASYNC_COMMIT``).
Why procrastinate and not a Redis queue: ``docs/decisions/0003-distributed-engine.md``.

>>> queue = PgQueue("postgresql://keel@127.0.0.1/keel", tenant_limit=4)  # doctest: +SKIP
>>> await queue.open()  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import json
import logging
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from keel.errors import ConfigError, StoreError
from keel.runtime.queue import PRIORITIES, Job

if TYPE_CHECKING:
    from procrastinate import PsycopgConnector

__all__ = ["TASK_NAME", "PgQueue"]

log = logging.getLogger("keel.queue")

TASK_NAME = "keel.advance"
"""The procrastinate task name of Keel jobs (their arguments: run_id, agent, tenant, meta)."""

_SCHEMA_LOCK = 7_302_111  # advisory lock id: one process applies procrastinate's schema at a time

# Claims, acks and releases commit without waiting for the WAL flush (synchronous_commit off, for
# that transaction only). It is safe because the run log, written with a synchronous commit, is
# the truth: if the database crashes and loses the last ~200 ms of queue transitions, a lost claim
# or release leaves the job "doing" for a dead worker id and the reaper redelivers it, and a lost ack
# brings back a job whose run has finished (advancing it is a no-op). It matters because commits of
# transactions that NOTIFY are serialised by PostgreSQL; holding that lock across an fsync capped a
# 2-core machine at ~100 steps/s. ``put`` stays synchronous: a lost enqueue would strand a run.
_ASYNC_COMMIT = "set_config('synchronous_commit', 'off', true)"

# Lease-guarded transitions: they act only if this worker still holds the job ("doing", its id).
_OWNED = "select id from procrastinate_jobs where id = %(id)s and status = 'doing' and worker_id = %(w)s"
_ACK = (
    f"with owned as ({_OWNED} for update) "
    f"select {_ASYNC_COMMIT}, procrastinate_finish_job_v1(id, 'succeeded', true) from owned"
)
_RELEASE = (
    f"with owned as ({_OWNED} for update) "
    f"select {_ASYNC_COMMIT}, procrastinate_retry_job_v2(id, %(at)s, null, null, null), "
    "pg_notify(%(channel)s, %(payload)s) from owned"
)
_RELEASE_LATER = (  # no wake-up: nobody may take it before ``at`` anyway
    f"with owned as ({_OWNED} for update) "
    f"select {_ASYNC_COMMIT}, procrastinate_retry_job_v2(id, %(at)s, null, null, null) from owned"
)
_REQUEUE_STALLED = (
    "with stalled as (select id from procrastinate_jobs where id = %(id)s and status = 'doing' "
    "and worker_id is not distinct from %(w)s for update) "
    "select procrastinate_retry_job_v2(id, now(), null, null, null), pg_notify(%(channel)s, %(payload)s) "
    "from stalled"
)
_TENANT_DOING = (
    "select count(*) from procrastinate_jobs where status = 'doing' and queue_name = %(q)s "
    "and task_name = %(t)s and args->>'tenant' = %(tenant)s"
)


def _priority(name: str) -> int:
    # procrastinate runs higher numbers first; Keel's classes rank lower-first.
    return -PRIORITIES.get(name, PRIORITIES["default"])


def _class_of(priority: int) -> str:
    for name, rank in PRIORITIES.items():
        if -rank == priority:
            return name
    return "default"


class PgQueue:
    """A ``RunQueue`` on PostgreSQL through procrastinate; any number of worker processes share it.

    ``lease_s``: a worker silent (no heartbeat) this long is presumed dead and its in-flight jobs are
    redelivered; a live worker heartbeats every ``lease_s / 4``. ``tenant_limit`` caps the jobs of one
    tenant running at once across all workers. ``poll_s`` bounds how late a scheduled job starts.
    ``queue`` names the procrastinate queue (separate deployments can share a database);
    ``fetchers`` caps the claims in flight per process; ``pool_size`` its database connections.

    >>> async with PgQueue(url) as queue:  # doctest: +SKIP
    ...     await queue.put(Job(run_id=run_id, agent="support", priority="interactive"))
    """

    def __init__(
        self,
        url: str,
        *,
        queue: str = "keel",
        tenant_limit: int | None = None,
        lease_s: float = 15.0,
        poll_s: float = 1.0,
        pool_size: int = 10,
        fetchers: int = 4,
    ) -> None:
        if lease_s <= 0 or poll_s <= 0:
            raise ConfigError("PgQueue: lease_s and poll_s must be positive")
        self.url = url
        self.queue = queue
        self.tenant_limit = tenant_limit
        self.lease_s = lease_s
        self.poll_s = poll_s
        self._pool_size = pool_size
        self._connector: PsycopgConnector | None = None
        self._own_pool: Any = None
        self._worker_id: int | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.fetchers = fetchers
        self._waiters: collections.deque[asyncio.Future[Job]] = collections.deque()
        self._ready: collections.deque[Job] = collections.deque()  # claimed, nobody waiting any more
        self._wanted = asyncio.Event()  # a claimer is waiting
        self._credited = asyncio.Event()
        self._credit = 1  # fetches worth trying now: look once at start
        self._announced = 0  # notifications received
        self._inflight = 0  # fetches in progress
        self._consumer_lock: asyncio.Lock | None = None

    @property
    def channel(self) -> str:
        return f"procrastinate_queue_v1#{self.queue}"

    # -- lifecycle ---------------------------------------------------------------------------------

    async def open(self) -> PgQueue:
        """Connect, and create procrastinate's schema if the database has none yet."""
        try:
            from procrastinate import PsycopgConnector
        except ImportError:
            raise ConfigError(
                "PgQueue needs the distributed extra: pip install 'keel[distributed]'"
            ) from None
        from psycopg_pool import AsyncConnectionPool

        # Our own pool, handed to procrastinate: autocommit (each queue statement commits itself,
        # no extra COMMIT round trip) and no per-checkout liveness query (procrastinate's default
        # pool pings on every checkout). Together they cut a claim or release from 3 round trips to 1.
        self._own_pool = AsyncConnectionPool(
            self.url, min_size=1, max_size=self._pool_size, kwargs={"autocommit": True}, open=False
        )
        self._connector = PsycopgConnector()
        try:
            await self._own_pool.open(wait=True)
            await self._connector.open_async(self._own_pool)
            await self._ensure_schema()
        except Exception as e:
            raise StoreError(f"cannot open the run queue: {type(e).__name__}: {e}") from e
        self._consumer_lock = asyncio.Lock()
        return self

    async def __aenter__(self) -> PgQueue:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _ensure_schema(self) -> None:
        from procrastinate.schema import SchemaManager

        async with self.pool.connection() as conn:
            await conn.set_autocommit(True)
            if await self._has_schema(conn):
                return
            await conn.execute("select pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
            try:
                if not await self._has_schema(conn):
                    await conn.execute(SchemaManager.get_schema())
            finally:
                await conn.execute("select pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))

    @staticmethod
    async def _has_schema(conn: Any) -> bool:
        row = await (await conn.execute("select to_regclass('procrastinate_jobs') is not null")).fetchone()
        return bool(row and row[0])

    @property
    def pool(self) -> Any:
        if self._connector is None:
            raise StoreError("PgQueue is not open: call `await queue.open()` first")
        return self._connector.pool

    async def close(self) -> None:
        """Stop heartbeating and leave; jobs still held go back to the queue at once."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._connector is None:
            return
        if self._worker_id is not None:
            with contextlib.suppress(Exception):
                async with self.pool.connection() as conn:
                    # A graceful leaver's unfinished jobs are redelivered now, not after the lease.
                    await conn.execute(
                        "select procrastinate_retry_job_v2(id, now(), null, null, null) from procrastinate_jobs "
                        "where status = 'doing' and worker_id = %s",
                        (self._worker_id,),
                    )
                    await conn.execute("select procrastinate_unregister_worker_v1(%s)", (self._worker_id,))
            self._worker_id = None
        await self._connector.close_async()
        await self._own_pool.close()
        self._connector = None

    # -- producing ---------------------------------------------------------------------------------

    def _to_procrastinate(self, job: Job) -> Any:
        from procrastinate.jobs import Job as PJob

        at = dt.datetime.fromtimestamp(job.not_before, dt.UTC) if job.not_before > time.time() else None
        kwargs: dict[str, Any] = {"run_id": job.run_id, "agent": job.agent, "tenant": job.tenant}
        kwargs["meta"] = dict(job.meta)
        return PJob(
            queue=self.queue,
            task_name=TASK_NAME,
            priority=_priority(job.priority),
            lock=job.run_id,
            queueing_lock=job.run_id,
            task_kwargs=kwargs,
            scheduled_at=at,
        )

    async def put(self, job: Job) -> None:
        """Enqueue a step of ``job.run_id``; a no-op if that run is already waiting in the queue."""
        await self.put_many([job])

    async def put_many(self, jobs: Sequence[Job]) -> None:
        """Enqueue many jobs in one round trip (procrastinate's batch defer): bulk starts, backfills."""
        from procrastinate import exceptions
        from procrastinate.manager import JobManager

        if not jobs:
            return
        manager = JobManager(self._connector)  # type: ignore[arg-type]
        try:
            deferred = await manager.batch_defer_jobs_async([self._to_procrastinate(j) for j in jobs])
        except exceptions.AlreadyEnqueued:
            if len(jobs) == 1:
                return  # this run already has a step waiting: one is enough
            for j in jobs:  # the batch is one statement: retry one by one to skip the duplicates
                await self.put(j)
            return
        except exceptions.ProcrastinateException as e:
            raise StoreError(f"cannot enqueue runs: {type(e).__name__}: {e}") from e
        for j, d in zip(jobs, deferred, strict=True):
            j.id = str(d.id)

    # -- consuming ---------------------------------------------------------------------------------

    async def _ensure_consumer(self) -> int:
        if self._worker_id is not None:
            return self._worker_id
        assert self._consumer_lock is not None, "open() the queue first"
        async with self._consumer_lock:
            if self._worker_id is None:
                self._worker_id = await self._register()
                await self._reap()  # a restarted worker picks up what dead ones left, right away
                self._tasks = [
                    asyncio.create_task(self._listen(), name="keel-queue-listen"),
                    asyncio.create_task(self._heartbeat(), name="keel-queue-heartbeat"),
                    *(
                        asyncio.create_task(self._fetch_loop(), name="keel-queue-fetch")
                        for _ in range(self.fetchers)
                    ),
                ]
        return self._worker_id

    async def _register(self) -> int:
        async with self.pool.connection() as conn:
            row = await (await conn.execute("select * from procrastinate_register_worker_v1()")).fetchone()
        return int(row[0])

    async def claim(self, worker: str, timeout_s: float = 1.0) -> Job | None:
        """Take the next due job (priority class, then age), or ``None`` after ``timeout_s``."""
        await self._ensure_consumer()
        if self._ready:
            return self._ready.popleft()
        fut: asyncio.Future[Job] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._wanted.set()
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout_s)
        except TimeoutError:
            if fut.done() and not fut.cancelled():
                return fut.result()  # handed over just as the wait ran out: keep it
            fut.cancel()
            return None

    def _live_waiters(self) -> int:
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()
        return sum(not f.done() for f in self._waiters)

    def _hand_over(self, job: Job) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(job)
                return
        self._ready.append(job)  # the claimer gave up meanwhile: the next claim gets it

    def _grant(self, n: int = 1) -> None:
        """Allow ``n`` more fetches: a job was announced, or the last fetch found one (more may wait)."""
        self._credit = min(self._credit + n, self.fetchers)
        self._credited.set()

    async def _fetch_loop(self) -> None:
        # One fetch stream per process, however many lanes wait: up to ``fetchers`` round trips in
        # flight while jobs keep coming, none while the queue is empty (until a notification or
        # the poll interval), so idle lanes cost no queries and a notification wakes no herd.
        while True:
            if self._live_waiters() <= self._inflight:  # every waiter already has a fetch coming
                self._wanted.clear()
                await self._wanted.wait()
                continue
            if self._credit <= 0:
                self._credited.clear()
                try:
                    await asyncio.wait_for(self._credited.wait(), self.poll_s)
                except TimeoutError:
                    self._grant()  # poll: scheduled jobs fall due without a notification
                continue
            self._credit -= 1
            self._inflight += 1
            seen = self._announced
            try:
                job = await self._fetch()
            except Exception as e:  # a bug or an odd database error must not kill the stream
                log.exception("fetching a job failed (%s); retrying", type(e).__name__)
                await asyncio.sleep(self.poll_s)
                continue
            finally:
                self._inflight -= 1
            if job is not None:
                self._hand_over(job)
                self._grant()
            elif seen == self._announced:  # nothing due, and nothing announced since we looked
                self._credit = 0

    async def _fetch(self) -> Job | None:
        import psycopg

        for _ in range(8):  # skip past jobs of tenants at their limit
            try:
                async with self.pool.connection() as conn:
                    row = await (
                        await conn.execute(
                            f"select id, priority, args, attempts, scheduled_at, {_ASYNC_COMMIT} "
                            "from procrastinate_fetch_job_v2(%s::varchar[], %s)",
                            ([self.queue], self._worker_id),
                        )
                    ).fetchone()
            except psycopg.OperationalError as e:  # database unreachable: the lane retries later
                log.warning("cannot claim a job (%s); retrying", type(e).__name__)
                await asyncio.sleep(self.poll_s)
                return None
            if row is None or row[0] is None:
                return None
            job = self._from_row(row)
            if await self._within_tenant_limit(job):
                return job
            await self.release(job, delay_s=0.05 + random.random() * 0.1)
        return None

    @staticmethod
    def _from_row(row: Sequence[Any]) -> Job:
        args = row[2] if isinstance(row[2], dict) else json.loads(row[2])
        at = row[4].timestamp() if row[4] is not None else 0.0
        return Job(
            run_id=args["run_id"],
            agent=args["agent"],
            priority=_class_of(row[1]),
            tenant=args.get("tenant"),
            not_before=at,
            attempts=int(row[3]) + 1,
            id=str(row[0]),
            meta=dict(args.get("meta") or {}),
        )

    async def _within_tenant_limit(self, job: Job) -> bool:
        if self.tenant_limit is None or job.tenant is None:
            return True
        async with self.pool.connection() as conn:
            args = {"q": self.queue, "t": TASK_NAME, "tenant": job.tenant}
            row = await (await conn.execute(_TENANT_DOING, args)).fetchone()
        # Counted after our own claim: racing claimers may both back off, but never both run.
        return int(row[0]) <= self.tenant_limit

    async def ack(self, job: Job) -> None:
        """The run needs no more steps from this job: delete it."""
        await self._guarded(_ACK, job)

    async def release(self, job: Job, *, delay_s: float = 0.0) -> None:
        """Put the job back (its run's next step, or a retry ``delay_s`` later) and wake a worker."""
        import psycopg

        at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay_s)
        try:
            await self._guarded(_RELEASE if delay_s <= 0 else _RELEASE_LATER, job, at=at)
        except psycopg.errors.UniqueViolation:
            # The run was enqueued again meanwhile (queueing lock): that job carries it on.
            await self._guarded(_ACK, job)

    async def _guarded(self, query: str, job: Job, **extra: Any) -> bool:
        """Run a lease-guarded transition; ``False`` when another worker holds the job now."""
        import psycopg

        payload = json.dumps({"type": "job_inserted", "job_id": int(job.id)})
        args = {"id": int(job.id), "w": self._worker_id, "channel": self.channel, "payload": payload, **extra}
        for attempt in range(4):  # ride out a short database blip rather than drop the lane
            try:
                async with self.pool.connection() as conn:
                    rows = await (await conn.execute(query, args)).fetchall()
                break
            except psycopg.OperationalError as e:
                if attempt == 3:
                    raise StoreError(
                        f"cannot update job {job.id} of run {job.run_id}: {type(e).__name__}"
                    ) from e
                await asyncio.sleep(0.2 * 2**attempt)
        if not rows:
            log.warning("job %s (run %s) was redelivered while this worker held it", job.id, job.run_id)
        return bool(rows)

    # -- background: wake-ups, heartbeats, redelivery ---------------------------------------------

    async def _listen(self) -> None:
        # Our own LISTEN loop (not procrastinate's helper, whose cancellation waits for its 30 s
        # listen timeout): closing a worker must not stall its drain.
        import psycopg
        from psycopg import sql

        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    self._grant()  # anything queued while we were not listening: look again
                    async for _ in conn.notifies():
                        self._announced += 1
                        self._grant()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the database restarted: polling covers the gap
                log.warning("queue listener lost its connection (%s); reconnecting", type(e).__name__)
                await asyncio.sleep(self.poll_s)

    async def _heartbeat(self) -> None:
        beat = self.lease_s / 4
        next_reap = time.monotonic() + self.lease_s / 2
        while True:
            await asyncio.sleep(beat)
            try:
                async with self.pool.connection() as conn:
                    row = await (
                        await conn.execute(
                            "update procrastinate_workers set last_heartbeat = now() where id = %s returning id",
                            (self._worker_id,),
                        )
                    ).fetchone()
                if row is None:  # we were presumed dead and pruned: our jobs went to others
                    log.warning(
                        "worker %s was pruned after missing heartbeats; re-registering", self._worker_id
                    )
                    self._worker_id = await self._register()
                if time.monotonic() >= next_reap:
                    await self._reap()
                    next_reap = time.monotonic() + self.lease_s / 2
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("queue heartbeat failed (%s); retrying", type(e).__name__)

    async def _reap(self) -> int:
        """Put the jobs of stalled workers back in the queue; returns how many."""
        from procrastinate.manager import JobManager

        manager = JobManager(self._connector)  # type: ignore[arg-type]
        stalled = await manager.get_stalled_jobs(
            queue=self.queue, task_name=TASK_NAME, seconds_since_heartbeat=self.lease_s
        )
        n = 0
        async with self.pool.connection() as conn:
            for job in stalled:
                payload = json.dumps({"type": "job_inserted", "job_id": job.id})
                args = {"id": job.id, "w": job.worker_id, "channel": self.channel, "payload": payload}
                n += len(await (await conn.execute(_REQUEUE_STALLED, args)).fetchall())
        await manager.prune_stalled_workers(self.lease_s)
        if n:
            log.info("redelivered %d job(s) of stalled workers", n)
        return n

    # -- inspection --------------------------------------------------------------------------------

    async def counts(self) -> dict[str, int]:
        """Jobs of this queue by status (``todo``, ``doing``): for health checks and tests."""
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "select status::text, count(*) from procrastinate_jobs where queue_name = %s group by 1",
                    (self.queue,),
                )
            ).fetchall()
        return {str(s): int(c) for s, c in rows}
