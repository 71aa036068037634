"""The agent that worker-process tests run: two side-effecting tools, each with its own ledger.

Every run: refund its order, email the customer, answer. Each tool appends to its ledger once per
idempotency key (under a file lock: many worker processes write at once), so a ledger shows exactly
which side effects happened and how often.

Environment: ``KEEL_LEDGER_DIR`` (required), ``KEEL_CRASH_P`` (probability that a worker dies with
``os._exit`` right after a side effect, before its result is recorded: the worst moment),
``KEEL_MODEL_DELAY`` (seconds per model call), ``KEEL_STEP_MARKER`` (a file created when a model
call starts, so a test knows a step is in flight).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import random
from pathlib import Path
from typing import Any

from keel import Agent, ToolContext, tool
from keel.events import ToolMessage, UserMessage
from keel.testing import ScriptedModel, call


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


def ledger(name: str) -> Path:
    return Path(os.environ["KEEL_LEDGER_DIR"]) / f"{name}.jsonl"


def record_once(name: str, key: str, entry: dict[str, Any]) -> None:
    """Append ``entry`` to ledger ``name`` unless ``key`` is already there (the tool's dedup)."""
    with ledger(name).open("a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        if any(json.loads(line)["key"] == key for line in f if line.strip()):
            return
        f.write(json.dumps({"key": key, **entry}) + "\n")
        f.flush()
        os.fsync(f.fileno())
    if random.random() < _env_float("KEEL_CRASH_P", 0.0):
        os._exit(137)  # died after the effect, before the tool result reached the run log


@tool(side_effects=True)
async def refund(order_id: str, ctx: ToolContext) -> str:
    """Refund an order."""
    record_once("refunds", ctx.idempotency_key, {"run": ctx.run_id, "order": order_id})
    return f"refunded {order_id}"


@tool(side_effects=True)
async def send_email(order_id: str, ctx: ToolContext) -> str:
    """Tell the customer their order was refunded."""
    record_once("emails", ctx.idempotency_key, {"run": ctx.run_id, "order": order_id})
    return f"emailed about {order_id}"


async def script(messages: Any, tools: Any) -> Any:
    marker = os.environ.get("KEEL_STEP_MARKER")
    if marker:
        Path(marker).touch()
    await asyncio.sleep(_env_float("KEEL_MODEL_DELAY", 0.0))  # the provider's latency
    order = next(m.content for m in messages if isinstance(m, UserMessage)).split()[-1]
    done = sum(isinstance(m, ToolMessage) for m in messages)
    if done == 0:
        return call("refund", order_id=order)
    if done == 1:
        return call("send_email", order_id=order)
    return f"refunded and emailed {order}"


def build_agent(store: Any = None) -> Agent[Any]:
    model = ScriptedModel(script)
    return Agent(model, tools=[refund, send_email], store=store, name="crashy")
