"""Provider outage through real ``keel worker`` processes: the primary model endpoint goes down
mid-load, runs fail over to the fallback, the breaker opens, and closes again when it returns.

Two OpenAI-compatible servers on 127.0.0.1 (``flaky_provider.FlakyServer``), PostgreSQL from
``pgserver``, runs enqueued on ``PgQueue`` and advanced by two ``keel worker`` processes running
``flaky_provider:build_failover_agent``.

A circuit breaker's state lives in one process: each worker has its own and opens, probes and closes
it on its own. What the test can observe, and asserts:

- in the store, for every run: which model answered each call (``model_responded.model``), the
  retries against the primary, and the ``breaker_changed`` events the workers emitted;
- per worker process: its breaker transitions with its pid (the agent's observer appends them to a
  ledger), so "every worker that opened its breaker closed it again" is checked worker by worker.

After the primary returns, a worker keeps failing fast to the fallback until its own cool-down ends
and one of its calls probes the primary; the other worker may still be open meanwhile. So the test
keeps a trickle of runs going until both workers have closed, and only then asserts that runs go
to the primary again.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
from procs import spawn_worker, stop, wait_ready, wait_until

from flaky_provider import FlakyServer, breaker_log, build_failover_agent
from pg import new_database, postgres_url  # noqa: F401

pytest.importorskip("procrastinate", reason="install the distributed extra: pip install 'keel[distributed]'")

PRIMARY, BACKUP = "openai:primary", "openai:backup"
AGENT_SPEC = ("--agents", "flaky_provider:build_failover_agent")
TESTS = Path(__file__).parents[1]  # flaky_provider lives here


class Load:
    """Starts runs of the failover agent, enqueues them, and reads them back from the store."""

    def __init__(self, store: Any, queue: Any, primary: FlakyServer, backup: FlakyServer) -> None:
        self.store, self.queue, self.primary = store, queue, primary
        # only to record runs (``Agent.start``): the workers run them
        self.agent = build_failover_agent(primary.base_url, backup.base_url)
        self.agent.store = store

    async def enqueue(self, n: int, label: str) -> list[str]:
        from keel.runtime import Job

        ids = [await self.agent.start(f"2+3? ({label} {i})") for i in range(n)]
        await self.queue.put_many([Job(run_id=r, agent="failover") for r in ids])
        return ids

    async def finished(self, ids: list[str]) -> int:
        recs = [await self.store.get_run(r) for r in ids]
        return sum(r is not None and r.status in ("finished", "failed") for r in recs)

    async def wait(self, ids: list[str], timeout_s: float) -> None:
        async def all_done() -> bool:
            return await self.finished(ids) == len(ids)

        assert await wait_until(all_done, timeout_s), f"{await self.finished(ids)}/{len(ids)} runs ended"

    async def events(self, ids: list[str]) -> dict[str, list[Any]]:
        return {r: await self.store.events(r) for r in ids}


def answered_by(events: list[Any]) -> list[str]:
    return [e.model for e in events if e.type == "model_responded"]


def calls(events: list[Any]) -> list[tuple[float, str]]:
    """(when the model call was made, which model answered it) for each model call of a run."""
    asked = [e.ts for e in events if e.type == "model_requested"]
    return list(zip(asked, answered_by(events), strict=True))


def assert_all_finished(runs: dict[str, list[Any]]) -> None:
    for rid, events in runs.items():
        assert events[-1].type == "run_finished", (rid, events[-1])
        assert events[-1].output == "The sum is 5.", rid
        assert [e.seq for e in events] == list(range(len(events))), rid


def breaker_states(tmp: Path) -> dict[int, list[str]]:
    """Each worker process's transitions of the primary's breaker, in order."""
    per_pid: dict[int, list[str]] = {}
    for line in breaker_log(tmp):
        if line["breaker"] == PRIMARY:
            per_pid.setdefault(line["pid"], []).append(line["state"])
    return per_pid


@pytest.mark.integration
async def test_primary_down_mid_load_fails_over_opens_and_recloses_breakers(
    postgres_url,
    tmp_path: Path,
) -> None:
    from keel.runtime.pgqueue import PgQueue
    from keel.store.postgres import PostgresStore

    url = new_database(postgres_url, "outage")
    store = await PostgresStore(url).open()
    queue = await PgQueue(url).open()
    primary = FlakyServer(failure_rate=0.0, latency_s=0.05).start()
    backup = FlakyServer(failure_rate=0.0, latency_s=0.05).start()
    load = Load(store, queue, primary, backup)
    env = {"KEEL_PRIMARY_URL": primary.base_url, "KEEL_BACKUP_URL": backup.base_url}
    env["KEEL_BREAKER_COOLDOWN_S"] = "1.0"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(TESTS / "runtime"), str(TESTS), os.environ.get("PYTHONPATH", "")]
    )
    # ``--agents`` given again replaces spawn_worker's default agent (click keeps the last value)
    workers = [spawn_worker(url, tmp_path, f"w{i}", args=AGENT_SPEC, **env) for i in range(2)]
    try:
        for w in workers:
            wait_ready(w)
        healthy = await healthy_load(load, tmp_path)
        outage = await primary_goes_down_mid_load(load, tmp_path, {w.pid for w in workers})
        recovery = await primary_returns(load, tmp_path)
        later = await later_runs_use_the_primary(load)
        # every transition a worker made is in the log of the run whose call made it
        all_runs = await load.events(healthy + outage + recovery + later)
        in_logs = sum(e.type == "breaker_changed" for ev in all_runs.values() for e in ev)
        assert in_logs == len(breaker_log(tmp_path))
    finally:
        codes = [stop(w) for w in workers]
        primary.stop()
        backup.stop()
        await queue.close()
        await store.close()
    assert codes == [0, 0]  # both drained on SIGTERM
    assert not any("Traceback" in p.read_text() for p in tmp_path.glob("w*.log"))  # no worker crashed


async def healthy_load(load: Load, tmp: Path) -> list[str]:
    """The primary answers everything; no breaker moves."""
    healthy = await load.enqueue(16, "healthy")
    await load.wait(healthy, 20)
    runs = await load.events(healthy)
    assert_all_finished(runs)
    assert all(answered_by(ev) == [PRIMARY, PRIMARY] for ev in runs.values())
    assert breaker_log(tmp) == []
    return healthy


async def primary_goes_down_mid_load(load: Load, tmp: Path, pids: set[int]) -> list[str]:
    """The primary's socket closes while a batch is running: every run finishes on the fallback,
    and both workers' breakers open and then keep calls off the primary."""
    outage = await load.enqueue(64, "outage")

    async def some_done() -> bool:
        return await load.finished(outage) >= 4

    assert await wait_until(some_done, 20, 0.02)
    await asyncio.to_thread(load.primary.stop)  # connections are refused from now on
    killed_at = time.time()
    assert await load.finished(outage) < len(outage)  # the kill really was mid-load
    await load.wait(outage, 40)
    runs = await load.events(outage)
    assert_all_finished(runs)  # every run finished, none failed
    served = [m for ev in runs.values() for m in answered_by(ev)]
    assert PRIMARY in served and BACKUP in served  # some before the outage, the rest after
    after_kill = [model for ev in runs.values() for asked, model in calls(ev) if asked > killed_at]
    assert len(after_kill) >= len(outage) // 2  # a quarter of the batch's calls, or more, came after it
    assert set(after_kill) == {BACKUP}  # and every one of them failed over

    opened = [e for ev in runs.values() for e in ev if e.type == "breaker_changed" and e.state == "open"]
    assert opened and {e.breaker for e in opened} == {PRIMARY}  # in the run logs
    per_worker = breaker_states(tmp)
    assert set(per_worker) == pids  # both workers saw the outage and opened their own breaker
    assert all(states[0] == "open" and "closed" not in states for states in per_worker.values())
    # Open breakers fail fast: most calls during the outage never tried the primary (a call that
    # does try it fails twice, and its retry shows as one retry_scheduled event).
    calls_after = sum(e.type == "model_requested" and e.ts > killed_at for ev in runs.values() for e in ev)
    tried_primary = sum(
        e.type == "retry_scheduled" and e.target == PRIMARY for ev in runs.values() for e in ev
    )
    assert tried_primary < calls_after / 2, (tried_primary, calls_after)
    print(f"outage: {len(after_kill)} calls after the kill, {tried_primary} tried the primary; {per_worker}")
    return outage


