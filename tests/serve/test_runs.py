"""Runs, sessions, events, cancellation and approvals over the API (in-process ASGI, auth on)."""

from __future__ import annotations

import asyncio
import time

import pytest
from serve_helpers import (
    adder_agent,
    approval_agent,
    client_for,
    config,
    echo_agent,
    new_key,
    parse_sse,
    slow_agent,
)

from keel import Agent
from keel.errors import ConfigError
from keel.runtime import InProcessQueue, Worker
from keel.serve import ServeConfig
from keel.serve.keys import SQLiteKeyStore
from keel.store import MemoryStore, SQLiteStore
from keel.testing import ScriptedModel


@pytest.fixture
async def keys():
    store = SQLiteKeyStore(":memory:")
    yield store
    await store.close()


async def test_run_answers_with_output_tool_calls_and_usage(keys) -> None:
    token = await new_key(keys, "acme")
    async with client_for(config({"adder": adder_agent()}, keys), token) as c:
        r = await c.post("/v1/agents/adder/runs", json={"message": "what is 2+3?"})
        assert r.status_code == 200
        body = r.json()
        assert (body["status"], body["output"], body["agent"]) == ("finished", "sum is 5", "adder")
        assert body["tool_calls"] == [
            {"id": body["tool_calls"][0]["id"], "name": "add", "arguments": {"a": 2, "b": 3},
             "result": 5, "is_error": False, "pending_approval": False}
        ]  # fmt: skip
        assert body["usage"]["requests"] == 2 and body["usage"]["input_tokens"] > 0
        again = await c.get(f"/v1/runs/{body['run_id']}")
        assert again.json() == body
        listed = await c.get("/v1/runs", params={"status": "finished"})
        assert [r["run_id"] for r in listed.json()["runs"]] == [body["run_id"]]


async def test_the_run_is_tagged_with_the_callers_tenant_whatever_the_metadata_says(keys) -> None:
    store = MemoryStore()
    token = await new_key(keys, "acme")
    async with client_for(config({"echo": echo_agent()}, keys, store=store), token) as c:
        r = await c.post(
            "/v1/agents/echo/runs", json={"message": "hi", "metadata": {"tenant": "evil", "k": 1}}
        )
        rec = await store.get_run(r.json()["run_id"])
        started = (await store.events(rec.run_id))[0]
    assert rec.tenant == "acme"
    assert started.metadata["tenant"] == "acme" and started.metadata["k"] == 1


async def test_sessions_carry_history_and_list_runs_and_messages(keys) -> None:
    token = await new_key(keys, "acme")
    async with client_for(config({"echo": echo_agent()}, keys), token) as c:
        first = await c.post("/v1/agents/echo/runs", json={"message": "one", "session_id": "s-1"})
        second = await c.post("/v1/agents/echo/runs", json={"message": "two", "session_id": "s-1"})
        other = await c.post("/v1/agents/echo/runs", json={"message": "three"})
        assert first.json()["output"] == "echo: one (1 user messages seen)"
        assert second.json()["output"] == "echo: two (2 user messages seen)"
        assert other.json()["output"] == "echo: three (1 user messages seen)"
        assert second.json()["session_id"] == "s-1"
        s = (await c.get("/v1/sessions/s-1")).json()
        assert [r["run_id"] for r in s["runs"]] == [first.json()["run_id"], second.json()["run_id"]]
        assert [(m["role"], m["content"]) for m in s["messages"]] == [
            ("user", "one"), ("assistant", "echo: one (1 user messages seen)"),
            ("user", "two"), ("assistant", "echo: two (2 user messages seen)"),
        ]  # fmt: skip
        missing = await c.get("/v1/sessions/nope")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "session_not_found"


async def test_events_are_paged_in_order(keys) -> None:
    token = await new_key(keys, "acme")
    async with client_for(config({"adder": adder_agent()}, keys), token) as c:
        run_id = (await c.post("/v1/agents/adder/runs", json={"message": "add"})).json()["run_id"]
        everything = (await c.get(f"/v1/runs/{run_id}/events", params={"limit": 1000})).json()
        assert everything["next_after"] is None
        seqs, after = [], -1
        while after is not None:
            page = (await c.get(f"/v1/runs/{run_id}/events", params={"after": after, "limit": 2})).json()
            assert len(page["events"]) <= 2
            seqs += [e["seq"] for e in page["events"]]
            after = page["next_after"]
    types = [e["type"] for e in everything["events"]]
    assert seqs == list(range(len(types)))
    assert types[0] == "run_started" and types[-1] == "run_finished" and "tool_call_finished" in types


