"""The agent the service load benchmark runs: a model with a fixed 200 ms latency, one tool call.

Each run: model call (asks for ``lookup``) -> tool -> model call (answers): 3 steps, 400 ms of model
time, so anything above 400 ms end to end is Keel (queue, store, workers, scheduling).
"""

from __future__ import annotations

import asyncio
from typing import Any

from keel import Agent, tool
from keel.events import ToolMessage
from keel.testing import ScriptedModel, call

MODEL_LATENCY_S = 0.2
MODEL_CALLS = 2


@tool
async def lookup(order_id: str) -> str:
    """Look up an order."""
    return f"order {order_id}: shipped"


async def script(messages: Any, tools: Any) -> Any:
    await asyncio.sleep(MODEL_LATENCY_S)
    if any(isinstance(m, ToolMessage) for m in messages):
        return "Your order has shipped."
    return call("lookup", order_id="A-1")


def build_agent(store: Any = None) -> Agent[Any]:
    return Agent(ScriptedModel(script), tools=[lookup], store=store, name="load")
