"""Production mode on real PostgreSQL: the API only records and enqueues (PgQueue); a separate
`keel.runtime.Worker` with its own store and queue connections runs every step."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from serve_helpers import approval_agent, client_for, echo_agent, parse_sse

from keel.errors import ConfigError
from keel.serve import ServeConfig
from keel.serve.keys import PostgresKeyStore
from pg import new_database, postgres_url  # noqa: F401

pytestmark = pytest.mark.integration
pytest.importorskip("procrastinate", reason="install the distributed extra: pip install 'keel[distributed]'")


@contextlib.asynccontextmanager
async def remote_worker(url: str, agents):
    """A worker as `keel worker` runs it: its own store and queue connections, agents by name."""
    from keel.runtime import Worker
    from keel.runtime.cli import open_queue, open_store

    store = await open_store(url)
    queue = await open_queue(url)
    built = {name: make() for name, make in agents.items()}
    for agent in built.values():
        agent.store = store
    worker = Worker(queue, built, concurrency=2, name="remote")
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await task
        await queue.close()
        await store.close()


async def test_the_api_enqueues_and_a_remote_worker_runs_the_steps(postgres_url) -> None:
    url = new_database(postgres_url, "prod")
    keys = await PostgresKeyStore(url).open()
    secret = (await keys.create("acme", ["run", "read", "approve"]))[1]
    await keys.close()
    agents = {"echo": echo_agent, "refunder": approval_agent}
    cfg = ServeConfig(
        agents={n: make() for n, make in agents.items()},
        store=url,
        mode="production",
        queue_factory=url,
        entry_points=False,
        wait_timeout_s=30,
    )
    async with client_for(cfg, secret) as c:
        assert c.app.state.keel.workers == []  # the API process runs no steps
        async with remote_worker(url, agents) as worker:
            done = await c.post("/v1/agents/echo/runs", json={"message": "hi", "session_id": "p"})
            assert done.json()["output"] == "echo: hi (1 user messages seen)"
            streamed = await c.post(
                "/v1/agents/echo/runs", json={"message": "again", "session_id": "p", "stream": True}
            )
            events = parse_sse(streamed.text)
            assert events[-1]["data"]["output"] == "echo: again (2 user messages seen)"
            held = (await c.post("/v1/agents/refunder/runs", json={"message": "refund"})).json()
            assert held["status"] == "suspended"
            await c.post(f"/v1/approvals/{held['run_id']}", json={"approve": True})
            for _ in range(300):
                final = (await c.get(f"/v1/runs/{held['run_id']}")).json()
                if final["status"] == "finished":
                    break
                await asyncio.sleep(0.05)
            assert final["output"] == "outcome: refunded A-1"
        assert worker.steps_done >= 6


def test_production_agents_must_be_named_as_served() -> None:
    from serve_helpers import config

    cfg = config({"other-name": echo_agent()}, mode="production", queue_factory="postgresql://unused")
    with pytest.raises(ConfigError, match="give it name='other-name'"):
        asyncio.run(_open(cfg))


async def _open(cfg: ServeConfig) -> None:
    from keel.serve.service import Service

    svc = await Service.open(cfg)
    await svc.close()