async def test_stream_sends_each_event_named_by_type_with_text_deltas(keys) -> None:
    token = await new_key(keys, "acme")
    async with client_for(config({"echo": echo_agent()}, keys), token) as c:
        r = await c.post("/v1/agents/echo/runs", json={"message": "stream me please", "stream": True})
    assert r.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(r.text)
    assert all(e["event"] == e["data"]["type"] for e in events)
    names = [e["event"] for e in events]
    assert names[0] == "run_started" and names[-1] == "run_finished"
    deltas = "".join(e["data"]["text"] for e in events if e["event"] == "text_delta")
    assert deltas == events[-1]["data"]["output"] == "echo: stream me please (1 user messages seen)"
    # deltas precede the persisted response of their step
    assert names.index("text_delta") < names.index("model_responded")
    assert [int(e["id"]) for e in events if "id" in e] == list(range(len(names) - names.count("text_delta")))


async def test_follow_replays_a_finished_run_and_resumes_after_last_event_id(keys) -> None:
    token = await new_key(keys, "acme")
    async with client_for(config({"adder": adder_agent()}, keys), token) as c:
        run_id = (await c.post("/v1/agents/adder/runs", json={"message": "add"})).json()["run_id"]
        full = parse_sse((await c.get(f"/v1/runs/{run_id}/events", params={"follow": "true"})).text)
        resumed = parse_sse(
            (await c.get(f"/v1/runs/{run_id}/events?follow=true", headers={"Last-Event-ID": "2"})).text
        )
    assert [e["event"] for e in full][-1] == "run_finished"
    assert [int(e["id"]) for e in resumed] == [int(e["id"]) for e in full][3:]


async def test_cancel_stops_the_step_in_flight_and_records_run_failed(keys) -> None:
    token = await new_key(keys, "acme")
    cfg = config({"slow": slow_agent(5.0), "echo": echo_agent()}, keys, wait_timeout_s=0.3)
    async with client_for(cfg, token) as c:
        started = await c.post("/v1/agents/slow/runs", json={"message": "take your time"})
        assert started.status_code == 202 and started.json()["status"] == "running"
        run_id = started.json()["run_id"]
        t0 = time.monotonic()
        cancelled = await c.post(f"/v1/runs/{run_id}/cancel")
        assert time.monotonic() - t0 < 3  # the 5 s model call did not run to its end
        assert cancelled.json()["status"] == "failed" and cancelled.json()["failure"]["reason"] == "cancelled"
        events = (await c.get(f"/v1/runs/{run_id}/events")).json()["events"]
        assert [e["type"] for e in events].count("run_failed") == 1
        assert "model_responded" not in [e["type"] for e in events]
        done = (await c.post("/v1/agents/echo/runs", json={"message": "x"})).json()
        unchanged = await c.post(f"/v1/runs/{done['run_id']}/cancel")
        assert unchanged.json()["status"] == "finished" and unchanged.json()["output"] == done["output"]


async def _wait_status(c, run_id: str, status: str) -> dict:
    for _ in range(200):
        body = (await c.get(f"/v1/runs/{run_id}")).json()
        if body["status"] == status:
            return body
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} never became {status}: {body}")


