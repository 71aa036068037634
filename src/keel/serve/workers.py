"""In-process workers for embedded mode, and the live channel for streamed text.

``TextDelta`` events are never persisted, so a stream that tails the store would never see tokens.
The in-process ``StreamingWorker`` advances runs with a listener that publishes each delta on a
``DeltaBus``; the API merges the bus with the store's tail. In production mode steps run on other
machines: a distributed backend publishes deltas on its own bus (same ``DeltaBus`` interface) or
streams carry the persisted events only.

>>> bus = DeltaBus()
>>> q = bus.subscribe("r1")
>>> from keel.events import TextDelta
>>> bus.publish(TextDelta(run_id="r1", text="hi")); q.get_nowait().text
'hi'
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from keel.errors import KeelError, RunError
from keel.events import Event, RunFailed, TextDelta
from keel.loop.run import Run, drive
from keel.loop.state import RunState
from keel.runtime.queue import Job, RunQueue
from keel.runtime.worker import Worker
from keel.store.base import SeqConflict

if TYPE_CHECKING:
    from keel.agent import Agent
    from keel.store.base import RunStore

__all__ = ["DeltaBus", "StreamingWorker", "advance_with_listener", "fail_run"]

log = logging.getLogger("keel.serve")


class DeltaBus:
    """Fan-out of live ``TextDelta`` events to subscribers of a run, in this process.

    Each subscriber has a bounded queue; a subscriber that falls 10,000 deltas behind loses the
    extra ones (the persisted ``model_responded`` event still carries the whole text).
    """

    def __init__(self, max_pending: int = 10_000) -> None:
        self._subs: dict[str, set[asyncio.Queue[TextDelta]]] = {}
        self._max = max_pending

    def subscribe(self, run_id: str) -> asyncio.Queue[TextDelta]:
        q: asyncio.Queue[TextDelta] = asyncio.Queue(self._max)
        self._subs.setdefault(run_id, set()).add(q)
        return q

    def unsubscribe(self, run_id: str, q: asyncio.Queue[TextDelta]) -> None:
        subs = self._subs.get(run_id)
        if subs is not None:
            subs.discard(q)
            if not subs:
                del self._subs[run_id]

    def publish(self, ev: Event) -> None:
        if not isinstance(ev, TextDelta):
            return
        for q in self._subs.get(ev.run_id, ()):
            if not q.full():
                q.put_nowait(ev)


class _FlushMark:
    """The run store, remembering the last sequence number persisted for one run.

    A delta is stamped with it (``TextDelta.seq``), so a stream can send every event persisted
    before the delta ahead of it, however far behind the stream is.
    """

    def __init__(self, store: RunStore, run_id: str, flushed: int) -> None:
        self._store, self._run_id, self.flushed = store, run_id, flushed

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        await self._store.append(run_id, events)
        if run_id == self._run_id and events:
            self.flushed = events[-1].seq

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def advance_with_listener(
    agent: Agent[Any], run_id: str, steps: int | None, publish: Callable[[Event], None]
) -> RunState:
    """``Agent.advance`` with a listener, so the model streams and each delta reaches ``publish``
    stamped with the last persisted sequence number (``Agent.advance`` takes no listener yet)."""
    events = await agent.store.events(run_id)
    if not events:
        raise RunError(f"no run {run_id!r} in this store", reason="not_found", run_id=run_id)
    state = RunState.from_events(run_id, events)
    if state.done or state.status == "suspended":
        return state
    mark = _FlushMark(agent.store, run_id, state.last_seq)

    def listener(ev: Event) -> None:
        if isinstance(ev, TextDelta):
            ev.seq = mark.flushed
            publish(ev)

    history = await agent._history(state.session_id)
    run = Run(agent.config(), state, cast("RunStore", mark), history=history, listener=listener)
    return await drive(run, steps)


async def fail_run(store: RunStore, run_id: str, reason: str, message: str) -> RunState:
    """Append ``run_failed`` unless the run has ended; retried when a worker appends meanwhile."""
    for _ in range(20):
        events = await store.events(run_id)
        state = RunState.from_events(run_id, events)
        if state.done or not events:
            return state
        ev = RunFailed(run_id=run_id, seq=state.last_seq + 1, reason=reason, message=message)
        try:
            await store.append(run_id, [ev])
        except SeqConflict:
            await asyncio.sleep(0.01)
            continue
        state.apply(ev)
        return state
    raise RunError(f"could not end run {run_id}: it kept changing", reason="error", run_id=run_id)


class StreamingWorker(Worker):
    """A ``keel.runtime.Worker`` that streams deltas to a ``DeltaBus`` and can cancel a step in flight.

    >>> from keel.runtime import InProcessQueue
    >>> w = StreamingWorker(InProcessQueue(), {}, bus=DeltaBus())
    >>> w.cancel("no-such-run") is None
    True
    """

    def __init__(
        self,
        queue: RunQueue,
        agents: Mapping[str, Agent[Any]],
        *,
        bus: DeltaBus,
        concurrency: int = 4,
        steps_per_claim: int = 1,
        name: str | None = None,
    ) -> None:
        super().__init__(queue, agents, concurrency=concurrency, steps_per_claim=steps_per_claim, name=name)
        self.bus = bus
        self._inflight: dict[str, asyncio.Task[RunState]] = {}

    def cancel(self, run_id: str) -> asyncio.Task[RunState] | None:
        """Cancel the step of ``run_id`` running here, if any; ``drive`` records ``run_failed``."""
        task = self._inflight.get(run_id)
        if task is not None:
            task.cancel()
        return task

    async def process(self, job: Job) -> None:
        agent = self.agents.get(job.agent)
        if agent is None:
            await super().process(job)  # logs and releases the job for a worker that has the agent
            return
        task = asyncio.create_task(
            advance_with_listener(agent, job.run_id, self.steps_per_claim, self.bus.publish)
        )
        self._inflight[job.run_id] = task
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            self._inflight.pop(job.run_id, None)
        await self._settle(job, agent, task)

    async def _settle(self, job: Job, agent: Agent[Any], task: asyncio.Task[RunState]) -> None:
        if task.cancelled():
            await self.queue.ack(job)
            return
        error = task.exception()
        if isinstance(error, KeelError):
            log.warning("run %s: %s", job.run_id, type(error).__name__)
            await self.queue.ack(job)
            return
        if error is not None:
            # a bug below the loop: end the run so nobody waits on it forever
            log.error("run %s: unexpected error in a step", job.run_id, exc_info=error)
            await fail_run(agent.store, job.run_id, "error", "internal error while running a step")
            await self.queue.ack(job)
            return
        self.steps_done += 1
        if task.result().status == "running":
            await self.queue.release(job)
        else:
            await self.queue.ack(job)
