"""``OpenAIModel``: OpenAI's Chat Completions API and every server that speaks it.

Works with api.openai.com and with self-hosted OpenAI-compatible servers (llama.cpp's
``llama_cpp.server``, vLLM, Ollama, LM Studio). Keel messages are converted to the wire format here
and nowhere else. Small self-hosted models often write a tool call as text instead of a native
``tool_calls`` entry; when tools were offered, such text is recognised and turned into tool calls
(see :mod:`keel.models._textcalls`).

>>> model = OpenAIModel("qwen", base_url="http://127.0.0.1:8000/v1")
>>> model.name
'openai:qwen'
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlparse

from keel.errors import ConfigError, MalformedResponse
from keel.events import AssistantMessage, Message, SystemMessage, ToolCall, ToolMessage, Usage, UserMessage
from keel.models._http import (
    HttpModel,
    check_base_url,
    error_for_stream_event,
    guard_malformed,
    load_json,
)
from keel.models._textcalls import TextCallStreamFilter, parse_text_tool_calls
from keel.models._tokens import estimate_text_tokens, estimate_tokens
from keel.models.base import ModelProfile, ModelResponse, ModelSettings, StreamItem, TextChunk, ToolSpec

__all__ = ["OpenAIModel", "to_openai_messages", "to_openai_tools"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_PROVIDER = "openai"

StructuredOutput = Literal["json_schema", "strict", "json_object"]


def to_openai_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Keel messages as Chat Completions messages.

    >>> to_openai_messages([ToolMessage(tool_call_id="c1", name="f", content="42")])
    [{'role': 'tool', 'tool_call_id': 'c1', 'content': '42'}]
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, SystemMessage | UserMessage):
            out.append({"role": m.role, "content": m.content})
        elif isinstance(m, AssistantMessage):
            msg: dict[str, Any] = {"role": "assistant", "content": m.content or None}
            if m.tool_calls:
                msg["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                    }
                    for c in m.tool_calls
                ]
            else:
                msg["content"] = m.content
            out.append(msg)
        elif isinstance(m, ToolMessage):
            # Chat Completions has no error flag on tool results; say it in the text.
            content = m.content
            if m.is_error and not content.lower().startswith("error"):
                content = f"Error: {content}"
            out.append({"role": "tool", "tool_call_id": m.tool_call_id, "content": content})
    return out


def to_openai_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """Keel tool specs as Chat Completions function tools (``examples`` stay inside Keel)."""
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def _tool_choice(choice: str, tools: Sequence[ToolSpec]) -> str | dict[str, Any]:
    if choice in ("auto", "none", "required"):
        return choice
    if choice not in {t.name for t in tools}:
        raise ConfigError(
            f"tool_choice names {choice!r}, which is not among the offered tools "
            f"{[t.name for t in tools]}; pass 'auto', 'none', 'required' or an offered tool's name"
        )
    return {"type": "function", "function": {"name": choice}}


def _response_format(schema: dict[str, Any], style: StructuredOutput) -> dict[str, Any]:
    if style == "json_object":
        # llama.cpp's server accepts a schema here (and rejects "json_schema").
        return {"type": "json_object", "schema": schema}
    return {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": style == "strict"},
    }


def _usage(data: Any) -> Usage | None:
    if not isinstance(data, dict) or not isinstance(data.get("usage"), dict):
        return None
    u = data["usage"]
    details = u.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else 0
    return Usage(
        input_tokens=int(u.get("prompt_tokens") or 0),
        output_tokens=int(u.get("completion_tokens") or 0),
        cached_tokens=int(cached or 0),
        requests=1,
    )


def _arguments(raw: Any, name: str) -> dict[str, Any]:
    """Tool arguments arrive as a JSON string (some servers send an object)."""
    if isinstance(raw, dict):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    text = raw if isinstance(raw, str) else repr(raw)
    try:
        args = json.loads(text)
    except ValueError:
        args = None
    if not isinstance(args, dict):
        raise MalformedResponse(
            f"the arguments of tool call {name!r} are not a JSON object; retry",
            snippet=text,
            provider=_PROVIDER,
        )
    return args


def _native_calls(raw_calls: Any) -> list[ToolCall]:
    calls: list[ToolCall] = []
    for c in raw_calls or []:
        fn = c["function"]
        name = fn["name"]
        if not isinstance(name, str) or not name:
            raise TypeError("tool call without a name")
        call_id = c.get("id") or f"call_{uuid.uuid4().hex[:16]}"
        calls.append(ToolCall(id=str(call_id), name=name, arguments=_arguments(fn.get("arguments"), name)))
    return calls


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class _StreamState:
    """Chat-completion chunks folded into one answer."""

    text: list[str] = field(default_factory=list)
    calls: dict[int, _PartialCall] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: Usage | None = None

    def add(self, chunk: dict[str, Any]) -> str:
        """Fold one chunk in; return its text delta."""
        self.usage = _usage(chunk) or self.usage
        piece = ""
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            self.finish_reason = choice.get("finish_reason") or self.finish_reason
            delta = choice.get("delta") or {}
            piece += delta.get("content") or ""
            for tc in delta.get("tool_calls") or []:
                part = self.calls.setdefault(int(tc.get("index", 0)), _PartialCall())
                part.id = part.id or tc.get("id") or ""
                fn = tc.get("function") or {}
                # llama.cpp repeats the name in every delta; OpenAI sends it once.
                part.name = part.name or fn.get("name") or ""
                part.arguments.append(fn.get("arguments") or "")
        self.text.append(piece)
        return piece

    def tool_calls(self) -> list[ToolCall]:
        calls = []
        for _, part in sorted(self.calls.items()):
            if not part.name:
                raise MalformedResponse("a streamed tool call never said its name; retry", provider=_PROVIDER)
            call_id = part.id or f"call_{uuid.uuid4().hex[:16]}"
            calls.append(
                ToolCall(id=call_id, name=part.name, arguments=_arguments("".join(part.arguments), part.name))
            )
        return calls


class OpenAIModel(HttpModel):
    """A model behind the OpenAI Chat Completions API or any server compatible with it.

    ``base_url`` and ``api_key`` default to ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``; a key is
    required only for api.openai.com. ``structured_output`` picks how ``output_schema`` is sent:
    ``"json_schema"`` (OpenAI, vLLM), ``"strict"`` (OpenAI strict mode; the schema must forbid
    additional properties) or ``"json_object"`` (llama.cpp's server). One pooled HTTP client is
    opened on first use; ``await model.aclose()`` releases it.

    >>> model = OpenAIModel("qwen", base_url="http://127.0.0.1:8080/v1", timeout_s=30)
    >>> model.profile.native_tools
    True
    """

    provider = _PROVIDER

    def __init__(
        self,
        name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_connections: int = 20,
        headers: Mapping[str, str] | None = None,
        profile: ModelProfile | None = None,
        *,
        settings: ModelSettings | None = None,
        structured_output: StructuredOutput = "json_schema",
    ) -> None:
        base = check_base_url(_PROVIDER, base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL)
        key = api_key or os.environ.get("OPENAI_API_KEY")
        is_openai = (urlparse(base).hostname or "").endswith("api.openai.com")
        if is_openai and not key:
            raise ConfigError(
                "no OpenAI API key: set OPENAI_API_KEY or pass api_key=..., "
                "or point base_url at an OpenAI-compatible server that needs none"
            )
        self.structured_output: StructuredOutput = structured_output
        wire_headers = {"Content-Type": "application/json", **(headers or {})}
        if key:
            wire_headers["Authorization"] = f"Bearer {key}"
        super().__init__(
            name,
            base_url=base,
            headers=wire_headers,
            profile=profile or ModelProfile(native_tools=True, context_window=128_000 if is_openai else 8192),
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
    ) -> dict[str, Any]:
        """The JSON body Keel sends for this request (useful to debug a server that rejects it)."""
        s = self.settings.merged(settings)
        body: dict[str, Any] = {"model": self.model_name, "messages": to_openai_messages(messages)}
        if tools:
            body["tools"] = to_openai_tools(tools)
            body["tool_choice"] = _tool_choice(s.tool_choice, tools)
            if not s.parallel_tool_calls:
                body["parallel_tool_calls"] = False
        if output_schema is not None:
            body["response_format"] = _response_format(output_schema, self.structured_output)
        optional = {"temperature": s.temperature, "max_tokens": s.max_tokens, "stop": s.stop, "seed": s.seed}
        body.update({k: v for k, v in optional.items() if v is not None})
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def _finish(
        self,
        messages: Sequence[Message],
        text: str,
        calls: list[ToolCall],
        finish_reason: str | None,
        usage: Usage | None,
        tools: Sequence[ToolSpec],
        settings: ModelSettings | None,
    ) -> ModelResponse:
        if tools and not calls and self.settings.merged(settings).tool_choice != "none":
            text, calls = parse_text_tool_calls(text, {t.name for t in tools})
        if usage is None:  # some compatible servers report no usage when streaming
            out = estimate_text_tokens(text) + sum(8 + len(json.dumps(c.arguments)) // 4 for c in calls)
            prompt = estimate_tokens(messages) + estimate_text_tokens(json.dumps(to_openai_tools(tools)))
            usage = Usage(input_tokens=prompt, output_tokens=out, requests=1)
        return self._answer(text, calls, usage, "tool_calls" if calls else (finish_reason or "stop"))

    async def request(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        output_schema: dict[str, Any] | None = None,
        settings: ModelSettings | None = None,
    ) -> ModelResponse:
        """One chat completion. Raises ``keel.errors.ModelError`` subclasses on failure.

        >>> # response = await model.request([UserMessage(content="hi")])
        """
        body = self.build_body(messages, tools, output_schema, settings)
        data, raw = await self._http.post_json("/chat/completions", body, self._timeout(settings))
        with guard_malformed(_PROVIDER, lambda: raw):
            choice = data["choices"][0]
            message = choice["message"]
            text = message.get("content") or ""
            if not isinstance(text, str):
                raise TypeError("message content is not a string")
            calls = _native_calls(message.get("tool_calls"))
            finish_reason = choice.get("finish_reason")
            usage = _usage(data)
        return self._finish(messages, text, calls, finish_reason, usage, tools, settings)

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        output_schema: dict[str, Any] | None = None,
        settings: ModelSettings | None = None,
    ) -> AsyncIterator[StreamItem]:
        """Yield ``TextChunk``s as they arrive, then the complete ``ModelResponse``.

        Streamed tool-call deltas are assembled into whole ``ToolCall``s. When tools are offered,
        text that may be a tool call written as text is held back until the answer is complete.
        """
        body = self.build_body(messages, tools, output_schema, settings, stream=True)
        state = _StreamState()
        held = TextCallStreamFilter() if tools else None
        done = False
        async for event in self._http.post_sse("/chat/completions", body, self._timeout(settings)):
            if event.data.strip() == "[DONE]":
                done = True
                break
            chunk = load_json(_PROVIDER, event.data, "stream chunk")
            if isinstance(chunk, dict) and "error" in chunk:
                raise error_for_stream_event(_PROVIDER, chunk, event.data)
            with guard_malformed(_PROVIDER, event.data):
                piece = state.add(chunk)
            visible = held.feed(piece) if held else piece
            if visible:
                yield TextChunk(visible)
        if not done:
            raise MalformedResponse(
                "the stream ended without its final [DONE] event; retry",
                snippet="".join(state.text)[-200:],
                provider=_PROVIDER,
            )
        response = self._finish(
            messages,
            "".join(state.text),
            state.tool_calls(),
            state.finish_reason,
            state.usage,
            tools,
            settings,
        )
        if held:
            rest = held.finish(found_calls=bool(response.message.tool_calls))
            if rest:
                yield TextChunk(rest)
        yield response
