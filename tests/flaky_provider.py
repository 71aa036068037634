"""Fake model providers for tests: an OpenAI-compatible chat server on 127.0.0.1, and an agent that
fails over between two of them.

``FlakyServer`` fails a chosen share of requests, drawn from a seeded RNG: 429 with Retry-After,
500, or an answer slower than the client's timeout. ``down = True`` answers 503 to everything;
``stop()`` closes the socket (connections are refused) and ``restart()`` listens again on the same
port. Successful answers call the ``add`` tool first, then answer from its result, as one JSON body
or, when the request asks for ``stream``, as server-sent chunks ending in ``[DONE]``.

``build_failover_agent`` is what ``keel worker`` processes load in the outage test
(``--agents flaky_provider:build_failover_agent``): its model is the server at
``KEEL_PRIMARY_URL`` with a ``Fallback`` to ``KEEL_BACKUP_URL`` and a ``CircuitBreaker``. A
breaker's state lives in its process, so every transition is also appended, with the process id, to
``$KEEL_LEDGER_DIR/breakers.jsonl``: the test reads each worker's breaker from there.

    server = FlakyServer(failure_rate=0.3, seed=42).start()
    model = OpenAIModel("primary", base_url=server.base_url, api_key="sk-test-not-a-real-key-1234")
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel import Agent
    from keel.events import Event

__all__ = ["FlakyServer", "add", "breaker_log", "build_failover_agent"]


class FlakyServer:
    def __init__(
        self,
        failure_rate: float = 0.3,
        seed: int = 1,
        slow_s: float = 1.0,
        port: int = 0,
        latency_s: float = 0.0,
    ) -> None:
        self.failure_rate = failure_rate
        self.rng = random.Random(seed)
        self.slow_s = slow_s
        self.latency_s = latency_s  # every answer takes at least this long (a provider's latency)
        self.lock = threading.Lock()
        self.counts = {"ok": 0, "429": 0, "500": 0, "slow": 0}
        self.down = False
        self._port = port
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

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
                self._write(status, "application/json", json.dumps(body).encode(), headers or {})

            def _stream(self, completion: dict[str, Any]) -> None:
                events = [f"data: {json.dumps(c)}\n\n" for c in _chunks(completion)] + ["data: [DONE]\n\n"]
                self._write(200, "text/event-stream", "".join(events).encode(), {})

            def _write(self, status: int, content_type: str, data: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                # a slow answer's client has timed out and left, as the test intends
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
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
                time.sleep(outer.slow_s if kind == "slow" else outer.latency_s)
                if req.get("stream"):
                    self._stream(_completion(req))
                else:
                    self._send(200, _completion(req))

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        self._port = self.port  # a restart listens on the same port: clients keep their base_url
        # a short poll interval: stop() takes effect at once, not up to 0.5 s later
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening: from now on connections are refused (answers in flight still go out)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def restart(self) -> FlakyServer:
        """Listen again on the port of the first ``start()``."""
        self.stop()
        return self.start()


def _completion(req: dict[str, Any]) -> dict[str, Any]:
    """A Chat Completions answer: call ``add(2, 3)``, or answer from the last tool result."""
    tool_msgs = [m for m in req["messages"] if m["role"] == "tool"]
    if tool_msgs:
        message: dict[str, Any] = {"role": "assistant", "content": f"The sum is {tool_msgs[-1]['content']}."}
        reason = "stop"
    else:
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'},
        }
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        reason = "tool_calls"
    return {
        "id": "x",
        "object": "chat.completion",
        "model": req["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": reason}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
    }


def _chunks(completion: dict[str, Any]) -> list[dict[str, Any]]:
    """The same answer as ``stream: true`` chunks: the message as one delta, the finish, the usage."""
    choice = completion["choices"][0]
    delta = {k: v for k, v in choice["message"].items() if v is not None}
    for i, call in enumerate(delta.get("tool_calls", [])):
        call["index"] = i
    return [
        {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]},
        {"choices": [], "usage": completion["usage"]},
    ]


# -- the agent of the worker-process outage test ------------------------------------------------------


async def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def breaker_log(directory: Path) -> list[dict[str, Any]]:
    """The breaker transitions every worker process recorded, in order: ``{pid, breaker, state, ts}``."""
    path = directory / "breakers.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _record_breaker(event: Event) -> None:
    if event.type != "breaker_changed":
        return
    line = {"pid": os.getpid(), "breaker": event.breaker, "state": event.state, "ts": event.ts}
    with (Path(os.environ["KEEL_LEDGER_DIR"]) / "breakers.jsonl").open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # several worker processes append at once
        f.write(json.dumps(line) + "\n")


def build_failover_agent(primary_url: str | None = None, backup_url: str | None = None) -> Agent[Any]:
    """Primary model with a fallback, a breaker and one retry; URLs default to ``KEEL_PRIMARY_URL`` /
    ``KEEL_BACKUP_URL``. ``KEEL_BREAKER_COOLDOWN_S`` sets the breaker's cool-down (default 1 s).
    """
    from keel import Agent, tool
    from keel.models.openai_compat import OpenAIModel
    from keel.policies import CircuitBreaker, Fallback, Retry

    def model(url: str | None, name: str) -> OpenAIModel:
        url = url or os.environ[f"KEEL_{name.upper()}_URL"]
        return OpenAIModel(name, base_url=url, api_key="sk-test-not-a-real-key-1234", timeout_s=2.0)

    cooldown_s = float(os.environ.get("KEEL_BREAKER_COOLDOWN_S") or 1.0)
    breaker = CircuitBreaker(failure_rate=0.5, window=10, min_calls=4, cooldown_s=cooldown_s)
    return Agent(
        model(primary_url, "primary"),
        tools=[tool(add)],
        # Fallback first: the breaker and the retry then apply to each model separately
        policies=[
            Fallback(model(backup_url, "backup")),
            breaker,
            Retry(attempts=2, base_delay_s=0.01),
        ],
        observers=[_record_breaker],
        name="failover",
    )
