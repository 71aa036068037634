"""Evaluation: scenario suites run against any agent, metrics, HTML reports, A/B comparison, feature
flags and canary rollout. ``keel eval SUITE`` is the command; this package is its Python API.

>>> from keel.evals import AgentAdapter, load_scenarios, run_suite, compare, Flags, Canary  # doctest: +SKIP

- :mod:`keel.evals.scenarios` the scenario format and loader
- :mod:`keel.evals.adapter` the ``Adapter`` protocol and ``AgentAdapter`` for any keel Agent
- :mod:`keel.evals.runner` running suites (``run_suite``, ``run_ab``)
- :mod:`keel.evals.grading` / :mod:`keel.evals.metrics` checks and suite metrics
- :mod:`keel.evals.report` the self-contained HTML report
- :mod:`keel.evals.compare` paired-bootstrap A/B comparison
- :mod:`keel.evals.flags` feature flags, canary routing and promote/rollback decisions
"""

from keel.evals.adapter import Adapter, AgentAdapter, BaseAdapter, TurnOutcome
from keel.evals.compare import compare, format_comparison, paired_bootstrap
from keel.evals.flags import (
    Canary,
    Decision,
    Flag,
    Flags,
    VariantStats,
    bucket,
    decide_from_eval,
    decide_live,
    variant_stats,
)
from keel.evals.metrics import summarise
from keel.evals.report import render_report, write_report
from keel.evals.results import Check, MadeCall, ScenarioResult, SuiteResult, TurnRecord
from keel.evals.runner import run_ab, run_scenario, run_suite
from keel.evals.scenarios import Expectation, Scenario, ToolCallSpec, load_scenarios, select_scenarios
from keel.evals.simulate import SimulatedUser

__all__ = [
    "Adapter",
    "AgentAdapter",
    "BaseAdapter",
    "Canary",
    "Check",
    "Decision",
    "Expectation",
    "Flag",
    "Flags",
    "MadeCall",
    "Scenario",
    "ScenarioResult",
    "SimulatedUser",
    "SuiteResult",
    "ToolCallSpec",
    "TurnOutcome",
    "TurnRecord",
    "VariantStats",
    "bucket",
    "compare",
    "decide_from_eval",
    "decide_live",
    "format_comparison",
    "load_scenarios",
    "paired_bootstrap",
    "render_report",
    "run_ab",
    "run_scenario",
    "run_suite",
    "select_scenarios",
    "summarise",
    "variant_stats",
    "write_report",
]
