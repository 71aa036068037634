"""HTTP plumbing shared by the remote providers: a pooled client, SSE parsing, error mapping and
``HttpModel``, the base class that holds what the providers have in common besides their wire format.

Every failure a provider can meet on the wire leaves this module as a :mod:`keel.errors` type, so
retry, fallback and circuit-breaker policies act on a handful of classes:

====================================  ===========================================
what happened                         raised
====================================  ===========================================
429                                   ``RateLimited`` (``retry_after`` from the header)
500, 502, 503, 529, connection lost   ``ProviderUnavailable``
408, 504, a timeout                   ``Timeout``
401, 403                              ``AuthError``
400 that says the prompt is too long  ``ContextTooLong``
other 4xx                             ``BadRequest``
a body or stream Keel cannot parse    ``MalformedResponse`` (redacted snippet)
====================================  ===========================================

>>> error_for_status("openai", 429, '{"error": {"message": "slow down"}}', {"retry-after": "2"}).retry_after
2.0
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlparse

import httpx

from keel.errors import (
    AuthError,
    BadRequest,
    ConfigError,
    ContextTooLong,
    MalformedResponse,
    ModelError,
    ProviderUnavailable,
    RateLimited,
    Timeout,
    redact,
)
from keel.events import AssistantMessage, ToolCall, Usage
from keel.models._tokens import EstimatedTokenCount
from keel.models.base import ModelProfile, ModelResponse, ModelSettings
from keel.models.prices import with_cost

__all__ = [
    "HttpModel",
    "HttpTransport",
    "SSEEvent",
    "check_base_url",
    "error_for_status",
    "guard_malformed",
    "load_json",
    "parse_retry_after",
]

_CONTEXT_WORDS = (
    "context_length_exceeded",
    "maximum context length",
    "context length",
    "context window",
    "prompt is too long",
    "too many tokens",
    "reduce the length",
    "input is too long",
)
# Anthropic names its errors by type; a streamed error carries no HTTP status, so infer one.
_ERROR_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
    "timeout_error": 504,
}


def check_base_url(provider: str, url: str) -> str:
    """``url`` without a trailing slash, or ``ConfigError`` when it is not an http(s) URL.

    >>> check_base_url("openai", "http://127.0.0.1:8080/v1/")
    'http://127.0.0.1:8080/v1'
    """
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(
            f"base_url for {provider} must be an http(s) URL such as http://127.0.0.1:8080, got {url!r}"
        )
    return url.rstrip("/")


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``Retry-After`` as seconds or an HTTP date.

    >>> parse_retry_after({"retry-after": "1.5"})
    1.5
    >>> parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    0.0
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_detail(body: str) -> tuple[str, str]:
    """The provider's own error message and type/code from an OpenAI- or Anthropic-style body."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip(), ""
    err = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(err, str):
        return err, ""
    if not isinstance(err, dict):
        return body.strip(), ""
    message = err.get("message") or err.get("detail") or body.strip()
    kind = err.get("code") or err.get("type") or ""
    return str(message), str(kind)


def error_for_status(provider: str, status: int, body: str, headers: Mapping[str, str]) -> ModelError:
    """The Keel error for an HTTP error answer (``body`` is the raw response text)."""
    message, kind = _error_detail(body)
    said = redact(f"{message} ({kind})" if kind else message, 300)
    where = f"{provider} answered HTTP {status}: {said}"
    lowered = f"{message} {kind}".lower()
    if status == 429:
        wait = parse_retry_after(headers)
        hint = f"retry after {wait:g} s" if wait is not None else "retry later"
        return RateLimited(
            f"{where}; rate limited, {hint}", retry_after=wait, provider=provider, status=status
        )
    if status in (401, 403):
        return AuthError(
            f"{where}; check the API key and its permissions for this model", provider=provider, status=status
        )
    if status in (408, 504):
        return Timeout(
            f"{where}; the request timed out, retry or raise timeout_s", provider=provider, status=status
        )
    if 400 <= status < 500 and any(w in lowered for w in _CONTEXT_WORDS):
        return ContextTooLong(
            f"{where}; shorten the conversation (summarise or trim history) or use a model with a larger context",
            provider=provider,
            status=status,
        )
    if status == 404:
        return BadRequest(f"{where}; check the model name and base_url", provider=provider, status=status)
    if 400 <= status < 500:
        return BadRequest(
            f"{where}; fix the request, retrying it unchanged will not help", provider=provider, status=status
        )
    if status == 500 and "validation error" in lowered:
        # llama.cpp's server answers 500 when the request body fails its schema: retrying cannot help.
        return BadRequest(
            f"{where}; the server rejected the request body, check the options this server supports",
            provider=provider,
            status=status,
        )
    return ProviderUnavailable(
        f"{where}; the provider is failing or overloaded, retry later or fall back to another model",
        provider=provider,
        status=status,
    )


