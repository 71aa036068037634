"""``PostgresStore``: run logs in PostgreSQL, for many workers on many machines.

Uses a psycopg 3 async connection pool. Appends are one transaction: the ``(run_id, seq)`` primary
key makes two workers racing to extend one run fail cleanly (``SeqConflict``), and a ``NOTIFY``
wakes tailers on every replica. The schema is versioned by the migrations in
``keel/store/migrations`` (applied by :func:`keel.store.migrate.migrate`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from keel.errors import ConfigError, StoreError
from keel.events import Event, RunStarted, parse_event
from keel.store._sql import RUN_COLUMNS, events_query, runs_query
from keel.store.base import RunRecord, SeqConflict, Subscribers, status_after, tail_store

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

__all__ = ["PostgresStore"]


class PostgresStore:
    """Run logs in PostgreSQL. ``await store.open()`` (or ``async with``) before use.

    >>> store = PostgresStore("postgresql://keel@127.0.0.1/keel")  # doctest: +SKIP
    """

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self._min, self._max = min_size, max_size
        self._pool: AsyncConnectionPool | None = None
        self._subs = Subscribers()

    async def open(self) -> PostgresStore:
        try:
            from psycopg_pool import AsyncConnectionPool
        except ImportError:
            raise ConfigError(
                "PostgresStore needs the postgres extra: pip install 'keel[postgres]'"
            ) from None
        from keel.store.migrate import migrate

        await asyncio.to_thread(migrate, self.url)
        self._pool = AsyncConnectionPool(self.url, min_size=self._min, max_size=self._max, open=False)
        await self._pool.open(wait=True)
        return self

    async def __aenter__(self) -> PostgresStore:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            raise StoreError("PostgresStore is not open: call `await store.open()` first")
        return self._pool

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        if not events:
            return
        import psycopg

        first, last = events[0], events[-1]
        rows = [(run_id, ev.seq, ev.type, ev.ts, ev.model_dump_json()) for ev in events]
        try:
            async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                await cur.execute(
                    "select status, last_seq from keel_runs where run_id = %s for update", (run_id,)
                )
                row = await cur.fetchone()
                if row is None and not isinstance(first, RunStarted):
                    raise StoreError(f"run {run_id} does not exist: its first event must be run_started")
                if row is not None and first.seq != row[1] + 1:
                    raise SeqConflict(f"run {run_id}: expected seq {row[1] + 1}, got {first.seq}")
                if row is None and first.seq != 0:
                    raise SeqConflict(f"run {run_id}: expected seq 0, got {first.seq}")
                await cur.executemany(
                    "insert into keel_events (run_id, seq, type, ts, data) values (%s, %s, %s, %s, %s)", rows
                )
                status = row[0] if row else "running"
                for ev in events:
                    status = status_after(status, ev)
                if isinstance(first, RunStarted):
                    await cur.execute(
                        f"insert into keel_runs ({RUN_COLUMNS}) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                        (run_id, first.agent, first.session_id, first.parent_run_id, status, first.ts, last.ts,
                         first.metadata.get("tenant"), last.seq),
                    )  # fmt: skip
                else:
                    await cur.execute(
                        "update keel_runs set status = %s, updated = %s, last_seq = %s where run_id = %s",
                        (status, last.ts, last.seq, run_id),
                    )
                await cur.execute("select pg_notify('keel_runs', %s)", (run_id,))
        except psycopg.errors.UniqueViolation:
            raise SeqConflict(f"run {run_id}: seq {first.seq} already written") from None
        except psycopg.Error as e:
            raise StoreError(f"cannot append to run {run_id}: {type(e).__name__}") from e
        self._subs.notify(run_id)

    async def events(self, run_id: str, after_seq: int = -1, limit: int | None = None) -> list[Event]:
        rows = await self._fetch(*events_query("keel_events", "%s", run_id, after_seq, limit))
        return [parse_event(r[0]) for r in rows]

    async def _fetch(self, q: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        import psycopg

        try:
            async with self.pool.connection() as conn, conn.cursor() as cur:
                await cur.execute(q, args)
                return list(await cur.fetchall())
        except psycopg.Error as e:
            raise StoreError(f"cannot read the run store: {type(e).__name__}") from e

    async def get_run(self, run_id: str) -> RunRecord | None:
        rows = await self._fetch(f"select {RUN_COLUMNS} from keel_runs where run_id = %s", (run_id,))
        return RunRecord(*rows[0]) if rows else None

    async def list_runs(
        self,
        *,
        session_id: str | None = None,
        status: str | None = None,
        tenant: str | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        q, args = runs_query(
            "keel_runs", "%s", session_id=session_id, status=status, tenant=tenant, limit=limit
        )
        rows = await self._fetch(q, args)
        return [RunRecord(*r) for r in rows]

    def tail(self, run_id: str, after_seq: int = -1) -> AsyncIterator[Event]:
        return tail_store(self, self._subs, run_id, after_seq)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
