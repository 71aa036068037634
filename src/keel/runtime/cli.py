"""``keel worker``: a stateless worker process that advances runs from a shared queue.

    keel worker --agents apps.support.agent:build_agent --store postgresql://keel@db/keel --concurrency 16

Start as many as you like, on as many machines: they share the store and the queue (PostgreSQL),
any of them can take any run's next step, and a killed one's in-flight step is redelivered after
its lease (``--lease``). SIGTERM (or Ctrl-C) drains: steps in flight finish and are persisted, then
the process exits 0.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from keel.errors import ConfigError

if TYPE_CHECKING:
    from keel.agent import Agent
    from keel.store.base import RunStore

__all__ = ["load_agents", "open_queue", "open_store", "serve_worker", "worker"]


def load_agents(specs: str, store: RunStore) -> dict[str, Agent[Any]]:
    """Load ``module:attr[,module:attr...]`` (agents, or factories of agents) bound to ``store``.

    A factory that takes a ``store`` argument gets it; any other agent has its store replaced, so
    every agent of the worker reads and writes the shared store. Agents are keyed by ``name``.

    >>> agents = load_agents("apps.support.agent:build_agent", store)  # doctest: +SKIP
    """
    from keel.agent import Agent
    from keel.cli import load_object

    agents: dict[str, Agent[Any]] = {}
    for spec in filter(None, (s.strip() for s in specs.split(","))):
        obj = load_object(spec)
        if callable(obj) and not isinstance(obj, Agent):
            takes_store = "store" in inspect.signature(obj).parameters
            obj = obj(store=store) if takes_store else obj()
        if not isinstance(obj, Agent):
            raise ConfigError(f"{spec!r} is not a keel Agent or a function returning one")
        obj.store = store
        obj._owns_store = False  # the worker closes the shared store, not the agent
        if obj.name in agents:
            raise ConfigError(f"two agents are named {obj.name!r}: give each a distinct name=")
        agents[obj.name] = obj
    if not agents:
        raise ConfigError("no agents given: pass --agents module:attr[,module:attr]")
    return agents


async def open_store(url: str) -> RunStore:
    """A run store from a URL: ``postgresql://...`` or a SQLite path (``sqlite:///path`` or a file)."""
    if url.startswith(("postgresql://", "postgres://")):
        from keel.store.postgres import PostgresStore

        return await PostgresStore(url).open()
    from keel.store.sqlite import SQLiteStore

    return SQLiteStore(url.removeprefix("sqlite:///").removeprefix("sqlite://"))


async def open_queue(url: str, *, tenant_limit: int | None = None, lease_s: float = 15.0) -> Any:
    """A shared run queue from a URL: ``postgresql://...`` (procrastinate on PostgreSQL)."""
    if url.startswith(("postgresql://", "postgres://")):
        from keel.runtime.pgqueue import PgQueue

        return await PgQueue(url, tenant_limit=tenant_limit, lease_s=lease_s).open()
    raise ConfigError(
        f"unsupported queue {url!r}: workers in separate processes need a shared queue; "
        "pass --queue postgresql://..."
    )


async def serve_worker(
    agents: str,
    store_url: str,
    queue_url: str | None = None,
    *,
    concurrency: int = 8,
    tenant_limit: int | None = None,
    lease_s: float = 15.0,
    steps_per_claim: int = 1,
    name: str | None = None,
    drain_timeout_s: float = 120.0,
    live_deltas: bool = True,
) -> int:
    """Run a worker until SIGTERM/SIGINT, then drain and close; returns the number of steps taken."""
    from keel.runtime.worker import Worker

    store = await open_store(store_url)
    try:
        loaded: Mapping[str, Agent[Any]] = load_agents(agents, store)  # config errors before connecting
        queue = await open_queue(queue_url or store_url, tenant_limit=tenant_limit, lease_s=lease_s)
        try:
            w = Worker(
                queue,
                loaded,
                concurrency=concurrency,
                steps_per_claim=steps_per_claim,
                name=name,
                live_deltas=live_deltas,
            )
            loop = asyncio.get_running_loop()
            watchdog: list[asyncio.Task[None]] = []

            def stop() -> None:
                w.stop()
                if not watchdog:
                    watchdog.append(loop.create_task(_drain_deadline(drain_timeout_s)))

            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop)
            loop.add_signal_handler(signal.SIGUSR1, _dump_tasks)
            logging.getLogger("keel.worker").info(
                "worker %s: agents %s, concurrency %d", w.name, ", ".join(loaded), concurrency
            )
            await w.run()
            return w.steps_done
        finally:
            await queue.close()
    finally:
        await store.close()


async def _drain_deadline(seconds: float) -> None:
    # A drain that outlives its deadline is stuck: say where, and leave. The lease hands whatever
    # this worker still held to another worker, so exiting loses nothing but time.
    await asyncio.sleep(seconds)
    _dump_tasks()
    logging.getLogger("keel.worker").error("drain did not finish within %.0f s; exiting", seconds)
    os._exit(3)


def _dump_tasks() -> None:
    """SIGUSR1: log every pending asyncio task with its stack (what is a draining worker waiting on?)."""
    import io

    out = io.StringIO()
    for task in asyncio.all_tasks():
        task.print_stack(limit=8, file=out)
    logging.getLogger("keel.worker").warning("pending tasks:\n%s", out.getvalue())


@click.command("worker")
@click.option("--agents", required=True, help="module:attr[,module:attr] of agents (or factories).")
@click.option(
    "--store", "store_url", required=True, help="Run store URL (postgresql://... or a SQLite file)."
)
@click.option(
    "--queue", "queue_url", default=None, help="Queue URL (postgresql://...); default: the store's."
)
@click.option("--concurrency", default=8, show_default=True, help="Steps in flight at once in this process.")
@click.option("--tenant-limit", type=int, default=None, help="Max running jobs of one tenant, all workers.")
@click.option(
    "--lease",
    "lease_s",
    default=15.0,
    show_default=True,
    help="Seconds before a silent worker's jobs are redelivered.",
)
@click.option(
    "--steps-per-claim", default=1, show_default=True, help="Steps per claim (1 = fair step scheduling)."
)
@click.option("--name", default=None, help="Worker name in logs (default host:pid).")
@click.option(
    "--drain-timeout",
    "drain_timeout_s",
    default=120.0,
    show_default=True,
    help="Seconds a SIGTERM drain may take before the worker exits anyway (status 3).",
)
@click.option(
    "--live-deltas/--no-live-deltas",
    default=True,
    show_default=True,
    help="Stream model tokens to API servers as they come (PostgreSQL NOTIFY); off: whole messages only.",
)
@click.option("--log-level", default="INFO", show_default=True)
def worker(
    agents: str,
    store_url: str,
    queue_url: str | None,
    concurrency: int,
    tenant_limit: int | None,
    lease_s: float,
    steps_per_claim: int,
    name: str | None,
    drain_timeout_s: float,
    live_deltas: bool,
    log_level: str,
) -> None:
    """Advance runs from the shared queue until SIGTERM; in-flight steps finish first."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    steps = asyncio.run(
        serve_worker(
            agents,
            store_url,
            queue_url,
            concurrency=concurrency,
            tenant_limit=tenant_limit,
            lease_s=lease_s,
            steps_per_claim=steps_per_claim,
            name=name,
            drain_timeout_s=drain_timeout_s,
            live_deltas=live_deltas,
        )
    )
    click.echo(f"keel worker: drained after {steps} steps", err=True)
