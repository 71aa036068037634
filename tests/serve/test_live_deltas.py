"""The SSE merge of live deltas with persisted events when deltas can lag (production's PgBus):
a persisted ``model_responded`` waits for its mark, late deltas are dropped, persisted events keep
their order and are never repeated."""

from __future__ import annotations

import asyncio

from keel.events import (
    AssistantMessage,
    Event,
    ModelRequested,
    ModelResponded,
    RunFinished,
    RunStarted,
    TextDelta,
)
from keel.runtime.bus import InProcessBus
from keel.serve.sse import merged_events
from keel.serve.tailing import NotifyingStore
from keel.store import MemoryStore

RUN = "r1"


class LaggingBus(InProcessBus):
    """Deltas may arrive after later persisted events, as over PostgreSQL: streams wait for marks."""

    needs_marks = True


def started() -> RunStarted:
    return RunStarted(run_id=RUN, seq=0, agent="a", input="hi")


def step(first: int, text: str, *, last: bool) -> list[Event]:
    events: list[Event] = [
        ModelRequested(run_id=RUN, seq=first, step=first, model="m"),
        ModelResponded(
            run_id=RUN, seq=first + 1, step=first, model="m", message=AssistantMessage(content=text)
        ),
    ]
    if last:
        events.append(RunFinished(run_id=RUN, seq=first + 2, output=text))
    return events


def delta(text: str, seq: int) -> TextDelta:
    return TextDelta(run_id=RUN, seq=seq, text=text)


async def collect(store: NotifyingStore, **kw) -> list[Event]:
    out: list[Event] = []
    async for ev in merged_events(store, RUN, keepalive_s=5, **kw):
        if ev is not None:
            out.append(ev)
    return out


async def streaming(bus: LaggingBus) -> tuple[NotifyingStore, asyncio.Task[list[Event]]]:
    """A run whose start is persisted, ``bus`` ready for it, and a client collecting the merged stream."""
    store = NotifyingStore(MemoryStore())
    await store.append(RUN, [started()])
    sub = bus.subscribe(RUN)
    await bus.ready(RUN, live_after=0)
    return store, asyncio.create_task(collect(store, deltas=sub))


def labels(events: list[Event]) -> list[str]:
    return [f"+{e.text}" if isinstance(e, TextDelta) else f"{e.type}#{e.seq}" for e in events]


async def test_a_response_waits_for_the_deltas_still_on_their_way() -> None:
    bus = LaggingBus()
    store, consumer = await streaming(bus)
    bus.publish(delta("Hel", 0))
    await asyncio.sleep(0.02)
    await store.append(RUN, step(1, "Hello", last=True))  # persisted before the last delta arrives
    await asyncio.sleep(0.1)
    bus.publish(delta("lo", 0))
    bus.mark(RUN, 3)
    got = labels(await asyncio.wait_for(consumer, 5))
    assert got == ["run_started#0", "+Hel", "model_requested#1", "+lo", "model_responded#2", "run_finished#3"]


async def test_without_marks_a_late_delta_is_dropped_never_sent_after_its_message() -> None:
    store = NotifyingStore(MemoryStore())
    await store.append(RUN, [started()])
    bus = InProcessBus()  # claims deltas cannot lag: no waiting
    sub = bus.subscribe(RUN)
    consumer = asyncio.create_task(collect(store, deltas=sub, stop_on_suspend=False))
    bus.publish(delta("Hel", 0))
    await asyncio.sleep(0.02)
    await store.append(RUN, step(1, "Hello", last=False))
    await asyncio.sleep(0.05)
    bus.publish(delta("lo", 0))  # its message is out already
    bus.publish(delta("Next", 2))  # the next model call's tokens are not stale
    await asyncio.sleep(0.05)
    await store.append(RUN, [RunFinished(run_id=RUN, seq=3, output="Hello")])
    got = labels(await asyncio.wait_for(consumer, 5))
    assert got == [
        "run_started#0",
        "+Hel",
        "model_requested#1",
        "model_responded#2",
        "+Next",
        "run_finished#3",
    ]


async def test_tokens_of_the_next_step_from_another_worker_wait_for_the_previous_ones() -> None:
    # Worker A's last tokens and its mark reach the API after worker B, which took the next
    # step, already streams: A's tokens still go before A's message, B's after it.
    bus = LaggingBus()
    store, consumer = await streaming(bus)
    bus.publish(delta("A1 ", 0))
    await asyncio.sleep(0.02)
    inner = store.inner  # written behind the tail's back, as another process would
    await inner.append(RUN, step(1, "A1 A2", last=False))
    bus.publish(delta("B1", 2))  # worker B, next step
    await asyncio.sleep(0.1)
    bus.publish(delta("A2", 0))  # worker A's flush comes late ...
    bus.mark(RUN, 2)  # ... with its mark behind it
    await asyncio.sleep(0.02)
    await inner.append(RUN, step(3, "B1", last=True))
    bus.mark(RUN, 5)
    store.wake(RUN)
    got = labels(await asyncio.wait_for(consumer, 5))
    assert got == [
        "run_started#0", "+A1 ", "model_requested#1", "+A2", "model_responded#2",
        "+B1", "model_requested#3", "model_responded#4", "run_finished#5",
    ]  # fmt: skip


async def test_a_follower_does_not_wait_for_marks_of_history() -> None:
    store = NotifyingStore(MemoryStore())
    await store.append(RUN, [started(), *step(1, "old answer", last=True)])
    bus = LaggingBus()
    bus.mark_grace_s = 2.0
    sub = bus.subscribe(RUN)  # a follower: the run was persisted before it subscribed
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    got = labels(await collect(store, deltas=sub))
    assert got == ["run_started#0", "model_requested#1", "model_responded#2", "run_finished#3"]
    assert loop.time() - t0 < 0.5 and sub.live_after == 3


async def test_a_missing_mark_delays_the_response_by_the_grace_only() -> None:
    bus = LaggingBus()
    bus.mark_grace_s = 0.2
    store, consumer = await streaming(bus)
    bus.publish(delta("Hello", 0))
    await asyncio.sleep(0.02)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await store.append(RUN, step(1, "Hello", last=True))  # its worker died before the mark
    got = labels(await asyncio.wait_for(consumer, 5))
    assert 0.15 <= loop.time() - t0 < 1.0
    assert got == ["run_started#0", "+Hello", "model_requested#1", "model_responded#2", "run_finished#3"]


async def test_reconnecting_after_an_id_gets_the_later_persisted_events_once() -> None:
    store = NotifyingStore(MemoryStore())
    await store.append(RUN, [started(), *step(1, "Hello", last=True)])
    sub = LaggingBus().subscribe(RUN)
    got = labels(await collect(store, after=1, deltas=sub))
    assert got == ["model_responded#2", "run_finished#3"]
