"""An OpenAI-compatible chat server on 127.0.0.1 that fails a chosen share of requests.

Failures are drawn from a seeded RNG: 429 with Retry-After, 500, or an answer slower than the
client's timeout. Successful answers call the ``add`` tool first, then answer from its result.
"""

from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FlakyServer:
    def __init__(self, failure_rate: float = 0.3, seed: int = 1, slow_s: float = 1.0, port: int = 0) -> None:
        self.failure_rate = failure_rate
        self.rng = random.Random(seed)
        self.slow_s = slow_s
        self.lock = threading.Lock()
        self.counts = {"ok": 0, "429": 0, "500": 0, "slow": 0}
        self.down = False
        self._port = port
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def _outcome(self) -> str:
        with self.lock:
            r = self.rng.random()
            if r < self.failure_rate / 3:
                kind = "429"
            elif r < 2 * self.failure_rate / 3:
                kind = "500"
            elif r < self.failure_rate:
                kind = "slow"
            else:
                kind = "ok"
            self.counts[kind] += 1
            return kind

    def start(self) -> FlakyServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if outer.down:
                    self._send(503, {"error": {"message": "down for maintenance"}})
                    return
                kind = outer._outcome()
                if kind == "429":
                    self._send(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
                    return
                if kind == "500":
                    self._send(500, {"error": {"message": "boom"}})
                    return
                if kind == "slow":
                    time.sleep(outer.slow_s)
                tool_msgs = [m for m in req["messages"] if m["role"] == "tool"]
                if tool_msgs:
                    message = {"role": "assistant", "content": f"The sum is {tool_msgs[-1]['content']}."}
                    reason = "stop"
                else:
                    args = json.dumps({"a": 2, "b": 3})
                    message = {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "add", "arguments": args},
                            }
                        ],
                    }
                    reason = "tool_calls"
                self._send(
                    200,
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "model": req["model"],
                        "choices": [{"index": 0, "message": message, "finish_reason": reason}],
                        "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
                    },
                )

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
