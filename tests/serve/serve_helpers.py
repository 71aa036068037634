"""Helpers for the serve tests: scripted agents, an app with its lifespan, a live uvicorn server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import httpx

from keel import Agent, tool
from keel.events import AssistantMessage, Message, ToolMessage, Usage, UserMessage
from keel.models.base import ModelProfile, ModelResponse, ModelSettings, TextChunk, ToolSpec
from keel.serve import ServeConfig, create_app
from keel.serve.keys import SCOPES, SQLiteKeyStore
from keel.store import MemoryStore
from keel.testing import ScriptedModel, call
from uvicorn_server import serve_app

ALL = list(SCOPES)


def last_user(messages: Sequence[Message]) -> str:
    return next(m.content for m in reversed(messages) if isinstance(m, UserMessage))


def echo_agent(**kw: Any) -> Agent:
    """Answers ``echo: <message> (<n> user messages seen)``: shows whether history reached the model."""

    def answer(messages, tools):
        n = sum(isinstance(m, UserMessage) for m in messages)
        return f"echo: {last_user(messages)} ({n} user messages seen)"

    return Agent(ScriptedModel(answer), name="echo", **kw)


def adder_agent() -> Agent:
    @tool
    async def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    def script(messages, tools):
        last = messages[-1]
        return f"sum is {last.content}" if isinstance(last, ToolMessage) else call("add", a=2, b=3)

    return Agent(ScriptedModel(script), tools=[add], name="adder")


def approval_agent(log: list[str] | None = None) -> Agent:
    done = log if log is not None else []

    @tool(requires_approval=True, side_effects=True)
    async def refund(order_id: str) -> str:
        """Refund an order."""
        done.append(order_id)
        return f"refunded {order_id}"

    def script(messages, tools):
        last = messages[-1]
        if isinstance(last, ToolMessage):
            return f"outcome: {last.content}"
        return call("refund", order_id="A-1")

    return Agent(ScriptedModel(script), tools=[refund], name="refunder")


def slow_agent(delay_s: float = 5.0) -> Agent:
    return Agent(ScriptedModel(lambda m, t: "slow answer", delay_s=delay_s), name="slow")


class TickingModel:
    """Streams ``words`` one chunk every ``gap_s`` seconds: proves tokens arrive before the end."""

    profile = ModelProfile(native_tools=True, grammar=False, context_window=4096)
    name = "ticking"

    def __init__(self, words: Sequence[str], gap_s: float = 0.2) -> None:
        self.words = list(words)
        self.gap_s = gap_s

    def _response(self) -> ModelResponse:
        usage = Usage(input_tokens=5, output_tokens=len(self.words), requests=1)
        return ModelResponse(
            message=AssistantMessage(content="".join(self.words)), usage=usage, model=self.name
        )

    async def request(self, messages, tools=(), output_schema=None, settings: ModelSettings | None = None):
        await asyncio.sleep(self.gap_s * len(self.words))
        return self._response()

    async def stream(self, messages, tools: Sequence[ToolSpec] = (), output_schema=None, settings=None):
        for w in self.words:
            await asyncio.sleep(self.gap_s)
            yield TextChunk(w)
        yield self._response()

    def count_tokens(self, messages) -> int:
        return 5


def config(agents: dict[str, Agent], keys: Any = None, **kw: Any) -> ServeConfig:
    kw.setdefault("store", MemoryStore())
    return ServeConfig(agents=agents, keys=keys if keys is not None else ":memory:", entry_points=False, **kw)


@contextlib.asynccontextmanager
async def client_for(cfg: ServeConfig, token: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client (httpx ASGI transport) with the app's lifespan running."""
    app = create_app(cfg)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://keel.test", headers=headers) as c:
            c.app = app  # type: ignore[attr-defined]
            yield c


async def new_key(keys: SQLiteKeyStore, tenant: str, scopes: Sequence[str] = ALL) -> str:
    return (await keys.create(tenant, scopes))[1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def live_server(cfg: ServeConfig) -> contextlib.AbstractContextManager[str]:
    """Serve ``create_app(cfg)`` with uvicorn on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    return serve_app(create_app(cfg))


def parse_sse(text: str) -> list[dict[str, Any]]:
    """SSE text -> [{"event", "id", "data"}] (comments dropped, data JSON-decoded when it is JSON)."""
    out = []
    for block in text.split("\n\n"):
        item: dict[str, Any] = {}
        for line in block.splitlines():
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(": ")
            item[field] = value
        if "data" in item:
            with contextlib.suppress(json.JSONDecodeError):
                item["data"] = json.loads(item["data"])
            out.append(item)
    return out


def sse_items(response: httpx.Response) -> Iterator[tuple[float, dict[str, Any]]]:
    """(arrival time, SSE message) as messages arrive on a streaming response."""
    block: list[str] = []
    for line in response.iter_lines():
        if line:
            block.append(line)
            continue
        for item in parse_sse("\n".join(block) + "\n\n"):
            yield time.monotonic(), item
        block = []
