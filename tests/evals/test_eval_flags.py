"""Feature flags and canary rollout: stable buckets, proportions, overrides, routing in the run log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keel import Agent
from keel.errors import BadRequest, ConfigError, RunError
from keel.evals import Canary, Flags, VariantStats, bucket, decide_from_eval, decide_live, variant_stats
from keel.events import RunStarted
from keel.store import SQLiteStore
from keel.testing import ScriptedModel


def test_bucket_is_stable_across_processes() -> None:
    here = [bucket(f"user-{i}", "exp") for i in range(5)]
    code = "from keel.evals.flags import bucket; print([bucket(f'user-{i}', 'exp') for i in range(5)])"
    env = {**os.environ, "PYTHONHASHSEED": "123"}  # a different str hash seed must not matter
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert json.loads(out.stdout) == here
    assert bucket("user-1", "exp") != bucket("user-1", "other")  # each flag buckets independently


def test_rollout_proportions_and_monotonic_widening() -> None:
    flags = Flags({"beta": {"percent": 10}})
    keys = [f"user-{i}" for i in range(10_000)]
    on10 = {k for k in keys if flags.enabled("beta", user=k)}
    assert 900 <= len(on10) <= 1100
    flags.set("beta", percent=30)
    on30 = {k for k in keys if flags.enabled("beta", user=k)}
    assert 2850 <= len(on30) <= 3150
    assert on10 <= on30  # widening a rollout never takes the feature away from anyone


def test_overrides_precedence_and_kill_switch() -> None:
    flags = Flags({"flags": {"router": {"percent": 0, "key": "user", "users": {"ann": True, "bob": False, "dan": "v3"},
                                        "tenants": {"acme": True}, "on": "v2", "off": "v1"}}})  # fmt: skip
    assert flags.get("router", user="ann") == "v2"
    assert flags.get("router", user="dan") == "v3"  # a non-boolean override is served as is
    assert flags.get("router", user="bob", tenant="acme") == "v1"  # a user override beats the tenant's
    assert flags.get("router", user="cid", tenant="acme") == "v2"
    assert flags.get("router", user="cid", tenant="globex") == "v1"
    assert flags.get("missing", "fallback") == "fallback" and not flags.enabled("missing")
    flags.set("router", enabled=False)
    assert flags.get("router", user="ann") == "v1"  # the kill switch beats every override


def test_rollout_by_session_or_tenant_key() -> None:
    flags = Flags({"s": {"percent": 50, "key": "session"}})
    assert not flags.enabled("s", user="u1")  # no session id: nothing to bucket by, so off
    results = {flags.enabled("s", session=f"sess-{i}") for i in range(50)}
    assert results == {True, False}
    assert all(flags.enabled("s", session="sess-7") == flags.enabled("s", session="sess-7") for _ in range(5))


def test_flags_from_toml_and_json_files_and_reload(tmp_path: Path) -> None:
    toml = tmp_path / "flags.toml"
    toml.write_text("[flags.beta]\npercent = 0\ntenants = { acme = true }\n")
    flags = Flags.from_file(toml)
    assert flags.enabled("beta", tenant="acme") and not flags.enabled("beta", tenant="x")
    assert not flags.reload()  # unchanged file: nothing re-read
    toml.write_text("[flags.beta]\npercent = 100\n")
    os.utime(toml, (1, 1))
    assert flags.reload() and flags.enabled("beta", tenant="x")
    js = tmp_path / "flags.json"
    js.write_text(json.dumps({"beta": {"percent": 100, "on": 3}}))
    assert Flags.from_file(js).get("beta", user="u") == 3
    js.write_text(json.dumps({"beta": {"percent": 150}}))
    with pytest.raises(ConfigError, match="flag 'beta': percent"):
        Flags.from_file(js)
    with pytest.raises(ConfigError, match="no flags file"):
        Flags.from_file(tmp_path / "missing.toml")


def _agents(store: SQLiteStore, *, canary_fails: bool = False) -> tuple[Agent[str], Agent[str]]:
    stable = Agent(ScriptedModel(lambda m, t: "stable answer"), name="support", store=store)
    reply = (
        (lambda m, t: BadRequest("boom", provider="scripted"))
        if canary_fails
        else (lambda m, t: "canary answer")
    )
    canary = Agent(ScriptedModel(reply), name="support", store=store, max_steps=1)
    return stable, canary


@pytest.mark.integration
async def test_canary_routes_stably_and_records_the_variant_in_the_run_log(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "runs.db")
    canary = Canary(*_agents(store), percent=20, key="session")
    served: dict[str, set[str]] = {}
    for i in range(200):
        session = f"s-{i % 50}"
        result = await canary.run("hello", session_id=session)
        started = next(e for e in result.events if isinstance(e, RunStarted))
        served.setdefault(session, set()).add(started.metadata["variant"])
        assert result.output == f"{started.metadata['variant']} answer"
    assert all(len(v) == 1 for v in served.values())  # a session never flips between variants
    n_canary = sum("canary" in v for v in served.values())
    assert 3 <= n_canary <= 20  # ~20% of 50 sessions
    # the variant is read back from the durable log, not from this process's memory
    from_log = await variant_stats(SQLiteStore(tmp_path / "runs.db"))
    assert from_log["canary"].runs == canary.stats["canary"].runs == 4 * n_canary
    assert from_log["stable"].runs + from_log["canary"].runs == 200


async def test_canary_with_flag_overrides_and_error_counting(tmp_path: Path) -> None:
    from keel.store.memory import MemoryStore

    store = MemoryStore()
    flags = Flags({"new_agent": {"percent": 0, "key": "user", "tenants": {"internal": True}}})
    canary = Canary(*_agents(store, canary_fails=True), flags=flags, flag="new_agent")
    ok = await canary.run("hi", user="u1", tenant="customer")
    assert ok.output == "stable answer"
    with pytest.raises(RunError):
        await canary.run("hi", user="u2", tenant="internal")
    assert (canary.stats["canary"].runs, canary.stats["canary"].errors) == (1, 1)
    assert canary.stats["stable"].failure_rate == 0.0
    with pytest.raises(ConfigError, match="both flags= and flag="):
        Canary(*_agents(store), flags=flags)


def test_live_decision_rollback_continue_promote() -> None:
    stable = VariantStats(runs=1000, errors=20)
    assert decide_live(stable, VariantStats(runs=120, errors=9)).action == "rollback"  # 7.5% > 2% + 2%
    assert decide_live(stable, VariantStats(runs=50, errors=1)).action == "continue"
    assert decide_live(stable, VariantStats(runs=120, errors=4)).action == "promote"  # 3.3% <= 4%
    # a canary failing badly is rolled back before min_runs
    assert decide_live(stable, VariantStats(runs=25, errors=10), min_runs=500).action == "rollback"
    judged = VariantStats(runs=100, unsuccessful=10)
    assert judged.failure_rate == 0.1 and decide_live(stable, judged).action == "rollback"


def test_canary_apply_moves_the_rollout(tmp_path: Path) -> None:
    canary = Canary(*_agents(SQLiteStore(tmp_path / "r.db")), percent=10)
    canary.stats["stable"] = VariantStats(runs=500, errors=5)
    canary.stats["canary"] = VariantStats(runs=200, errors=30)
    decision = canary.decide()
    assert decision.action == "rollback" and "15.0%" in decision.reason
    canary.apply(decision)
    assert canary.percent == 0 and canary.route(session="any") == "stable"


def test_eval_decision_from_summaries() -> None:
    def summary(rate: float, violations: int = 0, p50: float = 2.0) -> dict:
        return {"resolution_rate": rate, "policy_violations": violations, "latency": {"p50_s": p50}}

    assert decide_from_eval(summary(0.80), summary(0.81)).action == "promote"
    assert decide_from_eval(summary(0.80), summary(0.90, violations=1)).action == "rollback"
    assert decide_from_eval(summary(0.80), summary(0.75)).action == "rollback"
    assert decide_from_eval(summary(0.80), summary(0.80, p50=3.5)).action == "rollback"
