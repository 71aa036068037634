"""The live-event bus without a database: fan-out, subscriptions, marks, coalescing and NOTIFY payloads."""

from __future__ import annotations

import asyncio
import json

import pytest

from keel import Agent
from keel.events import ModelResponded, RunFinished, TextDelta
from keel.runtime import InProcessQueue, Job, Worker
from keel.runtime.bus import MAX_PAYLOAD, InProcessBus, PgBus, bus_for_queue, channel_of, split_text
from keel.store import MemoryStore
from keel.testing import ScriptedModel


def delta(run_id: str, text: str, seq: int = 0) -> TextDelta:
    return TextDelta(run_id=run_id, seq=seq, text=text)


class LaggingBus(InProcessBus):
    """An in-process bus that says its deltas may lag (as a PgBus's do): streams wait for marks."""

    needs_marks = True


async def test_in_process_bus_fans_out_to_the_runs_subscribers_only() -> None:
    bus = InProcessBus()
    a1, a2, b = bus.subscribe("a"), bus.subscribe("a"), bus.subscribe("b")
    bus.publish(delta("a", "x"))
    bus.publish(RunFinished(run_id="a", seq=3, output="x"))  # not a delta: not published
    bus.publish(delta("a", "y"))
    assert [a1.get_nowait().text, a1.get_nowait().text] == ["x", "y"] and a1.empty()
    assert a2.qsize() == 2 and b.empty()
    a1.close()
    bus.publish(delta("a", "z"))
    assert a1.empty() and a2.qsize() == 3 and bus.subscribers("a") == 1


async def test_a_subscription_iterates_until_closed() -> None:
    bus = InProcessBus()
    sub = bus.subscribe("r")

    async def produce() -> None:
        for text in ("one ", "two ", "three"):
            await asyncio.sleep(0.01)
            bus.publish(delta("r", text))
        await asyncio.sleep(0.01)
        sub.close()

    task = asyncio.create_task(produce())
    got = [d.text async for d in sub]
    await task
    assert got == ["one ", "two ", "three"]


async def test_a_slow_subscriber_loses_the_excess_not_the_others() -> None:
    bus = InProcessBus(max_pending=3)
    slow = bus.subscribe("r")
    for i in range(5):
        bus.publish(delta("r", str(i)))
    assert slow.qsize() == 3 and slow.dropped == 2
    assert [slow.get_nowait().text for _ in range(3)] == ["0", "1", "2"]


async def test_settle_waits_for_the_mark_of_the_response() -> None:
    bus = LaggingBus()
    sub = bus.subscribe("r")
    await bus.ready("r", live_after=0)

    async def late_mark() -> None:
        await asyncio.sleep(0.1)
        bus.mark("r", 4)

    task = asyncio.create_task(late_mark())
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await sub.settle(3)
    assert loop.time() - t0 >= 0.09 and sub.marked == 4
    await task
    t0 = loop.time()
    await sub.settle(4)  # already marked: no wait
    assert loop.time() - t0 < 0.05


async def test_settle_skips_history_and_gives_up_on_workers_that_never_mark() -> None:
    bus = LaggingBus()
    bus.mark_grace_s = 0.05
    follower = bus.subscribe("r")
    await bus.ready("r", live_after=7)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await follower.settle(5)  # persisted before it listened: no mark will ever come
    assert loop.time() - t0 < 0.03 and bus.expect_marks
    await follower.settle(9)  # live, but no mark at all: the workers do not publish marks
    assert not bus.expect_marks
    t0 = loop.time()
    await follower.settle(12)
    assert loop.time() - t0 < 0.03  # stops waiting ...
    bus.mark("r", 12)  # ... until a mark shows up (PgBus re-arms itself on its next mark)
    assert follower.marked == 12


def test_split_text_respects_the_byte_budget_and_loses_nothing() -> None:
    text = 'plain "quoted" back\\slash\nnewline é 漢字 🎉 ' * 50
    pieces = split_text(text, 100)
    assert "".join(pieces) == text and len(pieces) > 1
    assert all(len(json.dumps(p)) - 2 <= 100 for p in pieces)
    assert split_text("short", 100) == ["short"]


