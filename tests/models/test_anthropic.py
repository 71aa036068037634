"""AnthropicModel on the wire: a scripted HTTP server on 127.0.0.1 speaking the Messages API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from provider_fakes import ASK, TIME, WEATHER, collect
from wire_server import Reply, WireServer, anthropic_sse, json_reply, sse_reply, text_reply

from keel.errors import (
    AuthError,
    BadRequest,
    ConfigError,
    ContextTooLong,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
)
from keel.events import AssistantMessage, SystemMessage, ToolCall, ToolMessage, Usage, UserMessage
from keel.models import get_model
from keel.models.anthropic import OUTPUT_TOOL, AnthropicModel
from keel.models.base import Model, ModelSettings, ToolSpec
from keel.models.prices import cost_of

KEY = "sk-ant-api03-test0123456789abcdef"
NAME = "claude-3-5-haiku-latest"


def message(*blocks: dict[str, Any], stop: str = "end_turn", **usage: Any) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": NAME,
        "content": list(blocks),
        "stop_reason": stop,
        "usage": usage or {"input_tokens": 10, "output_tokens": 2},
    }


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool_use(call_id: str, name: str, args: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": name, "input": args}


def error(kind: str, msg: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": msg}}


def start(input_tokens: int = 20, **extra: int) -> dict[str, Any]:
    usage = {"input_tokens": input_tokens, "output_tokens": 1, **extra}
    return {
        "type": "message_start",
        "message": {**message(), "content": [], "stop_reason": None, "usage": usage},
    }


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def text_delta(index: int, value: str) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": value}}


def json_delta(index: int, part: str) -> dict[str, Any]:
    return {
        "type": "content_block_delta",
        "index": index,
        "delta": {"type": "input_json_delta", "partial_json": part},
    }


def block_stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def finish(stop: str = "end_turn", output_tokens: int = 9) -> list[dict[str, Any]]:
    return [
        {"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": output_tokens}},
        {"type": "message_stop"},
    ]


@pytest.fixture
def model(server: WireServer) -> AnthropicModel:
    return AnthropicModel(NAME, api_key=KEY, base_url=server.url)


# ------------------------------------------------------------------------------------------------
# Requests and answers
# ------------------------------------------------------------------------------------------------


async def test_plain_answer_sends_exact_body_headers_and_reports_cached_usage(
    server: WireServer, model: AnthropicModel
):
    usage = {
        "input_tokens": 50,
        "output_tokens": 20,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 0,
    }
    server.add(json_reply(message(text("Hello"), text(" there"), **usage)))

    response = await model.request(ASK, settings=ModelSettings(temperature=0.3, stop=["END"], seed=3))

    assert response.message == AssistantMessage(content="Hello there")
    assert response.model == f"anthropic:{NAME}"
    assert response.finish_reason == "stop"
    expected = Usage(input_tokens=150, output_tokens=20, cached_tokens=100, requests=1)
    assert response.usage == expected.model_copy(update={"cost_usd": cost_of(f"anthropic:{NAME}", expected)})
    assert response.usage.cost_usd == pytest.approx((50 * 0.80 + 100 * 0.08 + 20 * 4.00) / 1e6)
    req = server.last
    assert (req.method, req.path) == ("POST", "/v1/messages")
    assert req.headers["x-api-key"] == KEY
    assert req.headers["anthropic-version"] == "2023-06-01"
    assert req.headers["content-type"] == "application/json"
    assert "authorization" not in req.headers
    assert req.json() == {
        "model": NAME,
        "max_tokens": 1024,
        "system": "You are helpful.",
        "messages": [{"role": "user", "content": "Weather in Paris and Oslo?"}],
        "temperature": 0.3,
        "stop_sequences": ["END"],
    }


async def test_tool_use_blocks_become_parallel_tool_calls(server: WireServer, model: AnthropicModel):
    blocks = [
        text("Checking both."),
        tool_use("tu_1", "get_weather", {"city": "Paris"}),
        tool_use("tu_2", "get_time", {"city": "Oslo"}),
    ]
    server.add(json_reply(message(*blocks, stop="tool_use")))

    response = await model.request(ASK, [WEATHER, TIME], settings=ModelSettings(max_tokens=200))

    assert response.message == AssistantMessage(
        content="Checking both.",
        tool_calls=[
            ToolCall(id="tu_1", name="get_weather", arguments={"city": "Paris"}),
            ToolCall(id="tu_2", name="get_time", arguments={"city": "Oslo"}),
        ],
    )
    assert response.finish_reason == "tool_calls"
    body = server.last.json()
    assert body["max_tokens"] == 200
    assert body["tools"] == [
        {"name": "get_weather", "description": WEATHER.description, "input_schema": WEATHER.parameters},
        {"name": "get_time", "description": TIME.description, "input_schema": TIME.parameters},
    ]
    assert body["tool_choice"] == {"type": "auto"}


@pytest.mark.parametrize(
    ("choice", "parallel", "wire"),
    [
        ("auto", True, {"type": "auto"}),
        ("required", True, {"type": "any"}),
        ("get_time", True, {"type": "tool", "name": "get_time"}),
        ("none", True, {"type": "none"}),
        ("auto", False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("get_time", False, {"type": "tool", "name": "get_time", "disable_parallel_tool_use": True}),
    ],
)
async def test_tool_choice_is_mapped(
    server: WireServer, model: AnthropicModel, choice: str, parallel: bool, wire: Any
):
    server.add(json_reply(message(text("ok"))))
    await model.request(
        ASK, [WEATHER, TIME], settings=ModelSettings(tool_choice=choice, parallel_tool_calls=parallel)
    )
    assert server.last.json()["tool_choice"] == wire


async def test_tool_choice_naming_an_unoffered_tool_is_a_config_error(
    server: WireServer, model: AnthropicModel
):
    with pytest.raises(ConfigError, match="send_email"):
        await model.request(ASK, [WEATHER], settings=ModelSettings(tool_choice="send_email"))
    assert server.requests == []


async def test_history_merges_system_text_and_consecutive_tool_results(
    server: WireServer, model: AnthropicModel
):
    server.add(json_reply(message(text("Paris is sunny; Oslo failed."))))
    history = [
        SystemMessage(content="You are helpful."),
        UserMessage(content="Weather in Paris and Oslo?"),
        AssistantMessage(
            content="Checking.",
            tool_calls=[
                ToolCall(id="tu_1", name="get_weather", arguments={"city": "Paris"}),
                ToolCall(id="tu_2", name="get_weather", arguments={"city": "Oslo"}),
            ],
        ),
        ToolMessage(tool_call_id="tu_1", name="get_weather", content='{"sky": "sunny"}'),
        ToolMessage(tool_call_id="tu_2", name="get_weather", content="timeout", is_error=True),
        SystemMessage(content="Answer in one line."),
        UserMessage(content="Well?"),
        AssistantMessage(content=""),
    ]
    await model.request(history, [WEATHER])
    body = server.last.json()
    assert body["system"] == "You are helpful.\n\nAnswer in one line."
    assert body["messages"] == [
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "tu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "tu_2", "name": "get_weather", "input": {"city": "Oslo"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "tu_1", "content": '{"sky": "sunny"}'},
                {"type": "tool_result", "tool_use_id": "tu_2", "content": "timeout", "is_error": True},
                {"type": "text", "text": "Well?"},
            ],
        },
    ]


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


async def test_output_schema_is_a_forced_tool_whose_input_becomes_the_text(
    server: WireServer, model: AnthropicModel
):
    server.add(json_reply(message(tool_use("tu_9", OUTPUT_TOOL, {"city": "Paris"}), stop="tool_use")))
    response = await model.request([UserMessage(content="A city?")], output_schema=SCHEMA)
    assert json.loads(response.message.content) == {"city": "Paris"}
    assert response.message.tool_calls == []
    assert response.finish_reason == "stop"
    body = server.last.json()
    assert body["tools"] == [
        {"name": OUTPUT_TOOL, "description": body["tools"][0]["description"], "input_schema": SCHEMA}
    ]
    assert body["tool_choice"] == {"type": "tool", "name": OUTPUT_TOOL}


async def test_non_object_output_schema_is_wrapped_and_unwrapped(server: WireServer, model: AnthropicModel):
    schema = {"type": "array", "items": {"type": "string"}}
    server.add(json_reply(message(tool_use("tu_9", OUTPUT_TOOL, {"value": ["a", "b"]}), stop="tool_use")))
    response = await model.request([UserMessage(content="Two letters?")], output_schema=schema)
    assert json.loads(response.message.content) == ["a", "b"]
    wrapped = server.last.json()["tools"][0]["input_schema"]
    assert wrapped == {"type": "object", "properties": {"value": schema}, "required": ["value"]}


async def test_output_schema_with_tools_leaves_the_choice_to_the_model(
    server: WireServer, model: AnthropicModel
):
    server.add(json_reply(message(tool_use("tu_1", "get_weather", {"city": "Paris"}), stop="tool_use")))
    response = await model.request(ASK, [WEATHER], output_schema=SCHEMA)
    assert [c.name for c in response.message.tool_calls] == ["get_weather"]
    body = server.last.json()
    assert [t["name"] for t in body["tools"]] == ["get_weather", OUTPUT_TOOL]
    assert body["tool_choice"] == {"type": "auto"}


def test_a_user_tool_named_like_the_output_tool_is_rejected(model: AnthropicModel):
    clash = ToolSpec(name=OUTPUT_TOOL, description="mine")
    with pytest.raises(ConfigError, match=OUTPUT_TOOL):
        model.build_body(ASK, [clash], output_schema=SCHEMA)


# ------------------------------------------------------------------------------------------------
# Streaming
# ------------------------------------------------------------------------------------------------


async def test_stream_yields_text_then_response_with_usage(server: WireServer, model: AnthropicModel):
    events = [
        start(25, cache_read_input_tokens=5),
        block_start(0, text("")),
        {"type": "ping"},
        text_delta(0, "Hel"),
        text_delta(0, "lo!"),
        block_stop(0),
        *finish(output_tokens=7),
    ]
    server.add(sse_reply(anthropic_sse(events)))

    chunks, final = await collect(model.stream(ASK))

    assert chunks == ["Hel", "lo!"]
    assert final.message == AssistantMessage(content="Hello!")
    assert (final.usage.input_tokens, final.usage.cached_tokens, final.usage.output_tokens) == (30, 5, 7)
    assert final.usage.cost_usd == pytest.approx((25 * 0.80 + 5 * 0.08 + 7 * 4.00) / 1e6)
    assert server.last.json()["stream"] is True


async def test_streamed_tool_input_json_deltas_are_assembled(server: WireServer, model: AnthropicModel):
    events = [
        start(),
        block_start(0, text("")),
        text_delta(0, "Let me look."),
        block_stop(0),
        block_start(1, tool_use("tu_1", "get_weather", {})),
        json_delta(1, ""),
        json_delta(1, '{"city": "Pa'),
        json_delta(1, 'ris"}'),
        block_stop(1),
        block_start(2, tool_use("tu_2", "get_time", {})),
        json_delta(2, '{"city": "Oslo"}'),
        block_stop(2),
        *finish("tool_use"),
    ]
    server.add(sse_reply(anthropic_sse(events)))

    chunks, final = await collect(model.stream(ASK, [WEATHER, TIME]))

    assert chunks == ["Let me look."]
    assert final.message.tool_calls == [
        ToolCall(id="tu_1", name="get_weather", arguments={"city": "Paris"}),
        ToolCall(id="tu_2", name="get_time", arguments={"city": "Oslo"}),
    ]
    assert final.message.content == "Let me look."
    assert final.finish_reason == "tool_calls"


async def test_streamed_structured_output_arrives_as_one_chunk(server: WireServer, model: AnthropicModel):
    events = [
        start(),
        block_start(0, tool_use("tu_1", OUTPUT_TOOL, {})),
        json_delta(0, '{"city"'),
        json_delta(0, ': "Rome"}'),
        block_stop(0),
        *finish("tool_use"),
    ]
    server.add(sse_reply(anthropic_sse(events)))
    chunks, final = await collect(model.stream([UserMessage(content="A city?")], output_schema=SCHEMA))
    assert [json.loads(c) for c in chunks] == [{"city": "Rome"}]
    assert json.loads(final.message.content) == {"city": "Rome"}
    assert final.message.tool_calls == []


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (json_reply(error("overloaded_error", "Overloaded"), 529), ProviderUnavailable),
        (json_reply(error("api_error", "Internal server error"), 500), ProviderUnavailable),
        (text_reply("upstream connect error", 503), ProviderUnavailable),
        (json_reply(error("authentication_error", "invalid x-api-key"), 401), AuthError),
        (json_reply(error("permission_error", "no access to model"), 403), AuthError),
        (
            json_reply(
                error("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"), 400
            ),
            ContextTooLong,
        ),
        (json_reply(error("invalid_request_error", "messages: roles must alternate"), 400), BadRequest),
    ],
)
async def test_http_errors_map_to_keel_errors(
    server: WireServer, model: AnthropicModel, reply: Reply, expected: type
):
    server.add(reply)
    with pytest.raises(expected) as info:
        await model.request(ASK)
    assert type(info.value) is expected
    assert (info.value.provider, info.value.status) == ("anthropic", reply.status)


async def test_429_carries_retry_after(server: WireServer, model: AnthropicModel):
    server.add(json_reply(error("rate_limit_error", "slow down"), 429, {"retry-after": "12"}))
    with pytest.raises(RateLimited) as info:
        await model.request(ASK)
    assert info.value.retry_after == 12.0


async def test_overloaded_error_event_inside_a_stream_is_unavailable(
    server: WireServer, model: AnthropicModel
):
    events = [start(), block_start(0, text("")), text_delta(0, "Hi"), error("overloaded_error", "Overloaded")]
    server.add(sse_reply(anthropic_sse(events)))
    with pytest.raises(ProviderUnavailable, match="Overloaded"):
        await collect(model.stream(ASK))


async def test_stream_without_message_stop_is_malformed(server: WireServer, model: AnthropicModel):
    events = [start(), block_start(0, text("")), text_delta(0, "Hel")]
    server.add(sse_reply(anthropic_sse(events)))
    with pytest.raises(MalformedResponse, match="message_stop"):
        await collect(model.stream(ASK))


async def test_stream_cut_mid_transfer_is_malformed(server: WireServer, model: AnthropicModel):
    server.add(sse_reply([*anthropic_sse([start()]), 'event: content_block_start\ndata: {"ty'], drop=True))
    with pytest.raises(MalformedResponse):
        await collect(model.stream(ASK))


async def test_streamed_tool_input_that_is_not_json_is_malformed(server: WireServer, model: AnthropicModel):
    events = [
        start(),
        block_start(0, tool_use("tu_1", "get_weather", {})),
        json_delta(0, '{"city": '),
        block_stop(0),
        *finish("tool_use"),
    ]
    server.add(sse_reply(anthropic_sse(events)))
    with pytest.raises(MalformedResponse, match="get_weather"):
        await collect(model.stream(ASK, [WEATHER]))


@pytest.mark.parametrize(
    "reply",
    [
        text_reply("<html>gateway</html>", 200, "text/html"),
        json_reply({"id": "msg_1", "type": "message"}),
        json_reply(message({"type": "tool_use", "name": "get_weather", "input": {}})),
        json_reply(message(tool_use("tu_1", "get_weather", "Paris"))),
        json_reply({**message(text("hi")), "usage": None}),
    ],
    ids=["not-json", "no-content", "tool-use-without-id", "input-not-object", "usage-null"],
)
async def test_malformed_answers_raise_malformed_response(
    server: WireServer, model: AnthropicModel, reply: Reply
):
    server.add(reply)
    with pytest.raises(MalformedResponse):
        await model.request(ASK, [WEATHER])


async def test_malformed_snippet_never_contains_the_api_key(server: WireServer, model: AnthropicModel):
    server.add(text_reply(f'{{"echo": {{"x-api-key": "{KEY}"}}, "broken', 200, "application/json"))
    with pytest.raises(MalformedResponse) as info:
        await model.request(ASK)
    assert KEY not in str(info.value)
    assert KEY not in info.value.snippet
    assert "REDACTED" in info.value.snippet


# ------------------------------------------------------------------------------------------------
# Configuration
# ------------------------------------------------------------------------------------------------


def test_missing_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        AnthropicModel(NAME)
    with pytest.raises(ConfigError):
        get_model(f"anthropic:{NAME}")


async def test_key_and_base_url_from_environment(server: WireServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url + "/v1")
    model = get_model(f"anthropic:{NAME}", max_tokens=64, headers={"anthropic-beta": "tools-2024"})
    assert isinstance(model, AnthropicModel)
    server.add(json_reply(message(text("hi"))))
    assert (await model.request(ASK)).message.content == "hi"
    assert server.last.path == "/v1/messages"
    assert server.last.json()["max_tokens"] == 64
    assert server.last.headers["x-api-key"] == KEY
    assert server.last.headers["anthropic-beta"] == "tools-2024"
    assert KEY not in repr(model)


def test_base_url_must_be_http_and_the_model_satisfies_the_protocol():
    with pytest.raises(ConfigError, match="http"):
        AnthropicModel(NAME, api_key=KEY, base_url="api.anthropic.com")
    assert isinstance(AnthropicModel(NAME, api_key=KEY), Model)
