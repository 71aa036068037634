"""HTTP connector: let a model call one HTTP API, and nothing else on the network.

Every hop is checked before it is sent: the scheme (http/https), the host against an allowlist
(the first request and every redirect, which Keel follows itself), and the method. Response
bodies are read as a stream and cut off at ``max_response_bytes`` with a marker, so a 1 GB
answer costs at most the cap in memory. One deadline covers the whole exchange, redirects and
slow bodies included. Headers you configure (API keys) go only to the base URL's origin and never
appear in an error message.

What this does not do: it checks host *names*, not the addresses they resolve to. Keep internal
names out of the allowlist; DNS that points an allowed name at an internal address is not caught.

>>> weather = http_tool("weather", "https://api.weather.example/v1/", allowed_hosts=["api.weather.example"])
>>> await weather.invoke({"path": "forecast", "query": {"city": "Oslo"}})    # doctest: +SKIP
{'status': 200, 'url': 'https://api.weather.example/v1/forecast', 'content_type': 'application/json', ...}
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import httpx
from pydantic import BaseModel

from keel.errors import ConfigError, ToolError, redact
from keel.tools._tool import Tool

__all__ = ["HttpConnector", "HttpRejected", "HttpResponse", "http_tool"]

_REDIRECTS = {301, 302, 303, 307, 308}
_BODYLESS = {"GET", "HEAD", "OPTIONS"}
_QueryValue = str | int | float | bool
_TEXT_TYPES = ("text/", "json", "xml", "javascript", "x-www-form-urlencoded", "csv", "yaml")


class HttpRejected(ToolError):
    """A request was refused before it was sent: host, scheme or method not allowed."""


class HttpResponse(BaseModel):
    """What the model gets back. ``body`` is parsed JSON, text, or ``None`` for binary content.

    ``url`` is the final URL (after redirects) without its query string.
    """

    status: int
    url: str
    content_type: str
    body: Any
    truncated: bool
    bytes_read: int


class _HostRule:
    """One allowlist entry: ``api.example.com``, ``api.example.com:8443`` or ``*.example.com``."""

    def __init__(self, entry: str) -> None:
        text = entry.strip().lower().rstrip(".")
        if "://" in text or "/" in text or not text:
            raise ConfigError(f"allowed_hosts entry {entry!r} must be a host name, like 'api.example.com'")
        self.port: int | None = None
        if text.startswith("["):  # [::1]:8080
            host, _, rest = text[1:].partition("]")
            self.port = int(rest[1:]) if rest.startswith(":") else None
        elif text.count(":") == 1:
            host, port = text.split(":")
            self.port = int(port)
        else:
            host = text
        self.wildcard = host.startswith("*.")
        self.host = host[2:] if self.wildcard else host

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and port != self.port:
            return False
        if self.wildcard:
            return host.endswith("." + self.host)
        return host == self.host


class HttpConnector:
    """Guarded HTTP client for one API. ``request`` returns an ``HttpResponse`` or raises ``ToolError``.

    ``allowed_hosts`` entries are host names, optionally with a port (``127.0.0.1:8080``) or a
    leading wildcard (``*.example.com``, subdomains only). ``headers`` (an API key, say) are sent
    only to the origin of ``base_url``, never to another host, even an allowed one.

    >>> api = HttpConnector("https://api.example.com/", allowed_hosts=["api.example.com"])   # doctest: +SKIP
    >>> (await api.request("GET", "users/7")).status                                       # doctest: +SKIP
    200
    """

    def __init__(
        self,
        base_url: str,
        *,
        allowed_hosts: Iterable[str],
        methods: Iterable[str] = ("GET",),
        max_response_bytes: int = 1_000_000,
        timeout_s: float = 10.0,
        headers: Mapping[str, str] | None = None,
        max_redirects: int = 5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = httpx.URL(base_url)
        if self.base_url.scheme not in ("http", "https") or not self.base_url.host:
            raise ConfigError(f"base_url must be an absolute http(s) URL, got {_display(self.base_url)!r}")
        self._rules = [_HostRule(h) for h in allowed_hosts]
        if not self._rules:
            raise ConfigError("allowed_hosts is empty: name at least the host of base_url")
        self.methods = tuple(m.upper() for m in methods)
        if not self.methods:
            raise ConfigError("methods is empty: allow at least one HTTP method, e.g. ('GET',)")
        if max_response_bytes < 1 or timeout_s <= 0 or max_redirects < 0:
            raise ConfigError("max_response_bytes and timeout_s must be positive, max_redirects >= 0")
        self.max_response_bytes = max_response_bytes
        self.timeout_s = timeout_s
        self.max_redirects = max_redirects
        self._headers = dict(headers or {})
        self._secrets = [v for v in self._headers.values() if len(v) >= 4]
        self._transport = transport

    def host_allowed(self, url: httpx.URL | str) -> bool:
        """Whether ``url``'s scheme and host (and port) pass the allowlist."""
        url = httpx.URL(url)
        if url.scheme not in ("http", "https") or not url.host:
            return False
        host = url.host.lower().rstrip(".")
        port = url.port or (443 if url.scheme == "https" else 80)
        return any(rule.matches(host, port) for rule in self._rules)

    async def request(
        self,
        method: str,
        path: str = "",
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """Send one request to ``base_url`` joined with ``path``, following allowed redirects."""
        method = method.upper()
        url = self.base_url.join(path) if path else self.base_url
        if params:
            url = url.copy_merge_params({k: _query_text(v) for k, v in params.items()})
        if json_body is not None and method in _BODYLESS:
            raise HttpRejected(f"{method} requests carry no body: put the values in the query instead")
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._exchange(method, url, json_body, dict(headers or {}))
        except (TimeoutError, httpx.TimeoutException):
            raise ToolError(
                f"{method} {_display(url)} took longer than {self.timeout_s:g}s and was stopped: "
                "try again later or ask for less"
            ) from None
        except httpx.HTTPError as e:
            detail = self._scrub(str(e) or type(e).__name__)
            raise ToolError(f"{method} {_display(url)} failed ({type(e).__name__}: {detail})") from None

    async def _exchange(self, method: str, url: httpx.URL, body: Any, extra: dict[str, str]) -> HttpResponse:
        timeout = httpx.Timeout(self.timeout_s)
        async with httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, trust_env=False, transport=self._transport
        ) as client:
            for _hop in range(self.max_redirects + 1):
                self._check(method, url)
                request = client.build_request(method, url, json=body, headers=self._headers_for(url, extra))
                response = await client.send(request, stream=True)
                try:
                    location = response.headers.get("location")
                    if response.status_code not in _REDIRECTS or not location:
                        return await self._read(response)
                    url = response.url.join(location)
                    method, body = _redirected(response.status_code, method, body)
                finally:
                    await response.aclose()
        raise ToolError(f"more than {self.max_redirects} redirects: the API is misbehaving, try another path")

    def _check(self, method: str, url: httpx.URL) -> None:
        if method not in self.methods:
            raise HttpRejected(f"method {method} is not allowed: use one of {', '.join(self.methods)}")
        if not self.host_allowed(url):
            raise HttpRejected(
                f"{_display(url)} is not an allowed destination: only "
                f"{', '.join(sorted(r.host for r in self._rules))} over http(s) may be called"
            )

    def _headers_for(self, url: httpx.URL, extra: dict[str, str]) -> dict[str, str]:
        same_origin = (url.scheme, url.host, url.port) == (
            self.base_url.scheme,
            self.base_url.host,
            self.base_url.port,
        )
        # Configured headers carry credentials for the base API only; a redirect elsewhere gets none.
        return {**self._headers, **extra} if same_origin else dict(extra)

    async def _read(self, response: httpx.Response) -> HttpResponse:
        cap = self.max_response_bytes
        chunks: list[bytes] = []
        size = 0
        truncated = False
        async for chunk in response.aiter_bytes():
            if size + len(chunk) > cap:
                chunks.append(chunk[: cap - size])
                size = cap
                truncated = True
                break  # stop reading: the rest of the body never reaches memory
            chunks.append(chunk)
            size += len(chunk)
        raw = b"".join(chunks)
        content_type = response.headers.get("content-type", "")
        return HttpResponse(
            status=response.status_code,
            url=_display(response.url),
            content_type=content_type,
            body=_decode(raw, content_type, response.encoding, truncated, cap),
            truncated=truncated,
            bytes_read=size,
        )

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[REDACTED]")
        return redact(text, 300)


