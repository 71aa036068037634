"""The API on a real uvicorn server on 127.0.0.1: live SSE, cancellation mid-stream, the `openai`
client library against the chat-completions face, and `keel serve` as a real subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest
from serve_helpers import (
    TickingModel,
    approval_agent,
    bearer,
    config,
    echo_agent,
    live_server,
    sse_items,
)

from keel import Agent
from keel.serve.keys import SQLiteKeyStore

pytestmark = pytest.mark.integration


@pytest.fixture
def keys():
    store = SQLiteKeyStore(":memory:")
    yield store
    asyncio.run(store.close())


def make_key(keys: SQLiteKeyStore, tenant: str = "acme", scopes=("run", "read", "approve", "admin")) -> str:
    return asyncio.run(keys.create(tenant, scopes))[1]


def test_sse_delivers_tokens_while_the_run_is_still_going(keys) -> None:
    token = make_key(keys)
    ticking = Agent(TickingModel(["alpha ", "beta ", "gamma ", "delta ", "omega"], gap_s=0.25), name="tick")
    with (
        live_server(config({"tick": ticking}, keys)) as url,
        httpx.Client(base_url=url, headers=bearer(token)) as c,
    ):
        seen: list[tuple[float, dict]] = []
        with c.stream("POST", "/v1/agents/tick/runs", json={"message": "go", "stream": True}) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            for arrived, item in sse_items(r):
                seen.append((arrived, item))
                if item["event"] == "text_delta" and len(seen) < 4:
                    # a second client follows the same run from its start while it is running
                    follower = threading.Thread(
                        target=_follow, args=(url, token, item["data"]["run_id"], seen)
                    )
                    follower.start()
        follower.join(10)
    names = [i["event"] for _, i in seen if "follower" not in i]
    deltas = [(t, i) for t, i in seen if i["event"] == "text_delta" and "follower" not in i]
    finished = next(t for t, i in seen if i["event"] == "run_finished" and "follower" not in i)
    assert names[0] == "run_started" and names[-1] == "run_finished"
    assert [i["data"]["text"] for _, i in deltas] == ["alpha ", "beta ", "gamma ", "delta ", "omega"]
    assert finished - deltas[0][0] > 0.75  # the first token came well before the end: not buffered
    followed = [i for _, i in seen if i.get("follower")]
    assert followed[0]["event"] == "run_started" and followed[-1]["event"] == "run_finished"


def _follow(url: str, token: str, run_id: str, sink: list) -> None:
    with (
        httpx.Client(base_url=url, headers=bearer(token), timeout=20) as c,
        c.stream("GET", f"/v1/runs/{run_id}/events", params={"follow": "true"}) as r,
    ):
        for arrived, item in sse_items(r):
            item["follower"] = True
            sink.append((arrived, item))


def test_cancel_ends_a_live_stream_with_run_failed(keys) -> None:
    token = make_key(keys)
    slow = Agent(TickingModel(["word "] * 40, gap_s=0.25), name="slow")
    with (
        live_server(config({"slow": slow}, keys)) as url,
        httpx.Client(base_url=url, headers=bearer(token)) as c,
    ):
        events = []
        with c.stream("POST", "/v1/agents/slow/runs", json={"message": "go", "stream": True}) as r:
            for _, item in sse_items(r):
                events.append(item)
                if item["event"] == "text_delta" and sum(e["event"] == "text_delta" for e in events) == 2:
                    cancelled_at = time.monotonic()
                    answer = httpx.post(
                        f"{url}/v1/runs/{item['data']['run_id']}/cancel", headers=bearer(token)
                    )
                    assert answer.json()["failure"]["reason"] == "cancelled"
        ended_at = time.monotonic()
    assert events[-1]["event"] == "run_failed" and events[-1]["data"]["reason"] == "cancelled"
    assert ended_at - cancelled_at < 2.0  # not the 10 s the model would have taken
    assert sum(e["event"] == "text_delta" for e in events) < 10


def test_openai_client_against_the_chat_completions_face(keys) -> None:
    openai = pytest.importorskip("openai")
    token = make_key(keys)
    agents = {"echo": echo_agent(), "refunder": approval_agent()}
    with live_server(config(agents, keys)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=token, max_retries=0)
        done = client.chat.completions.create(
            model="agent:echo", messages=[{"role": "user", "content": "hello there"}]
        )
        assert done.object == "chat.completion" and done.choices[0].finish_reason == "stop"
        assert done.choices[0].message.content == "echo: hello there (1 user messages seen)"
        assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens > 0

        chunks = list(
            client.chat.completions.create(
                model="agent:echo",
                messages=[
                    {"role": "system", "content": "be nice"},
                    {"role": "user", "content": "stream this answer"},
                ],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        assert all(ch.object == "chat.completion.chunk" for ch in chunks)
        pieces = [ch.choices[0].delta.content for ch in chunks if ch.choices and ch.choices[0].delta.content]
        assert len(pieces) > 2 and "".join(pieces) == "echo: stream this answer (1 user messages seen)"
        assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "stop"
        assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0

        # the `user` field keeps a conversation; resent earlier messages are not needed
        for text, seen in [("first", 1), ("second", 2)]:
            reply = client.chat.completions.create(
                model="agent:echo", user="ann", messages=[{"role": "user", "content": text}]
            )
            assert reply.choices[0].message.content == f"echo: {text} ({seen} user messages seen)"
        header = client.chat.completions.create(
            model="echo",
            messages=[{"role": "user", "content": [{"type": "text", "text": "parts"}]}],
            extra_headers={"X-Session-Id": "conv-9"},
        )
        assert header.choices[0].message.content == "echo: parts (1 user messages seen)"
        session = httpx.get(f"{url}/v1/sessions/conv-9", headers=bearer(token)).json()
        assert [m["content"] for m in session["messages"]] == ["parts", header.choices[0].message.content]

        waiting = client.chat.completions.create(
            model="agent:refunder", messages=[{"role": "user", "content": "r"}]
        )
        assert waiting.choices[0].message.content.startswith("[waiting for approval: refund]")
        assert [m.id for m in client.models.list()] == ["agent:echo", "agent:refunder"]
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="agent:ghost", messages=[{"role": "user", "content": "x"}])
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}/v1", api_key="keel_wrong", max_retries=0).models.list()
        with pytest.raises(openai.UnprocessableEntityError):
            client.chat.completions.create(
                model="agent:echo", messages=[{"role": "assistant", "content": "x"}]
            )


AGENTS = """
from keel import Agent
from keel.testing import ScriptedModel

