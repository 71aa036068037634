"""Grading one conversation against its scenario: expectation checks, tool-call matching, groundedness.

Pure functions over records, so each rule is testable on hand-made cases::

    >>> from keel.evals.results import MadeCall
    >>> arguments_match({"order_id": "a-10023"}, {"order_id": "A-10023", "reason": "late"})
    True
    >>> tool_call_counts([ToolCallSpec(name="get_order", arguments={"order_id": "A-1"})],
    ...                  [MadeCall(name="get_order", arguments={"order_id": "A-1"}), MadeCall(name="search")])
    (1, 1, 2, 1)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from keel.evals.results import Check, MadeCall, ScenarioResult, TurnRecord
from keel.evals.scenarios import Scenario, ToolCallSpec

__all__ = [
    "DEFAULT_FACT_PATTERNS",
    "arguments_match",
    "check_final_state",
    "grade",
    "grounded",
    "tool_call_counts",
    "value_matches",
]

DEFAULT_FACT_PATTERNS: tuple[str, ...] = (
    r"\$\s?\d[\d,]*(?:\.\d{1,2})?",  # money
    r"\b[A-Z]{1,3}-\d{3,8}\b",  # order, ticket, customer ids: A-10023, T-5001
    r"\b[A-Z]{2}\d{9,12}[A-Z]{0,2}\b",  # tracking numbers: 1Z…, CC439011408US
    r"\b1Z[0-9A-Z]{16}\b",
    r"\b\d{4}-\d{2}-\d{2}\b",  # ISO dates
    r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2}(?:st|nd|rd|th)?(?:, \d{4})?\b",
)
"""Facts an answer must not invent: amounts, reference ids, tracking numbers and dates."""

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_NAMED_DATE = re.compile(r"([A-Za-z]{3})[a-z]*\.? (\d{1,2})(?:st|nd|rd|th)?(?:, (\d{4}))?")

_FLOAT_TOLERANCE = 0.01


def value_matches(expected: Any, actual: Any) -> bool:
    """Loose equality for grading: case/space-insensitive strings, floats within 0.01, dict/list subsets."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return abs(float(expected) - float(actual)) <= _FLOAT_TOLERANCE
    if isinstance(expected, int | float) and isinstance(actual, str):
        try:
            return abs(float(expected) - float(actual.replace("$", "").replace(",", ""))) <= _FLOAT_TOLERANCE
        except ValueError:
            return False
    if isinstance(expected, str) and isinstance(actual, str):
        return " ".join(expected.split()).casefold() == " ".join(actual.split()).casefold()
    if isinstance(expected, dict) and isinstance(actual, dict):
        return arguments_match(expected, actual)
    if isinstance(expected, list) and isinstance(actual, list):
        return all(any(value_matches(e, a) for a in actual) for e in expected)
    same: bool = expected == actual
    return same


