"""The agent loop on the scripted model: tools, failures, approvals, output types, limits, streaming."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from keel import Agent, Budget, RunError, ToolContext, ToolError, tool
from keel.errors import ApprovalError, OutputValidationError
from keel.events import TextDelta, ToolMessage
from keel.store import SQLiteStore
from keel.testing import ScriptedModel, call


@tool
async def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool
async def broken(x: str) -> str:
    """Always fails."""
    raise ToolError("inventory service is down")


@tool(timeout_s=0.05)
async def slow() -> str:
    """Never answers in time."""
    await asyncio.sleep(5)
    return "late"


@tool(max_result_chars=50)
async def big() -> str:
    """Returns a lot."""
    return "x" * 1000


def tool_results(model: ScriptedModel, call_index: int) -> list[ToolMessage]:
    return [m for m in model.calls[call_index] if isinstance(m, ToolMessage)]


async def test_tool_call_then_answer() -> None:
    model = ScriptedModel([call("add", a=2, b=3), "It is 5."])
    result = await Agent(model, tools=[add]).run("2+3?")
    assert result.output == "It is 5."
    assert [(c.name, c.arguments, c.result) for c in result.tool_calls] == [("add", {"a": 2, "b": 3}, 5)]
    assert tool_results(model, 1)[0].content == "5"
    assert result.usage.requests == 2 and result.usage.input_tokens > 0
    assert [e.seq for e in result.events] == list(range(len(result.events)))


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (call("broken", x="a"), "ERROR: inventory service is down"),
        (call("nope", x="a"), "unknown tool 'nope'"),
        (call("add", a="two", b=3), "invalid arguments for add: a:"),
        (call("slow"), "timed out after 0.05s"),
    ],
)
async def test_tool_failures_reach_the_model_and_the_run_continues(reply, expected) -> None:
    model = ScriptedModel([reply, "sorry"])
    result = await Agent(model, tools=[add, broken, slow]).run("go")
    assert result.output == "sorry"
    assert expected in tool_results(model, 1)[0].content
    assert result.tool_calls[0].is_error


async def test_oversized_results_are_truncated_with_a_marker() -> None:
    model = ScriptedModel([call("big"), "ok"])
    await Agent(model, tools=[big]).run("go")
    content = tool_results(model, 1)[0].content
    assert content.startswith("x" * 50) and "[truncated: 950 of 1000 characters removed]" in content


async def test_independent_calls_run_concurrently() -> None:
    active = 0
    peak = 0

    @tool
    async def wait(n: int) -> int:
        """Wait a bit."""
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1
        return n

    model = ScriptedModel([[call("wait", n=i) for i in range(4)], "done"])
    result = await Agent(model, tools=[wait], max_tool_concurrency=3).run("go")
    assert peak == 3  # bounded by max_tool_concurrency, but more than one at a time
    assert [c.result for c in result.tool_calls] == [0, 1, 2, 3]


async def test_side_effect_tools_get_a_stable_idempotency_key() -> None:
    keys: list[str] = []

    @tool(side_effects=True)
    async def charge(amount: int, ctx: ToolContext) -> str:
        """Charge."""
        keys.append(ctx.idempotency_key)
        return "ok"

    agent = Agent(ScriptedModel([call("charge", amount=1), call("charge", amount=1), "done"]), tools=[charge])
    result = await agent.run("go", run_id="fixed-run")
    assert len(set(keys)) == 2  # two calls, two keys
    agent2 = Agent(
        ScriptedModel([call("charge", amount=1), call("charge", amount=1), "done"]), tools=[charge]
    )
    await agent2.run("go", run_id="fixed-run")
    assert keys[2:] == keys[:2]  # derived from (run id, step, index), not random
    assert result.status == "finished"


async def test_output_type_is_validated_and_retried() -> None:
    class Answer(BaseModel):
        city: str
        population: int

    model = ScriptedModel(['{"city": "Oslo"}', 'Here: ```json\n{"city": "Oslo", "population": 709000}\n```'])
    result = await Agent(model, output_type=Answer).run("Biggest city in Norway?")
    assert result.output == Answer(city="Oslo", population=709000)
    retry_prompt = model.calls[1][-1].content
    assert "rejected" in retry_prompt and "population" in retry_prompt


async def test_output_type_gives_up_with_a_typed_error() -> None:
    class Answer(BaseModel):
        n: int

    model = ScriptedModel(["nope", "still no", "never"])
    with pytest.raises(OutputValidationError) as err:
        await Agent(model, output_type=Answer, output_retries=2).run("?")
    assert "after 3 attempts" in str(err.value) and err.value.last_output == "never"


async def test_max_steps_budget_and_timeout_end_the_run_with_a_reason() -> None:
    looping = ScriptedModel(lambda m, t: call("add", a=1, b=1))
    with pytest.raises(RunError) as e1:
        await Agent(looping, tools=[add], max_steps=3).run("loop")
    assert e1.value.reason == "max_steps"
    assert e1.value.result.events[-1].type == "run_failed"

    with pytest.raises(RunError) as e2:
        await Agent(looping, tools=[add], budget=Budget(max_tokens=30)).run("loop " * 20)
    assert e2.value.reason == "budget"

    with pytest.raises(RunError) as e3:
        await Agent(ScriptedModel(["x"], delay_s=1.0), timeout_s=0.05).run("slow")
    assert e3.value.reason == "timeout"


async def test_approval_suspends_and_resume_continues_in_a_new_agent(tmp_path) -> None:
    refunds: list[float] = []

    @tool(side_effects=True, requires_approval=lambda a: a["amount"] > 100)
    async def refund(amount: float) -> str:
        """Refund."""
        refunds.append(amount)
        return f"refunded {amount}"

    def script(messages, tools):
        last = messages[-1]
        if isinstance(last, ToolMessage):
            return f"result: {last.content}"
        return call("refund", amount=150.0)

    store = SQLiteStore(tmp_path / "runs.db")
    first = await Agent(ScriptedModel(script), tools=[refund], store=store).run("refund me")
    assert first.status == "suspended" and refunds == []
    assert first.tool_calls[0].pending_approval and first.pending_approvals[0].name == "refund"

    fresh = Agent(ScriptedModel(script), tools=[refund], store=SQLiteStore(tmp_path / "runs.db"))
    done = await fresh.resume(first.run_id, True, by="alice")
    assert done.output == "result: refunded 150.0" and refunds == [150.0]
    with pytest.raises(ApprovalError):
        await fresh.resume(
            first.run_id, True
        )  # nothing is pending any more: resume returns, decision refused
    again = await fresh.resume(first.run_id)
    assert again.status == "finished" and refunds == [150.0]


async def test_denied_approval_becomes_an_error_result() -> None:
    @tool(requires_approval=True)
    async def delete_account() -> str:
        """Delete."""
        raise AssertionError("must not run")

    model = ScriptedModel([call("delete_account"), "I could not do that."])
    agent = Agent(model, tools=[delete_account])
    first = await agent.run("delete me")
    result = await agent.resume(first.run_id, False, reason="policy")
    assert result.output == "I could not do that."
    assert "a human denied this call: policy" in tool_results(model, 1)[0].content


async def test_scopes_are_enforced() -> None:
    @tool(scopes=["admin"])
    async def wipe() -> str:
        """Wipe."""
        return "wiped"

    model = ScriptedModel([call("wipe"), "no"])
    await Agent(model, tools=[wipe]).run("wipe", scopes=["read"])
    assert "permission denied" in tool_results(model, 1)[0].content


async def test_sessions_carry_history_across_runs() -> None:
    model = ScriptedModel(
        lambda msgs, tools: f"seen {sum(1 for m in msgs if m.role == 'user')} user messages"
    )
    agent = Agent(model)
    await agent.run("one", session_id="s1")
    second = await agent.run("two", session_id="s1")
    other = await agent.run("three", session_id="s2")
    assert second.output == "seen 2 user messages"
    assert other.output == "seen 1 user messages"


async def test_stream_yields_text_deltas_and_typed_events() -> None:
    agent = Agent(ScriptedModel([call("add", a=1, b=2), "the answer is three"]), tools=[add])
    events = [ev async for ev in agent.run_stream("1+2")]
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "the answer is three"
    types = [e.type for e in events if not isinstance(e, TextDelta)]
    assert types[0] == "run_started" and types[-1] == "run_finished"
    assert "tool_call_finished" in types


async def test_thoughts_beside_tool_calls_are_recorded() -> None:
    from keel.events import AssistantMessage

    msg = AssistantMessage(content="I should add them.", tool_calls=[call("add", a=1, b=1)])
    result = await Agent(ScriptedModel([msg, "2"]), tools=[add]).run("1+1")
    thoughts = [e for e in result.events if e.type == "thought"]
    assert thoughts and thoughts[0].text == "I should add them."


def test_run_sync_and_bad_tools() -> None:
    assert Agent(ScriptedModel(["hi"])).run_sync("hello").output == "hi"
    from keel.errors import ConfigError

    with pytest.raises(ConfigError, match="@tool"):
        Agent(ScriptedModel(["hi"]), tools=[lambda: 1])  # type: ignore[list-item]


async def test_decide_records_without_running_then_advance_finishes() -> None:
    ran: list[float] = []

    @tool(requires_approval=True)
    async def refund(amount: float) -> str:
        """Refund."""
        ran.append(amount)
        return "done"

    model = ScriptedModel(lambda m, t: "refunded" if m[-1].role == "tool" else call("refund", amount=5.0))
    agent = Agent(model, tools=[refund])
    first = await agent.run("refund me")
    state = await agent.decide(first.run_id, True, by="lead")
    assert state.status == "running" and ran == []  # recorded, nothing executed yet
    with pytest.raises(ApprovalError):
        await agent.decide(first.run_id, True)
    final = await agent.advance(first.run_id, steps=None)
    assert final.status == "finished" and final.output == "refunded" and ran == [5.0]
