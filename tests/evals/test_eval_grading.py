"""Scenario loading and the grading rules, on hand-made cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.errors import ConfigError
from keel.evals import MadeCall, Scenario, load_scenarios, select_scenarios
from keel.evals.grading import (
    arguments_match,
    check_final_state,
    forbidden_executed,
    grounded,
    tool_call_counts,
    value_matches,
)
from keel.evals.metrics import percentile
from keel.evals.scenarios import ToolCallSpec

SUPPORT = Path(__file__).parents[2] / "apps" / "support" / "scenarios"


def test_value_matching_rules() -> None:
    assert value_matches("A-10023", " a-10023 ") and not value_matches("A-10023", "A-10024")
    assert value_matches(89.0, 89) and value_matches(89.0, 89.004) and not value_matches(89.0, 89.02)
    assert value_matches(24.0, "$24.00") and not value_matches(24.0, "twenty")
    assert value_matches(True, True) and not value_matches(True, 1) and not value_matches(False, 0)
    assert value_matches({"A-1": "cancelled"}, {"A-1": "Cancelled", "A-2": "shipped"})
    assert not value_matches({"A-1": "cancelled"}, {"A-2": "cancelled"})
    assert value_matches(["sms"], ["email", "SMS"]) and not value_matches(["fax"], ["sms"])


def test_arguments_subset_match() -> None:
    assert arguments_match({}, {"order_id": "A-1"})
    assert arguments_match({"order_id": "A-1"}, {"order_id": "A-1", "reason": "late"})
    assert not arguments_match({"order_id": "A-1", "amount": 5}, {"order_id": "A-1"})


def test_tool_call_counts_duplicates_and_misses() -> None:
    expected = [ToolCallSpec(name="get", arguments={"id": "1"}), ToolCallSpec(name="refund")]
    made = [MadeCall(name="get", arguments={"id": "1"}), MadeCall(name="get", arguments={"id": "1"}),
            MadeCall(name="get", arguments={"id": "2"})]  # fmt: skip
    # expected 2, matched 1 (refund missing); made 3, correct 2 (the repeated right call counts twice)
    assert tool_call_counts(expected, made) == (2, 1, 3, 2)
    assert tool_call_counts([], made) == (0, 0, 3, 0)


def test_final_state_bounds_and_missing_keys() -> None:
    state = {"refund_amount": 40.0, "refund_recorded": True}
    checks = {c.name: c.ok for c in check_final_state(
        {"refund_amount_max": 50, "refund_amount_min": 41, "refund_recorded": True, "ticket_created": False,
         "order_status": None}, state)}  # fmt: skip
    assert checks == {
        "final_state:refund_amount_max": True,
        "final_state:refund_amount_min": False,
        "final_state:refund_recorded": True,
        "final_state:ticket_created": False,  # the adapter did not report it: fails, never passes silently
    }


def test_forbidden_executed_only_counts_calls_that_ran() -> None:
    s = Scenario.model_validate(
        {"id": "x", "turns": ["hi"], "expect": {"forbidden_tool_calls": [{"name": "refund"}]}}
    )
    made = [MadeCall(name="refund", is_error=True), MadeCall(name="refund", pending_approval=True)]
    assert forbidden_executed(s, made) == []
    assert len(forbidden_executed(s, [*made, MadeCall(name="refund", arguments={"amount": 9})])) == 1


def test_groundedness_forms_of_facts() -> None:
    evidence = '{"id": "A-10023", "total": 1234.5, "tracking_number": "CC439011408US"}'
    assert grounded("Order A-10023 ($1,234.50) ships, tracking CC439011408US.", evidence) == (3, [])
    assert grounded("You were charged $12.", evidence) == (1, ["$12"])
    assert grounded("Ticket T-9001 is open", evidence) == (1, ["T-9001"])
    assert grounded("Order A-1002 too", evidence) == (1, ["A-1002"])  # a prefix of A-10023 is not it
    assert grounded("Thanks for waiting!", evidence) == (0, [])


def test_groundedness_of_dates() -> None:
    evidence = '{"delivered": "2025-11-03", "estimated_delivery": "2026-01-09"}'
    assert grounded("Delivered on November 3, 2025 (2025-11-03).", evidence) == (2, [])
    assert grounded("It arrives Jan 9th.", evidence) == (1, [])
    assert grounded("It was delivered on October 30, 2025.", evidence) == (1, ["October 30, 2025"])
    assert grounded("Delivered 2025-11-04", evidence) == (1, ["2025-11-04"])
    assert grounded("Delivered on Nov 3, 2024", evidence) == (1, ["Nov 3, 2024"])  # right day, wrong year


def test_percentile_matches_linear_interpolation() -> None:
    xs = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert (
        percentile(xs, 50) == 3.0 and percentile(xs, 95) == pytest.approx(4.8) and percentile([], 50) is None
    )


def test_load_yaml_and_json_and_reject_bad_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "scenarios:\n  - id: a1\n    turns: [hi]\n    expect: {must_contain: [hello]}\n"
    )
    (tmp_path / "b.json").write_text('[{"id": "b1", "goal": "get help", "intent": "faq"}]')
    loaded = load_scenarios(tmp_path)
    assert [s.id for s in loaded] == ["a1", "b1"] and loaded[1].goal == "get help"
    (tmp_path / "c.yaml").write_text("scenarios:\n  - id: a1\n    turns: [again]\n")
    with pytest.raises(ConfigError, match="already used"):
        load_scenarios(tmp_path)
    (tmp_path / "c.yaml").write_text(
        "scenarios:\n  - id: c1\n    turns: [x]\n    expect: {must_escalat: true}\n"
    )
    with pytest.raises(ConfigError, match=r"c.yaml: scenario #1: expect.must_escalat"):
        load_scenarios(tmp_path)
    (tmp_path / "c.yaml").write_text("scenarios:\n  - id: c1\n")
    with pytest.raises(ConfigError, match="needs turns or a goal"):
        load_scenarios(tmp_path)
    with pytest.raises(ConfigError, match="no scenario suite"):
        load_scenarios(tmp_path / "missing")


def test_select_filters_and_spreads_a_limit_over_intents() -> None:
    suite = [
        Scenario(id=f"{i}-{n}", intent=i, turns=["x"], tags=["t"] if n == 0 else [])
        for i in "abc"
        for n in range(4)
    ]
    assert [s.id for s in select_scenarios(suite, limit=5)] == ["a-0", "b-0", "c-0", "a-1", "b-1"]
    assert [s.id for s in select_scenarios(suite, intents=["b"], limit=2)] == ["b-0", "b-1"]
    assert [s.id for s in select_scenarios(suite, ids=["c-", "a-3"])] == ["a-3", "c-0", "c-1", "c-2", "c-3"]
    assert [s.id for s in select_scenarios(suite, tags=["t"])] == ["a-0", "b-0", "c-0"]


def test_the_support_suite_loads_with_the_generic_format() -> None:
    suite = load_scenarios(SUPPORT)
    assert len(suite) >= 100 and len({s.id for s in suite}) == len(suite)
    assert all(s.customer for s in suite)
    assert any(s.goal for s in suite) and any(s.expect.must_escalate for s in suite)
