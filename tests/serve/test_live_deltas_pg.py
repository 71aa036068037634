"""Production mode end to end: a real ``keel worker`` process on a real PostgreSQL runs every step,
the API (uvicorn on 127.0.0.1) runs none, and its SSE streams still carry the model's tokens live,
relayed by the worker over LISTEN/NOTIFY (``keel.runtime.bus.PgBus``).

The worker imports ``build_agent`` from this module (``--agents test_live_deltas_pg:build_agent``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serve_helpers import TickingModel, client_for, live_server, parse_sse, sse_items

from keel import Agent
from keel.serve import ServeConfig
from keel.testing import ScriptedModel
from pg import new_database, postgres_url  # noqa: F401

pytestmark = pytest.mark.integration
pytest.importorskip("procrastinate", reason="install the distributed extra: pip install 'keel[distributed]'")

HERE = Path(__file__).parent
WORDS = ["Live ", "tokens ", "from ", "a ", "worker ", "process ", "on ", "another ", "machine."]
GAP_S = 0.15


def build_agent(store: Any = None) -> Agent:
    """The agent on both sides: the API records runs with it, the worker runs them."""
    return Agent(TickingModel(WORDS, gap_s=GAP_S), name="ticker", store=store)


def build_fast_agent(store: Any = None) -> Agent:
    """Streams its whole answer at once: tokens and message are persisted within microseconds."""
    return Agent(
        ScriptedModel(lambda messages, tools: f"fast answer to {messages[-1].content} " * 8),
        name="fast",
        store=store,
    )


@pytest.fixture(scope="module")
def database(postgres_url) -> str:
    return new_database(postgres_url, "live")


def api_config(url: str) -> ServeConfig:
    return ServeConfig(
        agents={"ticker": build_agent(), "fast": build_fast_agent()},
        store=url,
        keys=":memory:",
        mode="production",
        queue_factory=url,
        entry_points=False,
        auth=False,
        wait_timeout_s=30,
    )


@pytest.fixture(scope="module")
def production(database, tmp_path_factory) -> Iterator[str]:
    """One ``keel worker`` process on the database, and the API in production mode on uvicorn."""
    url = database
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "keel.cli", "worker", "--agents", "test_live_deltas_pg:build_agent,test_live_deltas_pg:build_fast_agent",
           "--store", url, "--concurrency", "4", "--lease", "5", "--name", "live-w1"]  # fmt: skip
    with log_path.open("ab") as log:
        worker = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with live_server(api_config(url)) as base:
            yield base
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        if worker.returncode != 0:
            print(log_path.read_text())  # shown with the failure
    assert worker.returncode == 0, "the worker did not drain cleanly"


def test_tokens_from_a_worker_process_stream_live_before_the_message(production) -> None:
    seen: list[tuple[float, dict[str, Any]]] = []
    with (
        httpx.Client(base_url=production, timeout=30) as c,
        c.stream("POST", "/v1/agents/ticker/runs", json={"message": "go", "stream": True}) as r,
    ):
        assert r.status_code == 200
        seen = list(sse_items(r))
    names = [i["event"] for _, i in seen]
    assert names[0] == "run_started" and names[-1] == "run_finished", names
    assert {i["data"]["run_id"] for _, i in seen} == {seen[0][1]["data"]["run_id"]}
    deltas = [(t, i["data"]["text"]) for t, i in seen if i["event"] == "text_delta"]
    responded_at, responded = next((t, i) for t, i in seen if i["event"] == "model_responded")
    final = responded["data"]["message"]["content"]
    assert final == "".join(WORDS) == seen[-1][1]["data"]["output"]
    # every token, once, in order, and all of them before the message they make up
    assert "".join(text for _, text in deltas) == final
    assert names.index("model_responded") > max(k for k, n in enumerate(names) if n == "text_delta")
    # live, not flushed at the end: tokens 150 ms apart stay separate and the first came early
    assert len(deltas) >= len(WORDS) - 2
    assert responded_at - deltas[0][0] > GAP_S * (len(WORDS) - 3)
    # the persisted events are all there, once, in order
    assert [int(i["id"]) for _, i in seen if "id" in i] == list(range(len(names) - len(deltas)))


def test_a_follower_that_reconnects_gets_persisted_events_once_and_tokens_from_then_on(production) -> None:
    first: list[dict[str, Any]] = []
    resumed: list[dict[str, Any]] = []
    with httpx.Client(base_url=production, timeout=30) as c:
        with c.stream("POST", "/v1/agents/ticker/runs", json={"message": "go", "stream": True}) as r:
            for _, item in sse_items(r):
                first.append(item)
                if sum(i["event"] == "text_delta" for i in first) == 2:
                    break  # the client drops the connection mid-answer
        run_id = first[0]["data"]["run_id"]
        last_id = max(int(i["id"]) for i in first if "id" in i)
        thread = threading.Thread(target=_follow, args=(production, run_id, last_id, resumed))
        thread.start()
        thread.join(30)
        run = c.get(f"/v1/runs/{run_id}").json()
    assert run["status"] == "finished"
    ids = [int(i["id"]) for i in resumed if "id" in i]
    assert ids == list(range(last_id + 1, last_id + 1 + len(ids))) and ids  # nothing again, nothing lost
    assert resumed[-1]["event"] == "run_finished"
    late = "".join(i["data"]["text"] for i in resumed if i["event"] == "text_delta")
    early = "".join(i["data"]["text"] for i in first if i["event"] == "text_delta")
    # tokens missed while away are not replayed; the persisted message has the whole text
    assert late and run["output"].endswith(late) and len(early) + len(late) <= len(run["output"])
    names = [i["event"] for i in resumed]
    assert names.index("model_responded") > max(k for k, n in enumerate(names) if n == "text_delta")


def _follow(base: str, run_id: str, last_id: int, sink: list[dict[str, Any]]) -> None:
    with (
        httpx.Client(base_url=base, timeout=30) as c,
        c.stream(
            "GET",
            f"/v1/runs/{run_id}/events",
            params={"follow": "true"},
            headers={"Last-Event-ID": str(last_id)},
        ) as r,
    ):
        sink.extend(item for _, item in sse_items(r))


def test_the_openai_stream_carries_the_workers_tokens_once(production) -> None:
    body = {"model": "agent:ticker", "messages": [{"role": "user", "content": "go"}], "stream": True}
    with httpx.Client(base_url=production, timeout=30) as c:
        r = c.post("/v1/chat/completions", json=body)
    chunks = [e["data"] for e in parse_sse(r.text) if isinstance(e["data"], dict)]
    pieces = [ch["choices"][0]["delta"].get("content") for ch in chunks if ch["choices"]]
    pieces = [p for p in pieces if p]
    assert "".join(pieces) == "".join(WORDS)
    assert len(pieces) >= len(WORDS) - 2  # token by token, not the whole answer in one chunk


async def test_tokens_of_instant_answers_still_come_before_their_messages(production, database) -> None:
    # The worker persists the message a moment after publishing the tokens: without the mark the
    # API waits for, its tail would often read the message first and the tokens would be lost.
    async def one(c: Any, n: int) -> list[dict[str, Any]]:
        r = await c.post("/v1/agents/fast/runs", json={"message": f"q{n}", "stream": True})
        return parse_sse(r.text)

    async with client_for(api_config(database)) as c:
        c.app.state.keel.store.poll_s = 0.002  # the tail reads the store all the time: the race is on
        streams = await asyncio.gather(*(one(c, n) for n in range(16)))
    for n, events in enumerate(streams):
        names = [e["event"] for e in events]
        assert names[-1] == "run_finished", names
        final = next(e for e in events if e["event"] == "model_responded")["data"]["message"]["content"]
        assert final == f"fast answer to q{n} " * 8
        assert "".join(e["data"]["text"] for e in events if e["event"] == "text_delta") == final
        assert names.index("model_responded") > max(k for k, x in enumerate(names) if x == "text_delta")
