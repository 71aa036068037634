"""Service load over HTTP: a real ``keel serve`` process on 127.0.0.1, driven by httpx clients.

The same closed-loop sessions and agent as ``load.py`` (``load_agent.py``: 3 steps, two model calls
of a fixed 200 ms), but every run goes through the API: ``POST /v1/agents/load/runs`` answers when
the run has finished, so one request is one run. "Overhead" is the request's end-to-end time minus
the 400 ms of model time: HTTP, JSON, the API, the queue, the store and the workers. Deployments:

- embedded: ``keel serve`` alone (SQLite store, in-process queue and worker);
- postgres: ``keel serve --mode production`` on PostgreSQL (``pgserver``) + ``PgQueue``, with 2
  ``keel worker`` processes advancing the runs.

    python benchmarks/service/load_http.py                       # both, 10/100/1000 sessions, ~3 min
    python benchmarks/service/load_http.py --levels 10,100 --seconds 8 --deployments embedded

Bounded: each level runs ``--seconds`` (default 12) after a 2 s warm-up, against a fresh server and
database; a request gives up after ``--timeout`` seconds (counted as an error). Only 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from _measure import closed_loop, cpu_s, create_database, own_cpu_s, pids_with_arg, spawn_workers, stop_all  # noqa: E402
from load_agent import MODEL_CALLS, MODEL_LATENCY_S  # noqa: E402

MODEL_S = MODEL_CALLS * MODEL_LATENCY_S
NO_LIMIT = 1e12  # requests per minute: the benchmark measures the service, not its rate limiter


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, sessions: int, store: str, queue: str | None) -> None:
    """A ``keel.toml`` serving ``load_agent`` with auth and rate limits off."""
    serve = [f'store = "{store}"', "auth = false"]
    if queue is None:
        serve += ['mode = "embedded"', f"worker_concurrency = {max(8, sessions)}"]
    else:
        serve += ['mode = "production"', f'queue = "{queue}"']
    path.write_text(
        "[serve]\n" + "\n".join(serve) + "\n\n[serve.limits]\n"
        f"key_requests_per_minute = {NO_LIMIT:.0f}\ntenant_requests_per_minute = {NO_LIMIT:.0f}\n\n"
        '[agents.load]\ntarget = "load_agent:build_agent"\n'
    )


class Server:
    """A ``keel serve`` subprocess on a free loopback port."""

    def __init__(self, config: Path, tmp: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
        cmd = [sys.executable, "-m", "keel.cli", "serve", "--config", str(config),
               "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]  # fmt: skip
        self.log = tmp / f"serve-{self.port}.log"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)

    async def ready(self, client: Any, timeout_s: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"keel serve exited at start-up:\n{self.log.read_text()[-2000:]}")
            try:
                if (await client.get(f"{self.base_url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:  # not listening yet
                pass
            await asyncio.sleep(0.2)
        raise TimeoutError(f"keel serve did not answer /healthz in {timeout_s:.0f} s; see {self.log}")


async def level(
    deployment: str, sessions: int, seconds: float, timeout_s: float, tmp: Path, pg_url: str | None
) -> dict[str, Any]:
    """One deployment at one concurrency: a fresh server (and database), the closed loop, its CPU."""
    workers: list[subprocess.Popen[bytes]] = []
    if deployment == "embedded":
        write_config(tmp / f"keel-{sessions}.toml", sessions, str(tmp / f"http-{sessions}.db"), None)
    else:
        assert pg_url is not None
        url = create_database(pg_url, f"http{sessions}")
        write_config(tmp / f"keel-{sessions}.toml", sessions, url, url)
        workers = spawn_workers(url, sessions, tmp)
    server = Server(tmp / f"keel-{sessions}.toml", tmp)
    load_before = os.getloadavg()[0]
    try:
        service = [server.proc.pid, *(w.pid for w in workers)]
        if pg_url is not None:
            service += pids_with_arg(str(tmp / "pg"))
        stats = await drive(server, sessions, seconds, timeout_s, service, settle_s=2.0 if workers else 0.5)
    finally:
        stop_all([server.proc, *workers])
    stats["load"] = load_before
    return stats


async def drive(
    server: Server, sessions: int, seconds: float, timeout_s: float, service: list[int], settle_s: float
) -> dict[str, Any]:
    """The closed loop against ``server``, one httpx client (one connection) per session.

    One client per session, not one shared pool: httpcore's pool does work proportional to its open
    connections on every request, which made a shared 100-connection client the bottleneck here.
    """
    import ssl

    import httpx

    tls = ssl.create_default_context()  # never used on http://, but each client would build its own
    # keep-alive shorter than uvicorn's 5 s: reusing a connection the server is closing is a ReadError
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=4.0)
    failures: collections.Counter[str] = collections.Counter()
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=timeout_s, verify=tls)
            )
            for _ in range(sessions)
        ]
        await server.ready(clients[0])
        await asyncio.sleep(settle_s)  # workers import and connect

        async def one_run(u: int, n: int) -> None:
            try:
                r = await clients[u].post(
                    "/v1/agents/load/runs", json={"message": f"where is my order? ({u}/{n})"}
                )
            except httpx.HTTPError as e:
                failures[type(e).__name__] += 1
                raise
            if r.status_code != 200 or r.json().get("status") != "finished":
                failures[f"HTTP {r.status_code}"] += 1
                raise RuntimeError(r.text[:200])

        cpu0, gen0 = cpu_s(service), own_cpu_s()
        stats: dict[str, Any] = await closed_loop(sessions, seconds, one_run, MODEL_S)
        runs = max(1, stats["total"])
        stats["cpu_ms_run"] = (cpu_s(service) - cpu0) * 1000 / runs
        stats["client_ms_run"] = (own_cpu_s() - gen0) * 1000 / runs
    stats["failures"] = dict(failures)
    return stats


def run_all(
    levels: list[int], seconds: float, timeout_s: float, deployments: list[str]
) -> list[tuple[str, int, dict[str, Any]]]:
    names = {
        "embedded": "keel serve, embedded (SQLite, in-process worker)",
        "postgres": "keel serve, production (PostgreSQL + PgQueue, 2 keel workers)",
    }
    tmp = Path(tempfile.mkdtemp(prefix="keel-loadhttp-"))
    rows = []
    server = None
    try:
        pg_url = None
        if "postgres" in deployments:
            import pgserver

            server = pgserver.get_server(str(tmp / "pg"), cleanup_mode="stop")
            pg_url = str(server.get_uri())
        for d in deployments:
            for c in levels:
                rows.append((names[d], c, asyncio.run(level(d, c, seconds, timeout_s, tmp, pg_url))))
                print(rows[-1], file=sys.stderr, flush=True)
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def ms(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds * 1000:.0f}"  # NaN: no run to measure


def table(rows: list[tuple[str, int, dict[str, Any]]], seconds: float) -> str:
    out = [
        f"Closed-loop HTTP sessions (httpx, one request per run), model latency 2 x {MODEL_LATENCY_S * 1000:.0f} ms "
        f"per run, {seconds:g} s measured per level; {os.cpu_count()} cores shared by the server, its workers, "
        "the database and the client",
        "",
        "| deployment | concurrent sessions | runs/s (whole level) | overhead p50, ms (whole level) "
        "| overhead p99, ms (whole level) | errors "
        "| CPU ms per run: service / client | runs measured (whole level) | 1-min load avg before |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, c, s in rows:
        kinds = ", ".join(f"{k} {v}" for k, v in s["failures"].items())
        errors = f"{s['errors']:.0f}" + (f" ({kinds})" if kinds else "")
        out.append(
            f"| {name} | {c} | {s['runs_s']:.1f} ({s['runs_s_all']:.1f}) | {ms(s['p50'])} ({ms(s['p50_all'])}) | "
            f"{ms(s['p99'])} ({ms(s['p99_all'])}) | {errors} | "
            f"{s['cpu_ms_run']:.1f} / {s['client_ms_run']:.1f} | {s['n']:.0f} ({s['total']:.0f}) | {s['load']:.1f} |"
        )
    out += [
        "",
        "runs/s, overhead and runs measured: the runs that ended in the measured window (in brackets: every "
        "run of the level, warm-up and drain included; '-': no run ended in the window).",
        "Overhead: end-to-end request time minus the 400 ms of model time. CPU: service = keel serve "
        "(+ the workers and PostgreSQL); client = the httpx load generator alone.",
    ]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", default="10,100,1000")
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--timeout", type=float, default=60.0, help="Seconds before a request counts as failed.")
    ap.add_argument("--deployments", default="embedded,postgres")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    rows = run_all(levels, args.seconds, args.timeout, args.deployments.split(","))
    print(table(rows, args.seconds))


if __name__ == "__main__":
    main()
