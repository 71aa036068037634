"""Small real HTTP servers on 127.0.0.1 for the RAG tests (a thread each, stopped by the fixture)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[[BaseHTTPRequestHandler], None]


@contextmanager
def serve(routes: dict[str, Handler]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Serve ``routes`` (path → handler) on a free port; yields (base URL, request log)."""
    log: list[dict[str, Any]] = []

    class _H(BaseHTTPRequestHandler):
        def _dispatch(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            self.body = body  # type: ignore[attr-defined]
            log.append(
                {"path": self.path, "method": self.command, "headers": dict(self.headers), "body": body}
            )
            handler = routes.get(self.path.split("?")[0])
            if handler is None:
                self.send_response(404)
                self.send_header("content-length", "9")
                self.end_headers()
                self.wfile.write(b"not found")
                return
            handler(self)

        do_GET = _dispatch
        do_POST = _dispatch

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def reply(
    h: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str = "text/plain",
    headers: dict[str, str] | None = None,
    length: bool = True,
) -> None:
    h.send_response(status)
    h.send_header("content-type", content_type)
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    if length:
        h.send_header("content-length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def fake_vector(text: str, dim: int) -> list[float]:
    """A deterministic vector for a text, so the server's answers can be checked."""
    digest = hashlib.sha256(text.encode()).digest()
    return [((digest[i % 32] + i) % 17) / 17.0 + 0.01 for i in range(dim)]


def embeddings_handler(dim: int, *, shuffle: bool = True) -> Handler:
    """An OpenAI-compatible /v1/embeddings endpoint that answers in reverse order (index says where)."""

    def handle(h: BaseHTTPRequestHandler) -> None:
        req = json.loads(h.body)  # type: ignore[attr-defined]
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(t, dim)}
            for i, t in enumerate(req["input"])
        ]
        if shuffle:
            data.reverse()
        body = json.dumps({"object": "list", "model": req["model"], "data": data}).encode()
        reply(h, 200, body, "application/json")

    return handle
