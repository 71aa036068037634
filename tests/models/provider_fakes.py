"""What the remote-provider wire tests share: the conversation and tools they send, and stream collection.

The scripted server itself is :mod:`wire_server`; the ``server`` fixture that starts it is in this
folder's ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from keel.events import SystemMessage, UserMessage
from keel.models.base import ModelResponse, StreamItem, TextChunk, ToolSpec

# ``examples`` stay inside Keel: a provider's exact-body assertions also check they are never sent.
WEATHER = ToolSpec(
    name="get_weather",
    description="Get the weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    examples=["is it raining in Oslo?"],
)
TIME = ToolSpec(
    name="get_time",
    description="Get the current time in a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
ASK = [SystemMessage(content="You are helpful."), UserMessage(content="Weather in Paris and Oslo?")]


async def collect(stream: AsyncIterator[StreamItem]) -> tuple[list[str], ModelResponse]:
    """The text chunks of a ``Model.stream`` and its final response (which must come last)."""
    chunks: list[str] = []
    final = None
    async for item in stream:
        if isinstance(item, TextChunk):
            chunks.append(item.text)
        else:
            final = item
    assert isinstance(final, ModelResponse)
    return chunks, final