def build():
    return Agent(ScriptedModel(lambda messages, tools: "served: " + messages[-1].content))
"""


def _keel(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    keel = shutil.which("keel", path=str(Path(sys.executable).parent)) or "keel"
    return subprocess.run([keel, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_keel_serve_subprocess_with_keel_toml_and_keys_cli(tmp_path) -> None:
    (tmp_path / "served_agents.py").write_text(AGENTS)
    (tmp_path / "keel.toml").write_text(
        textwrap.dedent("""
        [serve]
        store = ".keel/runs.db"
        auth = true
        [agents.hello]
        target = "served_agents:build"
        """)
    )
    made = _keel("keys", "create", "--tenant", "acme", "--scopes", "run,read", "--json", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    assert (tmp_path / ".keel" / "keys.db").exists()
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    keel = shutil.which("keel", path=str(Path(sys.executable).parent)) or "keel"
    server = subprocess.Popen(
        [keel, "serve", "--port", str(port), "--workers-in-process", "2"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        assert httpx.get(f"{base}/readyz").json()["checks"]["agents"] == {"hello": "ok"}
        assert httpx.get(f"{base}/v1/agents").status_code == 401
        run = httpx.post(f"{base}/v1/agents/hello/runs", json={"message": "hi"}, headers=bearer(key["key"]))
        assert run.status_code == 200 and run.json()["output"] == "served: hi"
        spec = httpx.get(f"{base}/openapi.json").json()
        assert "/v1/chat/completions" in spec["paths"] and spec["components"]["securitySchemes"]
        assert _keel("keys", "revoke", key["key_id"], cwd=tmp_path).returncode == 0
        assert httpx.get(f"{base}/v1/agents", headers=bearer(key["key"])).status_code == 401
        listed = _keel("keys", "list", "--json", cwd=tmp_path)
        assert json.loads(listed.stdout)[0]["revoked"] is not None
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=20)
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught
    assert server.returncode in (0, -15) and "Application shutdown complete" in out, out
    assert key["key"] not in out  # the secret never reaches the server's logs
