"""SIGTERM drains a ``keel worker``: the step in flight finishes and is persisted, the run's next
step goes back to the queue, the process exits 0, and another worker finishes the run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from procs import ledger_entries, spawn_worker, stop, wait_ready, wait_until

from pg import new_database, postgres_url  # noqa: F401

pytest.importorskip("procrastinate", reason="install the distributed extra: pip install 'keel[distributed]'")


@pytest.mark.integration
async def test_sigterm_mid_step_finishes_and_persists_the_step(postgres_url, tmp_path: Path) -> None:
    from crash_agent import build_agent

    from keel.runtime import Job
    from keel.runtime.pgqueue import PgQueue
    from keel.store.postgres import PostgresStore

    url = new_database(postgres_url, "drain")
    store = await PostgresStore(url).open()
    queue = await PgQueue(url).open()
    rid = await build_agent(store).start("refund order O-7")
    marker = tmp_path / "model-call-started"
    slow = spawn_worker(
        url, tmp_path, "slow", concurrency=1, KEEL_MODEL_DELAY="1.5", KEEL_STEP_MARKER=str(marker)
    )
    wait_ready(slow)
    await queue.put(Job(run_id=rid, agent="crashy"))

    async def in_flight() -> bool:
        return marker.exists()

    assert await wait_until(in_flight, 10, 0.02)  # the model call of step 1 has started
    sent = time.monotonic()
    assert stop(slow) == 0
    assert time.monotonic() - sent > 1.0  # it waited for the model call instead of dying

    events = await store.events(rid)
    assert [e.type for e in events] == ["run_started", "model_requested", "model_responded"]
    assert events[-1].message.tool_calls[0].name == "refund"  # the step's result is persisted
    assert (await store.get_run(rid)).status == "running"
    assert await queue.counts() == {"todo": 1}  # its next step is queued, not lost nor held

    fresh = spawn_worker(url, tmp_path, "fresh")
    try:
        finished = await wait_until(lambda: _finished(store, rid), 20)
    finally:
        wait_ready(fresh)
        assert stop(fresh) == 0
    assert finished
    events = await store.events(rid)
    assert [e.seq for e in events] == list(range(len(events)))
    assert sum(e.type == "model_responded" for e in events) == 3  # the drained step was not redone
    assert [e["order"] for e in ledger_entries(tmp_path, "refunds")] == ["O-7"]
    assert await queue.counts() == {}
    await queue.close()
    await store.close()


@pytest.mark.integration
async def test_a_drain_past_its_deadline_exits_and_the_step_is_redelivered(
    postgres_url, tmp_path: Path
) -> None:
    from crash_agent import build_agent

    from keel.runtime import Job
    from keel.runtime.pgqueue import PgQueue
    from keel.store.postgres import PostgresStore

    url = new_database(postgres_url, "deadline")
    store = await PostgresStore(url).open()
    queue = await PgQueue(url).open()
    rid = await build_agent(store).start("refund order O-9")
    marker = tmp_path / "started"
    stuck = spawn_worker(url, tmp_path, "stuck", args=("--drain-timeout", "1"),
                         KEEL_MODEL_DELAY="60", KEEL_STEP_MARKER=str(marker))  # fmt: skip
    wait_ready(stuck)
    await queue.put(Job(run_id=rid, agent="crashy"))

    async def in_flight() -> bool:
        return marker.exists()

    assert await wait_until(in_flight, 10, 0.02)
    sent = time.monotonic()
    assert stop(stuck) == 3  # gave up on its 60 s model call after the 1 s deadline
    assert time.monotonic() - sent < 8
    assert "pending tasks" in stuck.log_path.read_text()  # and said what it was waiting on

    fresh = spawn_worker(url, tmp_path, "fresh")
    try:
        finished = await wait_until(lambda: _finished(store, rid), 30)
    finally:
        wait_ready(fresh)
        assert stop(fresh) == 0
    assert finished  # the step came back through the lease and ran elsewhere
    events = await store.events(rid)
    assert [e.seq for e in events] == list(range(len(events)))
    await queue.close()
    await store.close()


@pytest.mark.integration
async def test_sigterm_on_an_idle_worker_exits_promptly(postgres_url, tmp_path: Path) -> None:
    url = new_database(postgres_url, "idle")
    proc = spawn_worker(url, tmp_path, "idle")
    wait_ready(proc)
    sent = time.monotonic()
    assert stop(proc) == 0
    assert time.monotonic() - sent < 5


async def _finished(store, rid: str) -> bool:
    rec = await store.get_run(rid)
    return rec is not None and rec.status == "finished"