def test_pg_payloads_stay_under_the_notify_limit_and_rebuild_the_text() -> None:
    bus = PgBus("postgresql://unused")
    huge = 'tokens é 漢 🎉 "q" \\ \x01 ' * 2000  # ~40k characters, escapes of every width
    bus._put("r1", ["d", 2, huge, 1.0])
    channels, payloads = bus._encode(bus._outbox)
    assert set(channels) == {channel_of("r1")} and len(payloads) > 5
    assert all(len(p.encode()) <= MAX_PAYLOAD < 8000 for p in payloads)
    decoded = [json.loads(p) for p in payloads]
    assert "".join(d["t"] for d in decoded) == huge
    assert len({d["n"] for d in decoded}) == len(decoded)  # unique even where the pieces repeat


def test_pg_outbox_coalesces_deltas_and_keeps_marks_behind_them() -> None:
    bus = PgBus("postgresql://unused")
    for text in ("Hel", "lo", " wor", "ld"):
        bus.publish(delta("r1", text, seq=2))
    bus.publish(delta("r2", "other", seq=0))
    bus.mark("r1", 5)
    bus.mark("r1", 6)
    bus.publish(delta("r1", "next", seq=6))
    channels, payloads = bus._encode(bus._outbox)
    r1 = [json.loads(p) for c, p in zip(channels, payloads, strict=True) if c == channel_of("r1")]
    assert [(m["k"], m["s"], m.get("t")) for m in r1] == [
        ("d", 2, "Hello world"),
        ("m", 6, None),
        ("d", 6, "next"),
    ]
    assert len(payloads) == 4  # 6 deltas and 2 marks became 4 notifications
    assert len(set(payloads)) == len(payloads)  # PostgreSQL would fold identical payloads


def test_channel_names_are_valid_identifiers_for_any_run_id() -> None:
    names = {channel_of(r) for r in ("a", "A", "x" * 200, "ünï code/run;drop")}
    assert len(names) == 4 and all(len(n) <= 63 and n.isidentifier() for n in names)


def test_the_queue_decides_the_bus() -> None:
    assert bus_for_queue(InProcessQueue()) is None

    class FakePgQueue:
        url = "postgresql://keel@db/keel"

    bus = bus_for_queue(FakePgQueue())
    assert isinstance(bus, PgBus) and bus.url == FakePgQueue.url


async def test_a_worker_with_a_bus_streams_marked_and_stamped_deltas() -> None:
    store = MemoryStore()
    agent = Agent(ScriptedModel(["a reply long enough for several chunks"]), store=store, name="a")
    run_id = await agent.start("hi")
    bus = LaggingBus()
    sub = bus.subscribe(run_id)
    queue = InProcessQueue()
    worker = Worker(queue, {"a": agent}, concurrency=1, bus=bus)
    await queue.put(Job(run_id=run_id, agent="a"))
    task = asyncio.create_task(worker.run())
    for _ in range(200):
        if sub.marked >= 0 and (await agent.store.get_run(run_id)).status == "finished":
            break
        await asyncio.sleep(0.01)
    worker.stop()
    await task
    events = await store.events(run_id)
    deltas = [sub.get_nowait() for _ in range(sub.qsize())]
    response = next(e for e in events if isinstance(e, ModelResponded))
    assert "".join(d.text for d in deltas) == response.message.content and len(deltas) > 1
    assert {d.seq for d in deltas} == {0}  # stamped with the last persisted seq (run_started)
    assert sub.marked == events[-1].seq  # the step's append was announced


async def test_a_worker_without_a_bus_does_not_stream() -> None:
    class NoStream(ScriptedModel):
        def stream(self, *a, **k):  # type: ignore[override]
            raise AssertionError("streamed without a bus")

    store = MemoryStore()
    agent = Agent(NoStream(["done"]), store=store, name="a")
    run_id = await agent.start("hi")
    queue = InProcessQueue()
    worker = Worker(queue, {"a": agent}, concurrency=1)
    await worker.process(Job(run_id=run_id, agent="a"))
    assert worker.bus is None and (await store.get_run(run_id)).status == "finished"


@pytest.mark.parametrize("n", [1, 3])
async def test_in_process_bus_close_ends_every_subscription(n: int) -> None:
    bus = InProcessBus()
    subs = [bus.subscribe(f"r{i}") for i in range(n)]
    await bus.close()
    assert all(s.closed for s in subs) and [d async for d in subs[0]] == []
