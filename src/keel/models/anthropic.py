"""``AnthropicModel``: Claude models through Anthropic's Messages API (``POST /v1/messages``).

Keel messages are converted here and nowhere else: system messages become the ``system`` field,
tool calls become ``tool_use`` blocks, and tool results become ``tool_result`` blocks in a user turn
(consecutive results share one turn, as the API requires).

Structured output (``output_schema``) uses a forced tool: Keel offers one extra tool,
``final_output``, whose input schema is the output schema, and turns the model's call to it back into
JSON text. When other tools are offered too, the model may call them first and ``final_output`` when
it has the answer.

>>> model = AnthropicModel("claude-3-5-haiku-latest", api_key="sk-ant-example-key")
>>> model.name
'anthropic:claude-3-5-haiku-latest'
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from keel.errors import ConfigError, MalformedResponse
from keel.events import AssistantMessage, Message, SystemMessage, ToolCall, ToolMessage, Usage, UserMessage
from keel.models._http import (
    HttpModel,
    check_base_url,
    error_for_stream_event,
    guard_malformed,
    load_json,
)
from keel.models.base import ModelProfile, ModelResponse, ModelSettings, StreamItem, TextChunk, ToolSpec

__all__ = ["OUTPUT_TOOL", "AnthropicModel", "to_anthropic_messages"]

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
OUTPUT_TOOL = "final_output"
"""The name of the tool that carries structured output."""
_PROVIDER = "anthropic"
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls", "max_tokens": "length"}


def _turn(role: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    if role == "user":  # the API wants tool results before any text in a user turn
        blocks = sorted(blocks, key=lambda b: b["type"] != "tool_result")
    if len(blocks) == 1 and blocks[0]["type"] == "text":
        return {"role": role, "content": blocks[0]["text"]}
    return {"role": role, "content": blocks}


def to_anthropic_messages(messages: Sequence[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """Keel messages as the Messages API's ``system`` text and alternating turns.

    >>> to_anthropic_messages([SystemMessage(content="Be brief."), UserMessage(content="Hi")])
    ('Be brief.', [{'role': 'user', 'content': 'Hi'}])
    """
    system: list[str] = []
    turns: list[tuple[str, list[dict[str, Any]]]] = []

    def add(role: str, block: dict[str, Any]) -> None:
        if turns and turns[-1][0] == role:
            turns[-1][1].append(block)
        else:
            turns.append((role, [block]))

    for m in messages:
        if isinstance(m, SystemMessage):
            system.append(m.content)
        elif isinstance(m, UserMessage):
            add("user", {"type": "text", "text": m.content})
        elif isinstance(m, AssistantMessage):
            if m.content:  # the API rejects empty text blocks
                add("assistant", {"type": "text", "text": m.content})
            for c in m.tool_calls:
                add("assistant", {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments})
        elif isinstance(m, ToolMessage):
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": m.tool_call_id,
                "content": m.content,
            }
            if m.is_error:
                result["is_error"] = True
            add("user", result)
    return ("\n\n".join(system) if system else None), [_turn(role, blocks) for role, blocks in turns]


def _object_schema(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A tool input must be an object: wrap any other schema as ``{"value": ...}``."""
    if schema.get("type") == "object":
        return schema, False
    return {"type": "object", "properties": {"value": schema}, "required": ["value"]}, True


def _tool_choice(choice: str, names: set[str], forced: str | None, parallel: bool) -> dict[str, Any]:
    if forced is not None:
        out: dict[str, Any] = {"type": "tool", "name": forced}
    elif choice == "auto":
        out = {"type": "auto"}
    elif choice == "required":
        out = {"type": "any"}
    elif choice == "none":
        return {"type": "none"}
    elif choice in names:
        out = {"type": "tool", "name": choice}
    else:
        raise ConfigError(
            f"tool_choice names {choice!r}, which is not among the offered tools {sorted(names)}; "
            "pass 'auto', 'none', 'required' or an offered tool's name"
        )
    if not parallel:
        out["disable_parallel_tool_use"] = True
    return out


def _usage(raw: Mapping[str, Any]) -> Usage:
    # Anthropic counts cached and cache-writing tokens apart from input_tokens; Keel's input is the total.
    cached = int(raw.get("cache_read_input_tokens") or 0)
    written = int(raw.get("cache_creation_input_tokens") or 0)
    return Usage(
        input_tokens=int(raw.get("input_tokens") or 0) + cached + written,
        output_tokens=int(raw.get("output_tokens") or 0),
        cached_tokens=cached,
        requests=1,
    )


