"""A scripted HTTP server on 127.0.0.1 for provider wire tests.

It is a real socket server (``http.server`` in a thread), so the providers' httpx clients, connection
pool, chunked streaming and error paths run exactly as against a remote API. Queue the answers,
call the provider, then assert on the recorded requests::

    with WireServer() as server:
        server.add(json_reply({"choices": [...]}))
        ...
        assert server.requests[0].json()["model"] == "gpt-4o-mini"
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer. ``chunks`` streams the body chunk by chunk (chunked encoding)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] | None = None
    delay_s: float = 0.0
    drop: bool = False
    """With ``chunks``: hang up after them, without the final chunk (a broken stream).
    Without: hang up before sending anything."""


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int

    def json(self) -> Any:
        return json.loads(self.body)


def json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})


def text_reply(text: str, status: int = 200, content_type: str = "text/plain") -> Reply:
    return Reply(status, text.encode(), {"Content-Type": content_type})


def sse_reply(events: Iterable[str], *, drop: bool = False) -> Reply:
    """Stream pre-formatted SSE events, one chunk each."""
    return Reply(
        200, headers={"Content-Type": "text/event-stream"}, chunks=[e.encode() for e in events], drop=drop
    )


def openai_sse(chunks: Iterable[dict[str, Any]], *, done: bool = True) -> list[str]:
    """Chat-completion chunks as SSE ``data:`` events, ending with ``[DONE]`` unless ``done=False``."""
    events = [f"data: {json.dumps(c)}\n\n" for c in chunks]
    return [*events, "data: [DONE]\n\n"] if done else events


def anthropic_sse(events: Iterable[dict[str, Any]]) -> list[str]:
    """Messages API stream events, each named by its ``type``."""
    return [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.owner.requests.append(
            Recorded(self.command, self.path, headers, body, self.client_address[1])
        )
        reply = self.server.owner.next_reply()
        try:
            if reply.delay_s:
                time.sleep(reply.delay_s)
            if reply.drop and reply.chunks is None:
                self._hang_up()
                return
            self.send_response(reply.status)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            if reply.chunks is None:
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in reply.chunks:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            if reply.drop:
                self._hang_up()
                return
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout test)

    def _hang_up(self) -> None:
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: WireServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-answer is part of the tests


class WireServer:
    """A real HTTP server on a free 127.0.0.1 port that answers from a queue of ``Reply``s."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def next_reply(self) -> Reply:
        with self._lock:
            if self._replies:
                return self._replies.popleft()
        return json_reply({"error": {"message": "wire server: no reply scripted"}}, status=599)

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    def __enter__(self) -> WireServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
