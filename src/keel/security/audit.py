"""An append-only, hash-chained audit trail in SQLite.

Each record stores the SHA-256 of the record before it and its own hash over its fields and that
link, so changing, deleting or reordering any row breaks the chain from that row on and
:meth:`AuditLog.verify` says so. Details are passed through :func:`keel.security.secrets.scrub`
before they are written, so the trail holds no API keys and no raw personal data.

What the chain cannot see on its own: someone who deletes the *last* rows, or who rewrites the
whole chain from some row on. Against the first, keep the latest :meth:`AuditLog.head` somewhere
else (a log line, another store) and pass it to ``verify(expected_head=...)``. Against the second,
give the log a ``key``: the hashes become HMAC-SHA256 and cannot be recomputed without it.

>>> log = AuditLog(":memory:")
>>> rec = log.append("agent:support", "tool.process_refund", "order:42", {"amount": 20})
>>> log.verify()
True
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.errors import StoreError
from keel.security.secrets import scrub

if TYPE_CHECKING:
    from keel.events import Event

__all__ = ["GENESIS_HASH", "AuditLog", "AuditRecord"]

GENESIS_HASH = "0" * 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq       INTEGER PRIMARY KEY,
    ts        REAL    NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    target    TEXT    NOT NULL,
    details   TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One row of the trail. ``details`` is already scrubbed."""

    seq: int
    ts: float
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


def _canonical(
    seq: int, ts: float, actor: str, action: str, target: str, details_json: str, prev: str
) -> bytes:
    # A JSON array keeps field boundaries unambiguous ("ab","c" never hashes like "a","bc").
    return json.dumps([seq, repr(ts), actor, action, target, details_json, prev], ensure_ascii=False).encode()


class AuditLog:
    """The audit trail in the SQLite file at ``path`` (``":memory:"`` for tests).

    Safe to share between threads; appends from several processes are serialised by SQLite
    (``BEGIN IMMEDIATE``), so the chain stays linear.
    """

    def __init__(self, path: str | Path, *, key: bytes | None = None) -> None:
        self.path = str(path)
        self._key = key
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open the audit log at {self.path}: {exc}; check the path and permissions"
            ) from exc

    def _digest(self, payload: bytes) -> str:
        if self._key is not None:
            return hmac.new(self._key, payload, hashlib.sha256).hexdigest()
        return hashlib.sha256(payload).hexdigest()

    def append(
        self, actor: str, action: str, target: str, details: Mapping[str, Any] | None = None
    ) -> AuditRecord:
        """Add one record at the end of the chain and return it (with ``details`` scrubbed).

        >>> AuditLog(":memory:").append("u1", "login", "console", {"password": "x"}).details
        {'password': '[REDACTED]'}
        """
        clean = scrub(dict(details or {}))
        details_json = json.dumps(clean, sort_keys=True, ensure_ascii=False, default=str)
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                row = self._db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
                seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS_HASH)
                ts = time.time()
                digest = self._digest(_canonical(seq, ts, actor, action, target, details_json, prev))
                self._db.execute(
                    "INSERT INTO audit_log (seq, ts, actor, action, target, details, prev_hash, hash)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (seq, ts, actor, action, target, details_json, prev, digest),
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StoreError(f"cannot append to the audit log at {self.path}: {exc}") from exc
        return AuditRecord(seq, ts, actor, action, target, json.loads(details_json), prev, digest)

    async def aappend(
        self, actor: str, action: str, target: str, details: Mapping[str, Any] | None = None
    ) -> AuditRecord:
        """:meth:`append` from async code, off the event loop."""
        import asyncio

        return await asyncio.to_thread(self.append, actor, action, target, details)

    def record_event(self, event: Event, *, actor: str = "keel") -> AuditRecord:
        """Append a run event: action = its ``type``, target = ``run:<run_id>``, details = its fields."""
        data = event.model_dump(mode="json", exclude={"type", "run_id", "ts"})
        return self.append(actor, event.type, f"run:{event.run_id}", data)

    def records(self) -> Iterator[AuditRecord]:
        """Every record, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, ts, actor, action, target, details, prev_hash, hash FROM audit_log ORDER BY seq"
            ).fetchall()
        for seq, ts, actor, action, target, details, prev, digest in rows:
            yield AuditRecord(seq, ts, actor, action, target, json.loads(details), prev, digest)

    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last record (``(0, GENESIS_HASH)`` when empty): keep it elsewhere."""
        with self._lock:
            row = self._db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)

    def first_invalid(self, *, expected_head: tuple[int, str] | None = None) -> int | None:
        """The ``seq`` where the chain first breaks, or ``None`` when it is intact.

        Checks that ``seq`` counts 1, 2, 3 ... without gaps, that each record links to the hash
        of the one before, and that each hash matches the record's fields. With
        ``expected_head``, also that the chain still reaches that ``(seq, hash)``.
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, ts, actor, action, target, details, prev_hash, hash FROM audit_log ORDER BY rowid"
            ).fetchall()
        prev, expected_seq = GENESIS_HASH, 1
        found: dict[int, str] = {}
        for seq, ts, actor, action, target, details, prev_hash, digest in rows:
            if seq != expected_seq or prev_hash != prev:
                return int(expected_seq)
            payload = _canonical(seq, ts, actor, action, target, details, prev_hash)
            if not hmac.compare_digest(self._digest(payload), str(digest)):
                return int(seq)
            found[seq] = digest
            prev, expected_seq = digest, expected_seq + 1
        if expected_head is not None and expected_head[0] and found.get(expected_head[0]) != expected_head[1]:
            return int(min(expected_head[0], expected_seq))
        return None

    def verify(self, *, expected_head: tuple[int, str] | None = None) -> bool:
        """True when no record was modified, deleted or reordered (see :meth:`first_invalid`)."""
        return self.first_invalid(expected_head=expected_head) is None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
