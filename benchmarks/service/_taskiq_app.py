"""Taskiq + taskiq-redis (streams, acknowledged) worker app for ``engines.py``."""

from __future__ import annotations

import asyncio
import os
import time

import _record
from taskiq_redis import RedisStreamBroker

broker = RedisStreamBroker(
    url=f"unix://{os.environ['BENCH_REDIS']}",
    idle_timeout=int(float(os.environ.get("BENCH_LEASE_S", "600")) * 1000),
    xread_block=1000,
)


@broker.task
async def step(run: int, i: int, n: int, enqueued_at: float) -> None:
    _record.started(enqueued_at)
    if i + 1 < n:
        await step.kiq(run, i + 1, n, time.time())
    else:
        _record.chain_done()


@broker.task
async def slow() -> None:
    _record.slow_started()
    await asyncio.sleep(120)


if os.environ.get("BENCH_ROLE") == "worker":
    _record.ready()
