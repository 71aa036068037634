"""The HTTP connector against real HTTP servers on 127.0.0.1, started by the tests."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from keel.errors import ConfigError, ToolError
from keel.tools import ToolValidationError
from keel.tools.http import HttpConnector, HttpRejected, http_tool

SECRET = "Bearer sekret-token-0123456789"
API_KEY = "k-abcdef987654"


class ApiServer:
    """A small real HTTP server; ``log`` records (method, path, headers) of every request it got."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, dict[str, str]]] = []
        self.big_sent = 0
        self.big_done = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _route(self) -> None:
                parts = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(parts.query).items()}
                server.log.append((self.command, parts.path, {k.lower(): v for k, v in self.headers.items()}))
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                handler = getattr(
                    server, "route_" + parts.path.strip("/").replace("/", "_").replace("-", "_"), None
                )
                if handler is None:
                    self._send(404, b'{"error": "not found"}')
                else:
                    handler(self, q, body)

            def _send(
                self,
                status: int,
                data: bytes,
                ctype: str = "application/json",
                extra: dict[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _route

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def paths(self) -> list[str]:
        return [p for _, p, _ in self.log]

    # -- routes ---------------------------------------------------------------------------------

    def route_api_json(self, h: Any, q: dict[str, str], body: bytes) -> None:
        h._send(200, json.dumps({"hello": "world", "n": 3}).encode())

    def route_api_echo(self, h: Any, q: dict[str, str], body: bytes) -> None:
        data = {
            "method": h.command,
            "query": q,
            "auth": h.headers.get("authorization"),
            "key": h.headers.get("x-api-key"),
            "body": json.loads(body) if body else None,
        }
        h._send(200, json.dumps(data).encode())

    def route_api_redirect(self, h: Any, q: dict[str, str], body: bytes) -> None:
        h._send(int(q.get("code", "302")), b"", extra={"Location": q["to"]})

    def route_api_loop(self, h: Any, q: dict[str, str], body: bytes) -> None:
        h._send(302, b"", extra={"Location": "/api/loop"})

    def route_api_big(self, h: Any, q: dict[str, str], body: bytes) -> None:
        total = int(q["n"])
        h.send_response(200)
        h.send_header("Content-Type", q.get("type", "text/plain"))
        h.send_header("Content-Length", str(total))
        h.end_headers()
        chunk = b"x" * 65536
        try:
            while self.big_sent < total:
                n = min(len(chunk), total - self.big_sent)
                h.wfile.write(chunk[:n])
                self.big_sent += n
        except OSError:
            pass  # the client hung up, as it should
        finally:
            self.big_done.set()

    def route_api_slow(self, h: Any, q: dict[str, str], body: bytes) -> None:
        time.sleep(float(q.get("s", "3")))
        with contextlib.suppress(OSError):  # the client may have given up
            h._send(200, b'{"late": true}')

    def route_api_drip(self, h: Any, q: dict[str, str], body: bytes) -> None:
        # Each byte arrives well within a read timeout, but the whole body takes ~6 s.
        h.send_response(200)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", "20")
        h.end_headers()
        try:
            for _ in range(20):
                h.wfile.write(b"x")
                h.wfile.flush()
                time.sleep(0.3)
        except OSError:
            pass

    def route_api_image(self, h: Any, q: dict[str, str], body: bytes) -> None:
        h._send(200, b"\x89PNG\r\n\x1a\n" + bytes(range(256)), ctype="image/png")

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[ApiServer]:
    s = ApiServer()
    yield s
    s.close()


@pytest.fixture
def other_server() -> Iterator[ApiServer]:
    s = ApiServer()
    yield s
    s.close()


def api(server: ApiServer, **kw: Any) -> Any:
    kw.setdefault("allowed_hosts", ["127.0.0.1"])
    return http_tool("shop_api", f"{server.url}/api/", **kw)


pytestmark = pytest.mark.integration


async def test_get_json(server):
    out = await api(server).invoke({"path": "json"})
    assert out["status"] == 200
    assert out["body"] == {"hello": "world", "n": 3}
    assert out["truncated"] is False
    assert out["url"] == f"{server.url}/api/json"
    assert out["content_type"] == "application/json"
    assert server.paths() == ["/api/json"]


async def test_query_and_headers_go_to_the_base_api(server):
    tool = api(server, headers={"Authorization": SECRET, "X-Api-Key": API_KEY})
    out = await tool.invoke({"path": "echo", "query": {"q": "chairs", "page": 2, "exact": True}})
    assert out["body"]["query"] == {"q": "chairs", "page": "2", "exact": "true"}
    assert out["body"]["auth"] == SECRET and out["body"]["key"] == API_KEY


async def test_post_json_body_when_allowed(server):
    tool = api(server, methods=("GET", "POST"))
    out = await tool.invoke({"path": "echo", "method": "POST", "body": {"sku": "A1", "qty": 2}})
    assert out["body"]["method"] == "POST"
    assert out["body"]["body"] == {"sku": "A1", "qty": 2}
    assert tool.side_effects


async def test_error_status_is_returned_not_raised(server):
    out = await api(server).invoke({"path": "missing"})
    assert out["status"] == 404 and out["body"] == {"error": "not found"}


async def test_binary_body_is_not_shown(server):
    out = await api(server).invoke({"path": "image"})
    assert out["body"] is None and out["bytes_read"] == 8 + 256


# -- destinations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "http://localhost:{port}/api/json",  # same machine, but not the allowed name
        "http://127.0.0.1@evil.example/api/json",  # user-info trick: the host is evil.example
        "//evil.example/api/json",  # scheme-relative
        "file:///etc/passwd",
        "https://127.0.0.1.evil.example/",
    ],
)
async def test_disallowed_destination_is_never_contacted(server, path):
    with pytest.raises(HttpRejected, match="not an allowed destination"):
        await api(server).invoke({"path": path.format(port=server.port)})
    assert server.log == []


