"""OpenAIModel on the wire (a scripted HTTP server on 127.0.0.1) and against llama.cpp's real server."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from provider_fakes import ASK, TIME, WEATHER, collect
from wire_server import Reply, WireServer, json_reply, openai_sse, sse_reply, text_reply

from keel.errors import (
    AuthError,
    BadRequest,
    ConfigError,
    ContextTooLong,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
    Timeout,
)
from keel.events import AssistantMessage, SystemMessage, ToolCall, ToolMessage, Usage, UserMessage
from keel.models import get_model
from keel.models._tokens import estimate_tokens
from keel.models.base import Model, ModelSettings, ToolSpec
from keel.models.openai_compat import OpenAIModel
from keel.models.prices import cost_of

KEY = "sk-test-0123456789abcdefXYZ"


def completion(
    content: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    finish: str = "stop",
    **usage: Any,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage or {"prompt_tokens": 10, "completion_tokens": 2},
    }


def wire_call(call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}


def raw_call(name: str, arguments: str) -> dict[str, Any]:
    return {"id": "c1", "type": "function", "function": {"name": name, "arguments": arguments}}


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


@pytest.fixture
def model(server: WireServer) -> OpenAIModel:
    return OpenAIModel("gpt-4o-mini", base_url=server.url + "/v1", api_key=KEY)


# ------------------------------------------------------------------------------------------------
# Requests and answers
# ------------------------------------------------------------------------------------------------


async def test_plain_answer_sends_exact_body_and_reports_usage_and_cost(
    server: WireServer, model: OpenAIModel
):
    usage = {"prompt_tokens": 100, "completion_tokens": 20, "prompt_tokens_details": {"cached_tokens": 40}}
    server.add(json_reply(completion("Hello there", **usage)))
    settings = ModelSettings(temperature=0.2, max_tokens=50, seed=7, stop=["END"])

    response = await model.request(ASK, settings=settings)

    assert response.message == AssistantMessage(content="Hello there")
    assert response.model == "openai:gpt-4o-mini"
    assert response.finish_reason == "stop"
    expected = Usage(input_tokens=100, output_tokens=20, cached_tokens=40, requests=1)
    assert response.usage == expected.model_copy(update={"cost_usd": cost_of("openai:gpt-4o-mini", expected)})
    assert response.usage.cost_usd == pytest.approx((60 * 0.15 + 40 * 0.075 + 20 * 0.60) / 1e6)
    req = server.last
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["content-type"] == "application/json"
    assert req.json() == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Weather in Paris and Oslo?"},
        ],
        "temperature": 0.2,
        "max_tokens": 50,
        "stop": ["END"],
        "seed": 7,
    }


async def test_parallel_tool_calls_become_tool_calls_and_tools_are_sent_as_functions(
    server: WireServer, model: OpenAIModel
):
    calls = [
        wire_call("c1", "get_weather", {"city": "Paris"}),
        wire_call("c2", "get_weather", {"city": "Oslo"}),
    ]
    server.add(json_reply(completion(None, calls, finish="tool_calls")))

    response = await model.request(ASK, [WEATHER, TIME])

    assert response.message.tool_calls == [
        ToolCall(id="c1", name="get_weather", arguments={"city": "Paris"}),
        ToolCall(id="c2", name="get_weather", arguments={"city": "Oslo"}),
    ]
    assert response.message.content == ""
    assert response.finish_reason == "tool_calls"
    body = server.last.json()
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": WEATHER.description,
                "parameters": WEATHER.parameters,
            },
        },
        {
            "type": "function",
            "function": {"name": "get_time", "description": TIME.description, "parameters": TIME.parameters},
        },
    ]
    assert body["tool_choice"] == "auto"
    assert "parallel_tool_calls" not in body


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ("get_time", {"type": "function", "function": {"name": "get_time"}}),
    ],
)
async def test_tool_choice_is_mapped(server: WireServer, model: OpenAIModel, choice: str, wire: Any):
    server.add(json_reply(completion("ok")))
    await model.request(
        ASK, [WEATHER, TIME], settings=ModelSettings(tool_choice=choice, parallel_tool_calls=False)
    )
    body = server.last.json()
    assert body["tool_choice"] == wire
    assert body["parallel_tool_calls"] is False


async def test_tool_choice_naming_an_unoffered_tool_is_a_config_error(server: WireServer, model: OpenAIModel):
    with pytest.raises(ConfigError, match="not among the offered tools"):
        await model.request(ASK, [WEATHER], settings=ModelSettings(tool_choice="send_email"))
    assert server.requests == []


async def test_history_with_tool_calls_and_results_is_converted_at_the_edge(
    server: WireServer, model: OpenAIModel
):
    server.add(json_reply(completion("It is sunny.")))
    history = [
        UserMessage(content="Weather in Paris?"),
        AssistantMessage(
            content="", tool_calls=[ToolCall(id="c1", name="get_weather", arguments={"city": "Paris"})]
        ),
        ToolMessage(tool_call_id="c1", name="get_weather", content='{"sky": "sunny"}'),
        AssistantMessage(content="Checking Oslo too.", tool_calls=[ToolCall(id="c2", name="get_weather")]),
        ToolMessage(tool_call_id="c2", name="get_weather", content="service down", is_error=True),
    ]
    await model.request(history, [WEATHER])
    assert server.last.json()["messages"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"sky": "sunny"}'},
        {
            "role": "assistant",
            "content": "Checking Oslo too.",
            "tool_calls": [
                {"id": "c2", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c2", "content": "Error: service down"},
    ]


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.mark.parametrize(
    ("style", "wire"),
    [
        (
            "json_schema",
            {"type": "json_schema", "json_schema": {"name": "output", "schema": SCHEMA, "strict": False}},
        ),
        (
            "strict",
            {"type": "json_schema", "json_schema": {"name": "output", "schema": SCHEMA, "strict": True}},
        ),
        ("json_object", {"type": "json_object", "schema": SCHEMA}),
    ],
)
async def test_output_schema_is_sent_as_response_format(server: WireServer, style: Any, wire: dict[str, Any]):
    model = OpenAIModel("gpt-4o-mini", base_url=server.url, api_key=KEY, structured_output=style)
    server.add(json_reply(completion('{"city": "Paris"}')))
    response = await model.request([UserMessage(content="A city?")], output_schema=SCHEMA)
    assert json.loads(response.message.content) == {"city": "Paris"}
    assert server.last.json()["response_format"] == wire
    assert "tools" not in server.last.json()


async def test_one_pooled_connection_is_reused_across_requests(server: WireServer, model: OpenAIModel):
    server.add(json_reply(completion("a")), json_reply(completion("b")), json_reply(completion("c")))
    answers = [(await model.request(ASK)).message.content for _ in range(3)]
    assert answers == ["a", "b", "c"]
    assert len({r.client_port for r in server.requests}) == 1
    await model.aclose()


# ------------------------------------------------------------------------------------------------
# Streaming
# ------------------------------------------------------------------------------------------------


async def test_stream_yields_text_chunks_then_the_response_with_usage(server: WireServer, model: OpenAIModel):
    events = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo!"}),
        chunk({}, finish="stop"),
        {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 3}},
    ]
    server.add(sse_reply(openai_sse(events)))

    chunks, final = await collect(model.stream(ASK))

    assert chunks == ["Hel", "lo!"]
    assert final.message == AssistantMessage(content="Hello!")
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.requests) == (12, 3, 1)
    assert final.usage.cost_usd == pytest.approx((12 * 0.15 + 3 * 0.60) / 1e6)
    body = server.last.json()
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


async def test_streamed_tool_call_deltas_are_assembled(server: WireServer, model: OpenAIModel):
    def delta(index: int, **fn: str) -> dict[str, Any]:
        return chunk({"tool_calls": [{"index": index, "function": fn}]})

    events = [
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "c1", "type": "function", "function": {"name": "get_weather"}}
                ]
            }
        ),
        delta(0, arguments='{"ci'),
        chunk(
            {"tool_calls": [{"index": 1, "id": "c2", "type": "function", "function": {"name": "get_time"}}]}
        ),
        delta(1, arguments='{"city": "Oslo"}'),
        delta(0, arguments='ty": "Par'),
        delta(0, arguments='is"}'),
        chunk({}, finish="tool_calls"),
    ]
    server.add(sse_reply(openai_sse(events)))

    chunks, final = await collect(model.stream(ASK, [WEATHER, TIME]))

    assert chunks == []
    assert final.message.tool_calls == [
        ToolCall(id="c1", name="get_weather", arguments={"city": "Paris"}),
        ToolCall(id="c2", name="get_time", arguments={"city": "Oslo"}),
    ]
    assert final.finish_reason == "tool_calls"
    # No usage on this stream: Keel estimates it rather than reporting zero.
    assert final.usage.input_tokens >= estimate_tokens(ASK)
    assert final.usage.output_tokens > 0


async def test_stream_tolerates_a_name_repeated_in_every_delta(server: WireServer, model: OpenAIModel):
    # llama.cpp's server repeats id and name in each tool-call delta.
    fn = {"name": "get_weather"}
    events = [
        chunk({"tool_calls": [{"index": 0, "id": "x", "function": {**fn, "arguments": '{"city": '}}]}),
        chunk({"tool_calls": [{"index": 0, "id": "x", "function": {**fn, "arguments": '"Rome"}'}}]}),
        chunk({}, finish="tool_calls"),
    ]
    server.add(sse_reply(openai_sse(events)))
    _, final = await collect(model.stream(ASK, [WEATHER]))
    assert final.message.tool_calls == [ToolCall(id="x", name="get_weather", arguments={"city": "Rome"})]


# ------------------------------------------------------------------------------------------------
# Tool calls written as text (small self-hosted models)
# ------------------------------------------------------------------------------------------------

TAGGED = 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


async def test_tool_call_written_as_text_is_recognised_when_tools_were_offered(
    server: WireServer, model: OpenAIModel
):
    server.add(json_reply(completion(TAGGED)))
    response = await model.request(ASK, [WEATHER])
    [call] = response.message.tool_calls
    assert (call.name, call.arguments) == ("get_weather", {"city": "Paris"})
    assert response.message.content == "Let me check."
    assert response.finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("tools", "choice"),
    [([], "auto"), ([TIME], "auto"), ([WEATHER], "none")],
    ids=["no-tools", "name-not-offered", "tool-choice-none"],
)
async def test_text_that_looks_like_a_call_stays_text_otherwise(
    server: WireServer, model: OpenAIModel, tools: list[ToolSpec], choice: str
):
    server.add(json_reply(completion(TAGGED)))
    response = await model.request(ASK, tools, settings=ModelSettings(tool_choice=choice))
    assert response.message.tool_calls == []
    assert response.message.content == TAGGED


async def test_streamed_text_tool_call_is_held_back_and_becomes_a_call(
    server: WireServer, model: OpenAIModel
):
    text = '{"name": "get_weather", "arguments": {"city": "Lima"}}'
    server.add(sse_reply(openai_sse([chunk({"content": text[i : i + 7]}) for i in range(0, len(text), 7)])))
    chunks, final = await collect(model.stream(ASK, [WEATHER]))
    assert chunks == []
    assert [(c.name, c.arguments) for c in final.message.tool_calls] == [("get_weather", {"city": "Lima"})]


async def test_streamed_json_that_is_not_a_call_is_released_at_the_end(
    server: WireServer, model: OpenAIModel
):
    text = '{"answer": 42}'
    server.add(sse_reply(openai_sse([chunk({"content": text[:5]}), chunk({"content": text[5:]})])))
    chunks, final = await collect(model.stream(ASK, [WEATHER]))
    assert "".join(chunks) == text
    assert final.message == AssistantMessage(content=text)


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------


def error_body(message: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code}}


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (json_reply(error_body("Overloaded"), 529), ProviderUnavailable),
        (json_reply(error_body("boom"), 500), ProviderUnavailable),
        (text_reply("<html>bad gateway</html>", 502), ProviderUnavailable),
        (json_reply(error_body("try later"), 503), ProviderUnavailable),
        (json_reply(error_body("Incorrect API key provided"), 401), AuthError),
        (json_reply(error_body("no access"), 403), AuthError),
        (json_reply(error_body("slow"), 408), Timeout),
        (
            json_reply(
                error_body("This model's maximum context length is 8192 tokens", "context_length_exceeded"),
                400,
            ),
            ContextTooLong,
        ),
        (json_reply(error_body("Invalid value for 'temperature'"), 400), BadRequest),
        (json_reply(error_body("The model `gpt-9` does not exist"), 404), BadRequest),
    ],
)
async def test_http_errors_map_to_keel_errors(
    server: WireServer, model: OpenAIModel, reply: Reply, error: type
):
    server.add(reply)
    with pytest.raises(error) as info:
        await model.request(ASK)
    assert type(info.value) is error
    assert info.value.provider == "openai"
    assert info.value.status == reply.status


@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), ("0.5", 0.5)])
async def test_429_carries_retry_after_seconds(
    server: WireServer, model: OpenAIModel, header: str, expected: float
):
    server.add(json_reply(error_body("Rate limit reached"), 429, {"Retry-After": header}))
    with pytest.raises(RateLimited) as info:
        await model.request(ASK)
    assert info.value.retry_after == expected
    assert info.value.retryable


async def test_429_retry_after_as_http_date(server: WireServer, model: OpenAIModel):
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    server.add(json_reply(error_body("Rate limit reached"), 429, {"Retry-After": when}))
    with pytest.raises(RateLimited) as info:
        await model.request(ASK)
    assert info.value.retry_after is not None
    assert 25 <= info.value.retry_after <= 31


async def test_stream_error_status_is_mapped_too(server: WireServer, model: OpenAIModel):
    server.add(json_reply(error_body("Rate limit reached"), 429, {"Retry-After": "3"}))
    with pytest.raises(RateLimited) as info:
        await collect(model.stream(ASK))
    assert info.value.retry_after == 3.0


@pytest.mark.parametrize(
    "reply",
    [
        text_reply("<html>not json</html>", 200, "text/html"),
        json_reply({"id": "x", "object": "chat.completion"}),
        json_reply({"choices": []}),
        json_reply({"choices": [{"message": "hello"}]}),
        json_reply(completion(None, [{"id": "c1", "type": "function", "function": {"arguments": "{}"}}])),
        json_reply(completion(None, [raw_call("get_weather", "{city: Paris")])),
        json_reply(completion(None, [raw_call("get_weather", "[1, 2]")])),
    ],
    ids=[
        "not-json",
        "no-choices",
        "empty-choices",
        "message-not-object",
        "call-without-name",
        "args-not-json",
        "args-not-object",
    ],
)
async def test_malformed_answers_raise_malformed_response(
    server: WireServer, model: OpenAIModel, reply: Reply
):
    server.add(reply)
    with pytest.raises(MalformedResponse) as info:
        await model.request(ASK, [WEATHER])
    assert info.value.retryable


async def test_malformed_snippet_never_contains_the_api_key(server: WireServer, model: OpenAIModel):
    server.add(text_reply(f"upstream echoed Authorization: Bearer {KEY} and api_key={KEY} <truncated", 200))
    with pytest.raises(MalformedResponse) as info:
        await model.request(ASK)
    assert KEY not in str(info.value)
    assert KEY not in info.value.snippet
    assert "[REDACTED]" in str(info.value)


async def test_error_message_never_contains_the_api_key(server: WireServer, model: OpenAIModel):
    server.add(json_reply(error_body(f"Incorrect API key provided: {KEY}"), 401))
    with pytest.raises(AuthError) as info:
        await model.request(ASK)
    assert KEY not in str(info.value)
    assert "API key" in str(info.value)


async def test_a_key_without_a_known_prefix_is_scrubbed_from_errors_too(server: WireServer):
    token = "plainlocaltoken0042"
    model = OpenAIModel("m", base_url=server.url, api_key=token)
    server.add(text_reply(f"echo {token} <broken"), json_reply(error_body(f"bad request from {token}"), 400))
    with pytest.raises(MalformedResponse) as malformed:
        await model.request(ASK)
    with pytest.raises(BadRequest) as bad:
        await model.request(ASK)
    for err in (malformed.value, bad.value):
        assert token not in str(err)
        assert "[REDACTED]" in str(err)
    assert token not in malformed.value.snippet


async def test_truncated_stream_without_done_is_malformed(server: WireServer, model: OpenAIModel):
    server.add(sse_reply(openai_sse([chunk({"content": "Hel"})], done=False)))
    with pytest.raises(MalformedResponse, match=r"\[DONE\]"):
        await collect(model.stream(ASK))


async def test_stream_cut_mid_transfer_is_malformed(server: WireServer, model: OpenAIModel):
    server.add(
        sse_reply(
            ['data: {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}\n\n', 'data: {"cho'], drop=True
        )
    )
    with pytest.raises(MalformedResponse):
        await collect(model.stream(ASK))


async def test_stream_chunk_that_is_not_json_is_malformed(server: WireServer, model: OpenAIModel):
    server.add(sse_reply(["data: {not json}\n\n", "data: [DONE]\n\n"]))
    with pytest.raises(MalformedResponse, match="not JSON"):
        await collect(model.stream(ASK))


async def test_streamed_tool_arguments_that_are_not_json_are_malformed(
    server: WireServer, model: OpenAIModel
):
    events = [
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "c1", "function": {"name": "get_weather", "arguments": "{city"}}
                ]
            }
        ),
        chunk({}, finish="tool_calls"),
    ]
    server.add(sse_reply(openai_sse(events)))
    with pytest.raises(MalformedResponse, match="get_weather"):
        await collect(model.stream(ASK, [WEATHER]))


async def test_error_event_inside_a_stream_is_mapped(server: WireServer, model: OpenAIModel):
    server.add(
        sse_reply(
            openai_sse([{"error": {"message": "context_length_exceeded", "code": "context_length_exceeded"}}])
        )
    )
    with pytest.raises(ContextTooLong):
        await collect(model.stream(ASK))


async def test_server_that_hangs_up_without_answering_is_unavailable(server: WireServer, model: OpenAIModel):
    server.add(Reply(drop=True))
    with pytest.raises(ProviderUnavailable):
        await model.request(ASK)


async def test_connection_refused_is_provider_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    model = OpenAIModel("m", base_url=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(ProviderUnavailable, match="base_url"):
        await model.request(ASK)


async def test_slow_stream_is_a_timeout(server: WireServer, model: OpenAIModel):
    server.add(Reply(chunks=[b"data: [DONE]\n\n"], delay_s=1.5))
    with pytest.raises(Timeout):
        await collect(model.stream(ASK, settings=ModelSettings(timeout_s=0.3)))


# ------------------------------------------------------------------------------------------------
# Configuration
# ------------------------------------------------------------------------------------------------


def test_default_openai_host_without_a_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAIModel("gpt-4o-mini")
    with pytest.raises(ConfigError):
        get_model("openai:gpt-4o-mini")


async def test_local_base_url_from_the_environment_needs_no_key(
    server: WireServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    model = get_model("openai:qwen")
    assert isinstance(model, OpenAIModel)
    server.add(json_reply(completion("hi")))
    assert (await model.request(ASK)).message.content == "hi"
    assert "authorization" not in server.last.headers
    assert server.last.json()["model"] == "qwen"


async def test_key_from_environment_and_extra_headers_are_sent(
    server: WireServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    model = OpenAIModel("m", base_url=server.url, headers={"OpenAI-Organization": "org-1"})
    server.add(json_reply(completion("hi")))
    await model.request(ASK)
    assert server.last.headers["authorization"] == f"Bearer {KEY}"
    assert server.last.headers["openai-organization"] == "org-1"
    assert KEY not in repr(model)


def test_base_url_must_be_http_and_the_model_satisfies_the_protocol():
    with pytest.raises(ConfigError, match="http"):
        OpenAIModel("m", base_url="127.0.0.1:8080/v1")
    assert isinstance(OpenAIModel("m", base_url="http://127.0.0.1:8080/v1/"), Model)
    assert OpenAIModel("m", base_url="http://127.0.0.1:8080/v1/").base_url == "http://127.0.0.1:8080/v1"


# ------------------------------------------------------------------------------------------------
# Integration: llama.cpp's OpenAI-compatible server over the local 0.5B model
# ------------------------------------------------------------------------------------------------

# This wheel's llama.cpp repacks weights for AMX on CPUs that report it, and that path crashes (SIGSEGV
# in ggml_backend_amx_mul_mat) on some virtual machines. Repacking is only a speed-up, so the server
# is started with extra buffer types off; otherwise this is exactly `python -m llama_cpp.server`.
_LAUNCH = """
import runpy, sys
import llama_cpp.llama_cpp as C
_default = C.llama_model_default_params
def _params():
    p = _default()
    p.use_extra_bufts = False
    return p
