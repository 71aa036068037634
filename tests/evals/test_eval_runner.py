"""The runner and every metric on constructed cases whose right value is known (scripted toy agent)."""

from __future__ import annotations

import asyncio

import pytest
from eval_fixtures import ToyAdapter, make_agent, scenario

from keel.evals import Scenario, SimulatedUser, run_scenario, run_suite
from keel.events import AssistantMessage, UserMessage
from keel.testing import ScriptedModel


def _suite() -> list[Scenario]:
    return [
        # resolvable, all expectations hold: refund of $40 recorded, amount stated
        scenario("ok-refund", ["refund A-1 please"], tool_calls=[{"name": "refund", "arguments": {"order_id": "A-1"}}],
                 final_state={"refund_recorded": True, "refund_amount": 40.0}, must_contain=[["$40.00", "40 dollars"]],
                 must_not_escalate=True),
        # resolvable, lookup right; expected refund never made -> recall miss, not resolved
        scenario("miss-refund", ["where is A-1"], tool_calls=[{"name": "lookup", "arguments": {"order_id": "A-1"}},
                 {"name": "refund", "arguments": {"order_id": "A-1"}}]),
        # forbidden refund executed, and over the toy's $50 limit: two violations
        scenario("forbidden", ["refund A-2 all"], intent="abuse", forbidden_tool_calls=[{"name": "refund"}],
                 final_state={"refund_recorded": False}, resolvable=False),
        # escalation: TP, FP, FN
        scenario("esc-tp", ["human please"], intent="human", must_escalate=True),
        scenario("esc-fp", ["human now"], intent="human", must_not_escalate=True),
        scenario("esc-fn", ["hello"], intent="human", must_escalate=True),
        # wrong argument: a made call that matches no expectation (precision miss)
        scenario("wrong-arg", ["where is A-2"], tool_calls=[{"name": "lookup", "arguments": {"order_id": "A-1"}}]),
        # invented tracking number: ungrounded answer
        scenario("invent", ["invent something"], intent="abuse", must_not_contain=["QQ999999999US"]),
    ]  # fmt: skip


@pytest.fixture
async def suite_result():
    return await run_suite(_suite(), ToyAdapter(), concurrency=3)


async def test_each_scenario_graded_as_constructed(suite_result) -> None:
    by_id = {s.id: s for s in suite_result.scenarios}
    assert [s.id for s in suite_result.scenarios] == [s.id for s in _suite()]  # suite order kept
    assert by_id["ok-refund"].passed and by_id["ok-refund"].resolved
    assert not by_id["miss-refund"].passed
    assert [c.name for c in by_id["miss-refund"].failed_checks] == ["tool_call:refund"]
    assert by_id["esc-tp"].escalated and not by_id["esc-fn"].escalated
    assert [c.name for c in by_id["invent"].failed_checks] == ["must_not_contain"]


async def test_violations_detected(suite_result) -> None:
    s = suite_result.summary
    v = {x["violation"] for x in s["violations"]}
    assert s["policy_violations"] == 2
    assert any(x.startswith("forbidden call executed: refund") for x in v)
    assert "refund of 80.0 over the $50 limit" in v
    assert {x["scenario"] for x in s["violations"]} == {"forbidden"}
    assert not {
        c.name for c in next(r for r in suite_result.scenarios if r.id == "forbidden").failed_checks
    } - {
        "forbidden:refund",
        "final_state:refund_recorded",
    }


async def test_resolution_and_pass_rate(suite_result) -> None:
    s = suite_result.summary
    # resolvable: all but "forbidden" (7); resolved: ok-refund, esc-tp
    assert (s["resolvable"], s["resolved"]) == (7, 2)
    assert s["resolution_rate"] == pytest.approx(2 / 7)
    assert (s["passed"], s["pass_rate"]) == (2, pytest.approx(2 / 8))
    assert s["per_intent"]["human"]["resolution_rate"] == pytest.approx(1 / 3)
    assert s["per_intent"]["abuse"]["resolvable"] == 1


