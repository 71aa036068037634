"""The run queue: which run a worker advances next.

The store is the source of truth; the queue only says "run R needs a step". A job names a run, the
agent that owns it, a priority class and a tenant. ``InProcessQueue`` is the embedded default;
distributed backends implement the same ``RunQueue`` protocol (see ``keel.runtime`` backends).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["PRIORITIES", "InProcessQueue", "Job", "RunQueue"]

PRIORITIES: dict[str, int] = {"interactive": 0, "default": 5, "batch": 9}
"""Priority classes: lower runs first."""


@dataclass(slots=True)
class Job:
    """A unit of scheduling: "advance run ``run_id`` of agent ``agent`` by a step"."""

    run_id: str
    agent: str
    priority: str = "default"
    tenant: str | None = None
    not_before: float = 0.0
    """Unix time before which the job must not start (scheduled runs)."""
    attempts: int = 0
    id: str = ""
    meta: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class RunQueue(Protocol):
    async def put(self, job: Job) -> None:
        """Enqueue ``job`` (ordered by priority class, then time)."""
        ...

    async def claim(self, worker: str, timeout_s: float = 1.0) -> Job | None:
        """Take the next runnable job, or ``None`` after ``timeout_s``. The job is leased to ``worker``."""
        ...

    async def ack(self, job: Job) -> None:
        """The job's step is done (the run may have been re-enqueued for its next step)."""
        ...

    async def release(self, job: Job, *, delay_s: float = 0.0) -> None:
        """Give the job back (worker shutting down, tenant limit): it will be claimed again."""
        ...

    async def close(self) -> None: ...


class InProcessQueue:
    """An asyncio priority queue with scheduled jobs and per-tenant concurrency limits.

    ``tenant_limit`` caps how many jobs of one tenant are leased at once; others wait their turn.
    """

    def __init__(self, tenant_limit: int | None = None) -> None:
        self.tenant_limit = tenant_limit
        self._heap: list[tuple[int, float, int, Job]] = []
        self._counter = itertools.count()
        self._wake = asyncio.Condition()
        self._leased: dict[str | None, int] = defaultdict(int)
        self._ids = itertools.count(1)

    async def put(self, job: Job) -> None:
        if not job.id:
            job.id = str(next(self._ids))
        rank = PRIORITIES.get(job.priority, PRIORITIES["default"])
        async with self._wake:
            heapq.heappush(self._heap, (rank, max(job.not_before, 0.0), next(self._counter), job))
            self._wake.notify_all()

    def _pick(self) -> tuple[Job | None, float]:
        now = time.time()
        soonest = float("inf")
        for entry in sorted(self._heap):
            _, not_before, _, job = entry
            if not_before > now:
                soonest = min(soonest, not_before - now)
                continue
            if self.tenant_limit is not None and self._leased[job.tenant] >= self.tenant_limit:
                continue
            self._heap.remove(entry)
            heapq.heapify(self._heap)
            return job, 0.0
        return None, soonest

    async def claim(self, worker: str, timeout_s: float = 1.0) -> Job | None:
        deadline = time.monotonic() + timeout_s
        async with self._wake:
            while True:
                job, wait = self._pick()
                if job is not None:
                    self._leased[job.tenant] += 1
                    job.attempts += 1
                    return job
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), min(left, wait))

    async def _unlease(self, job: Job) -> None:
        async with self._wake:
            self._leased[job.tenant] = max(0, self._leased[job.tenant] - 1)
            self._wake.notify_all()

    async def ack(self, job: Job) -> None:
        await self._unlease(job)

    async def release(self, job: Job, *, delay_s: float = 0.0) -> None:
        await self._unlease(job)
        if delay_s:
            job.not_before = time.time() + delay_s
        await self.put(job)

    def __len__(self) -> int:
        return len(self._heap)

    async def close(self) -> None:
        return None