@dataclass
class _Answer:
    """The parts of an answer, collected from a whole response or from stream events."""

    text: list[str] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    output: Any = None
    stop_reason: str | None = None

    def add_block(self, block: Mapping[str, Any], wrapped: bool) -> None:
        kind = block["type"]
        if kind == "text":
            self.text.append(block["text"])
        elif kind == "tool_use":
            args = block.get("input")
            if args is None:
                args = {}
            if not isinstance(args, dict):
                raise MalformedResponse(
                    f"the input of tool call {block.get('name')!r} is not a JSON object; retry",
                    snippet=repr(args),
                    provider=_PROVIDER,
                )
            if block["name"] == OUTPUT_TOOL:
                self.output = args.get("value") if wrapped else args
            else:
                self.calls.append(ToolCall(id=block["id"], name=block["name"], arguments=args))

    def content(self) -> str:
        if self.output is not None:
            return json.dumps(self.output)
        return "".join(self.text)


class AnthropicModel(HttpModel):
    """A Claude model through the Anthropic Messages API.

    The key comes from ``api_key`` or ``ANTHROPIC_API_KEY``; ``max_tokens`` (required by the API)
    defaults to 1024 and ``settings.max_tokens`` overrides it per request. ``seed`` is not supported
    by the API and is ignored. ``await model.aclose()`` releases the pooled HTTP connections.

    >>> model = AnthropicModel("claude-3-5-haiku-latest", api_key="sk-ant-example-key", max_tokens=512)
    >>> model.profile.context_window
    200000
    """

    provider = _PROVIDER

    def __init__(
        self,
        name: str,
        api_key: str | None = None,
        base_url: str | None = None,
        max_tokens: int = 1024,
        timeout_s: float = 60.0,
        max_connections: int = 20,
        headers: Mapping[str, str] | None = None,
        profile: ModelProfile | None = None,
        *,
        settings: ModelSettings | None = None,
    ) -> None:
        key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise ConfigError("no Anthropic API key: set ANTHROPIC_API_KEY or pass api_key=...")
        base = check_base_url(_PROVIDER, base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL)
        self.max_tokens = max_tokens
        wire_headers = {
            "content-type": "application/json",
            "anthropic-version": API_VERSION,
            **(headers or {}),
            "x-api-key": key,
        }
        super().__init__(
            name,
            base_url=base.removesuffix("/v1"),
            headers=wire_headers,
            profile=profile or ModelProfile(native_tools=True, context_window=200_000),
            key=key,
            timeout_s=timeout_s,
            max_connections=max_connections,
            settings=settings,
        )

    def build_body(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        output_schema: dict[str, Any] | None = None,
        settings: ModelSettings | None = None,
        *,
        stream: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """The JSON body for this request, and whether the output schema was wrapped as ``value``."""
        s = self.settings.merged(settings)
        system, turns = to_anthropic_messages(messages)
        body: dict[str, Any] = {"model": self.model_name, "max_tokens": s.max_tokens or self.max_tokens}
        if system is not None:
            body["system"] = system
        body["messages"] = turns
        wire_tools = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools
        ]
        names = {t.name for t in tools}
        wrapped, forced = False, None
        if output_schema is not None:
            if OUTPUT_TOOL in names:
                raise ConfigError(
                    f"a tool may not be named {OUTPUT_TOOL!r} (Keel uses it for structured output)"
                )
            schema, wrapped = _object_schema(output_schema)
            description = "Give the final answer. Call this once you have everything the answer needs."
            wire_tools.append({"name": OUTPUT_TOOL, "description": description, "input_schema": schema})
            if not tools or s.tool_choice == "none":
                forced = OUTPUT_TOOL
        if wire_tools:
            body["tools"] = wire_tools
            body["tool_choice"] = _tool_choice(s.tool_choice, names, forced, s.parallel_tool_calls)
        optional = {"temperature": s.temperature, "stop_sequences": s.stop}
        body.update({k: v for k, v in optional.items() if v is not None})
        if stream:
            body["stream"] = True
        return body, wrapped

    def _response(self, answer: _Answer, usage: Usage) -> ModelResponse:
        reason = "tool_calls" if answer.calls else _FINISH.get(answer.stop_reason or "end_turn", "stop")
        if answer.output is not None and not answer.calls:
            reason = "stop"
        return self._answer(answer.content(), answer.calls, usage, reason)

    async def request(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        output_schema: dict[str, Any] | None = None,
        settings: ModelSettings | None = None,
    ) -> ModelResponse:
        """One Messages API call. Raises ``keel.errors.ModelError`` subclasses on failure."""
        body, wrapped = self.build_body(messages, tools, output_schema, settings)
        data, raw = await self._http.post_json("/v1/messages", body, self._timeout(settings))
        answer = _Answer()
        with guard_malformed(_PROVIDER, raw):
            for block in data["content"]:
                answer.add_block(block, wrapped)
            answer.stop_reason = data.get("stop_reason")
            usage = _usage(data["usage"])
        return self._response(answer, usage)

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        output_schema: dict[str, Any] | None = None,
        settings: ModelSettings | None = None,
    ) -> AsyncIterator[StreamItem]:
        """Yield ``TextChunk``s as text arrives, then the complete ``ModelResponse``.

        Tool inputs streamed as ``input_json_delta`` are assembled into whole ``ToolCall``s;
        structured output arrives as one chunk at the end.
        """
        body, wrapped = self.build_body(messages, tools, output_schema, settings, stream=True)
        state = _StreamState(wrapped=wrapped)
        async for event in self._http.post_sse("/v1/messages", body, self._timeout(settings)):
            data = load_json(_PROVIDER, event.data, "stream event")
            kind = data.get("type") if isinstance(data, dict) else None
            if kind == "error" or event.event == "error":
                raise error_for_stream_event(_PROVIDER, data, event.data)
            with guard_malformed(_PROVIDER, event.data):
                piece = state.add(data)
            if piece:
                yield TextChunk(piece)
            if state.stopped:
                break
        if not state.stopped:
            raise MalformedResponse(
                "the stream ended without its message_stop event; retry",
                snippet=state.answer.content()[-200:],
                provider=_PROVIDER,
            )
        if state.answer.output is not None:
            yield TextChunk(state.answer.content())
        yield self._response(state.answer, state.usage)


