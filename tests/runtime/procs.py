"""Helpers for tests that run real ``keel worker`` processes against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def spawn_worker(
    url: str,
    tmp: Path,
    name: str,
    *,
    lease_s: float = 1.5,
    concurrency: int = 8,
    args: tuple[str, ...] = (),
    **env: str,
) -> subprocess.Popen[bytes]:
    """Start ``keel worker`` running ``crash_agent:build_agent``; its log goes to ``proc.log_path``."""
    full_env = {
        **os.environ,
        "KEEL_LEDGER_DIR": str(tmp),
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        **env,
    }
    log_path = tmp / f"{name}-{time.monotonic_ns()}.log"
    log = log_path.open("ab")
    cmd = [
        sys.executable, "-m", "keel.cli", "worker", "--agents", "crash_agent:build_agent",
        "--store", url, "--concurrency", str(concurrency), "--lease", str(lease_s), "--name", name, *args,
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    log.close()
    proc.log_path = log_path  # type: ignore[attr-defined]
    proc.worker_name = name  # type: ignore[attr-defined]
    return proc


async def wait_until(predicate: Any, timeout_s: float, every_s: float = 0.2) -> bool:
    """Poll the async ``predicate`` until it is true or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(every_s)
    return False


def ledger_entries(tmp: Path, name: str) -> list[dict[str, Any]]:
    path = tmp / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_ready(proc: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    """Wait until a worker logs that it is serving (its SIGTERM handler is installed)."""
    deadline = time.monotonic() + timeout_s
    log: Path = proc.log_path  # type: ignore[attr-defined]
    while time.monotonic() < deadline and proc.poll() is None:
        if f"worker {proc.worker_name}: agents" in log.read_text():  # type: ignore[attr-defined]
            return
        time.sleep(0.05)
    raise TimeoutError(f"worker did not start (exit {proc.poll()}): {log.read_text()}")


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 20.0) -> int:
    """SIGTERM a worker and wait for it to drain; returns its exit status."""
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
