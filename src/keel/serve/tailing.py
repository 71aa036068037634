"""``NotifyingStore``: the service's view of the run store, with a race-free ``tail``.

Every append made in this process (the API, in-process workers) wakes the tailers of that run at
once. A tailer registers for the wake-up *before* it reads, so an append that lands while the
consumer is busy with the previous event is never missed; appends by other processes (production
workers) are picked up by polling every ``poll_s``, or at once when the live-event bus relays the
worker's mark (``wake``).

>>> import asyncio
>>> from keel.store import MemoryStore
>>> store = NotifyingStore(MemoryStore())
>>> asyncio.run(store.events("nothing"))
[]
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Sequence

from keel.events import Event, RunFailed, RunFinished
from keel.store.base import RunRecord, RunStore

__all__ = ["NotifyingStore"]


class _Wakeups:
    def __init__(self) -> None:
        self._subs: dict[str, set[asyncio.Event]] = {}

    def watch(self, run_id: str) -> asyncio.Event:
        ev = asyncio.Event()
        self._subs.setdefault(run_id, set()).add(ev)
        return ev

    def forget(self, run_id: str, ev: asyncio.Event) -> None:
        subs = self._subs.get(run_id)
        if subs is not None:
            subs.discard(ev)
            if not subs:
                del self._subs[run_id]

    def notify(self, run_id: str) -> None:
        for ev in self._subs.pop(run_id, ()):
            ev.set()


class NotifyingStore:
    """Wraps a ``RunStore``; implements the same protocol."""

    def __init__(self, store: RunStore, *, poll_s: float = 1.0) -> None:
        self.inner = store
        self.poll_s = poll_s
        self._wakeups = _Wakeups()

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        await self.inner.append(run_id, events)
        self._wakeups.notify(run_id)

    def wake(self, run_id: str, seq: int = -1) -> None:
        """Another process appended to ``run_id`` (up to ``seq``): its tailers read the store now."""
        self._wakeups.notify(run_id)

    async def events(self, run_id: str, after_seq: int = -1, limit: int | None = None) -> list[Event]:
        return await self.inner.events(run_id, after_seq, limit)

    async def get_run(self, run_id: str) -> RunRecord | None:
        return await self.inner.get_run(run_id)

    async def list_runs(
        self,
        *,
        session_id: str | None = None,
        status: str | None = None,
        tenant: str | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        return await self.inner.list_runs(session_id=session_id, status=status, tenant=tenant, limit=limit)

    def tail(self, run_id: str, after_seq: int = -1) -> AsyncGenerator[Event, None]:
        """Past events after ``after_seq``, then new ones as they are appended, until the run ends
        (or at once when there is no such run)."""
        return self._tail(run_id, after_seq)

    async def _tail(self, run_id: str, after_seq: int) -> AsyncGenerator[Event, None]:
        last = after_seq
        while True:
            wake = self._wakeups.watch(run_id)  # before reading: a later append sets it
            try:
                batch = await self.inner.events(run_id, after_seq=last)
                for ev in batch:
                    last = ev.seq
                    yield ev
                    if isinstance(ev, RunFinished | RunFailed):
                        return
                if batch:
                    continue
                rec = await self.inner.get_run(run_id)
                if rec is None or (rec.status in ("finished", "failed") and rec.last_seq <= last):
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.poll_s)
            finally:
                self._wakeups.forget(run_id, wake)

    async def close(self) -> None:
        await self.inner.close()
