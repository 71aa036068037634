"""Server-sent events: a run's persisted events (tailed from the store) merged with live deltas.

Keel's own stream names each SSE event after the event type and carries its JSON; persisted events
also carry ``id: <seq>``, so a client that reconnects with ``Last-Event-ID`` misses no persisted
event. Deltas are live only: a reconnecting client gets the persisted events it missed (the
``model_responded`` among them has the whole text), and deltas again from then on.

>>> from keel.events import RunFinished
>>> sse_event(RunFinished(run_id="r", seq=3, ts=0.0, output="hi"))
'event: run_finished\\nid: 3\\ndata: {"run_id":"r","seq":3,"ts":0.0,"type":"run_finished","output":"hi","usage":{"input_tokens":0,"output_tokens":0,"cached_tokens":0,"cost_usd":0.0,"requests":0}}\\n\\n'
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncGenerator
from typing import Any

from keel.events import ApprovalRequested, Event, ModelResponded, RunFailed, RunFinished, TextDelta
from keel.runtime.bus import Subscription
from keel.serve.schemas import present
from keel.store.base import RunStore

__all__ = ["KEEPALIVE", "merged_events", "sse_data", "sse_event"]

KEEPALIVE = ": keepalive\n\n"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_event(ev: Event) -> str:
    """One Keel event as an SSE message (``event:`` = its type)."""
    head = f"event: {ev.type}\n"
    if not isinstance(ev, TextDelta):
        head += f"id: {ev.seq}\n"
    return f"{head}data: {present(ev).model_dump_json()}\n\n"


def sse_data(payload: dict[str, Any] | str) -> str:
    """A bare ``data:`` message (the OpenAI-compatible stream)."""
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {text}\n\n"


def _drain(q: asyncio.Queue[TextDelta] | None) -> list[TextDelta]:
    out: list[TextDelta] = []
    while q is not None and not q.empty():
        out.append(q.get_nowait())
    return out


class _Merge:
    """Persisted events in seq order, each preceded by the deltas published before it.

    A delta's ``seq`` is the last event persisted before it was published: it goes after that
    event and before the next. A persisted ``model_responded`` waits for its mark on a bus where
    deltas can lag (``Subscription.settle``); a delta that still comes after its message was sent
    is dropped, never sent out of order.
    """

    def __init__(
        self, store: RunStore, run_id: str, after: int, deltas: asyncio.Queue[TextDelta] | None, stop: bool
    ) -> None:
        self.store, self.run_id, self.last = store, run_id, after
        self.stop_on_suspend = stop
        self.ended = False
        self.responded = -1  # seq of the last model_responded sent: older deltas are stale
        self.deltas = deltas
        self.held: deque[TextDelta] = deque()
        self.next_delta = asyncio.ensure_future(deltas.get()) if deltas is not None else None

    def collect(self) -> None:
        """Move the deltas that have arrived into ``held``, in arrival order."""
        if self.next_delta is not None and self.next_delta.done() and self.deltas is not None:
            self.held.append(self.next_delta.result())
            self.next_delta = asyncio.ensure_future(self.deltas.get())
        self.held.extend(_drain(self.deltas))

    async def persisted(self, ev: Event) -> list[Event]:
        """What to send for the persisted ``ev`` (the next in seq order, or already sent)."""
        if ev.seq <= self.last or self.ended:
            return []
        if isinstance(ev, ModelResponded) and isinstance(self.deltas, Subscription):
            await self.deltas.settle(ev.seq)
        self.collect()
        out: list[Event] = []
        while self.held and self.held[0].seq < ev.seq:
            delta = self.held.popleft()
            if delta.seq >= self.responded:
                out.append(delta)
        self.last = ev.seq
        if isinstance(ev, ModelResponded):
            self.responded = ev.seq
        out.append(ev)
        if isinstance(ev, RunFinished | RunFailed):
            self.ended = True
        elif self.stop_on_suspend and isinstance(ev, ApprovalRequested):
            # every approval request of a step is written in one append: send the rest, then stop
            for rest in await self.store.events(self.run_id, after_seq=ev.seq):
                self.last = rest.seq
                out.append(rest)
            self.ended = True
        return out

    async def live(self) -> list[Event]:
        """The held deltas, each after the persisted events it follows (read from the store if the
        tail is behind)."""
        out: list[Event] = []
        while self.held and not self.ended:
            delta = self.held.popleft()
            if delta.seq > self.last:
                behind = await self.store.events(
                    self.run_id, after_seq=self.last, limit=delta.seq - self.last
                )
                for ev in behind:
                    out += await self.persisted(ev)
                    if self.ended:
                        return out
            if delta.seq >= self.responded:
                out.append(delta)
        return out

    def close(self) -> None:
        if self.next_delta is not None and not self.next_delta.done():
            self.next_delta.cancel()


async def merged_events(
    store: RunStore,
    run_id: str,
    *,
    after: int = -1,
    deltas: asyncio.Queue[TextDelta] | None = None,
    stop_on_suspend: bool = True,
    keepalive_s: float = 15.0,
) -> AsyncGenerator[Event | None, None]:
    """Yield the run's events after ``after`` and live deltas until the run ends (or suspends).

    ``None`` is yielded after ``keepalive_s`` of silence, for the caller to send a keep-alive.
    Order: a delta's ``seq`` is the last event persisted before it was published, so the events
    up to it are sent first (read from the store if the tail is behind), later ones after it.
    ``deltas`` from a ``keel.runtime.bus.Subscription`` are awaited until the bus delivers them.
    """
    if isinstance(deltas, Subscription) and deltas.needs_marks:
        await deltas.ready()
        if deltas.live_after is None:  # a follower: what is persisted now is history, not live
            rec = await store.get_run(run_id)
            deltas.live_after = rec.last_seq if rec is not None else -1
    merge = _Merge(store, run_id, after, deltas, stop_on_suspend)
    tail = store.tail(run_id, after)
    next_ev: asyncio.Future[Event] = asyncio.ensure_future(anext(tail))
    try:
        while not merge.ended:
            waiting = {f for f in (next_ev, merge.next_delta) if f is not None}
            done, _ = await asyncio.wait(waiting, timeout=keepalive_s, return_when=asyncio.FIRST_COMPLETED)
            if not done:
                yield None
                continue
            merge.collect()
            if next_ev in done:
                try:
                    ev = next_ev.result()
                except StopAsyncIteration:
                    return
                for out in await merge.persisted(ev):
                    yield out
                if not merge.ended:
                    next_ev = asyncio.ensure_future(anext(tail))
            for out in await merge.live():
                yield out
    finally:
        merge.close()
        if not next_ev.done():
            next_ev.cancel()
        await asyncio.wait({next_ev})  # the tail must stop running before it can be closed
        close = getattr(tail, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
