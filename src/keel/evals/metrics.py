"""Suite metrics from scenario results: resolution, tool-call and escalation precision/recall, policy
violations, groundedness, latency, tokens and cost, overall and per intent.

Definitions (each is a plain ratio; ``None`` when its denominator is zero):

- **resolution rate**: resolvable scenarios whose every expectation held and that broke no policy,
  over resolvable scenarios. **pass rate**: the same over all scenarios.
- **tool-call recall**: expected calls some made call matched (name + argument subset) over expected
  calls; **precision**: made calls that match some expected call over made calls (micro-averaged).
- **escalation precision/recall**: over scenarios that say ``must_escalate`` (positives) or
  ``must_not_escalate`` (negatives); scenarios that allow either are left out.
- **policy violations**: count of violations (forbidden calls that executed, plus the adapter's app
  rules); the target is zero.
- **groundedness**: answers whose facts (amounts, ids, tracking numbers) all appear in the user's
  messages or tool results so far, over answers that state any such fact.
- **latency**: per turn p50/p95 (seconds); **TTFT** the same for time to first streamed token.

>>> percentile([1.0, 2.0, 3.0, 4.0], 50)
2.5
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from keel.evals.results import ScenarioResult

__all__ = ["percentile", "ratio", "summarise"]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile with linear interpolation (numpy's default); ``None`` for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _latency(results: Sequence[ScenarioResult]) -> dict[str, Any]:
    lat = [t.latency_s for r in results for t in r.turns if t.error is None]
    ttft = [t.ttft_s for r in results for t in r.turns if t.ttft_s is not None]
    return {
        "turns": len(lat),
        "p50_s": percentile(lat, 50),
        "p95_s": percentile(lat, 95),
        "mean_s": sum(lat) / len(lat) if lat else None,
        "max_s": max(lat) if lat else None,
        "ttft_p50_s": percentile(ttft, 50),
        "ttft_p95_s": percentile(ttft, 95),
        "ttft_turns": len(ttft),
    }


def _escalation(results: Sequence[ScenarioResult]) -> dict[str, Any]:
    tp = sum(1 for r in results if r.must_escalate and r.escalated)
    fn = sum(1 for r in results if r.must_escalate and not r.escalated)
    fp = sum(1 for r in results if r.must_not_escalate and r.escalated)
    tn = sum(1 for r in results if r.must_not_escalate and not r.escalated)
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
    }


def _usage(results: Sequence[ScenarioResult]) -> dict[str, Any]:
    n = len(results)
    tin = sum(t.input_tokens for r in results for t in r.turns)
    tout = sum(t.output_tokens for r in results for t in r.turns)
    cost = sum(t.cost_usd for r in results for t in r.turns)
    return {
        "input_tokens": tin,
        "output_tokens": tout,
        "cost_usd": round(cost, 6),
        "tokens_per_conversation": ratio(tin + tout, n),
        "cost_per_conversation_usd": ratio(cost, n),
        "turns_per_conversation": ratio(sum(len(r.turns) for r in results), n),
    }


def _core(results: Sequence[ScenarioResult]) -> dict[str, Any]:
    resolvable = [r for r in results if r.resolvable]
    return {
        "scenarios": len(results),
        "resolvable": len(resolvable),
        "resolved": sum(r.resolved for r in resolvable),
        "resolution_rate": ratio(sum(r.resolved for r in resolvable), len(resolvable)),
        "passed": sum(r.passed for r in results),
        "pass_rate": ratio(sum(r.passed for r in results), len(results)),
        "policy_violations": sum(len(r.violations) for r in results),
        "errors": sum(1 for r in results if r.error or any(t.error for t in r.turns)),
    }


def summarise(results: Sequence[ScenarioResult]) -> dict[str, Any]:
    """All suite metrics as a JSON-able dict (see the module docstring for the definitions)."""
    exp = sum(r.expected_calls for r in results)
    matched = sum(r.expected_matched for r in results)
    made = sum(r.made_calls for r in results)
    correct = sum(r.made_correct for r in results)
    facts = sum(r.answers_with_facts for r in results)
    grounded = sum(r.answers_grounded for r in results)
    failures = Counter(c.name for r in results for c in r.failed_checks)
    for r in results:
        if r.violations:
            failures["policy_violation"] += 1
        if r.error:
            failures["scenario_error"] += 1
    per_intent: dict[str, Any] = {}
    for intent in sorted({r.intent for r in results}):
        group = [r for r in results if r.intent == intent]
        per_intent[intent] = {**_core(group), "latency_p50_s": _latency(group)["p50_s"]}
    return {
        **_core(results),
        "tool_calls": {
            "expected": exp,
            "expected_matched": matched,
            "made": made,
            "made_correct": correct,
            "precision": ratio(correct, made),
            "recall": ratio(matched, exp),
        },
        "escalation": _escalation(results),
        "violations": [{"scenario": r.id, "violation": v} for r in results for v in r.violations],
        "groundedness": {
            "answers_with_facts": facts,
            "grounded": grounded,
            "rate": ratio(grounded, facts),
        },
        "latency": _latency(results),
        "usage": _usage(results),
        "failures": dict(failures.most_common()),
        "per_intent": per_intent,
    }
