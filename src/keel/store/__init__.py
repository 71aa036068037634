"""Run stores: where run logs live. ``MemoryStore``, ``SQLiteStore`` (default), ``PostgresStore``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keel.store.base import RunRecord, RunStore, SeqConflict
from keel.store.memory import MemoryStore

if TYPE_CHECKING:
    from keel.store.postgres import PostgresStore
    from keel.store.sqlite import SQLiteStore

__all__ = ["MemoryStore", "PostgresStore", "RunRecord", "RunStore", "SQLiteStore", "SeqConflict"]


def __getattr__(name: str) -> Any:
    # the backends load on first use, so `import keel` does not import sqlite3 or psycopg
    if name == "SQLiteStore":
        from keel.store.sqlite import SQLiteStore

        return SQLiteStore
    if name == "PostgresStore":
        from keel.store.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module 'keel.store' has no attribute {name!r}")