def arguments_match(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    """Every expected argument is present in ``actual`` with a matching value (extra ones are fine)."""
    return all(k in actual and value_matches(v, actual[k]) for k, v in expected.items())


def _matches(spec: ToolCallSpec, call: MadeCall) -> bool:
    return spec.name == call.name and arguments_match(spec.arguments, call.arguments)


def tool_call_counts(expected: Sequence[ToolCallSpec], made: Sequence[MadeCall]) -> tuple[int, int, int, int]:
    """``(expected, expected_matched, made, made_correct)``: recall is matched/expected, precision
    correct/made. A made call is correct when it matches some expected call."""
    matched = sum(1 for spec in expected if any(_matches(spec, c) for c in made))
    correct = sum(1 for c in made if any(_matches(spec, c) for spec in expected))
    return len(expected), matched, len(made), correct


def _final_state_check(key: str, expected: Any, state: dict[str, Any]) -> Check:
    for suffix, op in (("_max", "<="), ("_min", ">=")):
        base = key.removesuffix(suffix)
        if key.endswith(suffix) and base not in state and key not in state:
            return Check(name=f"final_state:{key}", ok=False, detail=f"adapter did not report {base!r}")
        if key.endswith(suffix) and base in state and key not in state:
            actual = state[base]
            try:
                ok = (
                    float(actual) <= float(expected) + 1e-9
                    if op == "<="
                    else float(actual) >= float(expected) - 1e-9
                )
            except (TypeError, ValueError):
                ok = False
            return Check(
                name=f"final_state:{key}", ok=ok, detail=f"{base}={actual!r}, want {op} {expected!r}"
            )
    if key not in state:
        return Check(name=f"final_state:{key}", ok=False, detail=f"adapter did not report {key!r}")
    ok = value_matches(expected, state[key])
    return Check(name=f"final_state:{key}", ok=ok, detail=f"{key}={state[key]!r}, want {expected!r}")


def check_final_state(expected: dict[str, Any], state: dict[str, Any]) -> list[Check]:
    """One check per expected key (``None`` values are not checked)."""
    return [_final_state_check(k, v, state) for k, v in expected.items() if v is not None]


def _contains(text: str, needle: str) -> bool:
    return " ".join(needle.split()).casefold() in " ".join(text.split()).casefold()


def _text_checks(scenario: Scenario, answers: str) -> list[Check]:
    checks = []
    for item in scenario.expect.must_contain:
        options = [item] if isinstance(item, str) else item
        ok = any(_contains(answers, o) for o in options)
        checks.append(Check(name="must_contain", ok=ok, detail=" | ".join(options)))
    for needle in scenario.expect.must_not_contain:
        checks.append(Check(name="must_not_contain", ok=not _contains(answers, needle), detail=needle))
    return checks


def _call_checks(scenario: Scenario, made: Sequence[MadeCall]) -> list[Check]:
    checks = []
    for spec in scenario.expect.tool_calls:
        ok = any(_matches(spec, c) for c in made)
        seen = [c.arguments for c in made if c.name == spec.name]
        detail = f"want {spec.arguments or '{}'}; made {seen}" if not ok else ""
        checks.append(Check(name=f"tool_call:{spec.name}", ok=ok, detail=detail))
    for spec in scenario.expect.forbidden_tool_calls:
        hits = [c for c in made if _matches(spec, c)]
        detail = f"made {[c.arguments for c in hits]}" if hits else ""
        checks.append(Check(name=f"forbidden:{spec.name}", ok=not hits, detail=detail))
    return checks


def forbidden_executed(scenario: Scenario, made: Iterable[MadeCall]) -> list[str]:
    """Forbidden calls that actually ran and succeeded: a policy violation, not just a wrong move."""
    return [
        f"forbidden call executed: {c.name}({c.arguments})"
        for c in made
        if c.executed and any(_matches(spec, c) for spec in scenario.expect.forbidden_tool_calls)
    ]


_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _normal(fact: str) -> set[str]:
    """Forms a fact may take in evidence: ``$1,234.5`` is found as 1234.5, 1234.50 or 1,234.50."""
    if fact.lstrip().startswith("$"):
        value = fact.replace("$", "").replace(",", "").strip()
        try:
            number = float(value)
        except ValueError:
            return {value}
        return {value, f"{number:.2f}", f"{number:g}", f"{number:,.2f}"}
    return {fact}


def grounded(
    answer: str, evidence: str, patterns: Sequence[str] = DEFAULT_FACT_PATTERNS
) -> tuple[int, list[str]]:
    """``(facts_found, ungrounded_facts)``: facts of ``answer`` that appear nowhere in ``evidence``.

    >>> grounded("Order A-10023 ships, $12.50 refunded", "order A-10023 total 12.5")
    (2, [])
    >>> grounded("Tracking CC439011408US", "no tracking yet")
    (1, ['CC439011408US'])
    """
    facts: list[str] = []
    for p in patterns:
        facts.extend(m.group(0) for m in re.finditer(p, answer))
    facts = list(dict.fromkeys(facts))
    numbers = {n.replace(",", "") for n in _NUMBER.findall(evidence)}
    numbers |= {f"{float(n):.2f}" for n in numbers if n.replace(".", "", 1).isdigit()}
    missing = [f for f in facts if not _found(f, evidence, numbers)]
    return len(facts), missing


def _found(fact: str, evidence: str, numbers: set[str]) -> bool:
    if fact.lstrip().startswith("$"):
        # a whole number in the evidence, not a substring: "$12" is not grounded by "1234.5"
        return any(f.replace(",", "") in numbers for f in _normal(fact))
    named = _NAMED_DATE.fullmatch(fact)
    if named is not None and named.group(1).lower() in _MONTHS:
        # "October 30, 2025" is grounded by 2025-10-30 in a tool result (or by the same words)
        month, day = _MONTHS.index(named.group(1).lower()) + 1, int(named.group(2))
        year = named.group(3) or r"\d{4}"
        iso = year + f"-{month:02d}-{day:02d}"
        return re.search(iso, evidence) is not None or fact.casefold() in evidence.casefold()
    return re.search(rf"(?<![\w-]){re.escape(fact)}(?![\w-])", evidence) is not None


def grade(
    scenario: Scenario,
    turns: list[TurnRecord],
    state: dict[str, Any],
    violations: list[str],
    *,
    fact_patterns: Sequence[str] = DEFAULT_FACT_PATTERNS,
) -> ScenarioResult:
    """Grade a finished conversation: checks, tool-call counts, escalation, groundedness, violations."""
    exp = scenario.expect
    made = [c for t in turns for c in t.tool_calls]
    answers = "\n".join(t.output for t in turns)
    escalated = any(t.escalated for t in turns)
    checks = (
        _call_checks(scenario, made)
        + check_final_state(exp.final_state, state)
        + _text_checks(scenario, answers)
    )
    if exp.must_escalate:
        checks.append(Check(name="must_escalate", ok=escalated))
    if exp.must_not_escalate:
        checks.append(Check(name="must_not_escalate", ok=not escalated))
    errors = [t.error for t in turns if t.error]
    if errors:
        checks.append(Check(name="turn_error", ok=False, detail=errors[0][:300]))
    n_exp, matched, n_made, correct = tool_call_counts(exp.tool_calls, made)
    with_facts = grounded_n = 0
    ungrounded: list[str] = []
    evidence = ""
    for t in turns:
        # a fact the user typed, or a tool returned in any turn so far, may be repeated
        evidence += "\n" + t.user + "\n" + t.evidence
        n_facts, missing = grounded(t.output, evidence, fact_patterns)
        if n_facts:
            with_facts += 1
            grounded_n += not missing
            ungrounded.extend(missing)
    return ScenarioResult(
        id=scenario.id,
        intent=scenario.intent,
        title=scenario.title,
        tags=scenario.tags,
        resolvable=exp.resolvable,
        turns=turns,
        checks=checks,
        violations=list(dict.fromkeys(forbidden_executed(scenario, made) + violations)),
        final_state=state,
        must_escalate=exp.must_escalate,
        must_not_escalate=exp.must_not_escalate,
        escalated=escalated,
        expected_calls=n_exp,
        expected_matched=matched,
        made_calls=n_made,
        made_correct=correct,
        answers_with_facts=with_facts,
        answers_grounded=grounded_n,
        ungrounded=ungrounded,
    )
