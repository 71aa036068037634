"""``MemoryStore``: run logs in a dict. For tests, benchmarks and throwaway agents."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from keel.events import Event, RunStarted
from keel.store.base import RunRecord, SeqConflict, Subscribers, record_from_start, status_after, tail_store

__all__ = ["MemoryStore"]


class MemoryStore:
    """Keeps every event in process memory; nothing survives the process."""

    def __init__(self) -> None:
        self._events: dict[str, list[Event]] = {}
        self._runs: dict[str, RunRecord] = {}
        self._subs = Subscribers()

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        log = self._events.setdefault(run_id, [])
        expected = len(log)
        for i, ev in enumerate(events):
            if ev.seq != expected + i:
                raise SeqConflict(f"run {run_id}: expected seq {expected + i}, got {ev.seq}")
        rec = self._runs.get(run_id)
        for ev in events:
            if isinstance(ev, RunStarted):
                rec = self._runs[run_id] = record_from_start(ev, ev.metadata.get("tenant"))
            elif rec is not None:
                rec.status = status_after(rec.status, ev)
                rec.updated = ev.ts
        if rec is not None and events:
            rec.last_seq = events[-1].seq
        log.extend(events)
        self._subs.notify(run_id)

    async def events(self, run_id: str, after_seq: int = -1, limit: int | None = None) -> list[Event]:
        log = self._events.get(run_id, [])
        out = log[after_seq + 1 :]
        return out[:limit] if limit is not None else out

    async def get_run(self, run_id: str) -> RunRecord | None:
        return self._runs.get(run_id)

    async def list_runs(
        self,
        *,
        session_id: str | None = None,
        status: str | None = None,
        tenant: str | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        out = [
            r
            for r in self._runs.values()
            if (session_id is None or r.session_id == session_id)
            and (status is None or r.status == status)
            and (tenant is None or r.tenant == tenant)
        ]
        return sorted(out, key=lambda r: r.created)[:limit]

    def tail(self, run_id: str, after_seq: int = -1) -> AsyncIterator[Event]:
        return tail_store(self, self._subs, run_id, after_seq)

    async def close(self) -> None:
        return None

    def forget(self, run_id: str) -> None:
        """Drop a run's log (the agent does this for finished runs that belong to no session)."""
        self._events.pop(run_id, None)
        self._runs.pop(run_id, None)
