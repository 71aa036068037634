"""In-process workers for embedded mode: a ``keel.runtime.Worker`` that can cancel a step in flight.

``TextDelta`` events are never persisted, so a stream that tails the store would never see tokens.
Workers publish them on an ``EventBus`` (``keel.runtime.bus``) while the model streams; the API
merges its subscription with the store's tail (``keel.serve.sse``). In embedded mode the bus is an
``InProcessBus``; in production ``keel worker`` processes publish on a ``PgBus``.

>>> bus = DeltaBus()
>>> q = bus.subscribe("r1")
>>> from keel.events import TextDelta
>>> bus.publish(TextDelta(run_id="r1", text="hi")); q.get_nowait().text
'hi'
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from keel.errors import KeelError, RunError
from keel.events import RunFailed
from keel.loop.state import RunState
from keel.runtime.bus import EventBus, InProcessBus
from keel.runtime.queue import Job, RunQueue
from keel.runtime.worker import Worker, advance_live
from keel.store.base import SeqConflict

if TYPE_CHECKING:
    from keel.agent import Agent
    from keel.store.base import RunStore

__all__ = ["DeltaBus", "StreamingWorker", "fail_run"]

log = logging.getLogger("keel.serve")

DeltaBus = InProcessBus
"""The in-process bus (the name this module used before ``keel.runtime.bus``)."""


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
    """A ``keel.runtime.Worker`` that always streams deltas to ``bus`` and can cancel a step in flight.

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
        bus: EventBus,
        concurrency: int = 4,
        steps_per_claim: int = 1,
        name: str | None = None,
    ) -> None:
        super().__init__(
            queue, agents, concurrency=concurrency, steps_per_claim=steps_per_claim, name=name, bus=bus
        )
        self.live_bus = bus
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
        task = asyncio.create_task(advance_live(agent, job.run_id, self.steps_per_claim, self.live_bus))
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
