"""What the service benchmarks share: percentiles, CPU time of processes, the closed-loop load
generator, and starting ``keel worker`` processes for the load agent.

    from _measure import closed_loop, cpu_s, pct

    stats = await closed_loop(sessions=100, seconds=12, one_run=start_and_wait, model_s=0.4)
    cpu = cpu_s([server.pid])  # user + system seconds of the server and its children
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).parent
WARMUP_S = 2.0


def pct(vals: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``vals``; NaN when there are none."""
    vals = sorted(vals)
    return vals[min(len(vals) - 1, int(q * len(vals)))] if vals else float("nan")


def cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds used so far by ``pids`` and their children (robust to other load)."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for p in [proc, *proc.children(recursive=True)]:
                t = p.cpu_times()
                total += t.user + t.system
        except psutil.Error:
            pass
    return total


def own_cpu_s() -> float:
    """CPU seconds of this process alone. Not ``cpu_s([os.getpid()])``: that adds the servers and
    workers this process started, which are its children, and counts them twice."""
    return time.process_time()


def children(pid: int) -> list[int]:
    """Pids of every descendant of ``pid``."""
    import psutil

    return [c.pid for c in psutil.Process(pid).children(recursive=True)]


def pids_with_arg(fragment: str) -> list[int]:
    """Pids of the processes whose command line contains ``fragment`` (a pgserver's data directory)."""
    import psutil

    return [p.pid for p in psutil.process_iter(["cmdline"]) if fragment in " ".join(p.info["cmdline"] or [])]


async def closed_loop(
    sessions: int,
    seconds: float,
    one_run: Callable[[int, int], Awaitable[None]],
    model_s: float,
    warmup_s: float = WARMUP_S,
) -> dict[str, float]:
    """``sessions`` users each running ``one_run(user, n)`` back to back; stats over the measured window.

    Overhead is a run's end-to-end time minus ``model_s`` (the model's own latency). ``runs_s``
    and ``p50``/``p99`` count the runs that ended in the window; ``runs_s_all``, ``p50_all`` and
    ``p99_all`` every run of the level (warm-up and drain included), which says more when a
    saturated level's runs end in waves that the window misses. A run that
    raises counts as an error and the user carries on: an overloaded deployment must show as errors,
    not stop the load.
    """
    t0 = time.perf_counter()
    start, stop = t0 + warmup_s, t0 + warmup_s + seconds
    lat: list[float] = []
    every: list[float] = []  # every run's latency, warm-up and drain included
    done = total = errors = 0

    async def user(u: int) -> None:
        nonlocal done, total, errors
        n = 0
        while time.perf_counter() < stop:
            began = time.perf_counter()
            try:
                await one_run(u, n)
            except Exception:
                errors += 1
                n += 1
                continue
            ended = time.perf_counter()
            n += 1
            total += 1
            every.append(ended - began)
            if start <= ended <= stop:  # runs that ended in the window (saturated: they began earlier)
                lat.append(ended - began)
                done += 1

    await asyncio.gather(*(user(u) for u in range(sessions)))
    elapsed = time.perf_counter() - t0  # warm-up, window and the drain of the runs in flight
    over = [x - model_s for x in lat]
    return {
        "runs_s": done / seconds,
        "runs_s_all": total / elapsed,
        "p50": pct(over, 0.5),
        "p99": pct(over, 0.99),
        "p50_all": pct([x - model_s for x in every], 0.5),
        "p99_all": pct([x - model_s for x in every], 0.99),
        "n": len(lat),
        "total": total,
        "errors": errors,
    }


def spawn_workers(url: str, sessions: int, tmp: Path, count: int = 2) -> list[subprocess.Popen[bytes]]:
    """``count`` ``keel worker`` processes running ``load_agent`` on the PostgreSQL at ``url``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    per = max(8, sessions // count)
    procs = []
    for i in range(count):
        log = (tmp / f"worker{i}.log").open("ab")
        cmd = [sys.executable, "-m", "keel.cli", "worker", "--agents", "load_agent:build_agent",
               "--store", url, "--concurrency", str(per), "--log-level", "WARNING"]  # fmt: skip
        procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp))
    return procs


def stop_all(procs: list[subprocess.Popen[bytes]], timeout_s: float = 120.0) -> None:
    """SIGTERM every process (workers drain their in-flight steps), then wait; kill what hangs."""
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout_s)
        except subprocess.TimeoutExpired:
            print(f"process {p.pid} did not stop in {timeout_s:.0f} s; killed", file=sys.stderr)
            p.kill()
            p.wait()


def create_database(base_url: str, name: str) -> str:
    """Create database ``name`` on the pgserver at ``base_url``; return its URL."""
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f"create database {name}")
    return base_url.replace("/postgres?", f"/{name}?")
