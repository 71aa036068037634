"""A run killed at any point resumes from its log in a new process; side effects happen once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def run_proc(mode: str, db: Path, ledger: Path, crash: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KEEL_LEDGER": str(ledger),
        "KEEL_CRASH_AT": crash,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, str(HERE / "durable_agent.py"), mode, str(db), "run-1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.integration
@pytest.mark.parametrize(
    "crash", ["model_call", "tool_before_effect", "tool_after_effect", "second_model_call"]
)
def test_killed_run_resumes_without_repeating_side_effects(tmp_path, crash) -> None:
    db, ledger = tmp_path / "runs.db", tmp_path / "ledger.jsonl"
    first = run_proc("start", db, ledger, crash)
    assert first.returncode == 137, first.stderr

    resumed = run_proc("resume", db, ledger)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout.strip().splitlines()[-1]) == {
        "status": "finished",
        "output": "both refunded",
    }

    entries = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert sorted(e["order"] for e in entries) == ["A-1", "A-2"]  # each refund exactly once
    assert len({e["key"] for e in entries}) == 2

    sys.path.insert(0, str(HERE))
    import asyncio

    from keel.store import SQLiteStore

    events = asyncio.run(SQLiteStore(db).events("run-1"))
    assert [e.seq for e in events] == list(range(len(events)))  # nothing lost or duplicated
    assert sum(e.type == "run_finished" for e in events) == 1
    starts = [e for e in events if e.type == "tool_call_started"]
    assert len({s.call.id for s in starts}) == len(starts) == 2  # a resumed call is not started twice
