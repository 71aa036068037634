"""``keel eval``: run a suite through a named adapter, filters, JSON, reports, variants, compare."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from keel.evals.cli import eval_cmd, resolve_adapter

SUITE = """scenarios:
  - {id: refund-1, intent: refund, turns: ["refund A-1"], expect: {final_state: {refund_recorded: true}, must_contain: ["$40.00"]}}
  - {id: refund-2, intent: refund, turns: ["refund A-2 all"], expect: {forbidden_tool_calls: [{name: refund}], resolvable: false}}
  - {id: where-1, intent: status, turns: ["where is A-1"], expect: {tool_calls: [{name: lookup, arguments: {order_id: A-1}}]}}
  - {id: human-1, intent: human, turns: ["human please"], expect: {must_escalate: true}}
"""
AGENT = "eval_fixtures:make_adapter"


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "s.yaml").write_text(SUITE)
    return tmp_path / "suite"


def test_run_prints_the_metrics_table(suite: Path) -> None:
    out = CliRunner().invoke(eval_cmd, [str(suite), "--agent", AGENT, "--quiet"])
    assert out.exit_code == 0, out.output
    assert "resolution rate     100.0% (3/3 resolvable)" in out.output
    assert "policy violations   2" in out.output  # forbidden refund executed + over the toy's limit
    assert "escalation          precision 100.0%  recall 100.0%" in out.output
    assert "top failures        forbidden:refund 1, policy_violation 1" in out.output


def test_json_filters_and_report(suite: Path, tmp_path: Path) -> None:
    report = tmp_path / "rep"
    args = [str(suite), "--agent", AGENT, "--json", "--intent", "refund", "--report", str(report)]
    out = CliRunner().invoke(eval_cmd, args)
    assert out.exit_code == 0, out.stderr
    payload = json.loads(out.stdout)  # exactly one JSON object on stdout
    assert payload["summary"]["scenarios"] == 2 and payload["meta"]["filters"]["intents"] == ["refund"]
    assert "[2/2]" in out.stderr  # progress goes to stderr
    saved = json.loads((report / "results.json").read_text())
    assert [s["id"] for s in saved["scenarios"]] == ["refund-1", "refund-2"]
    assert saved["scenarios"][0]["resolved"] is True and saved["scenarios"][1]["passed"] is False
    assert "<svg" in (report / "report.html").read_text()
    limited = CliRunner().invoke(eval_cmd, [str(suite), "--agent", AGENT, "--json", "--limit", "3"])
    assert json.loads(limited.stdout)["summary"]["scenarios"] == 3


def test_variants_then_compare_and_report(suite: Path, tmp_path: Path) -> None:
    rep = tmp_path / "ab"
    args = [
        str(suite),
        "--agent",
        AGENT,
        "-q",
        "--variant",
        "a=local",
        "--variant",
        "b=local",
        "--report",
        str(rep),
    ]
    out = CliRunner().invoke(eval_cmd, args)
    assert out.exit_code == 0, out.output
    assert "A = a   B = b   paired scenarios: 4" in out.output
    assert "diff +0.0 pts" in out.output  # the same scripted agent twice: no difference
    cmp = CliRunner().invoke(eval_cmd, ["compare", str(rep / "a" / "results.json"), str(rep / "b"), "--json"])
    assert cmp.exit_code == 0, cmp.output
    assert json.loads(cmp.output)["resolution_rate"]["diff"] == 0.0
    (rep / "a" / "report.html").unlink()
    again = CliRunner().invoke(eval_cmd, ["report", str(rep / "a" / "results.json")])
    assert again.exit_code == 0 and (rep / "a" / "report.html").exists()


def test_errors_are_one_line(suite: Path, tmp_path: Path) -> None:
    out = CliRunner().invoke(eval_cmd, [str(suite), "--agent", AGENT, "--intent", "nothing"])
    assert out.exit_code != 0 and "no scenario matches the filters" in out.output
    out = CliRunner().invoke(eval_cmd, [str(suite), "--agent", AGENT, "--variant", "oops"])
    assert out.exit_code != 0 and "--variant expects NAME=MODEL" in out.output
    (tmp_path / "bad.json").write_text("{not json")
    out = CliRunner().invoke(eval_cmd, ["compare", str(tmp_path / "bad.json"), str(tmp_path / "bad.json")])
    assert out.exit_code != 0 and "is not a results file" in out.output and "Traceback" not in out.output


def test_resolve_adapter_kinds() -> None:
    from eval_fixtures import ToyAdapter

    from keel.evals import AgentAdapter

    assert isinstance(resolve_adapter(AGENT, model="local"), ToyAdapter)
    assert isinstance(resolve_adapter("eval_fixtures:ToyAdapter", model="local"), ToyAdapter)  # a class
    plain = resolve_adapter("eval_fixtures:make_agent", model="local", stream=False)  # an Agent factory
    assert type(plain) is AgentAdapter and plain.stream is False
    from keel.errors import ConfigError

    with pytest.raises(ConfigError, match="neither an eval adapter nor a keel Agent"):
        resolve_adapter("eval_fixtures:ORDERS", model="local")


@pytest.mark.integration
def test_keel_cli_registers_eval_in_a_real_process(suite: Path) -> None:
    tests_dir = str(Path(__file__).parent)
    cmd = [sys.executable, "-m", "keel.cli", "eval", str(suite), "--agent", AGENT, "--json", "-q"]
    env_path = {"PYTHONPATH": tests_dir + ":" + str(Path(__file__).parents[2])}
    import os

    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env_path}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["resolution_rate"] == 1.0
    helped = subprocess.run(
        [sys.executable, "-m", "keel.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert helped.returncode == 0 and " eval " in helped.stdout