async def test_approval_is_listed_then_approved_and_a_worker_resumes_the_run(keys) -> None:
    refunds: list[str] = []
    token = await new_key(keys, "acme")
    async with client_for(config({"refunder": approval_agent(refunds)}, keys), token) as c:
        run = (await c.post("/v1/agents/refunder/runs", json={"message": "refund A-1"})).json()
        assert run["status"] == "suspended" and refunds == []
        call_id = run["pending_approvals"][0]["call_id"]
        pending = (await c.get("/v1/approvals")).json()["approvals"]
        assert pending == [
            {"run_id": run["run_id"], "agent": "refunder", "session_id": None,
             "pending": [{"call_id": call_id, "name": "refund", "arguments": {"order_id": "A-1"},
                          "reason": "tool requires approval"}]}
        ]  # fmt: skip
        wrong = await c.post(f"/v1/approvals/{run['run_id']}", json={"approve": True, "call_id": "nope"})
        assert wrong.status_code == 409 and wrong.json()["error"]["code"] == "no_pending_approval"
        decided = await c.post(f"/v1/approvals/{run['run_id']}", json={"approve": True, "reason": "ok"})
        assert decided.status_code == 200 and decided.json()["status"] == "running"
        done = await _wait_status(c, run["run_id"], "finished")
        assert done["output"] == "outcome: refunded A-1" and refunds == ["A-1"]
        again = await c.post(f"/v1/approvals/{run['run_id']}", json={"approve": True})
        assert again.status_code == 409
        assert (await c.get("/v1/approvals")).json()["approvals"] == []
        events = (await c.get(f"/v1/runs/{run['run_id']}/events")).json()["events"]
        decision = next(e for e in events if e["type"] == "approval_decided")
        assert decision["approved"] is True and decision["reason"] == "ok" and decision["by"]


async def test_denied_approval_reaches_the_model_as_an_error(keys) -> None:
    refunds: list[str] = []
    token = await new_key(keys, "acme")
    async with client_for(config({"refunder": approval_agent(refunds)}, keys), token) as c:
        run = (await c.post("/v1/agents/refunder/runs", json={"message": "refund"})).json()
        await c.post(f"/v1/approvals/{run['run_id']}", json={"approve": False, "reason": "fraud"})
        done = await _wait_status(c, run["run_id"], "finished")
    assert refunds == []
    assert done["tool_calls"][0]["is_error"] and "denied this call: fraud" in done["tool_calls"][0]["result"]


async def test_unknown_agent_run_and_route_are_404_with_codes(keys) -> None:
    token = await new_key(keys, "acme")
    async with client_for(config({"echo": echo_agent()}, keys), token) as c:
        a = await c.post("/v1/agents/ghost/runs", json={"message": "hi"})
        r = await c.get("/v1/runs/ghost")
        x = await c.get("/v1/nothing-here")
    assert (a.status_code, a.json()["error"]["code"]) == (404, "agent_not_found")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "run_not_found")
    assert (x.status_code, x.json()["error"]["code"]) == (404, "not_found")


async def test_production_mode_enqueues_and_never_runs_steps_in_the_api(keys) -> None:
    queue = InProcessQueue()
    store = MemoryStore()
    token = await new_key(keys, "acme")
    cfg = config(
        {"echo": echo_agent()},
        keys,
        store=store,
        mode="production",
        queue_factory=lambda: queue,
        wait_timeout_s=0.3,
    )
    async with client_for(cfg, token) as c:
        r = await c.post("/v1/agents/echo/runs", json={"message": "hi"})
        assert r.status_code == 202 and r.json()["status"] == "running" and len(queue) == 1
        # an external worker (here: the plain keel.runtime.Worker) takes the job from the queue
        worker = Worker(queue, {"echo": echo_agent(store=store)}, concurrency=1, name="remote")
        task = asyncio.create_task(worker.run())
        done = await _wait_status(c, r.json()["run_id"], "finished")
        worker.stop()
        await task
    assert done["output"] == "echo: hi (1 user messages seen)" and worker.steps_done == 1


def test_production_mode_needs_a_queue_and_no_in_process_workers() -> None:
    with pytest.raises(ConfigError, match="needs a run queue"):
        ServeConfig(mode="production")
    with pytest.raises(ConfigError, match="runs no steps"):
        ServeConfig(mode="production", queue_factory=InProcessQueue, workers_in_process=2)


async def test_runs_left_running_by_a_dead_process_are_resumed_at_start(tmp_path, keys) -> None:
    path = tmp_path / "runs.db"
    dead = Agent(ScriptedModel(["recovered"]), store=SQLiteStore(path))
    run_id = await dead.start("hello", metadata={"tenant": "acme", "agent": "echo"})
    token = await new_key(keys, "acme")
    async with client_for(config({"echo": echo_agent()}, keys, store=str(path)), token) as c:
        done = await _wait_status(c, run_id, "finished")
    assert done["output"] == "echo: hello (1 user messages seen)"
