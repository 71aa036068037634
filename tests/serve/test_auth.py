"""API keys, scopes and tenant isolation over the API (auth on, in-process ASGI)."""

from __future__ import annotations

import pytest
from serve_helpers import approval_agent, bearer, client_for, config, echo_agent, new_key

from keel.serve.keys import SQLiteKeyStore
from keel.store import MemoryStore


@pytest.fixture
async def keys():
    store = SQLiteKeyStore(":memory:")
    yield store
    await store.close()


async def test_requests_without_a_valid_key_are_401(keys) -> None:
    good = await new_key(keys, "acme")
    async with client_for(config({"echo": echo_agent()}, keys)) as c:
        missing = await c.get("/v1/agents")
        wrong = await c.get("/v1/agents", headers=bearer(good[:-4] + "AAAA"))
        garbage = await c.get("/v1/agents", headers=bearer("not-a-key"))
        basic = await c.get("/v1/agents", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        ok = await c.get("/v1/agents", headers=bearer(good))
    for r in (missing, wrong, garbage, basic):
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"
    assert ok.status_code == 200 and [a["name"] for a in ok.json()["agents"]] == ["echo"]
    assert ok.json()["agents"][0] == {"name": "echo", "model": "scripted", "pattern": "react", "tools": []}


async def test_a_revoked_key_is_refused_on_its_next_request(keys) -> None:
    record, secret = await keys.create("acme", ["read"])
    async with client_for(config({"echo": echo_agent()}, keys), secret) as c:
        assert (await c.get("/v1/agents")).status_code == 200
        assert await keys.revoke(record.key_id)
        after = await c.get("/v1/agents")
    assert after.status_code == 401


async def test_each_endpoint_needs_its_scope(keys) -> None:
    read_only = await new_key(keys, "acme", ["read"])
    run_only = await new_key(keys, "acme", ["run"])
    async with client_for(config({"echo": echo_agent()}, keys)) as c:
        cases = [
            (read_only, "POST", "/v1/agents/echo/runs", {"message": "hi"}),
            (read_only, "POST", "/v1/chat/completions", {"model": "agent:echo", "messages": [{"role": "user", "content": "x"}]}),
            (run_only, "GET", "/v1/approvals", None),
            (run_only, "POST", "/v1/approvals/r1", {"approve": True}),
            (run_only, "GET", "/v1/runs/r1", None),
            (run_only, "GET", "/v1/keys", None),
            (read_only, "POST", "/v1/keys", {"scopes": ["read"]}),
        ]  # fmt: skip
        for token, method, path, body in cases:
            r = await c.request(method, path, json=body, headers=bearer(token))
            assert (r.status_code, r.json()["error"]["code"]) == (403, "missing_scope"), (method, path)
        allowed = await c.post("/v1/agents/echo/runs", json={"message": "hi"}, headers=bearer(run_only))
        assert allowed.status_code == 200


async def test_admin_keys_manage_their_own_tenant_only(keys) -> None:
    admin = await new_key(keys, "acme", ["admin"])
    foreign, _ = await keys.create("globex", ["read"])
    async with client_for(config({"echo": echo_agent()}, keys), admin) as c:
        made = await c.post("/v1/keys", json={"scopes": ["run", "read"], "name": "ci"})
        assert made.status_code == 201 and made.json()["tenant"] == "acme"
        secret = made.json()["key"]
        listed = (await c.get("/v1/keys")).json()["keys"]
        assert {k["tenant"] for k in listed} == {"acme"} and len(listed) == 2
        assert all("key" not in k and "hash" not in k for k in listed)
        use = await c.post("/v1/agents/echo/runs", json={"message": "hi"}, headers=bearer(secret))
        assert use.status_code == 200
        gone = await c.delete(f"/v1/keys/{made.json()['key_id']}")
        assert gone.status_code == 200 and gone.json()["revoked"] is not None
        refused = await c.get("/v1/runs", headers=bearer(secret))
        assert refused.status_code == 401
        cross = await c.delete(f"/v1/keys/{foreign.key_id}")
        assert (cross.status_code, cross.json()["error"]["code"]) == (404, "key_not_found")
    assert (await keys.verify((await keys.create("globex", ["read"]))[1])) is not None


async def test_with_auth_off_every_caller_is_the_local_tenant(keys) -> None:
    store = MemoryStore()
    async with client_for(config({"echo": echo_agent()}, keys, store=store, auth=False)) as c:
        r = await c.post("/v1/agents/echo/runs", json={"message": "hi"})
        assert r.status_code == 200
    assert (await store.get_run(r.json()["run_id"])).tenant == "default"


async def test_a_foreign_key_gets_404_from_every_endpoint_and_changes_nothing(keys) -> None:
    """Tenant B holds every scope and still sees nothing of tenant A: 404s, never 403s."""
    a_token = await new_key(keys, "tenant-a")
    a_key_id = (await keys.list(tenant="tenant-a"))[0].key_id
    b_token = await new_key(keys, "tenant-b")
    agents = {"echo": echo_agent(), "refunder": approval_agent()}
    async with client_for(config(agents, keys, wait_timeout_s=5)) as c:
        a = bearer(a_token)
        done = (
            await c.post(
                "/v1/agents/echo/runs", json={"message": "secret of A", "session_id": "s"}, headers=a
            )
        ).json()
        held = (await c.post("/v1/agents/refunder/runs", json={"message": "refund"}, headers=a)).json()
        assert (done["status"], held["status"]) == ("finished", "suspended")
        b = bearer(b_token)
        attempts = []
        for run in (done["run_id"], held["run_id"]):
            attempts += [
                ("GET", f"/v1/runs/{run}", None),
                ("GET", f"/v1/runs/{run}/events", None),
                ("GET", f"/v1/runs/{run}/events?follow=true", None),
                ("POST", f"/v1/runs/{run}/cancel", None),
                ("POST", f"/v1/approvals/{run}", {"approve": True}),
            ]
        attempts += [("GET", "/v1/sessions/s", None), ("DELETE", f"/v1/keys/{a_key_id}", None)]
        for method, path, body in attempts:
            r = await c.request(method, path, json=body, headers=b)
            assert r.status_code == 404, (method, path, r.status_code, r.text)
            assert r.json()["error"]["code"].endswith("_not_found")
        assert (await c.get("/v1/approvals", headers=b)).json() == {"approvals": []}
        assert (await c.get("/v1/runs", headers=b)).json() == {"runs": []}
        assert (await c.get("/v1/keys", headers=b)).json()["keys"][0]["tenant"] == "tenant-b"
        # the same session id in tenant B is a different session: A's history never reaches B's run
        mine = (
            await c.post("/v1/agents/echo/runs", json={"message": "hello", "session_id": "s"}, headers=b)
        ).json()
        assert mine["output"] == "echo: hello (1 user messages seen)"
        chat = await c.post(
            "/v1/chat/completions",
            json={"model": "agent:echo", "messages": [{"role": "user", "content": "hey"}]},
            headers={**b, "X-Session-Id": "s"},
        )
        assert chat.json()["choices"][0]["message"]["content"] == "echo: hey (2 user messages seen)"
        # tenant A's objects are untouched
        assert (await c.get(f"/v1/runs/{held['run_id']}", headers=a)).json()["status"] == "suspended"
        assert len((await c.get("/v1/approvals", headers=a)).json()["approvals"]) == 1
        assert (await c.get("/v1/runs", headers=a)).status_code == 200
        session = (await c.get("/v1/sessions/s", headers=a)).json()
        assert [m["content"] for m in session["messages"]][0] == "secret of A" and len(session["runs"]) == 1