def error_for_stream_event(provider: str, data: Any, raw: str) -> ModelError:
    """The Keel error for an ``error`` object that arrives inside an SSE stream."""
    err = data.get("error") if isinstance(data, dict) else None
    kind = str(err.get("type") or err.get("code") or "") if isinstance(err, dict) else ""
    status = _ERROR_TYPE_STATUS.get(kind, 500)
    if kind == "context_length_exceeded":
        status = 400
    return error_for_status(provider, status, raw, {})


def error_for_exception(provider: str, exc: BaseException, timeout_s: float | None) -> ModelError:
    """The Keel error for a transport failure (timeout, refused connection, dropped socket)."""
    if isinstance(exc, httpx.TimeoutException | asyncio.TimeoutError | TimeoutError):
        limit = f" after {timeout_s:g} s" if timeout_s else ""
        return Timeout(f"{provider} did not answer{limit}; retry, or raise timeout_s", provider=provider)
    if isinstance(exc, httpx.ConnectError):
        return ProviderUnavailable(
            f"cannot connect to {provider} ({redact(str(exc), 200)}); check base_url and that the server is running",
            provider=provider,
        )
    return ProviderUnavailable(
        f"{provider} connection failed ({type(exc).__name__}: {redact(str(exc), 200)}); retry later",
        provider=provider,
    )


def load_json(provider: str, text: str, what: str = "response") -> Any:
    """Parse ``text`` as JSON or raise ``MalformedResponse`` carrying a redacted snippet."""
    try:
        return json.loads(text)
    except ValueError:
        raise MalformedResponse(
            f"{provider} sent a {what} that is not JSON", snippet=text, provider=provider
        ) from None