def _redirected(status: int, method: str, body: Any) -> tuple[str, Any]:
    """The method and body for the next hop, as browsers and httpx do it."""
    if status == 303 and method != "HEAD":
        return "GET", None
    if status in (301, 302) and method == "POST":
        return "GET", None
    return method, body


def _query_text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _display(url: httpx.URL) -> str:
    """A URL safe to show: no user info, no query string (either may hold a secret)."""
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{url.path}"


def _decode(raw: bytes, content_type: str, encoding: str | None, truncated: bool, cap: int) -> Any:
    kind = content_type.split(";")[0].strip().lower()
    if kind and not any(t in kind for t in _TEXT_TYPES):
        return None  # binary: the model cannot use the bytes
    text = raw.decode(encoding or "utf-8", errors="replace")
    if "json" in kind and not truncated:
        try:
            return json.loads(text)
        except ValueError:
            return text
    if truncated:
        return text + f"\n…[truncated: the response is larger than {cap} bytes]"
    return text


def http_tool(
    name: str,
    base_url: str,
    *,
    allowed_hosts: Iterable[str],
    methods: Iterable[str] = ("GET",),
    max_response_bytes: int = 1_000_000,
    timeout_s: float = 10.0,
    headers: Mapping[str, str] | None = None,
    description: str | None = None,
) -> Tool:
    """A tool that calls one HTTP API: the model picks the path, query, method and JSON body.

    >>> github = http_tool(
    ...     "github", "https://api.github.com/", allowed_hosts=["api.github.com"],
    ...     headers={"Authorization": "Bearer <token>"},
    ... )
    >>> github.spec().parameters["required"]
    ['path']
    """
    connector = HttpConnector(
        base_url,
        allowed_hosts=allowed_hosts,
        methods=methods,
        max_response_bytes=max_response_bytes,
        timeout_s=timeout_s,
        headers=headers,
    )
    allowed = connector.methods

    async def call_api(
        path: str, method: str = allowed[0], query: dict[str, _QueryValue] | None = None, body: Any = None
    ) -> dict[str, Any]:
        """Call the API.

        Args:
            path: the path relative to the API's base URL, e.g. "orders/42"
            method: the HTTP method
            query: query-string parameters
            body: a JSON body (only for methods that take one, like POST)
        """
        response = await connector.request(method, path, params=query, json_body=body)
        return response.model_dump()

    # The method's schema is an enum of exactly the allowed methods, so the model cannot pick others.
    call_api.__annotations__ = {
        "path": str,
        "method": Literal[allowed],
        "query": dict[str, _QueryValue] | None,
        "body": Any,
        "return": dict[str, Any],
    }
    if description is None:
        description = (
            f"Call the HTTP API at {_display(connector.base_url)}. `path` is relative to it. "
            f"Methods: {', '.join(allowed)}. Returns status, content_type and body (JSON or text, at "
            f"most {max_response_bytes} bytes; `truncated` is true when there was more)."
        )
    return Tool(
        call_api,
        name=name,
        description=description,
        timeout_s=timeout_s + 5,  # the connector's own deadline fires first, with a clearer message
        side_effects=any(m not in _BODYLESS for m in allowed),
        result_schema=HttpResponse,
    )