async def primary_returns(load: Load, tmp: Path) -> list[str]:
    """The primary listens again on its address. Each worker's breaker half-opens after its cool-down,
    lets one probe through and closes: a trickle of runs keeps going until both have."""
    await asyncio.to_thread(load.primary.restart)
    recovery: list[str] = []

    async def both_closed() -> bool:
        recovery.extend(await load.enqueue(4, "recovery"))
        return all(states[-1] == "closed" for states in breaker_states(tmp).values())

    assert await wait_until(both_closed, 25, 0.5), breaker_states(tmp)
    await load.wait(recovery, 20)
    assert_all_finished(await load.events(recovery))
    print(f"recovery: {len(recovery)} runs until both closed; breakers {breaker_states(tmp)}")
    for states in breaker_states(tmp).values():
        assert states[-2:] == ["half_open", "closed"]  # closed by a successful probe
    return recovery


async def later_runs_use_the_primary(load: Load) -> list[str]:
    """With every breaker closed, runs go to the primary again and no breaker moves."""
    before = load.primary.counts["ok"]
    later = await load.enqueue(16, "later")
    await load.wait(later, 20)
    runs = await load.events(later)
    assert_all_finished(runs)
    assert all(answered_by(ev) == [PRIMARY, PRIMARY] for ev in runs.values())
    assert load.primary.counts["ok"] - before == 2 * len(later)  # the primary really served them
    assert not any(e.type == "breaker_changed" for ev in runs.values() for e in ev)
    return later
