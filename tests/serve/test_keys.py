"""API key stores: SQLite (default) and PostgreSQL pass the same checks; secrets are never stored."""

from __future__ import annotations

import pytest

from keel.errors import ConfigError
from keel.serve.keys import PostgresKeyStore, SQLiteKeyStore
from pg import new_database, postgres_url  # noqa: F401  (registers the fixture)


async def check_key_store(keys) -> None:
    record, secret = await keys.create("acme", ["run", "read"], name="ci")
    assert secret.startswith(f"keel_{record.key_id}_") and record.scopes == {"run", "read"}
    found = await keys.verify(secret)
    assert found is not None and (found.key_id, found.tenant, found.name) == (record.key_id, "acme", "ci")
    assert await keys.verify(secret) == found  # the second check takes the cached path
    assert await keys.verify(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert await keys.verify(f"keel_{record.key_id}_" + "x" * 43) is None
    assert await keys.verify("keel_unknownid00_" + "x" * 43) is None
    assert await keys.verify("") is None

    other, other_secret = await keys.create("globex", ["admin"])
    assert [k.key_id for k in await keys.list(tenant="acme")] == [record.key_id]
    assert {k.key_id for k in await keys.list()} == {record.key_id, other.key_id}
    assert not await keys.revoke(record.key_id, tenant="globex")  # not globex's key
    assert await keys.verify(secret) is not None
    assert await keys.revoke(record.key_id, tenant="acme")
    assert not await keys.revoke(record.key_id)  # already revoked
    assert await keys.verify(secret) is None
    assert (await keys.list(tenant="acme"))[0].revoked is not None
    assert (await keys.verify(other_secret)).tenant == "globex"
    await keys.ping()

    for tenant, scopes in [("", ["run"]), ("a b", ["run"]), ("ok", []), ("ok", ["root"])]:
        with pytest.raises(ConfigError):
            await keys.create(tenant, scopes)


async def test_sqlite_key_store_keeps_only_salted_hashes(tmp_path) -> None:
    path = tmp_path / "keys.db"
    keys = SQLiteKeyStore(path)
    try:
        await check_key_store(keys)
        _, secret = await keys.create("acme", ["read"])
        _, twin = await keys.create("acme", ["read"])
    finally:
        await keys.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())  # the database and any WAL left over
    for s in (secret, twin):
        assert s.encode() not in raw and s.split("_", 2)[2].encode() not in raw
    reopened = SQLiteKeyStore(path)
    assert (await reopened.verify(secret)).tenant == "acme"  # survives a restart
    await reopened.close()


@pytest.mark.integration
async def test_postgres_key_store(postgres_url) -> None:
    keys = await PostgresKeyStore(new_database(postgres_url)).open()
    try:
        await check_key_store(keys)
    finally:
        await keys.close()


@pytest.mark.integration
async def test_a_service_on_postgres_keeps_runs_and_keys_in_one_database(postgres_url) -> None:
    from serve_helpers import client_for, echo_agent

    from keel.serve import ServeConfig
    from keel.serve.keys import PostgresKeyStore

    url = new_database(postgres_url)
    cfg = ServeConfig(agents={"echo": echo_agent()}, store=url, entry_points=False)
    assert cfg.key_store_location() == url
    keys = await PostgresKeyStore(url).open()
    try:
        _, secret = await keys.create("acme", ["run", "read"])
    finally:
        await keys.close()
    async with client_for(cfg, secret) as c:
        run = (await c.post("/v1/agents/echo/runs", json={"message": "hi", "session_id": "s"})).json()
        again = (await c.post("/v1/agents/echo/runs", json={"message": "again", "session_id": "s"})).json()
        ready = (await c.get("/readyz")).json()
    assert run["status"] == "finished" and again["output"] == "echo: again (2 user messages seen)"
    assert ready["checks"]["store"] == ready["checks"]["keys"] == "ok"
