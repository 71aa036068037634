"""200 runs through several ``keel worker`` processes that are killed with SIGKILL at random points.

Afterwards every run finished, its log is contiguous with one ``run_finished``, and each side effect
happened exactly once (checked against the tools' own ledgers).
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest
from procs import ledger_entries, spawn_worker, stop, wait_ready

from pg import new_database, postgres_url  # noqa: F401

pytest.importorskip("procrastinate", reason="install the distributed extra: pip install 'keel[distributed]'")

RUNS = 200
WORKERS = 3


@pytest.mark.integration
async def test_kill_9_workers_at_random_every_run_finishes_effects_once(postgres_url, tmp_path: Path) -> None:
    from crash_agent import build_agent

    from keel.runtime import Job
    from keel.runtime.pgqueue import PgQueue
    from keel.store.postgres import PostgresStore

    url = new_database(postgres_url, "crash")
    store = await PostgresStore(url).open()
    queue = await PgQueue(url).open()
    agent = build_agent(store)
    run_ids = [await agent.start(f"refund order O-{i}") for i in range(RUNS)]
    await queue.put_many([Job(run_id=r, agent="crashy") for r in run_ids])

    env = {"KEEL_CRASH_P": "0.01", "KEEL_MODEL_DELAY": "0.02"}
    procs = [spawn_worker(url, tmp_path, f"w{i}", **env) for i in range(WORKERS)]
    rng = random.Random(7)
    kills = crashes = 0
    finished = 0
    started = time.monotonic()
    deadline = started + 70
    try:
        while time.monotonic() < deadline:
            finished = len(await store.list_runs(status="finished", limit=RUNS + 1))
            if finished == RUNS:
                break
            await asyncio.sleep(rng.uniform(0.3, 0.9))
            for i, p in enumerate(procs):
                if p.poll() is not None:  # died by itself right after a side effect (KEEL_CRASH_P)
                    crashes += 1
                    procs[i] = spawn_worker(url, tmp_path, f"w{i}", **env)
            if kills < 12 and finished < RUNS * 0.9:
                i = rng.randrange(WORKERS)
                procs[i].kill()  # SIGKILL: no drain, no goodbye; its steps in flight are lost
                procs[i].wait()
                kills += 1
                procs[i] = spawn_worker(url, tmp_path, f"w{i}", **env)
    finally:
        for p in procs:
            wait_ready(p)
        codes = [stop(p) for p in procs]
    print(f"{kills} kills, {crashes} self-crashes, {RUNS} runs in {time.monotonic() - started:.1f}s")

    assert finished == RUNS, f"only {finished}/{RUNS} runs finished ({kills} kills, {crashes} crashes)"
    assert kills >= 5
    assert codes == [0] * WORKERS  # the last generation drained on SIGTERM
    logs = "".join(p.read_text() for p in tmp_path.glob("w*.log"))
    assert "redelivered" in logs  # killed workers' jobs came back through the lease, not by luck

    for rid in run_ids:
        events = await store.events(rid)
        assert [e.seq for e in events] == list(range(len(events))), rid  # nothing lost or duplicated
        assert sum(e.type == "run_finished" for e in events) == 1
        assert events[-1].type == "run_finished"
        calls = [e for e in events if e.type == "tool_call_finished"]
        assert [c.result.name for c in calls] == ["refund", "send_email"]

    for name in ("refunds", "emails"):
        entries = ledger_entries(tmp_path, name)
        per_run: dict[str, int] = {}
        for e in entries:
            per_run[e["run"]] = per_run.get(e["run"], 0) + 1
        assert per_run == {rid: 1 for rid in run_ids}, name  # each side effect exactly once
    assert await queue.counts() == {}  # every job acknowledged and gone
    await queue.close()
    await store.close()
