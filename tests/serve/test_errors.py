"""Every failure is `{"error": {"code", "message"}}` with a stable code; no stack trace on the wire."""

from __future__ import annotations

import pytest
from serve_helpers import client_for, config, echo_agent, new_key

from keel import Agent
from keel.errors import StoreError
from keel.serve.keys import SQLiteKeyStore
from keel.store import MemoryStore
from keel.testing import ScriptedModel


@pytest.fixture
async def keys():
    store = SQLiteKeyStore(":memory:")
    yield store
    await store.close()


def code(r) -> tuple[int, str]:
    body = r.json()
    assert set(body) == {"error"} and isinstance(body["error"]["message"], str) and body["error"]["message"]
    return r.status_code, body["error"]["code"]


async def test_bodies_over_the_limit_are_413_declared_or_streamed(keys) -> None:
    token = await new_key(keys, "acme")
    async with client_for(config({"echo": echo_agent()}, keys, max_body_bytes=2048), token) as c:
        declared = await c.post("/v1/agents/echo/runs", json={"message": "x" * 5000})

        async def chunks():
            yield b'{"message": "'
            for _ in range(10):
                yield b"y" * 500
            yield b'"}'

        streamed = await c.post(
            "/v1/agents/echo/runs", content=chunks(), headers={"Content-Type": "application/json"}
        )
        fine = await c.post("/v1/agents/echo/runs", json={"message": "x" * 1000})
    assert code(declared) == (413, "body_too_large")
    assert "content-length" not in {k.lower() for k in streamed.request.headers}
    assert code(streamed) == (413, "body_too_large")
    assert fine.status_code == 200


async def test_validation_errors_are_422_with_details(keys) -> None:
    token = await new_key(keys, "acme")
    async with client_for(config({"echo": echo_agent()}, keys, max_message_chars=10), token) as c:
        missing = await c.post("/v1/agents/echo/runs", json={})
        extra = await c.post("/v1/agents/echo/runs", json={"message": "hi", "colour": "red"})
        bad_json = await c.post(
            "/v1/agents/echo/runs", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        bad_session = await c.post("/v1/agents/echo/runs", json={"message": "hi", "session_id": "has space"})
        bad_query = await c.get("/v1/runs", params={"limit": 0})
        too_long = await c.post("/v1/agents/echo/runs", json={"message": "x" * 11})
        chat = await c.post("/v1/chat/completions", json={"model": "agent:echo", "messages": []})
    for r in (missing, extra, bad_json, bad_session, bad_query, chat):
        assert code(r) == (422, "validation_error")
    assert missing.json()["error"]["details"][0]["loc"] == ["body", "message"]
    assert "message" in missing.json()["error"]["message"]
    assert code(too_long) == (422, "message_too_long")


async def test_unexpected_errors_are_500_without_internals(keys) -> None:
    token = await new_key(keys, "acme")
    async with client_for(config({"echo": echo_agent()}, keys), token) as c:

        def boom(name):
            raise RuntimeError("password=hunter2 at /srv/secret/path.py")

        c.app.state.keel.registry.describe = boom
        r = await c.get("/v1/agents")
        wrong_method = await c.put("/v1/agents")
    assert code(r) == (500, "internal_error")
    assert "hunter2" not in r.text and "Traceback" not in r.text and "RuntimeError" not in r.text
    assert "incident" in r.json()["error"]["message"]
    assert code(wrong_method) == (405, "method_not_allowed")


class DownStore(MemoryStore):
    async def get_run(self, run_id):
        raise StoreError("connection refused by db.internal:5432")


async def test_a_store_outage_is_503_and_readyz_says_which_part_failed(keys) -> None:
    token = await new_key(keys, "acme")
    async with client_for(config({"echo": echo_agent()}, keys, store=DownStore()), token) as c:
        r = await c.get("/v1/runs/abc")
        ready = await c.get("/readyz")
    assert code(r) == (503, "store_unavailable") and "db.internal" not in r.text
    assert code(ready) == (503, "not_ready")
    assert ready.json()["error"]["details"]["store"].startswith("StoreError")
    assert ready.json()["error"]["details"]["keys"] == "ok"


async def test_readyz_reports_an_agent_whose_model_cannot_be_built(keys) -> None:
    broken = Agent("local:/nowhere/missing.gguf", name="broken")
    async with client_for(config({"echo": echo_agent(), "broken": broken}, keys)) as c:
        ready = await c.get("/readyz")
        assert (await c.get("/healthz")).json() == {"status": "ok"}
    agents = ready.json()["error"]["details"]["agents"]
    assert agents["echo"] == "ok" and agents["broken"].startswith("ConfigError")


async def test_a_crash_inside_a_step_fails_the_run_without_leaking_the_error(keys) -> None:
    token = await new_key(keys, "acme")
    crashing = Agent(ScriptedModel([ZeroDivisionError("secret internals")]), name="crash")
    async with client_for(config({"crash": crashing}, keys, wait_timeout_s=5), token) as c:
        run = await c.post("/v1/agents/crash/runs", json={"message": "hi"})
        chat = await c.post(
            "/v1/chat/completions",
            json={"model": "agent:crash", "messages": [{"role": "user", "content": "x"}]},
        )
        assert (await c.get("/healthz")).status_code == 200  # the worker survived
    assert run.status_code == 200 and run.json()["status"] == "failed"
    assert run.json()["failure"] == {"reason": "error", "message": "internal error while running a step"}
    assert "secret internals" not in run.text
    assert code(chat) == (502, "run_failed")
