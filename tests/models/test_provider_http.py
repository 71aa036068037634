"""The shared HTTP helpers: Retry-After parsing, status mapping, the SSE parser and ``HttpModel``.

``HttpModel`` tests run once per remote provider, against a scripted server on 127.0.0.1.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from provider_fakes import ASK
from wire_server import Reply, WireServer

from keel.errors import (
    AuthError,
    BadRequest,
    ContextTooLong,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
    Timeout,
)
from keel.events import AssistantMessage, ToolCall, Usage
from keel.models._http import (
    SSEEvent,
    error_for_status,
    guard_malformed,
    iter_sse,
    load_json,
    parse_retry_after,
)
from keel.models._tokens import estimate_tokens
from keel.models.anthropic import AnthropicModel
from keel.models.base import ModelSettings
from keel.models.openai_compat import OpenAIModel
from keel.models.prices import cost_of


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "-4"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_in_seconds(headers: dict[str, str], expected: float | None):
    assert parse_retry_after(headers) == expected


def test_retry_after_as_an_http_date():
    future = email.utils.formatdate(time.time() + 60, usegmt=True)
    wait = parse_retry_after({"Retry-After": future})
    assert wait is not None and 55 <= wait <= 61
    past = email.utils.formatdate(time.time() - 60, usegmt=True)
    assert parse_retry_after({"Retry-After": past}) == 0.0


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (429, '{"error": {"message": "slow down"}}', RateLimited),
        (
            529,
            '{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}',
            ProviderUnavailable,
        ),
        (502, "<html>Bad gateway</html>", ProviderUnavailable),
        (503, "", ProviderUnavailable),
        (504, "", Timeout),
        (408, "", Timeout),
        (401, '{"error": {"message": "bad key"}}', AuthError),
        (403, '{"error": "forbidden"}', AuthError),
        (400, '{"error": {"message": "x", "code": "context_length_exceeded"}}', ContextTooLong),
        (400, '{"error": {"message": "prompt is too long: 201000 tokens > 200000 maximum"}}', ContextTooLong),
        (
            413,
            '{"error": {"type": "request_too_large", "message": "Request exceeds the maximum size"}}',
            BadRequest,
        ),
        (422, '{"detail": "field required"}', BadRequest),
        (500, '{"error": {"message": "1 validation error: response_format"}}', BadRequest),
        (500, '{"error": {"message": "boom"}}', ProviderUnavailable),
    ],
)
def test_status_mapping(status: int, body: str, expected: type):
    err = error_for_status("p", status, body, {})
    assert type(err) is expected
    assert err.status == status
    assert err.provider == "p"


def test_error_messages_say_what_to_do_and_hide_secrets():
    err = error_for_status("openai", 401, '{"error": {"message": "Incorrect key sk-abcdefgh12345678"}}', {})
    assert "sk-abcdefgh12345678" not in str(err)
    assert "check the API key" in str(err)
    assert "shorten" in str(
        error_for_status("a", 400, '{"error": {"message": "context window exceeded"}}', {})
    )


def test_load_json_and_guard_raise_malformed_with_a_redacted_snippet():
    with pytest.raises(MalformedResponse) as info:
        load_json("p", 'oops {"api_key": "abcd1234efgh5678"}')
    assert "abcd1234efgh5678" not in str(info.value)
    with pytest.raises(MalformedResponse, match="KeyError"), guard_malformed("p", "{}"):
        _ = {}["choices"]
    nothing: Any = None
    with pytest.raises(MalformedResponse, match="TypeError"), guard_malformed("p", lambda: "raw"):
        _ = nothing["x"]


async def lines(*items: str) -> AsyncIterator[str]:
    for item in items:
        yield item


async def test_sse_parser_handles_names_comments_multiline_data_and_a_missing_final_blank():
    events = [
        e
        async for e in iter_sse(
            lines(
                ": keep-alive",
                "event: message_start",
                'data: {"a": 1}',
                "",
                "data: line one",
                "data: line two",
                "",
                "",
                "data:[DONE]",
            )
        )
    ]
    assert events == [
        SSEEvent("message_start", '{"a": 1}'),
        SSEEvent("message", "line one\nline two"),
        SSEEvent("message", "[DONE]"),
    ]


Remote = AnthropicModel | OpenAIModel


@pytest.fixture(params=["anthropic", "openai"])
def remote(request: pytest.FixtureRequest, server: WireServer) -> Remote:
    """Each remote provider, pointed at the scripted server."""
    if request.param == "anthropic":
        return AnthropicModel("claude-3-5-haiku-latest", api_key="sk-ant-test0123456789", base_url=server.url)
    return OpenAIModel("gpt-4o-mini", api_key="sk-test-0123456789abcdef", base_url=server.url + "/v1")


async def test_slow_answer_is_a_timeout(server: WireServer, remote: Remote):
    server.add(Reply(body=b"{}", delay_s=1.5))
    started = time.monotonic()
    with pytest.raises(Timeout):
        await remote.request(ASK, settings=ModelSettings(timeout_s=0.3))
    assert time.monotonic() - started < 1.2


def test_count_tokens_is_the_shared_estimate(remote: Remote):
    messages = [
        *ASK,
        AssistantMessage(content="ok", tool_calls=[ToolCall(id="1", name="f", arguments={"a": 1})]),
    ]
    assert remote.count_tokens(messages) == estimate_tokens(messages) > 0


def test_name_repr_and_priced_answer_come_from_the_shared_base(remote: Remote):
    provider = remote.provider
    assert remote.name == f"{provider}:{remote.model_name}"
    assert repr(remote) == f"{type(remote).__name__}({remote.model_name!r}, base_url={remote.base_url!r})"
    assert "sk-" not in repr(remote)
    usage = Usage(input_tokens=1000, output_tokens=100, requests=1)
    call = ToolCall(id="c1", name="f", arguments={})
    answer = remote._answer("", [call], usage, "tool_calls")
    assert answer.model == remote.name and answer.finish_reason == "tool_calls"
    assert answer.message.tool_calls == [call]
    assert answer.usage.cost_usd == cost_of(remote.name, usage) > 0


async def test_aclose_releases_the_pool_and_a_later_request_opens_a_new_one(
    server: WireServer, remote: Remote
):
    server.add(Reply(body=b"{}", delay_s=0), Reply(body=b"{}", delay_s=0))
    for _ in range(2):
        with pytest.raises(MalformedResponse):
            await remote.request(ASK)
        await remote.aclose()
    assert len(server.requests) == 2
    assert server.requests[0].client_port != server.requests[1].client_port
