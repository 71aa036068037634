"""In-process queue and workers: priorities, schedules, tenant limits, step-level hand-offs, drain."""

from __future__ import annotations

import asyncio
import time

from keel import Agent, tool
from keel.runtime import InProcessQueue, Job, Worker
from keel.store import MemoryStore
from keel.testing import ScriptedModel, call


async def test_priority_classes_then_fifo() -> None:
    q = InProcessQueue()
    for run_id, prio in [("b1", "batch"), ("d1", "default"), ("i1", "interactive"), ("i2", "interactive")]:
        await q.put(Job(run_id=run_id, agent="a", priority=prio))
    order = [(await q.claim("w")).run_id for _ in range(4)]
    assert order == ["i1", "i2", "d1", "b1"]
    assert await q.claim("w", timeout_s=0.05) is None


async def test_scheduled_jobs_wait_until_due() -> None:
    q = InProcessQueue()
    await q.put(Job(run_id="later", agent="a", not_before=time.time() + 0.2))
    assert await q.claim("w", timeout_s=0.05) is None
    job = await q.claim("w", timeout_s=1.0)
    assert job is not None and job.run_id == "later"


async def test_tenant_concurrency_limit() -> None:
    q = InProcessQueue(tenant_limit=1)
    for i in range(2):
        await q.put(Job(run_id=f"a{i}", agent="x", tenant="A"))
    await q.put(Job(run_id="b0", agent="x", tenant="B"))
    first = await q.claim("w")
    second = await q.claim("w")
    assert (first.run_id, second.run_id) == ("a0", "b0")  # a1 waits: tenant A is at its limit
    assert await q.claim("w", timeout_s=0.05) is None
    await q.ack(first)
    assert (await q.claim("w")).run_id == "a1"


async def test_workers_advance_runs_step_by_step_across_workers() -> None:
    @tool
    async def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    store = MemoryStore()

    def agent() -> Agent:
        def script(msgs, tools):
            return "done" if msgs[-1].role == "tool" else call("add", a=1, b=2)

        return Agent(ScriptedModel(script), tools=[add], store=store, name="adder")

    q = InProcessQueue()
    starter = agent()
    run_ids = [await starter.start(f"job {i}") for i in range(10)]
    for rid in run_ids:
        await q.put(Job(run_id=rid, agent="adder"))
    workers = [Worker(q, {"adder": agent()}, concurrency=2, name=f"w{i}") for i in range(2)]
    tasks = [asyncio.create_task(w.run()) for w in workers]
    for _ in range(200):
        recs = [await store.get_run(r) for r in run_ids]
        if all(r.status == "finished" for r in recs):
            break
        await asyncio.sleep(0.02)
    for w in workers:
        w.stop()
    await asyncio.gather(*tasks)
    assert all(r.status == "finished" for r in [await store.get_run(r) for r in run_ids])
    assert sum(w.steps_done for w in workers) == 30  # 3 steps per run: model, tool, model


async def test_a_run_moves_between_workers_after_each_step() -> None:
    @tool
    async def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    store = MemoryStore()

    def agent() -> Agent:
        def script(msgs, tools):
            return "done" if msgs[-1].role == "tool" else call("add", a=1, b=2)

        return Agent(ScriptedModel(script), tools=[add], store=store, name="adder")

    q = InProcessQueue()
    run_id = await agent().start("hi")
    await q.put(Job(run_id=run_id, agent="adder"))
    workers = [Worker(q, {"adder": agent()}, name=f"w{i}") for i in range(3)]
    for w in workers:  # each step on a different worker, each with its own agent object
        job = await q.claim(w.name)
        await w.process(job)
    assert [w.steps_done for w in workers] == [1, 1, 1]
    rec = await store.get_run(run_id)
    assert rec.status == "finished"
    events = await store.events(run_id)
    assert [
        e.type for e in events if e.type in ("model_responded", "tool_call_finished", "run_finished")
    ] == ["model_responded", "tool_call_finished", "model_responded", "run_finished"]


async def test_stop_drains_in_flight_steps() -> None:
    store = MemoryStore()
    slow = Agent(ScriptedModel(["ok"], delay_s=0.2), store=store, name="slow")
    q = InProcessQueue()
    rid = await slow.start("hi")
    await q.put(Job(run_id=rid, agent="slow"))
    w = Worker(q, {"slow": slow}, concurrency=1)
    task = asyncio.create_task(w.run())
    await asyncio.sleep(0.05)  # the step is in flight
    w.stop()
    await task
    assert (await store.get_run(rid)).status == "finished"  # finished and persisted, not lost