C.llama_model_default_params = _params
sys.argv[0] = "llama_cpp.server"
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama_cpp is not installed: pip install 'llama-cpp-python[server]' (keel[local,server])")
    from keel.models._weights import resolve_model_path

    gguf = resolve_model_path("small")
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    args = ["--model", str(gguf), "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096"]
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", _LAUNCH, *args], stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_up(proc, base, log)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_up(proc: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(base + "/models", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    pytest.fail(f"llama_cpp.server did not come up in 120 s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def local(llama_server: str) -> OpenAIModel:
    return OpenAIModel("qwen2.5-coder-0.5b", base_url=llama_server, timeout_s=120)


WEATHER_Q = [
    SystemMessage(content="You are a helpful assistant."),
    UserMessage(content="What is the weather in Paris?"),
]
GREEDY = ModelSettings(temperature=0, seed=1)


@pytest.mark.integration
async def test_real_server_named_tool_choice_returns_a_native_tool_call(local: OpenAIModel):
    response = await local.request(
        WEATHER_Q, [WEATHER, TIME], settings=GREEDY.merged(ModelSettings(tool_choice="get_weather"))
    )
    [call] = response.message.tool_calls
    assert call.name == "get_weather"
    assert "paris" in str(call.arguments.get("city", "")).lower()
    assert response.finish_reason == "tool_calls"
    assert response.usage.input_tokens > 50 and response.usage.output_tokens > 0


