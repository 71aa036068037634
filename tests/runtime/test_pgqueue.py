"""``PgQueue`` on a real PostgreSQL: priorities, schedules, tenant limits, wake-ups, redelivery, leases."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time

import pytest

from keel.errors import ConfigError
from keel.runtime import Job
from pg import new_database, postgres_url  # noqa: F401

pytest.importorskip("procrastinate", reason="install the distributed extra: pip install 'keel[distributed]'")

from keel.runtime.pgqueue import PgQueue, _class_of, _priority


def test_priority_classes_map_to_procrastinate_order_and_back() -> None:
    ranks = {name: _priority(name) for name in ("interactive", "default", "batch")}
    assert ranks["interactive"] > ranks["default"] > ranks["batch"]  # procrastinate runs higher first
    assert {_class_of(p) for p in ranks.values()} == set(ranks)
    assert _priority("unknown") == ranks["default"]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError):
        PgQueue("postgresql://x", lease_s=0)


@pytest.fixture
async def url(postgres_url):
    return new_database(postgres_url, "q")


@pytest.mark.integration
async def test_priority_then_fifo_and_duplicate_puts_are_no_ops(url) -> None:
    async with PgQueue(url) as q:
        await q.put_many(
            [Job(run_id=r, agent="a", priority=p) for r, p in
             [("b1", "batch"), ("d1", "default"), ("i1", "interactive"), ("i2", "interactive")]]
        )  # fmt: skip
        await q.put(Job(run_id="d1", agent="a"))  # already waiting: one job per run
        await q.put_many([Job(run_id="d1", agent="a"), Job(run_id="d2", agent="a")])  # batch with a duplicate
        order = [(await q.claim("w")).run_id for _ in range(5)]
        assert order == ["i1", "i2", "d1", "d2", "b1"]
        assert await q.claim("w", timeout_s=0.1) is None
        assert await q.counts() == {"doing": 5}


@pytest.mark.integration
async def test_scheduled_job_waits_until_due(url) -> None:
    async with PgQueue(url, poll_s=0.1) as q:
        await q.put(Job(run_id="later", agent="a", not_before=time.time() + 0.6))
        assert await q.claim("w", timeout_s=0.3) is None
        job = await q.claim("w", timeout_s=2.0)
        assert job is not None and job.run_id == "later"


@pytest.mark.integration
async def test_tenant_limit_holds_across_queue_instances(url) -> None:
    async with PgQueue(url, tenant_limit=1) as qa, PgQueue(url, tenant_limit=1) as qb:
        await qa.put_many([Job(run_id=f"a{i}", agent="x", tenant="A") for i in range(2)])
        await qa.put(Job(run_id="b0", agent="x", tenant="B"))
        first = await qa.claim("wa")
        second = await qb.claim("wb", timeout_s=2.0)
        assert (first.run_id, second.run_id) == ("a0", "b0")  # a1 waits: tenant A is at its limit
        assert await qb.claim("wb", timeout_s=0.3) is None
        await qa.ack(first)
        third = await qb.claim("wb", timeout_s=2.0)
        assert third is not None and third.run_id == "a1"


@pytest.mark.integration
async def test_release_wakes_an_idle_worker_by_notification_not_polling(url) -> None:
    async with PgQueue(url, poll_s=30) as producer, PgQueue(url, poll_s=30) as consumer:
        await producer.put(Job(run_id="r", agent="a"))
        job = await producer.claim("p")
        waiter = asyncio.create_task(consumer.claim("c", timeout_s=10))
        await asyncio.sleep(0.3)  # the consumer found nothing and sleeps (for up to poll_s)
        started = time.monotonic()
        await producer.release(job)  # "advance this run's next step", possibly elsewhere
        got = await waiter
        assert got is not None and got.run_id == "r" and got.attempts == 2
        assert time.monotonic() - started < 2  # woken by NOTIFY long before the 30 s poll


@pytest.mark.integration
async def test_a_worker_that_lost_its_lease_cannot_ack_the_new_holders_job(url) -> None:
    async with PgQueue(url, lease_s=1) as stale, PgQueue(url, lease_s=1) as live:
        await stale.put(Job(run_id="r", agent="a"))
        job = await stale.claim("s")
        for t in stale._tasks:  # it stops heartbeating (a long GC pause, a network partition)
            t.cancel()
        async with live.pool.connection() as conn:
            await conn.execute("update procrastinate_workers set last_heartbeat = now() - interval '1 hour' "
                               "where id = %s", (stale._worker_id,))  # fmt: skip
        again = await live.claim("l", timeout_s=5)  # a new consumer reaps stalled workers on start
        assert again is not None and again.id == job.id and again.attempts == 2
        await stale.ack(job)  # too late: the job is the live worker's now
        assert await live.counts() == {"doing": 1}
        await live.ack(again)
        assert await live.counts() == {}


_HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from keel.runtime.pgqueue import PgQueue
    async def main():
        q = await PgQueue(sys.argv[1], lease_s=1.0).open()
        job = await q.claim("doomed", timeout_s=10)
        print(job.id, flush=True)
        await asyncio.sleep(600)
    asyncio.run(main())
    """
)


@pytest.mark.integration
async def test_job_of_a_killed_process_is_redelivered_after_the_lease(url) -> None:
    async with PgQueue(url, lease_s=1.0) as q:
        await q.put(Job(run_id="r", agent="a"))
        holder = subprocess.Popen([sys.executable, "-c", _HOLDER, url], stdout=subprocess.PIPE, text=True,
                                  env=os.environ.copy())  # fmt: skip
        held_id = await asyncio.to_thread(holder.stdout.readline)
        assert held_id.strip()
        assert await q.claim("w", timeout_s=0.2) is None  # held by the other process
        holder.kill()
        holder.wait()
        killed = time.monotonic()
        job = await q.claim("w", timeout_s=8)
        waited = time.monotonic() - killed
        assert job is not None and job.id == held_id.strip() and job.attempts == 2
        assert 0.5 < waited < 4  # after the lease (1 s) plus at most a reaper period, not before


@pytest.mark.integration
async def test_a_run_enqueued_again_while_running_keeps_exactly_one_job(url) -> None:
    async with PgQueue(url) as q:
        await q.put(Job(run_id="r", agent="a"))
        held = await q.claim("w")
        await q.put(Job(run_id="r", agent="a"))  # e.g. the API resumes the run while a step is in flight
        assert await q.claim("w", timeout_s=0.3) is None  # one step of a run at a time (procrastinate lock)
        await q.release(held)  # the next step: the job waiting already carries the run on
        assert await q.counts() == {"todo": 1}
        again = await q.claim("w", timeout_s=2)
        assert again is not None and again.run_id == "r" and again.id != held.id
