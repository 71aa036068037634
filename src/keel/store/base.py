"""The ``RunStore`` protocol: where run logs live.

Backends: :class:`MemoryStore` (tests, benchmarks), :class:`SQLiteStore` (the embedded default) and
PostgreSQL (production). Every backend passes the same conformance suite (``tests/store``).

Appends are optimistic: events carry their sequence numbers, and a store refuses an event whose
``(run_id, seq)`` already exists (``SeqConflict``) so two workers can never both extend one run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from keel.errors import StoreError
from keel.events import Event, RunFailed, RunFinished, RunStarted

__all__ = ["RunRecord", "RunStore", "SeqConflict", "Subscribers", "status_after"]


class SeqConflict(StoreError):
    """Another writer already appended an event with this sequence number to the run."""


@dataclass(slots=True)
class RunRecord:
    """The index row of a run, derived from its events (the events stay the source of truth)."""

    run_id: str
    agent: str
    session_id: str | None
    parent_run_id: str | None
    status: str
    created: float
    updated: float
    tenant: str | None = None
    last_seq: int = -1


def status_after(current: str, ev: Event) -> str:
    t = ev.type
    if t == "run_finished":
        return "finished"
    if t == "run_failed":
        return "failed"
    if t == "approval_requested":
        return "suspended"
    if t in ("approval_decided", "run_resumed") and current == "suspended":
        return "running"
    return current


@runtime_checkable
class RunStore(Protocol):
    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        """Append events (their ``seq`` set by the caller, consecutive). Raises ``SeqConflict``."""
        ...

    async def events(self, run_id: str, after_seq: int = -1, limit: int | None = None) -> list[Event]:
        """Events of ``run_id`` with ``seq > after_seq``, in order."""
        ...

    async def get_run(self, run_id: str) -> RunRecord | None: ...

    async def list_runs(
        self,
        *,
        session_id: str | None = None,
        status: str | None = None,
        tenant: str | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        """Runs, oldest first."""
        ...

    def tail(self, run_id: str, after_seq: int = -1) -> AsyncIterator[Event]:
        """Follow a run's log: past events then new ones as they are appended, until it ends."""
        ...

    async def close(self) -> None: ...


class Subscribers:
    """In-process wake-ups for ``tail``: appenders notify, tailers wait (per run)."""

    def __init__(self) -> None:
        self._conds: dict[str, asyncio.Event] = {}

    def notify(self, run_id: str) -> None:
        ev = self._conds.pop(run_id, None)
        if ev is not None:
            ev.set()

    async def wait(self, run_id: str, seconds: float) -> None:
        ev = self._conds.get(run_id)
        if ev is None:
            ev = self._conds[run_id] = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ev.wait(), seconds)


async def tail_store(
    store: RunStore, subs: Subscribers | None, run_id: str, after_seq: int
) -> AsyncIterator[Event]:
    """Shared ``tail`` implementation: read, yield, and wait for a notification only when a read
    found nothing new (so an append made while the consumer held an event is read at once)."""
    last = after_seq
    while True:
        batch = await store.events(run_id, after_seq=last)
        for ev in batch:
            last = ev.seq
            yield ev
            if isinstance(ev, RunFinished | RunFailed):
                return
        if batch:
            continue
        rec = await store.get_run(run_id)
        if rec is not None and rec.status in ("finished", "failed") and rec.last_seq <= last:
            return
        if subs is not None:
            await subs.wait(run_id, 1.0)
        else:
            await asyncio.sleep(0.2)


def record_from_start(ev: RunStarted, tenant: str | None) -> RunRecord:
    return RunRecord(
        run_id=ev.run_id,
        agent=ev.agent,
        session_id=ev.session_id,
        parent_run_id=ev.parent_run_id,
        status="running",
        created=ev.ts,
        updated=ev.ts,
        tenant=tenant,
        last_seq=ev.seq,
    )