@contextmanager
def guard_malformed(provider: str, raw: str | Callable[[], str]) -> Iterator[None]:
    """Turn a ``KeyError``/``TypeError``/… raised while reading a response into ``MalformedResponse``.

    ``raw`` is the response text, or a function that returns it (called only on failure).
    """
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise MalformedResponse(
            f"{provider} sent a response Keel cannot read ({type(exc).__name__}: {exc})",
            snippet=raw if isinstance(raw, str) else raw(),
            provider=provider,
        ) from None


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One server-sent event: its ``event`` name (``message`` when unnamed) and its ``data``."""

    event: str
    data: str


async def iter_sse(lines: AsyncIterator[str]) -> AsyncIterator[SSEEvent]:
    """Parse server-sent events from text lines (the ``text/event-stream`` format)."""
    event = ""
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield SSEEvent(event or "message", "\n".join(data))
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
    if data:
        yield SSEEvent(event or "message", "\n".join(data))


class HttpTransport:
    """One pooled ``httpx.AsyncClient`` per event loop, created on first use, with Keel's errors.

    >>> t = HttpTransport("openai", "http://127.0.0.1:8000/v1", {}, timeout_s=30)
    >>> t.url("/chat/completions")
    'http://127.0.0.1:8000/v1/chat/completions'
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        headers: Mapping[str, str],
        *,
        timeout_s: float = 60.0,
        max_connections: int = 20,
        secrets: Sequence[str] = (),
    ) -> None:
        self.provider = provider
        # Scrubbed from every response text before it can reach an error message, whatever its shape.
        self._secrets = [s for s in secrets if s]
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._headers = dict(headers)
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def scrub(self, text: str) -> str:
        """``text`` with this transport's secrets (the API key) replaced by ``[REDACTED]``."""
        for secret in self._secrets:
            text = text.replace(secret, "[REDACTED]")
        return text

    def url(self, path: str) -> str:
        return self.base_url + path

    def client(self) -> httpx.AsyncClient:
        # A pooled connection belongs to the loop that opened it; sync wrappers run a new loop per
        # call, so a client from a finished loop is dropped rather than reused.
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop or self._client.is_closed:
            self._client = httpx.AsyncClient(
                headers=self._headers, limits=self._limits, timeout=self.timeout_s
            )
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the pooled connections (safe to call twice)."""
        client, self._client = self._client, None
        if client is not None and self._loop is asyncio.get_running_loop():
            await client.aclose()

    async def post_json(
        self, path: str, body: dict[str, Any], timeout_s: float | None = None
    ) -> tuple[Any, str]:
        """POST ``body``; return the parsed JSON answer and its raw text, or raise a Keel error."""
        limit = timeout_s or self.timeout_s
        try:
            async with asyncio.timeout(limit):
                resp = await self.client().post(self.url(path), json=body, timeout=limit)
        except (httpx.HTTPError, TimeoutError) as exc:
            raise error_for_exception(self.provider, exc, limit) from None
        text = self.scrub(resp.text)
        if not 200 <= resp.status_code < 300:
            raise error_for_status(self.provider, resp.status_code, text, resp.headers)
        return load_json(self.provider, text), text

    async def post_sse(
        self, path: str, body: dict[str, Any], timeout_s: float | None = None
    ) -> AsyncIterator[SSEEvent]:
        """POST ``body`` and yield the server-sent events of the answer, or raise a Keel error.

        ``timeout_s`` bounds each wait for bytes, so a long answer that keeps streaming is not cut.
        """
        limit = timeout_s or self.timeout_s
        answered = False
        try:
            async with self.client().stream("POST", self.url(path), json=body, timeout=limit) as resp:
                if not 200 <= resp.status_code < 300:
                    text = self.scrub((await resp.aread()).decode("utf-8", "replace"))
                    raise error_for_status(self.provider, resp.status_code, text, resp.headers)
                answered = True
                async for event in iter_sse(resp.aiter_lines()):
                    yield SSEEvent(event.event, self.scrub(event.data)) if self._secrets else event
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise error_for_exception(self.provider, exc, limit) from None
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            if not answered:
                raise error_for_exception(self.provider, exc, limit) from None
            # The server hung up mid-answer: what arrived is a truncated stream.
            raise MalformedResponse(
                f"{self.provider} closed the stream before it was complete; retry",
                snippet=str(exc),
                provider=self.provider,
            ) from None
        except httpx.HTTPError as exc:
            raise error_for_exception(self.provider, exc, limit) from None


class HttpModel(EstimatedTokenCount):
    """What the remote providers share: names, settings, a pooled ``HttpTransport`` and the answer type.

    A provider sets ``provider``, checks its key and base URL, then calls ``super().__init__``; it
    keeps only its wire format (``build_body``, ``request``, ``stream``).

    >>> class EchoModel(HttpModel):
    ...     provider = "echo"
    >>> EchoModel("small", base_url="http://127.0.0.1:9000", headers={}, profile=ModelProfile())
    EchoModel('small', base_url='http://127.0.0.1:9000')
    """

    provider: ClassVar[str]

    def __init__(
        self,
        name: str,
        *,
        base_url: str,
        headers: Mapping[str, str],
        profile: ModelProfile,
        key: str | None = None,
        timeout_s: float = 60.0,
        max_connections: int = 20,
        settings: ModelSettings | None = None,
    ) -> None:
        self.model_name = name
        self.name = f"{self.provider}:{name}"
        self.base_url = base_url
        self.profile = profile
        self.settings = settings or ModelSettings()
        self._http = HttpTransport(
            self.provider,
            base_url,
            headers,
            timeout_s=timeout_s,
            max_connections=max_connections,
            secrets=[key] if key else [],
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_name!r}, base_url={self.base_url!r})"

    def _timeout(self, settings: ModelSettings | None) -> float | None:
        return self.settings.merged(settings).timeout_s

    def _answer(self, text: str, calls: list[ToolCall], usage: Usage, finish_reason: str) -> ModelResponse:
        """The ``ModelResponse`` for a finished answer, its usage priced for this model."""
        return ModelResponse(
            message=AssistantMessage(content=text, tool_calls=calls),
            usage=with_cost(self.name, usage),
            model=self.name,
            finish_reason=finish_reason,
        )

    async def aclose(self) -> None:
        """Close the pooled HTTP connections."""
        await self._http.aclose()
