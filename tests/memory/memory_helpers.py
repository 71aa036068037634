"""Shared pieces of the memory tests: a scripted support conversation and a prepare-hook pattern."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from keel.events import AssistantMessage, Message, SystemMessage, ToolCall, ToolMessage, UserMessage
from keel.loop.react import ReAct
from keel.loop.run import Run
from keel.memory import ContextWindow
from keel.models.base import ToolSpec
from keel.testing import ScriptedModel

SUMMARY_MARK = "You keep a running summary"


def is_summary_request(messages: Sequence[Message]) -> bool:
    return (
        bool(messages)
        and isinstance(messages[0], SystemMessage)
        and messages[0].content.startswith(SUMMARY_MARK)
    )


def question(i: int, words: int = 30) -> str:
    return f"Q{i}: " + " ".join(f"detail{i}x{j}" for j in range(words))


class SupportModel:
    """A scripted model that answers turns ("A{i}") and summary requests (the Q ids it was shown).

    Summary requests are recorded so tests can check what each refresh was sent.
    """

    def __init__(self, fail_summaries: bool = False) -> None:
        self.summary_requests: list[list[Message]] = []
        self.turn_requests: list[list[Message]] = []
        self.fail_summaries = fail_summaries
        self.model = ScriptedModel(self._reply)

    def _reply(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> str:
        if is_summary_request(messages):
            self.summary_requests.append(list(messages))
            if self.fail_summaries:
                raise RuntimeError("summariser down")
            ids = sorted(set(re.findall(r"Q\d+", messages[-1].content)), key=lambda q: int(q[1:]))
            return "Covered " + " ".join(ids)
        self.turn_requests.append(list(messages))
        last = [m for m in messages if isinstance(m, UserMessage)][-1]
        return "A" + last.content.split(":")[0][1:] + ": noted."


class PreparedReAct(ReAct):
    """ReAct with ``await context.prepare(run)`` before each step: the loop hook, as a pattern."""

    def __init__(self, window: ContextWindow) -> None:
        self.window = window

    async def step(self, run: Run) -> None:
        await self.window.prepare(run)
        await super().step(run)


def orders_json(n: int = 40) -> str:
    return json.dumps(
        [
            {"order_id": f"A-{1000 + i}", "status": "shipped" if i % 2 else "processing", "total": 10 + i,
             "carrier": "DHL" if i % 3 else "UPS", "items": [f"sku-{i}-{j}" for j in range(3)]}
            for i in range(n)
        ]
    )  # fmt: skip


def tool_turn(i: int, content: str, answer: str) -> list[Message]:
    """One past turn: a question, a tool call, its (large) result and the answer."""
    call = ToolCall(id=f"c{i}", name="list_orders", arguments={"customer": "C-1"})
    return [
        UserMessage(content=f"Q{i}: which orders do I have?"),
        AssistantMessage(tool_calls=[call]),
        ToolMessage(tool_call_id=f"c{i}", name="list_orders", content=content),
        AssistantMessage(content=answer),
    ]
