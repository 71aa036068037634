"""Dramatiq + Redis worker app for ``engines.py`` (``dramatiq _dramatiq_app -p 1 -t 8``)."""

from __future__ import annotations

import os
import time

import _record
import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

broker = RedisBroker(
    client=redis.Redis(unix_socket_path=os.environ["BENCH_REDIS"]),
    heartbeat_timeout=int(float(os.environ.get("BENCH_LEASE_S", "60")) * 1000),
    # 1000 (the default) = maintenance, which requeues dead workers' messages, on 1% of fetches
    maintenance_chance=int(os.environ.get("BENCH_DRAMATIQ_MAINTENANCE", "1000")),
)
dramatiq.set_broker(broker)


@dramatiq.actor(max_retries=0, time_limit=10 * 60 * 1000)
def step(run: int, i: int, n: int, enqueued_at: float) -> None:
    _record.started(enqueued_at)
    if i + 1 < n:
        step.send(run, i + 1, n, time.time())
    else:
        _record.chain_done()


@dramatiq.actor(max_retries=0, time_limit=10 * 60 * 1000)
def slow() -> None:
    _record.slow_started()
    time.sleep(120)


if os.environ.get("BENCH_ROLE") == "worker":
    _record.ready()
