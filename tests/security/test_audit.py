"""Hash-chained audit log: tampering with the SQLite file directly must be detected."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from keel.events import RunFinished, ToolCall, ToolCallStarted
from keel.security.audit import GENESIS_HASH, AuditLog, _canonical


def fill(log: AuditLog, n: int = 5) -> None:
    for i in range(n):
        log.append(f"agent:{i % 2}", "tool.process_refund", f"order:{i}", {"amount": i * 10, "i": i})


def raw(path: Path) -> sqlite3.Connection:
    """A separate connection, as an attacker with the file would have, with the guards removed."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    db.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    return db


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "audit.db")


def test_chain_links_each_record_to_the_previous(log: AuditLog) -> None:
    fill(log, 3)
    recs = list(log.records())
    assert [r.seq for r in recs] == [1, 2, 3]
    assert recs[0].prev_hash == GENESIS_HASH
    assert recs[1].prev_hash == recs[0].hash and recs[2].prev_hash == recs[1].hash
    assert log.head() == (3, recs[2].hash)
    assert log.verify() and log.first_invalid() is None


def test_empty_log_verifies(log: AuditLog) -> None:
    assert log.verify() and log.head() == (0, GENESIS_HASH)


def test_details_are_scrubbed_before_they_are_written(log: AuditLog, tmp_path: Path) -> None:
    rec = log.append("user:1", "login", "console", {"password": "hunter22", "email": "ann@example.com"})
    assert rec.details == {"password": "[REDACTED]", "email": "<EMAIL>"}
    data = b"".join(p.read_bytes() for p in tmp_path.glob("audit.db*"))
    assert b"hunter22" not in data and b"ann@example.com" not in data


@pytest.mark.integration
def test_triggers_refuse_update_and_delete_through_sqlite(log: AuditLog, tmp_path: Path) -> None:
    fill(log, 2)
    db = sqlite3.connect(tmp_path / "audit.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE audit_log SET actor = 'x' WHERE seq = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM audit_log WHERE seq = 2")
    db.close()
    assert log.verify()


@pytest.mark.integration
@pytest.mark.parametrize(
    ("sql", "broken_at"),
    [
        ('UPDATE audit_log SET details = \'{"amount": 0, "i": 2}\' WHERE seq = 3', 3),
        ("UPDATE audit_log SET actor = 'admin' WHERE seq = 1", 1),
        ("UPDATE audit_log SET ts = ts + 1 WHERE seq = 5", 5),
        ("UPDATE audit_log SET hash = '" + "f" * 64 + "' WHERE seq = 2", 2),
        ("DELETE FROM audit_log WHERE seq = 3", 3),
        ("DELETE FROM audit_log WHERE seq = 1", 1),
    ],
)
def test_modified_or_deleted_rows_are_detected(
    log: AuditLog, tmp_path: Path, sql: str, broken_at: int
) -> None:
    fill(log)
    db = raw(tmp_path / "audit.db")
    db.execute(sql)
    db.close()
    assert not log.verify()
    assert log.first_invalid() == broken_at


@pytest.mark.integration
def test_reordered_rows_are_detected(log: AuditLog, tmp_path: Path) -> None:
    fill(log)
    db = raw(tmp_path / "audit.db")
    cols = "ts, actor, action, target, details, prev_hash, hash"
    two = db.execute(f"SELECT {cols} FROM audit_log WHERE seq = 2").fetchone()
    four = db.execute(f"SELECT {cols} FROM audit_log WHERE seq = 4").fetchone()
    sets = ", ".join(f"{c.strip()} = ?" for c in cols.split(","))
    db.execute(f"UPDATE audit_log SET {sets} WHERE seq = 2", four)
    db.execute(f"UPDATE audit_log SET {sets} WHERE seq = 4", two)
    db.close()
    assert log.first_invalid() == 2


@pytest.mark.integration
def test_truncated_tail_needs_the_saved_head(log: AuditLog, tmp_path: Path) -> None:
    fill(log)
    head = log.head()
    db = raw(tmp_path / "audit.db")
    db.execute("DELETE FROM audit_log WHERE seq = 5")
    db.close()
    assert log.verify()  # the chain alone cannot see a cut at the end ...
    assert not log.verify(expected_head=head)  # ... the head kept elsewhere can
    assert log.first_invalid(expected_head=head) == 5


@pytest.mark.integration
def test_key_stops_an_attacker_who_rehashes_the_chain(tmp_path: Path) -> None:
    for key, detected in ((None, False), (b"k" * 32, True)):
        path = tmp_path / f"audit-{detected}.db"
        log = AuditLog(path, key=key)
        fill(log, 3)
        log.close()
        # Rewrite record 2 and recompute every plain SHA-256 hash after it.
        db = raw(path)
        rows = db.execute(
            "SELECT seq, ts, actor, action, target, details FROM audit_log ORDER BY seq"
        ).fetchall()
        prev = GENESIS_HASH
        for seq, ts, actor, action, target, details in rows:
            if seq == 2:
                details = json.dumps({"amount": 99999, "i": 1}, sort_keys=True)
            digest = hashlib.sha256(_canonical(seq, ts, actor, action, target, details, prev)).hexdigest()
            db.execute(
                "UPDATE audit_log SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                (details, prev, digest, seq),
            )
            prev = digest
        db.close()
        assert AuditLog(path, key=key).verify() is not detected


def test_persists_across_reopen(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "a.db") as log:
        fill(log, 2)
    with AuditLog(tmp_path / "a.db") as log:
        log.append("u", "x", "y")
        assert [r.seq for r in log.records()] == [1, 2, 3] and log.verify()


def test_run_events_and_async_append(log: AuditLog) -> None:
    ev = ToolCallStarted(
        run_id="r9", step=1, call=ToolCall(id="c1", name="process_refund", arguments={"amount": 5})
    )
    rec = log.record_event(ev)
    assert (rec.action, rec.target) == ("tool_call_started", "run:r9")
    assert rec.details["call"]["name"] == "process_refund"
    rec2 = asyncio.run(
        log.aappend("keel", "run_finished", "run:r9", RunFinished(run_id="r9").model_dump(mode="json"))
    )
    assert rec2.seq == 2 and log.verify()


@pytest.mark.integration
def test_concurrent_threads_keep_one_chain(log: AuditLog) -> None:
    def worker(n: int) -> None:
        for i in range(25):
            log.append(f"t{n}", "act", str(i))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.seq for r in log.records()] == list(range(1, 101))
    assert log.verify()


@pytest.mark.integration
def test_concurrent_processes_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    AuditLog(path).close()
    code = (
        "import sys\nfrom keel.security.audit import AuditLog\nlog = AuditLog(sys.argv[1])\n"
        "for i in range(30):\n    log.append(sys.argv[2], 'act', str(i))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), f"p{n}"]) for n in range(3)]
    assert [p.wait(60) for p in procs] == [0, 0, 0]
    log = AuditLog(path)
    assert [r.seq for r in log.records()] == list(range(1, 91))
    assert log.verify()
