"""Teams: delegation by handoff to child runs, the shared board, the critic, the event bus."""

from __future__ import annotations

import json

from keel import Agent
from keel.loop.team import EventBus, Team
from keel.store import MemoryStore
from keel.testing import ScriptedModel


async def test_coordinator_delegates_critic_sends_back_then_finishes() -> None:
    decisions = iter(
        [
            {"action": "delegate", "to": "researcher", "task": "find the refund window"},
            {"action": "delegate", "to": "writer", "task": "write the answer"},
            {"action": "delegate", "to": "writer", "task": "fix: mention the 30 days"},
            {"action": "finish", "answer": "Refunds are accepted within 30 days."},
        ]
    )
    coordinator_model = ScriptedModel(lambda m, t: json.dumps(next(decisions)))
    researcher = Agent(
        ScriptedModel(["The policy says 30 days."]), name="researcher", instructions="Find facts."
    )
    drafts = iter(["Refunds are accepted.", "Refunds are accepted within 30 days."])
    writer = Agent(ScriptedModel(lambda m, t: next(drafts)), name="writer", instructions="Write answers.")
    verdicts = iter(
        [
            {"approve": True},
            {"approve": False, "reasons": "missing the 30 days"},
            {"approve": True},
        ]
    )
    critic = Agent(ScriptedModel(lambda m, t: json.dumps(next(verdicts))), name="critic")
    seen: list[str] = []
    bus = EventBus()
    bus.subscribe("agent_message", lambda ev: seen.append(ev.sender))
    store = MemoryStore()
    lead = Agent(
        coordinator_model,
        name="coordinator",
        store=store,
        pattern=Team([researcher, writer], critic=critic, bus=bus),
    )

    result = await lead.run("How long do I have to ask for a refund?")

    assert result.output == "Refunds are accepted within 30 days."
    handoffs = [e for e in result.events if e.type == "handoff"]
    assert [h.to_agent for h in handoffs] == ["researcher", "writer", "writer"]
    board = [(e.sender, e.content) for e in result.events if e.type == "agent_message"]
    assert ("critic", "REVISE: missing the 30 days") in board
    # each delegation is a child run with its own log, linked to the parent
    for h in handoffs:
        child = await store.get_run(h.child_run_id)
        assert child is not None and child.parent_run_id == result.run_id and child.status == "finished"
    # the writer's second attempt saw the critic's reasons on the board
    assert any("missing the 30 days" in m.content for m in writer.model.calls[1])
    assert seen.count("critic") == 3 and "researcher" in seen


async def test_round_limit_bounds_the_team() -> None:
    coordinator = ScriptedModel(
        lambda m, t: json.dumps({"action": "delegate", "to": "worker", "task": "again"})
    )
    worker = Agent(ScriptedModel(lambda m, t: "partial"), name="worker")
    lead = Agent(coordinator, name="lead", pattern=Team([worker], max_rounds=2))
    result = await lead.run("never satisfied")
    assert len([e for e in result.events if e.type == "handoff"]) == 2
    assert result.output == "partial"
