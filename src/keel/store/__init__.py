"""Run stores: where run logs live. ``MemoryStore``, ``SQLiteStore`` (default), PostgreSQL."""

from keel.store.base import RunRecord, RunStore, SeqConflict
from keel.store.memory import MemoryStore
from keel.store.sqlite import SQLiteStore

__all__ = ["MemoryStore", "RunRecord", "RunStore", "SQLiteStore", "SeqConflict"]