@pytest.mark.integration
async def test_real_server_streamed_tool_call_deltas_are_assembled(local: OpenAIModel):
    settings = GREEDY.merged(ModelSettings(tool_choice="get_weather"))
    chunks, final = await collect(local.stream(WEATHER_Q, [WEATHER, TIME], settings=settings))
    [call] = final.message.tool_calls
    assert call.name == "get_weather"
    assert "paris" in str(call.arguments.get("city", "")).lower()
    assert chunks == []


@pytest.mark.integration
async def test_real_server_auto_tool_call_written_as_text_is_recognised(
    local: OpenAIModel, llama_server: str
):
    # First show that the server itself answers with text, not tool_calls, so the text path is what is tested.
    raw = local.build_body(WEATHER_Q, [WEATHER, TIME], settings=GREEDY)
    async with httpx.AsyncClient(timeout=120) as client:
        data = (await client.post(llama_server + "/chat/completions", json=raw)).json()
    message = data["choices"][0]["message"]
    assert not message.get("tool_calls")
    assert "get_weather" in message["content"]

    response = await local.request(WEATHER_Q, [WEATHER, TIME], settings=GREEDY)
    [call] = response.message.tool_calls
    assert call.name == "get_weather"
    assert "paris" in str(call.arguments.get("city", "")).lower()
    assert response.finish_reason == "tool_calls"


@pytest.mark.integration
async def test_real_server_plain_streamed_answer(local: OpenAIModel):
    messages = [UserMessage(content="Name three primary colours, comma separated.")]
    chunks, final = await collect(
        local.stream(messages, settings=GREEDY.merged(ModelSettings(max_tokens=30)))
    )
    assert len(chunks) > 1
    assert "".join(chunks) == final.message.content
    assert "red" in final.message.content.lower()
    assert final.message.tool_calls == []


@pytest.mark.integration
async def test_real_server_structured_output_and_context_limit(llama_server: str):
    model = OpenAIModel("qwen", base_url=llama_server, timeout_s=120, structured_output="json_object")
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
        "required": ["city", "country"],
    }
    response = await model.request(
        [UserMessage(content="Name a city and its country.")],
        output_schema=schema,
        settings=GREEDY.merged(ModelSettings(max_tokens=60)),
    )
    assert set(json.loads(response.message.content)) == {"city", "country"}

    with pytest.raises(ContextTooLong):
        await model.request([UserMessage(content="hello " * 5000)], settings=ModelSettings(max_tokens=5))
