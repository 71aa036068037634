"""``ScriptedModel``: a deterministic model for unit tests, shipped so users can test their agents.

Give it a list of replies (replayed in order) or a function that answers from the messages::

    model = ScriptedModel([
        call("get_order_status", order_id="A-1001"),   # first turn: call a tool
        "Your order has shipped.",                      # second turn: answer
    ])
    model = ScriptedModel(lambda messages, tools: "echo: " + messages[-1].content)
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from keel.errors import ModelError
from keel.events import AssistantMessage, Message, ToolCall, Usage
from keel.models._tokens import EstimatedTokenCount, estimate_text_tokens, estimate_tokens
from keel.models.base import ModelProfile, ModelResponse, ModelSettings, StreamItem, TextChunk, ToolSpec

__all__ = ["ScriptedModel", "call"]

Reply = str | AssistantMessage | ModelResponse | ToolCall | list[ToolCall] | BaseException
ReplyFn = Callable[[Sequence[Message], Sequence[ToolSpec]], "Reply | Awaitable[Reply]"]

_ids = itertools.count(1)


def call(name: str, /, **arguments: Any) -> ToolCall:
    """A tool call for a script: ``call("add", a=1, b=2)``."""
    return ToolCall(id=f"call_{next(_ids)}", name=name, arguments=arguments)


class ScriptedModel(EstimatedTokenCount):
    """Replays ``replies`` in order (or asks ``fn``), reporting estimated usage.

    ``delay_s`` makes every call await that long (for concurrency tests). A reply that is an
    exception is raised instead of answered, to script provider failures.
    """

    profile = ModelProfile(native_tools=True, grammar=False, context_window=32768)

    def __init__(self, replies: Sequence[Reply] | ReplyFn, *, name: str = "scripted", delay_s: float = 0.0):
        self.name = name
        self.delay_s = delay_s
        self._fn: ReplyFn | None = replies if callable(replies) else None
        self._replies: list[Reply] = [] if callable(replies) else list(replies)
        self._index = 0
        self.calls: list[list[Message]] = []
        """Every request's messages, for assertions."""

    async def _next(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> Reply:
        self.calls.append(list(messages))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self._fn is not None:
            reply = self._fn(messages, tools)
            if inspect.isawaitable(reply):
                reply = await reply
            return reply
        if self._index >= len(self._replies):
            raise ModelError(
                f"ScriptedModel ran out of replies after {len(self._replies)} calls; add more replies",
                provider="scripted",
            )
        reply = self._replies[self._index]
        self._index += 1
        return reply

    def _response(self, reply: Reply, messages: Sequence[Message]) -> ModelResponse:
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, ModelResponse):
            return reply
        if isinstance(reply, str):
            msg = AssistantMessage(content=reply)
        elif isinstance(reply, ToolCall):
            msg = AssistantMessage(tool_calls=[reply])
        elif isinstance(reply, list):
            msg = AssistantMessage(tool_calls=reply)
        else:
            msg = reply
        out = estimate_text_tokens(msg.content) + 10 * len(msg.tool_calls)
        usage = Usage(input_tokens=estimate_tokens(messages), output_tokens=out, requests=1)
        reason = "tool_calls" if msg.tool_calls else "stop"
        return ModelResponse(message=msg, usage=usage, model=self.name, finish_reason=reason)

    async def request(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        output_schema: dict[str, Any] | None = None,
        settings: ModelSettings | None = None,
    ) -> ModelResponse:
        return self._response(await self._next(messages, tools), messages)

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        output_schema: dict[str, Any] | None = None,
        settings: ModelSettings | None = None,
    ) -> AsyncIterator[StreamItem]:
        response = self._response(await self._next(messages, tools), messages)
        text = response.message.content
        for i in range(0, len(text), 8):
            yield TextChunk(text[i : i + 8])
        yield response
