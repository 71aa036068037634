"""Stateless workers: claim a job, advance its run by a step, re-enqueue it if it is not done.

A worker holds nothing between jobs: the run's state comes from the store on every claim, so a step
can run on any worker, and a worker that dies loses at most the step in flight (its events up to
the last flush are kept, and the queue hands the job to another worker).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from keel.errors import KeelError, StoreError
from keel.runtime.queue import Job, RunQueue
from keel.store.base import SeqConflict

if TYPE_CHECKING:
    from keel.agent import Agent

__all__ = ["Worker"]

log = logging.getLogger("keel.worker")


class Worker:
    """Advances runs from ``queue`` with the agents in ``agents`` (by name), ``concurrency`` at a time.

    ``steps_per_claim`` steps are taken per claim (1 = fair step-level scheduling; more = fewer
    queue round trips). ``stop()`` drains: in-flight steps finish and are persisted, nothing new
    is claimed.
    """

    def __init__(
        self,
        queue: RunQueue,
        agents: Mapping[str, Agent[Any]],
        *,
        concurrency: int = 4,
        steps_per_claim: int = 1,
        name: str | None = None,
    ) -> None:
        self.queue = queue
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
        await asyncio.gather(*(self._lane(i) for i in range(self.concurrency)))

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
