"""The `keel` command: the --json contract and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def keel(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent)]), **(env or {})}
    for k in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY"):
        if env is None or k not in env:
            full_env.pop(k, None)
    return subprocess.run(
        [sys.executable, "-m", "keel.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=full_env,
        cwd=HERE,
    )


def test_version() -> None:
    out = keel("--version")
    assert out.returncode == 0 and "keel, version 0.1.0" in out.stdout


@pytest.mark.parametrize("target", ["cli_agents:adder", "cli_agents:make_adder"])
def test_run_json_contract(target: str) -> None:
    out = keel("run", "--agent", target, "--json", "what is 2+3?")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1  # exactly one JSON object on stdout
    data = json.loads(lines[0])
    assert {"run_id", "output", "tool_calls", "usage", "latency_ms"} <= set(data)
    assert data["output"] == "The sum is 5."
    assert data["tool_calls"] == [
        {
            "name": "add",
            "arguments": {"a": 2, "b": 3},
            "result": 5,
            "is_error": False,
            "pending_approval": False,
        }
    ]
    assert (
        set(data["usage"]) >= {"input_tokens", "output_tokens", "cost_usd"}
        and data["usage"]["input_tokens"] > 0
    )
    assert data["latency_ms"] >= 0


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["run", "--model", "nonsense:x", "hi"], None, "unknown model 'nonsense:x'"),
        (["run", "--model", "openai:gpt-4o-mini", "hi"], None, "no OpenAI API key"),
        (["run", "--model", "anthropic:claude-3-5-haiku-latest", "hi"], None, "ANTHROPIC_API_KEY"),
        (["run", "--model", "local:/nonexistent/model.gguf", "hi"], None, "model.gguf"),
        (["run", "--agent", "no_such_module:agent", "hi"], None, "cannot import 'no_such_module'"),
        (["run", "--agent", "cli_agents:tools", "hi"], None, "is not a keel Agent"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, env, message) -> None:
    out = keel(*args, env=env)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_models_lists_every_provider() -> None:
    out = keel("models", env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert out.returncode == 0
    rows = {line.split()[0]: line for line in out.stdout.strip().splitlines()}
    assert set(rows) == {"local", "openai", "anthropic"}
    assert "usable" in rows["openai"] and "not usable" in rows["anthropic"]
