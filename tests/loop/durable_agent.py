"""An agent used by the durability tests: a side-effecting tool writes to a ledger file.

``KEEL_CRASH_AT`` makes the process die (``os._exit``) at a chosen point, like a kill -9.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from keel import Agent, ToolContext, tool
from keel.events import ToolMessage
from keel.store import SQLiteStore
from keel.testing import ScriptedModel, call

LEDGER = Path(os.environ["KEEL_LEDGER"])
CRASH_AT = os.environ.get("KEEL_CRASH_AT", "")


def crash(point: str) -> None:
    if point == CRASH_AT:
        os._exit(137)


@tool(side_effects=True)
async def refund(order_id: str, ctx: ToolContext) -> str:
    """Refund an order once per idempotency key."""
    crash("tool_before_effect")
    done = {json.loads(line)["key"] for line in LEDGER.read_text().splitlines()} if LEDGER.exists() else set()
    if ctx.idempotency_key not in done:
        with LEDGER.open("a") as f:
            f.write(json.dumps({"key": ctx.idempotency_key, "order": order_id}) + "\n")
    crash("tool_after_effect")
    return f"refunded {order_id}"


def script(messages, tools):
    crash("model_call")
    tool_msgs = [m for m in messages if isinstance(m, ToolMessage)]
    if len(tool_msgs) == 0:
        return call("refund", order_id="A-1")
    if len(tool_msgs) == 1:
        crash("second_model_call")
        return call("refund", order_id="A-2")
    return "both refunded"


def agent(db: str) -> Agent:
    return Agent(ScriptedModel(script), tools=[refund], store=SQLiteStore(db))


if __name__ == "__main__":
    import asyncio

    mode, db, run_id = sys.argv[1:4]
    a = agent(db)
    if mode == "start":
        result = asyncio.run(a.run("refund both", run_id=run_id))
    else:
        result = asyncio.run(a.resume(run_id))
    print(json.dumps({"status": result.status, "output": result.output}))
