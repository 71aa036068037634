"""`import keel` stays light: Keel's public entry points never import a heavy optional dependency.

Heavy dependencies (model runtimes, servers, HTTP clients, database drivers, MCP) must be imported
inside the functions that need them. Each check runs in a fresh interpreter, since this test
process has imported all sorts of things already. Import *time* is a benchmark
(``benchmarks/imports/run.py``), not a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Collection

import pytest

from import_probe import HEAVY, heavy_among


def heavy_modules_after(code: str, heavy: Collection[str] = HEAVY) -> list[str]:
    """Run ``code`` in a fresh interpreter and return the heavy modules it left in ``sys.modules``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return heavy_among(json.loads(proc.stdout.strip().splitlines()[-1]), heavy)


def test_probe_reports_a_module_that_was_imported() -> None:
    # The probe itself must be able to fail: a module imported by the code is reported.
    assert heavy_modules_after("import json, decimal", frozenset({"decimal", "csv"})) == ["decimal"]


@pytest.mark.integration
def test_import_keel_and_public_names_import_no_heavy_module() -> None:
    assert heavy_modules_after("import keel\nfrom keel import Agent, tool") == []


@pytest.mark.integration
def test_running_an_agent_on_a_scripted_model_imports_no_heavy_module() -> None:
    code = """
from keel import Agent, tool
from keel.testing import ScriptedModel, call

@tool
async def add(a: int, b: int) -> int:
    "Add two numbers."
    return a + b

result = Agent(ScriptedModel([call("add", a=2, b=3), "5"]), tools=[add]).run_sync("2 + 3?")
assert result.output == "5" and result.tool_calls[0].result == 5, result
"""
    assert heavy_modules_after(code) == []