async def test_redirect_to_disallowed_host_is_refused_before_the_hop(server):
    target = f"http://localhost:{server.port}/api/json"
    with pytest.raises(HttpRejected, match="localhost"):
        await api(server).invoke({"path": "redirect", "query": {"to": target}})
    assert server.paths() == ["/api/redirect"]  # the second hop was never sent


async def test_redirect_to_allowed_host_drops_credentials(server, other_server):
    tool = api(server, headers={"Authorization": SECRET})
    out = await tool.invoke({"path": "redirect", "query": {"to": f"{other_server.url}/api/echo"}})
    assert out["status"] == 200 and out["url"] == f"{other_server.url}/api/echo"
    assert out["body"]["auth"] is None  # credentials stay with the base API's origin
    assert other_server.paths() == ["/api/echo"]
    same = await tool.invoke({"path": "redirect", "query": {"to": "/api/echo"}})
    assert same["body"]["auth"] == SECRET


async def test_port_restricted_allowlist(server, other_server):
    tool = api(server, allowed_hosts=[f"127.0.0.1:{server.port}"])
    assert (await tool.invoke({"path": "json"}))["status"] == 200
    with pytest.raises(HttpRejected):
        await tool.invoke({"path": "redirect", "query": {"to": f"{other_server.url}/api/echo"}})
    assert other_server.log == []


async def test_303_after_post_becomes_get(server):
    tool = api(server, methods=("POST", "GET"))
    out = await tool.invoke({"path": "redirect?code=303&to=/api/echo", "method": "POST", "body": {"a": 1}})
    assert out["body"]["method"] == "GET" and out["body"]["body"] is None


async def test_redirect_loop_stops(server):
    with pytest.raises(ToolError, match="more than 5 redirects"):
        await api(server).invoke({"path": "loop"})
    assert len(server.log) == 6


# -- methods ----------------------------------------------------------------------------------------


async def test_disallowed_method_is_refused(server):
    tool = api(server)  # GET only
    method = tool.spec().parameters["properties"]["method"]
    assert method.get("enum", [method.get("const")]) == ["GET"]
    with pytest.raises(ToolValidationError):
        await tool.invoke({"path": "echo", "method": "DELETE"})
    connector = HttpConnector(f"{server.url}/api/", allowed_hosts=["127.0.0.1"])
    with pytest.raises(HttpRejected, match="method DELETE is not allowed"):
        await connector.request("DELETE", "echo")
    with pytest.raises(HttpRejected, match="no body"):
        await connector.request("GET", "echo", json_body={"a": 1})
    assert server.log == []


async def test_redirect_cannot_switch_to_a_disallowed_method(server):
    tool = api(server, methods=("POST",))
    with pytest.raises(HttpRejected, match="method GET"):
        await tool.invoke({"path": "redirect?code=303&to=/api/echo", "method": "POST", "body": {}})
    assert server.paths() == ["/api/redirect"]


# -- size and time ----------------------------------------------------------------------------------


