"""Stateless workers: claim a job, advance its run by a step, re-enqueue it if it is not done.

A worker holds nothing between jobs: the run's state comes from the store on every claim, so a step
can run on any worker, and a worker that dies loses at most the step in flight (its events up to
the last flush are kept, and the queue hands the job to another worker).

With an ``EventBus`` the model streams and its tokens are published as ``TextDelta`` events while the
step runs (``advance_live``); a worker on a PostgreSQL queue gets a ``PgBus`` on the same database
unless ``live_deltas=False``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from keel.errors import KeelError, StoreError
from keel.events import Event, TextDelta
from keel.runtime.bus import EventBus, bus_for_queue
from keel.runtime.queue import Job, RunQueue
from keel.store.base import SeqConflict

if TYPE_CHECKING:
    from keel.agent import Agent
    from keel.loop.state import RunState
    from keel.store.base import RunStore

__all__ = ["Worker", "advance_live"]

log = logging.getLogger("keel.worker")


class Worker:
    """Advances runs from ``queue`` with the agents in ``agents`` (by name), ``concurrency`` at a time.

    ``steps_per_claim`` steps are taken per claim (1 = fair step-level scheduling; more = fewer
    queue round trips). ``stop()`` drains: in-flight steps finish and are persisted, nothing new
    is claimed. ``bus``: where the tokens of streaming steps go (by default the queue's own bus, if
    it has one: ``PgBus`` for ``PgQueue``; ``live_deltas=False`` turns that off and the model is
    called without streaming).

    >>> from keel.runtime import InProcessQueue
    >>> Worker(InProcessQueue(), {}, concurrency=2).bus is None
    True
    """

    def __init__(
        self,
        queue: RunQueue,
        agents: Mapping[str, Agent[Any]],
        *,
        concurrency: int = 4,
        steps_per_claim: int = 1,
        name: str | None = None,
        bus: EventBus | None = None,
        live_deltas: bool = True,
    ) -> None:
        self.queue = queue
        self.bus = bus
        self.live_deltas = live_deltas
        self.agents = dict(agents)
        self.concurrency = concurrency
        self.steps_per_claim = steps_per_claim
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._stopping = asyncio.Event()
        self.steps_done = 0

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Work until ``stop()``; returns after in-flight steps have finished."""
        own = bus_for_queue(self.queue) if self.bus is None and self.live_deltas else None
        if own is not None:
            self.bus = own
        try:
            await asyncio.gather(*(self._lane(i) for i in range(self.concurrency)))
        finally:
            if own is not None:
                await own.close()  # sends the tokens still pending
                self.bus = None

    async def _lane(self, lane: int) -> None:
        while not self._stopping.is_set():
            job = await self.queue.claim(f"{self.name}/{lane}", timeout_s=0.5)
            if job is None:
                continue
            await self.process(job)

    async def process(self, job: Job) -> None:
        agent = self.agents.get(job.agent)
        if agent is None:
            log.error("no agent %r on worker %s; job for run %s released", job.agent, self.name, job.run_id)
            await self.queue.release(job, delay_s=5.0)
            return
        try:
            if self.bus is not None:
                state = await advance_live(agent, job.run_id, self.steps_per_claim, self.bus)
            else:
                state = await agent.advance(job.run_id, steps=self.steps_per_claim)
        except SeqConflict:  # another worker advanced this run: its job carries it on
            await self.queue.ack(job)
            return
        except StoreError as e:  # a passing store failure: try the step again shortly, maybe elsewhere
            log.warning("run %s: store error, releasing the job: %s", job.run_id, e)
            await self.queue.release(job, delay_s=1.0)
            return
        except KeelError as e:
            log.warning("run %s: %s", job.run_id, type(e).__name__)
            await self.queue.ack(job)
            return
        self.steps_done += 1
        if state.status == "running":
            await self.queue.release(job)  # the next step, possibly on another worker
        else:
            await self.queue.ack(job)


class _Marking:
    """The run store as one run's step sees it: remembers the last seq persisted, and announces it
    on the bus after each append (a stream waits for that mark before it sends the response)."""

    def __init__(self, store: RunStore, run_id: str, flushed: int, bus: EventBus) -> None:
        self._store, self._run_id, self.flushed, self._bus = store, run_id, flushed, bus

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        await self._store.append(run_id, events)
        if run_id == self._run_id and events:
            self.flushed = events[-1].seq
            self._bus.mark(run_id, self.flushed)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def advance_live(agent: Agent[Any], run_id: str, steps: int | None, bus: EventBus) -> RunState:
    """``Agent.advance`` with the model streaming: each ``TextDelta`` is published on ``bus``,
    stamped with the last *persisted* seq (the loop stamps the last emitted one, which may still
    be buffered), and every append of the run is marked on the bus.

    >>> state = await advance_live(agent, run_id, 1, InProcessBus())  # doctest: +SKIP
    """
    marking: list[_Marking] = []

    def wrap(store: RunStore, state: RunState) -> RunStore:
        marking.append(_Marking(store, run_id, state.last_seq, bus))
        return cast("RunStore", marking[0])

    def listener(ev: Event) -> None:
        if isinstance(ev, TextDelta):
            ev.seq = marking[0].flushed
            bus.publish(ev)

    return await agent._advance(run_id, steps=steps, listener=listener, wrap_store=wrap)
