"""What an evaluation produces: per-turn records, per-scenario results and the saved suite file.

A results file is one JSON object: ``meta`` (suite, agent, model, date, machine), ``summary`` (the
metrics of :mod:`keel.evals.metrics`) and ``scenarios`` (one object per scenario)::

    suite = SuiteResult.load("reports/support/results.json")
    print(suite.summary["resolution_rate"], [s.id for s in suite.scenarios if not s.passed])
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from keel.errors import ConfigError

__all__ = ["Check", "MadeCall", "ScenarioResult", "SuiteResult", "TurnRecord"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class MadeCall(_Model):
    """A tool call the agent made, with how it ended."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    is_error: bool = False
    pending_approval: bool = False

    @property
    def executed(self) -> bool:
        """It ran and succeeded (not refused by the tool, not waiting for a human)."""
        return not self.is_error and not self.pending_approval


class TurnRecord(_Model):
    """One user message and the agent's reply."""

    user: str
    output: str = ""
    tool_calls: list[MadeCall] = Field(default_factory=list)
    escalated: bool = False
    latency_s: float = 0.0
    ttft_s: float | None = None
    """Seconds to the first streamed token of the answer, when the adapter streams."""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    run_id: str | None = None
    status: str = "finished"
    error: str | None = None
    evidence: str = ""
    """Tool results and retrieved passages the answer may draw on (for groundedness)."""
    simulated: bool = False


class Check(_Model):
    """One graded expectation: ``name`` like ``tool_call:get_order_status`` and whether it held."""

    name: str
    ok: bool
    detail: str = ""


class ScenarioResult(_Model):
    """A scenario's conversation and grades."""

    id: str
    intent: str
    title: str = ""
    tags: list[str] = Field(default_factory=list)
    resolvable: bool = True
    turns: list[TurnRecord] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    violations: list[str] = Field(default_factory=list)
    final_state: dict[str, Any] = Field(default_factory=dict)
    must_escalate: bool = False
    must_not_escalate: bool = False
    escalated: bool = False
    expected_calls: int = 0
    expected_matched: int = 0
    made_calls: int = 0
    made_correct: int = 0
    answers_with_facts: int = 0
    answers_grounded: int = 0
    ungrounded: list[str] = Field(default_factory=list)
    duration_s: float = 0.0
    error: str | None = None

    @property
    def passed(self) -> bool:
        """Every expectation held and nothing broke policy."""
        return all(c.ok for c in self.checks) and not self.violations and self.error is None

    @property
    def resolved(self) -> bool:
        return self.resolvable and self.passed

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["passed"], data["resolved"] = self.passed, self.resolved
        return data


class SuiteResult(_Model):
    """A whole evaluation: ``meta``, ``summary`` and the scenario results; saved as one JSON file."""

    meta: dict[str, Any] = Field(default_factory=dict)
    summary: dict[str, Any] = Field(default_factory=dict)
    scenarios: list[ScenarioResult] = Field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "summary": self.summary,
            "scenarios": [s.to_json() for s in self.scenarios],
        }

    def save(self, path: str | Path) -> Path:
        """Write the results file (parent folders are created)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False, default=str), encoding="utf-8")
        return p

    @classmethod
    def load(cls, path: str | Path) -> SuiteResult:
        """Read a results file written by ``save`` (or ``keel eval --report``)."""
        p = Path(path)
        if p.is_dir():
            p = p / "results.json"
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"no results file at {p}: run `keel eval SUITE --report DIR` first") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{p} is not a results file: {exc}") from None
        return cls.model_validate(data)
