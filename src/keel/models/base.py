"""The ``Model`` protocol every provider implements, and the types that cross it.

A provider converts Keel's messages (``keel.events``) to its wire format and back, at its edge. The
loop never asks which provider it is talking to; it reads ``model.profile`` to know what the model
can do (native tool choice, grammars, context size).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from keel.events import AssistantMessage, Message, Usage

__all__ = [
    "Model",
    "ModelProfile",
    "ModelResponse",
    "ModelSettings",
    "StreamItem",
    "TextChunk",
    "ToolSpec",
]


class ToolSpec(BaseModel):
    """What a model is told about a tool: its name, description and JSON schema of arguments.

    ``examples`` are sample user requests that should lead to this tool; the small-model tool path
    uses them to route requests.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    examples: list[str] = Field(default_factory=list)


ToolChoice = Literal["auto", "none", "required"] | str


class ModelSettings(BaseModel):
    """Per-request knobs. ``tool_choice`` may name one tool to force it."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    temperature: float | None = None
    max_tokens: int | None = None
    tool_choice: ToolChoice = "auto"
    parallel_tool_calls: bool = True
    timeout_s: float | None = None
    stop: list[str] | None = None
    seed: int | None = None

    def merged(self, other: ModelSettings | None) -> ModelSettings:
        if other is None:
            return self
        data = self.model_dump(exclude_unset=True)
        data.update(other.model_dump(exclude_unset=True))
        return ModelSettings(**data)


class ModelResponse(BaseModel):
    """One complete answer from a model."""

    model_config = ConfigDict(defer_build=True)

    message: AssistantMessage
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    finish_reason: str = "stop"


@dataclass(frozen=True, slots=True)
class TextChunk:
    """A piece of streamed text."""

    text: str


StreamItem = TextChunk | ModelResponse
"""``Model.stream`` yields text chunks as they arrive and ends with the full ``ModelResponse``."""


@dataclass(frozen=True)
class ModelProfile:
    """What a model can do. The loop adapts to it instead of asking which provider it is."""

    native_tools: bool = True
    """The model chooses tools reliably by itself (large hosted models)."""
    grammar: bool = False
    """Output can be constrained to a JSON schema (llama.cpp grammars)."""
    context_window: int = 8192
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Model(Protocol):
    """A language model. Implementations live in ``keel.models`` and in users' code."""

    name: str
    profile: ModelProfile

    async def request(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        output_schema: dict[str, Any] | None = None,
        settings: ModelSettings | None = None,
    ) -> ModelResponse:
        """Answer ``messages``; may call ``tools``; with ``output_schema`` the text is JSON matching it."""
        ...

    def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        output_schema: dict[str, Any] | None = None,
        settings: ModelSettings | None = None,
    ) -> AsyncIterator[StreamItem]:
        """Like ``request`` but yields ``TextChunk`` as tokens arrive, then the ``ModelResponse``."""
        ...

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Tokens the messages take: exact where the provider has a tokenizer, estimated elsewhere."""
        ...
