"""A toy shop agent with known behaviour, for testing the evaluation harness deterministically.

The scripted "brain" reads the user's message: ``refund A-1`` refunds $40 (``refund A-2 all`` refunds
$80, over the toy's $50 approval limit), ``where is A-1`` looks the order up, ``human`` escalates,
``invent`` answers with a tracking number no tool returned, ``slow`` sleeps. Anything else gets a
plain answer with no tool.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from keel import Agent, ToolContext, tool
from keel.evals import AgentAdapter, Scenario, TurnRecord
from keel.events import Message, ToolMessage, UserMessage
from keel.models.base import ToolSpec
from keel.testing import ScriptedModel, call

ORDERS = {
    "A-1": {"id": "A-1", "total": 40.0, "tracking": "ZX123456789US"},
    "A-2": {"id": "A-2", "total": 80.0},
}


@dataclass
class World:
    """One scenario's isolated state."""

    refunds: list[dict[str, Any]] = field(default_factory=list)
    escalated: bool = False


@tool(side_effects=True)
async def refund(order_id: str, amount: float, ctx: ToolContext) -> dict[str, Any]:
    """Refund an order."""
    world: World = ctx.deps
    world.refunds.append({"order_id": order_id, "amount": amount})
    return {"order_id": order_id, "amount": amount, "status": "processed"}


@tool
async def lookup(order_id: str) -> dict[str, Any]:
    """Look an order up."""
    return ORDERS[order_id]


@tool(side_effects=True)
async def escalate(reason: str, ctx: ToolContext) -> str:
    """Hand over to a human."""
    ctx.deps.escalated = True
    return "a human will reply"


def _since_user(messages: Sequence[Message]) -> tuple[str, list[ToolMessage]]:
    results: list[ToolMessage] = []
    for m in reversed(messages):
        if isinstance(m, ToolMessage):
            results.append(m)
        elif isinstance(m, UserMessage):
            return m.content, results
    return "", results


async def brain(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> Any:
    text, results = _since_user(messages)
    low = text.lower()
    if results:
        data = json.loads(results[0].content) if results[0].content.startswith("{") else results[0].content
        if results[0].name == "refund":
            return f"Refunded ${data['amount']:.2f} on order {data['order_id']}."
        if results[0].name == "lookup":
            return f"Order {data['id']} total ${data['total']:.2f}."
        return "A human colleague will take over."
    oid = (re.findall(r"A-\d", text) or ["A-1"])[0]
    if "slow" in low:
        await asyncio.sleep(0.5)
        return "Sorry for the wait."
    if "invent" in low:
        return f"Order {oid} is on its way, tracking QQ999999999US."
    if "refund" in low:
        return call("refund", order_id=oid, amount=80.0 if "all" in low else 40.0)
    if "where" in low:
        return call("lookup", order_id=oid)
    if "human" in low:
        return call("escalate", reason="asked for a human")
    return "Happy to help with your orders."


@tool(name="refund", side_effects=True, requires_approval=lambda args: float(args.get("amount", 0)) > 50)
async def refund_held(order_id: str, amount: float, ctx: ToolContext) -> dict[str, Any]:
    """Refund an order; above $50 a supervisor approves first."""
    return await refund.fn(order_id, amount, ctx)


def make_agent(model: Any = None, *, approvals: bool = False) -> Agent[str]:
    """The toy agent (``model`` is ignored: the brain is scripted); ``approvals`` holds refunds over $50."""
    return Agent(
        ScriptedModel(brain), tools=[refund_held if approvals else refund, lookup, escalate], name="toy"
    )


class ToyAdapter(AgentAdapter):
    """A fresh ``World`` per scenario; refunds over $50 are a policy violation."""

    def __init__(self, *, stream: bool = True, agent: Agent[str] | None = None) -> None:
        super().__init__(agent or make_agent(), stream=stream, deps=self._world, name="toy")
        self.worlds: dict[str, World] = {}
        self.torn_down: list[str] = []

    def _world(self, scenario: Scenario) -> World:
        return self.worlds[scenario.id]

    async def setup(self, scenario: Scenario) -> None:
        if scenario.customer == "nobody":
            from keel.errors import ConfigError

            raise ConfigError("unknown customer 'nobody'")
        self.worlds[scenario.id] = World()

    async def teardown(self, scenario: Scenario) -> None:
        self.torn_down.append(scenario.id)

    async def final_state(self, scenario: Scenario) -> dict[str, Any]:
        w = self.worlds[scenario.id]
        return {
            "refund_recorded": bool(w.refunds),
            "refund_amount": sum(r["amount"] for r in w.refunds),
            "escalated": w.escalated,
        }

    async def violations(
        self, scenario: Scenario, turns: Sequence[TurnRecord], state: dict[str, Any]
    ) -> list[str]:
        w = self.worlds[scenario.id]
        return [f"refund of {r['amount']} over the $50 limit" for r in w.refunds if r["amount"] > 50]


def make_adapter(model: str = "local", stream: bool = True) -> ToyAdapter:
    """A factory in the shape ``keel eval --agent module:attr`` calls."""
    return ToyAdapter(stream=stream)


def scenario(id: str, turns: list[str], intent: str = "orders", **expect: Any) -> Scenario:
    return Scenario.model_validate({"id": id, "intent": intent, "turns": turns, "expect": expect})
