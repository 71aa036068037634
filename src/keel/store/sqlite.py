"""``SQLiteStore``: the embedded default. One file, WAL mode, safe across processes.

Writes run on the event loop's thread: a small WAL commit (tens of microseconds) costs less than a
hop to a worker thread, and SQLite serialises writers anyway. ``busy_timeout`` lets several worker
processes share one file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from keel.errors import StoreError
from keel.events import Event, RunStarted, parse_event
from keel.store._sql import RUN_COLUMNS, events_query, runs_query
from keel.store.base import RunRecord, SeqConflict, Subscribers, status_after, tail_store

__all__ = ["SQLiteStore"]

_SCHEMA = """
create table if not exists events (
    run_id text not null, seq integer not null, type text not null, ts real not null, data text not null,
    primary key (run_id, seq)
) without rowid;
create table if not exists runs (
    run_id text primary key, agent text not null, session_id text, parent_run_id text,
    status text not null, created real not null, updated real not null, tenant text, last_seq integer not null
);
create index if not exists runs_session on runs(session_id, created);
create index if not exists runs_status on runs(status, created);
"""


class SQLiteStore:
    """Run logs in a SQLite file (``":memory:"`` works too, for one process)."""

    def __init__(self, path: str | Path = ".keel/keel.db") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("pragma journal_mode=wal")
            self._db.execute("pragma synchronous=normal")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open run store at {self.path}: {e}") from e
        self._lock = threading.Lock()
        self._subs = Subscribers()

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        if not events:
            return
        rows = [(run_id, ev.seq, ev.type, ev.ts, ev.model_dump_json()) for ev in events]
        with self._lock:
            try:
                self._db.execute("begin immediate")
                self._db.executemany("insert into events values (?, ?, ?, ?, ?)", rows)
                self._update_run(run_id, events)
                self._db.execute("commit")
            except sqlite3.IntegrityError as e:
                self._db.execute("rollback")
                raise SeqConflict(f"run {run_id}: seq {events[0].seq} already written ({e})") from None
            except sqlite3.Error as e:
                if self._db.in_transaction:
                    self._db.execute("rollback")
                raise StoreError(f"cannot append to run {run_id}: {e}") from e
        self._subs.notify(run_id)

    def _update_run(self, run_id: str, events: Sequence[Event]) -> None:
        row = self._db.execute("select status, last_seq from runs where run_id = ?", (run_id,)).fetchone()
        status = row[0] if row else "running"
        first = events[0]
        if row is None and not isinstance(first, RunStarted):
            raise StoreError(f"run {run_id} does not exist: its first event must be run_started")
        if row is not None and first.seq != row[1] + 1:
            raise sqlite3.IntegrityError(f"expected seq {row[1] + 1}")
        for ev in events:
            status = status_after(status, ev)
        last = events[-1]
        if isinstance(first, RunStarted):
            self._db.execute(
                f"insert into runs ({RUN_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    first.agent,
                    first.session_id,
                    first.parent_run_id,
                    status,
                    first.ts,
                    last.ts,
                    first.metadata.get("tenant"),
                    last.seq,
                ),
            )
        else:
            self._db.execute(
                "update runs set status = ?, updated = ?, last_seq = ? where run_id = ?",
                (status, last.ts, last.seq, run_id),
            )

    async def events(self, run_id: str, after_seq: int = -1, limit: int | None = None) -> list[Event]:
        q, args = events_query("events", "?", run_id, after_seq, limit)
        with self._lock:
            rows = self._db.execute(q, args).fetchall()
        return [parse_event(r[0]) for r in rows]

    async def get_run(self, run_id: str) -> RunRecord | None:
        with self._lock:
            row = self._db.execute(f"select {RUN_COLUMNS} from runs where run_id = ?", (run_id,)).fetchone()
        return RunRecord(*row) if row else None

    async def list_runs(
        self,
        *,
        session_id: str | None = None,
        status: str | None = None,
        tenant: str | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        q, args = runs_query("runs", "?", session_id=session_id, status=status, tenant=tenant, limit=limit)
        with self._lock:
            rows = self._db.execute(q, args).fetchall()
        return [RunRecord(*r) for r in rows]

    def tail(self, run_id: str, after_seq: int = -1) -> AsyncIterator[Event]:
        return tail_store(self, self._subs, run_id, after_seq)

    async def close(self) -> None:
        with self._lock:
            self._db.close()
