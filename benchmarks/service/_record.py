"""What every engine's benchmark worker records: enqueue-to-start latencies, finished chains, slow-job starts.

Files in ``$BENCH_OUT``: ``lat-<pid>.txt`` (one latency in seconds per step), ``done.txt`` (one line
per finished chain), ``slow.txt`` (``<pid> <unix time>`` each time the slow job starts).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

OUT = Path(os.environ.get("BENCH_OUT", "."))
_lat = None


def started(enqueued_at: float) -> None:
    global _lat
    if _lat is None:
        _lat = (OUT / f"lat-{os.getpid()}.txt").open("a", buffering=1)
    _lat.write(f"{time.time() - enqueued_at:.6f}\n")


def _append(name: str, line: str) -> None:
    fd = os.open(OUT / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())  # one small O_APPEND write: atomic across processes
    finally:
        os.close(fd)


def chain_done() -> None:
    _append("done.txt", "1")


def slow_started() -> None:
    _append("slow.txt", f"{os.getpid()} {time.time():.6f}")


def ready() -> None:
    _append("ready.txt", str(os.getpid()))