@dataclass
class _StreamState:
    """Messages API stream events folded into one answer."""

    wrapped: bool
    answer: _Answer = field(default_factory=_Answer)
    usage: Usage = field(default_factory=lambda: Usage(requests=1))
    blocks: dict[int, dict[str, Any]] = field(default_factory=dict)
    parts: dict[int, list[str]] = field(default_factory=dict)
    stopped: bool = False

    def add(self, event: dict[str, Any]) -> str:
        """Fold one event in; return the text it adds."""
        kind = event["type"]
        if kind == "message_start":
            self.usage = _usage(event["message"].get("usage") or {})
        elif kind == "content_block_start":
            self.blocks[event["index"]] = dict(event["content_block"])
            self.parts[event["index"]] = []
        elif kind == "content_block_delta":
            delta = event["delta"]
            if delta["type"] == "text_delta":
                self.parts[event["index"]].append(delta["text"])
                return str(delta["text"])
            if delta["type"] == "input_json_delta":
                self.parts[event["index"]].append(delta["partial_json"])
        elif kind == "content_block_stop":
            self._close_block(event["index"])
        elif kind == "message_delta":
            self.answer.stop_reason = (event.get("delta") or {}).get("stop_reason") or self.answer.stop_reason
            self._update_usage(event.get("usage") or {})
        elif kind == "message_stop":
            self.stopped = True
        return ""

    def _close_block(self, index: int) -> None:
        block = self.blocks.pop(index)
        joined = "".join(self.parts.pop(index))
        if block["type"] == "text":
            block["text"] = joined
        elif block["type"] == "tool_use":
            text = joined.strip()
            try:
                block["input"] = json.loads(text) if text else {}
            except ValueError:
                raise MalformedResponse(
                    f"the streamed input of tool call {block.get('name')!r} is not JSON; retry",
                    snippet=joined,
                    provider=_PROVIDER,
                ) from None
        else:
            return  # thinking and other blocks are not part of Keel's answer
        self.answer.add_block(block, self.wrapped)

    def _update_usage(self, raw: Mapping[str, Any]) -> None:
        # message_delta carries the final, cumulative output count (and sometimes the input counts).
        update: dict[str, Any] = {"output_tokens": int(raw.get("output_tokens") or self.usage.output_tokens)}
        if any(k in raw for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")):
            fresh = _usage(raw)
            update.update(input_tokens=fresh.input_tokens, cached_tokens=fresh.cached_tokens)
        self.usage = self.usage.model_copy(update=update)
