"""Short-term memory: the token budget, pinned facts, pruning and rolling summaries (ScriptedModel)."""

from __future__ import annotations

import json
import random

import pytest
from memory_helpers import PreparedReAct, SupportModel, orders_json, question, tool_turn

from keel import Agent
from keel.errors import ContextTooLong
from keel.events import (
    Annotation,
    AssistantMessage,
    Message,
    SummaryCreated,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from keel.loop.state import RunState
from keel.memory import ContextWindow, Summarizer, TokenWindow, load_session_summary
from keel.memory.context import group_turns
from keel.memory.prune import prune_text
from keel.memory.summary import SessionSummary, digest
from keel.store import MemoryStore, SQLiteStore
from keel.testing import ScriptedModel

HEAD: list[Message] = [SystemMessage(content="You are the support assistant of Acme.")]


def random_history(seed: int, turns: int = 30) -> list[Message]:
    rng = random.Random(seed)
    out: list[Message] = []
    for i in range(turns):
        out.append(UserMessage(content=question(i, rng.randint(3, 60))))
        if rng.random() < 0.3:
            call = ToolCall(id=f"t{i}", name="lookup", arguments={"q": i})
            out.append(AssistantMessage(tool_calls=[call]))
            out.append(ToolMessage(tool_call_id=f"t{i}", name="lookup", content="r " * rng.randint(5, 80)))
        out.append(AssistantMessage(content="answer " * rng.randint(2, 40)))
    return out


def state_with(text: str, run_id: str = "r1", **kw: object) -> RunState:
    return RunState(run_id=run_id, messages=[UserMessage(content=text)], input=text, **kw)  # type: ignore[arg-type]


def system_text(messages: list[Message]) -> str:
    return "\n".join(m.content for m in messages if isinstance(m, SystemMessage))


def assert_calls_paired(messages: list[Message]) -> None:
    asked = set()
    for m in messages:
        if isinstance(m, AssistantMessage):
            asked |= {c.id for c in m.tool_calls}
        if isinstance(m, ToolMessage):
            assert m.tool_call_id in asked, "a tool result lost its call"


# --------------------------------------------------------------------------------------------------
# the budget
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_budget_is_respected_exactly_and_filled(seed: int) -> None:
    model = ScriptedModel([])
    history = random_history(seed)
    state = state_with("latest question")
    window = ContextWindow(prune_tool_tokens=None)
    for budget in range(120, 3000, 97):
        window.max_tokens = budget
        msgs = window.build(HEAD, history, state, model)
        assert model.count_tokens(msgs) <= budget
        assert msgs[0] == HEAD[0] and msgs[-1] == state.messages[0]
        assert_calls_paired(msgs)
        kept = msgs[1:-1]
        dropped = history[: len(history) - len(kept)]
        assert history[len(dropped) :] == kept  # the newest turns, whole and in order
        if dropped:  # maximal: one more (older) turn would not have fitted
            start = group_turns(dropped)[-1][0]
            assert model.count_tokens([*HEAD, *dropped[start:], *kept, *state.messages]) > budget


def test_token_window_keeps_its_contract() -> None:
    model = ScriptedModel([])
    history = random_history(7)
    state = state_with("now")
    msgs = TokenWindow(400).build(HEAD, history, state, model)
    assert model.count_tokens(msgs) <= 400
    assert msgs[0] == HEAD[0] and msgs[-1].content == "now"
    assert msgs[1:-1] == history[len(history) - len(msgs[1:-1]) :]
    assert_calls_paired(msgs)


def test_default_budget_follows_the_models_context_window() -> None:
    model = ScriptedModel([])
    assert ContextWindow(reserve_tokens=1000).budget(model) == model.profile.context_window - 1000


def test_pinned_facts_stay_when_history_is_dropped() -> None:
    model = ScriptedModel([])
    history = random_history(4)
    state = state_with("what was my plan?", metadata={"plan": "Gold"})
    window = ContextWindow(
        250, pinned=lambda st: ["Customer id: C-42", f"Plan: {st.metadata['plan']}"], prune_tool_tokens=None
    )
    msgs = window.build(HEAD, history, state, model)
    assert msgs[0] == HEAD[0]  # the instructions stay byte for byte (the runtime's cached prefix)
    assert isinstance(msgs[1], SystemMessage)
    assert "- Customer id: C-42" in msgs[1].content and "- Plan: Gold" in msgs[1].content
    assert model.count_tokens(msgs) <= 250
    assert len(msgs) - 3 < len(history)  # history was cut, the facts were not


def test_context_too_long_says_what_to_do() -> None:
    model = ScriptedModel([])
    head: list[Message] = [SystemMessage(content="rules " * 400)]
    with pytest.raises(ContextTooLong, match="max_tokens"):
        ContextWindow(100).build(head, [], state_with("hi"), model)


def test_current_run_keeps_unanswered_tool_results_whole_when_they_fit() -> None:
    model = ScriptedModel([])
    big = orders_json(10)
    state = RunState(
        run_id="r",
        messages=[
            UserMessage(content="list my orders"),
            AssistantMessage(tool_calls=[ToolCall(id="c", name="list_orders")]),
            ToolMessage(tool_call_id="c", name="list_orders", content=big),
        ],
    )
    msgs = ContextWindow(4000, prune_tool_tokens=50).build(HEAD, [], state, model)
    assert msgs[-1].content == big


def test_current_run_tool_result_is_cut_when_nothing_else_fits() -> None:
    model = ScriptedModel([])
    state = RunState(
        run_id="r",
        messages=[
            UserMessage(content="list my orders"),
            AssistantMessage(tool_calls=[ToolCall(id="c", name="list_orders")]),
            ToolMessage(tool_call_id="c", name="list_orders", content=orders_json(40)),
        ],
    )
    msgs = ContextWindow(600).build(HEAD, [], state, model)
    assert model.count_tokens(msgs) <= 600
    assert "characters omitted" in msgs[-1].content


# --------------------------------------------------------------------------------------------------
# pruning
# --------------------------------------------------------------------------------------------------


def test_old_json_tool_result_keeps_only_the_referenced_record() -> None:
    model = ScriptedModel([])
    history = tool_turn(1, orders_json(40), "Order A-1007 shipped with DHL.")
    msgs = ContextWindow(5000, prune_tool_tokens=100).build(HEAD, history, state_with("thanks"), model)
    pruned = next(m for m in msgs if isinstance(m, ToolMessage))
    body, marker = pruned.content.rsplit("\n", 1)
    records = json.loads(body)
    assert [r["order_id"] for r in records] == ["A-1007"]
    assert records[0]["carrier"] == "DHL"  # a referenced field of the referenced record
    assert "pruned" in marker
    assert len(pruned.content) < len(orders_json(40)) / 10


def test_text_tool_result_keeps_referenced_lines() -> None:
    rows = "\n".join(f"ticket T-{i}: printer jam on floor {i % 5}" for i in range(60))
    out = prune_text(rows, "Ticket T-17 is the jam you reported.", max_tokens=60)
    assert out.splitlines()[0] == "ticket T-17: printer jam on floor 2"
    assert "kept 1 of 60 lines" in out


def test_unreferenced_result_keeps_head_and_tail() -> None:
    text = "start " + "filler " * 2000 + " end"
    out = prune_text(text, "I could not find anything relevant.", max_tokens=80)
    assert out.startswith("start") and out.endswith("end") and "characters omitted" in out
    assert len(out) < 800


def test_tool_call_arguments_count_as_references() -> None:
    history = [
        UserMessage(content="Q1: my orders?"),
        AssistantMessage(tool_calls=[ToolCall(id="a", name="list_orders")]),
        ToolMessage(tool_call_id="a", name="list_orders", content=orders_json(40)),
        AssistantMessage(tool_calls=[ToolCall(id="b", name="refund", arguments={"order_id": "A-1021"})]),
        ToolMessage(tool_call_id="b", name="refund", content='{"ok": true}'),
        AssistantMessage(content="Refunded."),
    ]
    model = ScriptedModel([])
    msgs = ContextWindow(5000, prune_tool_tokens=100).build(HEAD, history, state_with("thanks"), model)
    listing = next(m for m in msgs if isinstance(m, ToolMessage) and m.tool_call_id == "a")
    assert "A-1021" in listing.content and "A-1020" not in listing.content


# --------------------------------------------------------------------------------------------------
# rolling summaries (the policy route and the prepare hook)
# --------------------------------------------------------------------------------------------------


def summary_window(budget: int = 700, **kw: object) -> ContextWindow:
    return ContextWindow(budget, summarizer=Summarizer(max_tokens=120), prune_tool_tokens=None, **kw)  # type: ignore[arg-type]


async def run_session(agent: Agent, turns: range, session: str = "s1") -> list[list[str]]:
    types = []
    for i in turns:
        r = await agent.run(question(i), session_id=session)
        types.append([e.type for e in r.events])
    return types


async def test_summaries_are_written_reused_and_refreshed_incrementally() -> None:
    sm = SupportModel()
    window = summary_window()
    agent = Agent(sm.model, context=window, policies=[window.policy()], store=MemoryStore())
    types = await run_session(agent, range(1, 26))
    refreshes = [i for i, t in enumerate(types) if "summary_created" in t]
    assert 2 <= len(refreshes) < 12  # amortised: most turns reuse the summary in force
    assert len(sm.summary_requests) == len(refreshes)
    # every prompt the model answered stayed within budget, with the summary in the system turn
    for msgs in sm.turn_requests:
        assert sm.model.count_tokens(msgs) <= 700
    assert "Summary of the earlier conversation" in system_text(sm.turn_requests[-1])
    # incremental: each refresh gets the previous summary plus only messages it does not cover
    covered: set[str] = set()
    for req in sm.summary_requests:
        lines = req[-1].content.splitlines()
        previous = next((line for line in lines if line.startswith("Earlier (summary): ")), "")
        new = [line for line in lines if line.startswith("User: ")]
        shown = {line.split()[1].rstrip(":") for line in new}
        assert shown and not shown & covered
        assert all(q in previous.split() for q in covered)
        covered |= shown


async def test_summary_event_records_coverage_digest_and_cost() -> None:
    sm = SupportModel()
    window = summary_window()
    store = MemoryStore()
    agent = Agent(sm.model, context=window, policies=[window.policy()], store=store)
    await run_session(agent, range(1, 12))
    runs = await store.list_runs(session_id="s1")
    history: list[Message] = []
    checked = 0
    for rec in runs:
        events = await store.events(rec.run_id)
        state = RunState.from_events(rec.run_id, events)
        for i, ev in enumerate(events):
            if isinstance(ev, SummaryCreated):
                note = events[i + 1]
                assert isinstance(note, Annotation) and note.kind == "memory.summary"
                assert note.data["covers_seq"] == ev.covers_seq
                assert note.data["digest"] == digest(history[: ev.covers_seq])
                assert note.data["input_tokens"] > 0 and note.data["output_tokens"] > 0
                assert ev.covers_seq <= len(history)  # covers earlier runs' messages only
                checked += 1
        history.extend(state.messages)
    assert checked >= 1
    found = await load_session_summary(store, "s1")
    assert found is not None and found.digest == digest(history[: found.covers])


async def test_a_new_process_reuses_the_stored_summary_through_the_prepare_hook(tmp_path) -> None:
    path = tmp_path / "runs.db"
    sm = SupportModel()
    first = summary_window()
    agent = Agent(sm.model, context=first, pattern=PreparedReAct(first), store=SQLiteStore(path))
    await run_session(agent, range(1, 14))
    assert sm.summary_requests, "the session should have needed a summary"
    stored = await load_session_summary(agent.store, "s1")
    assert stored is not None
    # a fresh window and agent (another worker) on the same store: no in-process cache to lean on
    sm2 = SupportModel()
    second = summary_window()
    agent2 = Agent(sm2.model, context=second, pattern=PreparedReAct(second), store=SQLiteStore(path))
    await agent2.run(question(14), session_id="s1")
    assert stored.text in system_text(sm2.turn_requests[0])
    first_shown = sm2.turn_requests[0][1]
    assert isinstance(first_shown, UserMessage)
    assert sm2.model.count_tokens(sm2.turn_requests[0]) <= 700


async def test_a_summary_for_a_different_history_is_ignored() -> None:
    model = ScriptedModel([])
    history = random_history(5, turns=6)
    window = ContextWindow(5000)
    stale = SessionSummary("Covered Q0 Q1", covers=4, digest="not-the-digest")
    memo = window._memo("r1")
    memo.summary = stale
    msgs = window.build(HEAD, history, state_with("hi"), model)
    assert "Covered Q0" not in system_text(msgs) and msgs[1:-1] == history
    memo.summary = SessionSummary("Covered Q0 Q1", covers=4, digest=digest(history[:4]))
    msgs = window.build(HEAD, history, state_with("hi"), model)
    assert msgs[0] == HEAD[0] and "Covered Q0 Q1" in msgs[1].content and msgs[2:-1] == history[4:]


async def test_a_failing_summariser_degrades_to_dropping_old_turns() -> None:
    sm = SupportModel(fail_summaries=True)
    window = summary_window()
    agent = Agent(sm.model, context=window, policies=[window.policy()], store=MemoryStore())
    types = await run_session(agent, range(1, 15))
    assert sm.summary_requests  # it tried
    assert not any("summary_created" in t for t in types)
    assert all(t[-1] == "run_finished" for t in types)
    assert all(sm.model.count_tokens(m) <= 700 for m in sm.turn_requests)


async def test_summariser_can_use_its_own_model() -> None:
    cheap = ScriptedModel(lambda messages, tools: "cheap summary of Q1")
    sm = SupportModel()
    window = ContextWindow(700, summarizer=Summarizer(cheap, max_tokens=120), prune_tool_tokens=None)
    agent = Agent(sm.model, context=window, policies=[window.policy()], store=MemoryStore())
    await run_session(agent, range(1, 15))
    assert cheap.calls and not sm.summary_requests
    assert "cheap summary of Q1" in system_text(sm.turn_requests[-1])
