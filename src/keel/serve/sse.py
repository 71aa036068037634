"""Server-sent events: a run's persisted events (tailed from the store) merged with live deltas.

Keel's own stream names each SSE event after the event type and carries its JSON; persisted events
also carry ``id: <seq>``, so a client that reconnects with ``Last-Event-ID`` misses nothing.

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

from keel.events import ApprovalRequested, Event, RunFailed, RunFinished, TextDelta
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


class _Cursor:
    """Which persisted events were sent, and whether the stream has reached its end."""

    def __init__(self, store: RunStore, run_id: str, after: int, stop_on_suspend: bool) -> None:
        self.store, self.run_id, self.last = store, run_id, after
        self.stop_on_suspend = stop_on_suspend
        self.ended = False

    async def accept(self, ev: Event) -> list[Event]:
        """The events to send for ``ev`` (none if already sent); sets ``ended`` at the end."""
        if ev.seq <= self.last or self.ended:
            return []
        self.last = ev.seq
        if isinstance(ev, RunFinished | RunFailed):
            self.ended = True
        elif self.stop_on_suspend and isinstance(ev, ApprovalRequested):
            # every approval request of a step is written in one append: send the rest, then stop
            rest = await self.store.events(self.run_id, after_seq=ev.seq)
            self.last = rest[-1].seq if rest else self.last
            self.ended = True
            return [ev, *rest]
        return [ev]

    async def catch_up(self, until: int) -> list[Event]:
        out: list[Event] = []
        for ev in await self.store.events(self.run_id, after_seq=self.last, limit=until - self.last):
            out += await self.accept(ev)
            if self.ended:
                break
        return out


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
    """
    cursor = _Cursor(store, run_id, after, stop_on_suspend)
    tail = store.tail(run_id, after)
    next_ev: asyncio.Future[Event] = asyncio.ensure_future(anext(tail))
    next_delta = asyncio.ensure_future(deltas.get()) if deltas is not None else None
    held: deque[TextDelta] = deque()
    try:
        while not cursor.ended:
            waiting = {f for f in (next_ev, next_delta) if f is not None}
            done, _ = await asyncio.wait(waiting, timeout=keepalive_s, return_when=asyncio.FIRST_COMPLETED)
            if not done:
                yield None
                continue
            if next_delta is not None and next_delta in done:
                held.append(next_delta.result())
                held.extend(_drain(deltas))
                next_delta = asyncio.ensure_future(deltas.get()) if deltas is not None else None
            accepted: list[Event] = []
            if next_ev in done:
                try:
                    ev = next_ev.result()
                except StopAsyncIteration:
                    return
                while held and held[0].seq < ev.seq:
                    async for out in _with_catch_up(cursor, held.popleft()):
                        yield out
                accepted = await cursor.accept(ev)
                if not cursor.ended:
                    next_ev = asyncio.ensure_future(anext(tail))
            for out in accepted:
                yield out
            while held and not cursor.ended:
                async for out in _with_catch_up(cursor, held.popleft()):
                    yield out
    finally:
        for f in (next_ev, next_delta):
            if f is not None and not f.done():
                f.cancel()
        await asyncio.wait({next_ev})  # the tail must stop running before it can be closed
        close = getattr(tail, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()


async def _with_catch_up(cursor: _Cursor, delta: TextDelta) -> AsyncGenerator[Event, None]:
    """The persisted events up to the delta's stamp that were not sent yet, then the delta."""
    if delta.seq > cursor.last:
        for ev in await cursor.catch_up(until=delta.seq):
            yield ev
    if not cursor.ended:
        yield delta
