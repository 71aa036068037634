"""Service load: sustained runs/s and the latency Keel adds, at 10, 100 and 1,000 concurrent sessions.

Each session is a closed loop (start a run, wait for it to finish, start the next) of the agent in
``load_agent.py``: 3 steps, two model calls of a fixed 200 ms. "Overhead" is end-to-end time minus
those 400 ms: queueing, store writes, scheduling, wake-ups. Two deployments:

- embedded: one process, ``InProcessQueue`` + ``SQLiteStore`` + an in-process ``Worker``;
- postgres: ``PostgresStore`` + ``PgQueue`` (procrastinate) with 2 ``keel worker`` processes; the
  load generator learns that a run finished from the store's ``NOTIFY``.

Also: memory per idle session (RSS of a process after 1,000 sessions with a finished run each,
which stay in the store, not in memory) and store bytes per session.

    python benchmarks/service/load.py                      # both, 10/100/1000 sessions, ~3 min
    python benchmarks/service/load.py --levels 10,100 --seconds 8 --backends embedded

Bounded: every level runs ``--seconds`` (default 12) after a warm-up of 2 s, on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _measure import closed_loop, cpu_s, create_database, own_cpu_s, pids_with_arg, spawn_workers, stop_all  # noqa: E402
from load_agent import MODEL_CALLS, MODEL_LATENCY_S, build_agent  # noqa: E402

MODEL_S = MODEL_CALLS * MODEL_LATENCY_S


# -- embedded: one process ------------------------------------------------------------------------------


async def embedded(sessions: int, seconds: float, tmp: Path) -> dict[str, float]:
    from keel.runtime import InProcessQueue, Job, Worker
    from keel.store import SQLiteStore

    store = SQLiteStore(tmp / f"embedded-{sessions}.db")
    agent = build_agent(store)
    queue = InProcessQueue()
    worker = Worker(queue, {"load": agent}, concurrency=sessions)
    task = asyncio.create_task(worker.run())

    async def one_run(u: int, n: int) -> None:
        rid = await agent.start(f"where is my order? ({u}/{n})", session_id=None)
        await queue.put(Job(run_id=rid, agent="load"))
        async for _ in store.tail(rid):  # in-process notifications: no polling
            pass

    try:
        cpu0 = own_cpu_s()
        stats = await closed_loop(sessions, seconds, one_run, MODEL_S)
        stats["cpu_ms_run"] = (own_cpu_s() - cpu0) * 1000 / max(1, stats["total"])
        stats["gen_ms_run"] = float("nan")  # one process: the generator's share is inside the figure
        return stats
    finally:
        worker.stop()
        await task
        await store.close()


# -- postgres: worker processes ------------------------------------------------------------------------


class Finished:
    """Resolves a future per run when the store NOTIFYs that the run ended (one LISTEN connection)."""

    def __init__(self, url: str, store: Any) -> None:
        self.url, self.store = url, store
        self.waiting: dict[str, asyncio.Future[None]] = {}
        self._checks: set[asyncio.Task[None]] = set()

    async def listen(self) -> None:
        import psycopg

        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            await conn.execute("LISTEN keel_runs")
            async for note in conn.notifies():
                fut = self.waiting.get(note.payload)
                if fut is not None and not fut.done():
                    task = asyncio.create_task(self._check(note.payload, fut))
                    self._checks.add(task)
                    task.add_done_callback(self._checks.discard)

    async def _check(self, rid: str, fut: asyncio.Future[None]) -> None:
        rec = await self.store.get_run(rid)
        if rec is not None and rec.status in ("finished", "failed") and not fut.done():
            fut.set_result(None)

    async def wait(self, rid: str) -> None:
        fut = self.waiting[rid] = asyncio.get_running_loop().create_future()
        await self._check(rid, fut)  # it may have finished before we started listening for it
        try:
            await fut
        finally:
            del self.waiting[rid]


async def postgres(sessions: int, seconds: float, tmp: Path, base_url: str) -> dict[str, float]:
    from keel.runtime import Job
    from keel.runtime.pgqueue import PgQueue
    from keel.store.postgres import PostgresStore

    url = create_database(base_url, f"load{sessions}")
    store = await PostgresStore(url, max_size=30).open()  # + 2 workers x 21: under max_connections=100
    queue = await PgQueue(url, pool_size=5).open()
    agent = build_agent(store)
    finished = Finished(url, store)
    listener = asyncio.create_task(finished.listen())
    procs = spawn_workers(url, sessions, tmp)
    await asyncio.sleep(4)  # workers import and connect
    dead = [p.args for p in procs if p.poll() is not None]
    if dead:
        raise RuntimeError(f"a worker exited at start-up; see {tmp}/worker*.log")

    async def one_run(u: int, n: int) -> None:
        rid = await agent.start(f"where is my order? ({u}/{n})")
        waiter = asyncio.create_task(finished.wait(rid))
        await queue.put(Job(run_id=rid, agent="load"))
        await asyncio.wait_for(waiter, 120)  # a lost run must fail the benchmark, not hang it

    try:
        service = [*(p.pid for p in procs), *pids_with_arg(str(tmp / "pg"))]  # workers + the database
        cpu0, gen0 = cpu_s(service), own_cpu_s()
        stats = await closed_loop(sessions, seconds, one_run, MODEL_S)
        stats["cpu_ms_run"] = (cpu_s(service) - cpu0) * 1000 / max(1, stats["total"])
        stats["gen_ms_run"] = (own_cpu_s() - gen0) * 1000 / max(1, stats["total"])
        return stats
    finally:
        stop_all(procs)  # each worker drains its in-flight steps first
        listener.cancel()
        await queue.close()
        await store.close()


# -- memory per idle session -----------------------------------------------------------------------------


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def idle_sessions(tmp: Path, n: int = 1000) -> dict[str, float]:
    """RSS and SQLite bytes per session after ``n`` sessions each finished a run (then went idle)."""
    from keel.store import SQLiteStore

    db = tmp / "idle.db"
    store = SQLiteStore(db)
    agent = build_agent(store)
    await agent.run("warm up", session_id="warm")
    gc.collect()
    before, size0 = _rss(), db.stat().st_size
    await asyncio.gather(*(agent.run("where is my order?", session_id=f"s{i}") for i in range(n)))
    gc.collect()
    after = _rss()
    await store.close()
    return {"rss_per_session": (after - before) / n, "db_per_session": (db.stat().st_size - size0) / n}


# -- main ---------------------------------------------------------------------------------------------------


def run_all(
    levels: list[int], seconds: float, backends: list[str]
) -> list[tuple[str, int, dict[str, float]]]:
    tmp = Path(tempfile.mkdtemp(prefix="keel-load-"))
    rows = []
    try:
        if "embedded" in backends:
            for c in levels:
                rows.append(
                    (
                        "embedded (InProcessQueue + SQLite, 1 process)",
                        c,
                        asyncio.run(embedded(c, seconds, tmp)),
                    )
                )
                print(rows[-1], file=sys.stderr, flush=True)
        if "postgres" in backends:
            import pgserver

            server = pgserver.get_server(str(tmp / "pg"), cleanup_mode="stop")
            try:
                for c in levels:
                    stats = asyncio.run(postgres(c, seconds, tmp, str(server.get_uri())))
                    rows.append(("PostgreSQL + PgQueue, 2 worker processes", c, stats))
                    print(rows[-1], file=sys.stderr, flush=True)
            finally:
                server.cleanup()
        rows.append(("idle", 0, asyncio.run(idle_sessions(tmp))))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def table(rows: list[tuple[str, int, dict[str, float]]], seconds: float, load_before: float) -> str:
    out = [
        f"Closed-loop sessions, model latency 2 x {MODEL_LATENCY_S * 1000:.0f} ms per run, {seconds:g} s measured per level; "
        f"{os.cpu_count()} cores, 1-min load average {load_before:.1f} before the benchmark started",
        "",
        "| deployment | concurrent sessions | runs/s | overhead p50 (ms) | overhead p99 (ms) | CPU ms per run: service / load generator | runs measured |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, c, s in rows:
        if name == "idle":
            continue
        failed = f" ({s['errors']:.0f} failed)" if s.get("errors") else ""
        out.append(
            f"| {name} | {c} | {s['runs_s']:.1f} | {s['p50'] * 1000:.0f} | {s['p99'] * 1000:.0f} | "
            f"{s['cpu_ms_run']:.1f} / {s['gen_ms_run']:.1f} | {s['n']:.0f}{failed} |"
        )
    idle = next(s for name, _, s in rows if name == "idle")
    out += [
        "",
        f"Memory per idle session: {idle['rss_per_session'] / 1024:.1f} KiB of RSS "
        f"(sessions live in the store), {idle['db_per_session'] / 1024:.1f} KiB of SQLite per session",
        "CPU: the service is the one process (embedded: load generator included, shown as nan) or the 2 workers"
        " + PostgreSQL; the load generator (start, enqueue, wait on NOTIFY: the API's share) is counted apart.",
    ]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", default="10,100,1000")
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--backends", default="embedded,postgres")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    load_before = os.getloadavg()[0]  # other work on the machine skews every number below
    rows = run_all(levels, args.seconds, args.backends.split(","))
    print(table(rows, args.seconds, load_before))


if __name__ == "__main__":
    main()