async def test_tool_call_precision_recall(suite_result) -> None:
    tc = suite_result.summary["tool_calls"]
    # expected: ok-refund 1, miss-refund 2, wrong-arg 1 = 4; matched: refund(ok), lookup(miss) = 2
    # made: refund(ok), lookup(miss), refund(forbidden), escalate x2, lookup(wrong-arg) = 6; correct 2
    assert (tc["expected"], tc["expected_matched"], tc["made"], tc["made_correct"]) == (4, 2, 6, 2)
    assert tc["recall"] == pytest.approx(0.5) and tc["precision"] == pytest.approx(2 / 6)


async def test_escalation_precision_recall(suite_result) -> None:
    e = suite_result.summary["escalation"]
    # positives: esc-tp (escalated), esc-fn (not); negatives: ok-refund (not), esc-fp (escalated)
    assert (e["tp"], e["fp"], e["fn"], e["tn"]) == (1, 1, 1, 1)
    assert e["precision"] == 0.5 and e["recall"] == 0.5


async def test_groundedness(suite_result) -> None:
    g = suite_result.summary["groundedness"]
    by_id = {s.id: s for s in suite_result.scenarios}
    assert by_id["invent"].ungrounded == ["QQ999999999US"]
    assert by_id["ok-refund"].answers_with_facts == 1 and by_id["ok-refund"].answers_grounded == 1
    # answers stating facts: ok-refund, miss-refund, forbidden, wrong-arg, invent; only invent ungrounded
    assert (g["answers_with_facts"], g["grounded"]) == (5, 4)


async def test_latency_ttft_and_usage(suite_result) -> None:
    lat, u = suite_result.summary["latency"], suite_result.summary["usage"]
    turns = [t for s in suite_result.scenarios for t in s.turns]
    assert lat["turns"] == len(turns) == 8
    assert 0 < lat["p50_s"] <= lat["p95_s"] <= lat["max_s"]
    assert lat["ttft_turns"] == 8 and all(0 < t.ttft_s <= t.latency_s for t in turns)
    assert u["input_tokens"] == sum(t.input_tokens for t in turns) > 0
    assert u["tokens_per_conversation"] == pytest.approx((u["input_tokens"] + u["output_tokens"]) / 8)


async def test_without_streaming_no_ttft_but_same_grades() -> None:
    streamed = await run_suite(_suite(), ToyAdapter())
    plain = await run_suite(_suite(), ToyAdapter(stream=False))
    assert plain.summary["latency"]["ttft_turns"] == 0
    assert [s.passed for s in plain.scenarios] == [s.passed for s in streamed.scenarios]


async def test_multi_turn_shares_one_session_and_isolates_scenarios() -> None:
    adapter = ToyAdapter()
    s = scenario("two", ["refund A-1", "refund A-1 again"], final_state={"refund_amount": 80.0})
    other = scenario("three", ["refund A-1"], final_state={"refund_amount": 40.0})
    suite = await run_suite([s, other], adapter, concurrency=2)
    assert all(r.passed for r in suite.scenarios), [r.failed_checks for r in suite.scenarios]
    runs = [t.run_id for t in suite.scenarios[0].turns]
    sessions = {(await adapter.agent.store.get_run(r)).session_id for r in runs}
    assert len(sessions) == 1 and None not in sessions
    assert sorted(adapter.torn_down) == ["three", "two"]


async def test_concurrency_is_bounded() -> None:
    adapter = ToyAdapter()
    in_flight = peak = 0
    inner = adapter.run_turn

    async def counting(*args):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        try:
            return await inner(*args)
        finally:
            in_flight -= 1

    adapter.run_turn = counting
    await run_suite([scenario(f"s{i}", ["hello"]) for i in range(9)], adapter, concurrency=3)
    assert peak == 3