async def test_oversized_body_is_truncated_while_streaming(server):
    total = 200 * 1024 * 1024
    out = await api(server, max_response_bytes=100_000).invoke({"path": "big", "query": {"n": total}})
    assert out["truncated"] is True and out["bytes_read"] == 100_000
    assert out["body"].startswith("x" * 1000)
    assert out["body"].endswith("[truncated: the response is larger than 100000 bytes]")
    assert server.big_done.wait(10)
    assert server.big_sent < total // 4  # the client hung up; the server never sent the whole body


async def test_oversized_json_is_returned_as_marked_text(server):
    out = await api(server, max_response_bytes=1000).invoke(
        {"path": "big", "query": {"n": 5000, "type": "application/json"}}
    )
    assert out["truncated"] and isinstance(out["body"], str) and "truncated" in out["body"]


async def test_body_exactly_at_the_cap_is_not_truncated(server):
    out = await api(server, max_response_bytes=4096).invoke({"path": "big", "query": {"n": 4096}})
    assert out["truncated"] is False and out["bytes_read"] == 4096 and out["body"] == "x" * 4096


async def test_slow_endpoint_times_out(server):
    start = time.monotonic()
    with pytest.raises(ToolError, match=r"longer than 0.5s"):
        await api(server, timeout_s=0.5).invoke({"path": "slow", "query": {"s": 3}})
    assert time.monotonic() - start < 2


async def test_slow_drip_body_hits_the_total_deadline(server):
    start = time.monotonic()
    with pytest.raises(ToolError, match=r"longer than 1s"):
        await api(server, timeout_s=1).invoke({"path": "drip"})
    assert time.monotonic() - start < 3


# -- secrets ----------------------------------------------------------------------------------------


async def test_secrets_never_appear_in_errors(server):
    tool = api(server, headers={"Authorization": SECRET, "X-Api-Key": API_KEY}, timeout_s=0.5)
    errors: list[BaseException] = []
    for args in (
        {"path": "slow?api_key=q-secret-in-query&s=3"},
        {"path": f"http://localhost:{server.port}/api/json?token=q-secret-in-query"},
    ):
        with pytest.raises(ToolError) as info:
            await tool.invoke(args)
        errors.append(info.value)
    closed = HttpConnector("http://127.0.0.1:9/", allowed_hosts=["127.0.0.1"], headers={"X-Api-Key": API_KEY})
    with pytest.raises(ToolError, match="failed") as info:
        await closed.request("GET", "x?key=q-secret-in-query")
    errors.append(info.value)
    for err in errors:
        text = f"{err} {err!r} {err.__cause__!r} {err.__context__!r}"
        for secret in ("sekret-token", API_KEY, "q-secret-in-query"):
            assert secret not in text


# -- configuration (unit) ---------------------------------------------------------------------------


def test_allowlist_rules():
    c = HttpConnector(
        "https://api.example.com/v1/", allowed_hosts=["api.example.com", "*.cdn.example.com", "10.0.0.5:8443"]
    )
    assert c.host_allowed("https://api.example.com/x")
    assert c.host_allowed("http://API.Example.com./x")
    assert c.host_allowed("https://img.cdn.example.com/a.png")
    assert not c.host_allowed("https://cdn.example.com/a.png")  # wildcard means subdomains only
    assert not c.host_allowed("https://api.example.com.evil.io/")
    assert c.host_allowed("https://10.0.0.5:8443/")
    assert not c.host_allowed("https://10.0.0.5/")
    assert not c.host_allowed("ftp://api.example.com/")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_url": "ftp://x.example/", "allowed_hosts": ["x.example"]},
        {"base_url": "https://x.example/", "allowed_hosts": []},
        {"base_url": "https://x.example/", "allowed_hosts": ["https://x.example/"]},
        {"base_url": "https://x.example/", "allowed_hosts": ["x.example"], "methods": ()},
    ],
)
def test_bad_configuration_is_a_config_error(kwargs):
    with pytest.raises(ConfigError):
        HttpConnector(**kwargs)


def test_tool_spec():
    tool = http_tool(
        "gh", "https://api.github.com/", allowed_hosts=["api.github.com"], methods=["get", "post"]
    )
    params = tool.spec().parameters
    assert params["required"] == ["path"]
    assert params["properties"]["method"]["enum"] == ["GET", "POST"]
    assert "https://api.github.com/" in tool.description


async def test_mock_transport_sees_only_allowed_requests():
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "https://evil.example/steal"})

    c = HttpConnector(
        "https://api.example.com/", allowed_hosts=["api.example.com"], transport=httpx.MockTransport(handle)
    )
    with pytest.raises(HttpRejected):
        await c.request("GET", "start")
    assert seen == ["https://api.example.com/start"]