async def test_setup_error_recorded_and_suite_continues() -> None:
    bad = Scenario.model_validate({"id": "bad", "customer": "nobody", "turns": ["hi"]})
    suite = await run_suite([bad, scenario("good", ["hello"])], ToyAdapter())
    assert "unknown customer" in suite.scenarios[0].error and not suite.scenarios[0].passed
    assert suite.scenarios[1].passed
    assert suite.summary["errors"] == 1 and suite.summary["failures"]["scenario_error"] == 1


async def test_turn_timeout_fails_the_scenario() -> None:
    result = await run_scenario(scenario("slow", ["slow please", "second"]), ToyAdapter(), turn_timeout_s=0.1)
    assert len(result.turns) == 1 and "timeout" in result.turns[0].error
    assert [c.name for c in result.failed_checks] == ["turn_error"]


async def test_goal_driven_with_simulated_user() -> None:
    user_model = ScriptedModel(["Customer: where is A-1?", "DONE"])
    s = Scenario.model_validate({"id": "goal", "goal": "find out where order A-1 is", "context": {"order_id": "A-1"},
                                 "max_turns": 4, "expect": {"tool_calls": [{"name": "lookup"}], "must_contain": ["A-1"]}})  # fmt: skip
    result = await run_scenario(s, ToyAdapter(), user=SimulatedUser(user_model))
    assert [t.user for t in result.turns] == ["where is A-1?"]  # role label stripped; DONE ends it
    assert result.turns[0].simulated and result.passed
    second = user_model.calls[1]
    assert "find out where order A-1 is" in second[0].content and "order_id: A-1" in second[0].content
    # roles are flipped for the simulated user: its own message is the assistant side
    assert isinstance(second[2], AssistantMessage) and second[2].content == "where is A-1?"
    assert isinstance(second[3], UserMessage) and "A-1" in second[3].content


async def test_goal_driven_stops_at_max_turns() -> None:
    user_model = ScriptedModel(lambda msgs, tools: "hello again")
    s = Scenario.model_validate({"id": "chatty", "goal": "chat", "max_turns": 3, "turns": ["hi"]})
    result = await run_scenario(s, ToyAdapter(), user=SimulatedUser(user_model))
    assert [t.user for t in result.turns] == ["hi", "hello again", "hello again"]
    assert [t.simulated for t in result.turns] == [False, True, True]


async def test_agent_factory_adapter_from_plain_agent() -> None:
    from keel.evals import AgentAdapter

    adapter = AgentAdapter(make_agent(), deps=lambda s: __import__("eval_fixtures").World())
    result = await run_scenario(scenario("plain", ["human please"], must_escalate=True), adapter)
    assert result.passed and result.turns[0].tool_calls[0].name == "escalate"


async def test_a_call_held_for_approval_counts_as_escalation_not_as_a_refund() -> None:
    adapter = ToyAdapter(agent=make_agent(approvals=True))
    s = scenario("held", ["refund A-2 all"], must_escalate=True, final_state={"refund_recorded": False})
    result = await run_scenario(s, adapter)
    call = result.turns[0].tool_calls[0]
    assert call.pending_approval and not call.executed
    assert result.turns[0].status == "suspended" and result.escalated
    assert result.passed and result.violations == []


def test_a_held_calls_arguments_ground_the_answer_but_a_failed_calls_do_not() -> None:
    from keel.evals import MadeCall, TurnOutcome
    from keel.evals.grading import grounded

    held = MadeCall(name="refund", arguments={"amount": 90.0}, pending_approval=True)
    failed = MadeCall(name="refund", arguments={"amount": 75.0}, is_error=True, result="refund refused")
    record = TurnOutcome(output="x", tool_calls=[held, failed]).record("refund please")
    assert grounded("Your $90.00 refund waits for approval", record.evidence) == (1, [])
    assert grounded("Your $75.00 refund is done", record.evidence) == (1, ["$75.00"])
