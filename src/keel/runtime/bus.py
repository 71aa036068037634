"""The live-event bus: ``TextDelta`` tokens from the worker running a step to the API streaming it.

Deltas are ephemeral: they are never persisted, and a subscriber that is not listening when one is
published never sees it. The run store stays the source of truth (``model_responded`` carries the
whole text); the bus only makes tokens visible while the model is still generating them.

Two implementations of one interface (``EventBus``):

- ``InProcessBus``: the embedded mode, where workers run in the API process. Publishing is a
  synchronous hand-over, so a delta always reaches its subscribers before the events persisted
  after it.
- ``PgBus``: production, where ``keel worker`` processes on other machines run the steps. Deltas
  travel as PostgreSQL ``NOTIFY`` messages on one channel per run, coalesced per run into batches
  at most every ``min_interval_s`` (20 ms) and split under PostgreSQL's 8000-byte payload limit. After
  each append the worker also publishes a *mark* (``persisted up to seq N``) behind the deltas; a
  stream holds a persisted ``model_responded`` back until the mark for it has arrived (or
  ``mark_grace_s`` passed), so tokens are never sent after the message they belong to.

>>> import asyncio
>>> from keel.events import TextDelta
>>> async def demo() -> list[str]:
...     bus = InProcessBus()
...     sub = bus.subscribe("r1")
...     bus.publish(TextDelta(run_id="r1", text="Hel"))
...     bus.publish(TextDelta(run_id="r1", text="lo"))
...     sub.close()
...     return [d.text async for d in sub]
>>> asyncio.run(demo())
['Hel', 'lo']
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from keel.events import Event, TextDelta

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["EventBus", "InProcessBus", "PgBus", "Subscription", "bus_for_queue", "channel_of"]

log = logging.getLogger("keel.bus")

MAX_PAYLOAD = 7800
"""Bytes per NOTIFY payload; PostgreSQL refuses 8000 and more (its default build)."""


@runtime_checkable
class EventBus(Protocol):
    """Live run events between the process running a step and the processes streaming the run.

    ``publish``/``mark`` never block and never raise: a step must not wait for, or fail because of,
    someone watching it.
    """

    on_mark: Callable[[str, int], None] | None
    """Called with ``(run_id, seq)`` when a subscribed run's events up to ``seq`` are persisted."""

    def publish(self, event: Event) -> None:
        """Send a ``TextDelta`` to the run's subscribers (other events are ignored)."""
        ...

    def mark(self, run_id: str, seq: int) -> None:
        """Announce that the run's events up to ``seq`` are persisted (after its deltas so far)."""
        ...

    def subscribe(self, run_id: str) -> Subscription:
        """A new subscription to the run's deltas; close it when done."""
        ...

    def unsubscribe(self, run_id: str, sub: asyncio.Queue[TextDelta]) -> None:
        """End ``sub`` (idempotent)."""
        ...

    async def ready(self, run_id: str, *, live_after: int | None = None) -> None:
        """Return once the run's current subscriptions receive what is published from now on.

        ``live_after``: the run's last persisted seq now; later events are "live" for the
        subscriptions that were waiting (see ``Subscription.live_after``).
        """
        ...

    async def close(self) -> None:
        """Send what is pending, then release connections."""
        ...


class Subscription(asyncio.Queue[TextDelta]):
    """One subscriber's deltas of one run, in publishing order: a queue and an async iterator.

    Bounded: a subscriber that falls ``maxsize`` deltas behind loses the extra ones (counted in
    ``dropped``). Iteration ends after ``close()``, once the queued deltas are consumed.
    """

    def __init__(self, bus: _Fanout, run_id: str, *, maxsize: int, needs_marks: bool) -> None:
        super().__init__(maxsize)
        self.bus = bus
        self.run_id = run_id
        self.needs_marks = needs_marks
        """Deltas may arrive after events persisted later: hold those back until ``wait_marked``."""
        self.live_after: int | None = None
        """Events with a higher seq were persisted while this subscription listened (set by
        ``EventBus.ready`` or by the stream); only for those is a mark worth waiting for."""
        self.marked = -1
        self.dropped = 0
        self.closed = False
        self._mark_seen = asyncio.Event()
        self._closed = asyncio.Event()

    def offer(self, delta: TextDelta) -> None:
        if self.closed:
            return
        if self.full():
            self.dropped += 1
        else:
            self.put_nowait(delta)

    def note_mark(self, seq: int) -> None:
        if seq > self.marked:
            self.marked = seq
            self._mark_seen.set()

    async def ready(self) -> None:
        """Wait until the bus delivers this run's deltas to this subscription."""
        await self.bus.ready(self.run_id)

    async def settle(self, seq: int) -> None:
        """Before a persisted ``model_responded`` with this ``seq`` is sent: wait until the deltas
        published before it was persisted are here (its mark), for at most ``mark_grace_s``.

        No wait where deltas cannot lag (in-process), for events persisted before this subscription
        listened, or while the workers are not publishing marks at all.
        """
        bus = self.bus
        if not self.needs_marks or self.marked >= seq or not bus.expect_marks:
            return
        if self.live_after is None or seq <= self.live_after:
            return
        if not await self.wait_marked(seq, bus.mark_grace_s) and self.marked < 0:
            # not a single mark for this run: its worker does not publish (live_deltas=False)
            log.info("no live-delta marks from the workers; streams stop waiting for them")
            bus.expect_marks = False

    async def wait_marked(self, seq: int, timeout_s: float) -> bool:
        """Wait until events up to ``seq`` are announced persisted; ``False`` after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while self.marked < seq and (remaining := deadline - time.monotonic()) > 0:
            self._mark_seen.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._mark_seen.wait(), remaining)
        return self.marked >= seq

    def close(self) -> None:
        """Stop receiving (same as ``bus.unsubscribe``)."""
        self.bus.unsubscribe(self.run_id, self)

    def _end(self) -> None:
        self.closed = True
        self._closed.set()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> TextDelta:
        if not self.empty():
            return self.get_nowait()
        if self.closed:
            raise StopAsyncIteration
        get = asyncio.ensure_future(self.get())
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait({get, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
            if not get.done():
                get.cancel()
        if get.done() and not get.cancelled():
            return get.result()
        raise StopAsyncIteration


class _Fanout:
    """Subscriptions by run, shared by both buses."""

    needs_marks = False

    def __init__(self, max_pending: int = 10_000) -> None:
        self.max_pending = max_pending
        self.expect_marks = True
        """False once a mark failed to come for a run that had none at all (workers that do not
        publish): streams then stop waiting for marks, until one arrives."""
        self.mark_grace_s = 0.5
        """How long a stream holds a persisted ``model_responded`` back for its mark."""
        self.on_mark: Callable[[str, int], None] | None = None
        self._subs: dict[str, set[Subscription]] = {}

    def subscribe(self, run_id: str) -> Subscription:
        sub = Subscription(self, run_id, maxsize=self.max_pending, needs_marks=self.needs_marks)
        self._subs.setdefault(run_id, set()).add(sub)
        return sub

    def unsubscribe(self, run_id: str, sub: asyncio.Queue[TextDelta]) -> None:
        subs = self._subs.get(run_id)
        if subs is not None and isinstance(sub, Subscription):
            subs.discard(sub)
            if not subs:
                del self._subs[run_id]
        if isinstance(sub, Subscription):
            sub._end()

    async def ready(self, run_id: str, *, live_after: int | None = None) -> None:
        self._set_live_after(run_id, live_after)

    def subscribers(self, run_id: str) -> int:
        """How many subscriptions the run has in this process."""
        return len(self._subs.get(run_id, ()))

    def _deliver(self, delta: TextDelta) -> None:
        for sub in self._subs.get(delta.run_id, ()):
            sub.offer(delta)

    def _deliver_mark(self, run_id: str, seq: int) -> None:
        for sub in self._subs.get(run_id, ()):
            sub.note_mark(seq)
        if self.on_mark is not None:
            try:
                self.on_mark(run_id, seq)
            except Exception:  # a watcher's bug must not stop the delivery of other runs' events
                log.exception("mark listener failed")

    def _end_all(self) -> None:
        for run_id, subs in list(self._subs.items()):
            for sub in list(subs):
                self.unsubscribe(run_id, sub)

    def _set_live_after(self, run_id: str, live_after: int | None) -> None:
        if live_after is None:
            return
        for sub in self._subs.get(run_id, ()):
            if sub.live_after is None:
                sub.live_after = live_after


class InProcessBus(_Fanout):
    """The bus of one process (embedded mode): a delta reaches its subscribers when published.

    >>> bus = InProcessBus()
    >>> sub = bus.subscribe("r1")
    >>> bus.publish(TextDelta(run_id="r1", text="hi")); sub.get_nowait().text
    'hi'
    """

    def publish(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self._deliver(event)

    def mark(self, run_id: str, seq: int) -> None:
        self._deliver_mark(run_id, seq)

    async def close(self) -> None:
        self._end_all()


def channel_of(run_id: str) -> str:
    """The NOTIFY channel of a run: a fixed-size name, whatever the run id (identifiers stop at 63 bytes).

    >>> channel_of("r1")
    'keel_live_8c97518621991a8a21fe6a33b746d838'
    """
    return "keel_live_" + hashlib.blake2b(run_id.encode(), digest_size=16).hexdigest()


def bus_for_queue(queue: object) -> PgBus | None:
    """The bus that goes with a run queue: a ``PgBus`` on the same database for a PostgreSQL queue
    (``PgQueue``), else ``None`` (the queue is in-process, and so is its bus)."""
    url = getattr(queue, "url", None)
    if isinstance(url, str) and url.startswith(("postgresql://", "postgres://")):
        return PgBus(url)
    return None


def _char_cost(ch: str) -> int:
    """Bytes ``ch`` takes inside an ASCII JSON string."""
    if " " <= ch <= "~":
        return 2 if ch in '"\\' else 1
    return len(json.dumps(ch)) - 2


def split_text(text: str, budget: int) -> list[str]:
    """Cut ``text`` into pieces whose JSON string bodies take at most ``budget`` bytes each.

    >>> split_text("abcdé", 6)
    ['abcd', 'é']
    """
    pieces: list[str] = []
    start, used = 0, 0
    for i, ch in enumerate(text):
        cost = _char_cost(ch)
        if used + cost > budget and i > start:
            pieces.append(text[start:i])
            start, used = i, 0
        used += cost
    pieces.append(text[start:])
    return pieces


def _dumps(obj: dict[str, Any]) -> str:
    # ASCII JSON: every character escapes to a valid byte sequence, so the byte budget is exact
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))


class PgBus(_Fanout):
    """The bus over PostgreSQL ``LISTEN``/``NOTIFY``: workers publish, API processes subscribe.

    A worker only publishes (one connection, opened at the first delta); an API process only
    listens (one connection, ``LISTEN`` on the channel of each run it streams, so the database sends
    it nothing about the runs nobody watches). Deltas of a run published within ``min_interval_s``
    are sent as one notification (consecutive ones merge); every pending notification of every
    run goes in one statement, so a busy worker sends at most ``1 / min_interval_s`` statements a
    second, however many tokens it streams.

    >>> bus = PgBus("postgresql://keel@127.0.0.1/keel")  # doctest: +SKIP
    >>> sub = bus.subscribe(run_id); await bus.ready(run_id)  # doctest: +SKIP
    >>> async for delta in sub: print(delta.text)  # doctest: +SKIP
    """

    needs_marks = True

    def __init__(
        self,
        url: str,
        *,
        min_interval_s: float = 0.02,
        mark_grace_s: float = 0.5,
        ready_timeout_s: float = 2.0,
        keepalive_s: float = 30.0,
        retry_s: float = 1.0,
        max_pending: int = 10_000,
    ) -> None:
        super().__init__(max_pending)
        self.url = url
        self.min_interval_s = min_interval_s
        self.mark_grace_s = mark_grace_s
        self.ready_timeout_s = ready_timeout_s
        self.keepalive_s = keepalive_s
        self.retry_s = retry_s
        self.sent = 0
        """Notifications sent (for tests and benchmarks)."""
        self.statements = 0
        self.dropped = 0
        self._outbox: dict[str, list[list[Any]]] = {}
        self._outbox_items = 0
        self._dirty = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._flusher: asyncio.Task[None] | None = None
        self._pub: AsyncConnection[Any] | None = None
        self._last_send = 0.0
        self._counter = 0
        self._failing = False
        self._listener: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._listening: set[str] = set()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._closing = False

    # -- publishing (workers) ---------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        if isinstance(event, TextDelta) and event.text:
            self._put(event.run_id, ["d", event.seq, event.text, event.ts])

    def mark(self, run_id: str, seq: int) -> None:
        self._put(run_id, ["m", seq])

    def _put(self, run_id: str, item: list[Any]) -> None:
        if self._closing:
            return
        items = self._outbox.setdefault(run_id, [])
        last = items[-1] if items else None
        if last is not None and last[0] == item[0] == "d" and last[1] == item[1]:
            last[2] += item[2]  # coalesce: one notification for the tokens of this interval
        elif last is not None and last[0] == item[0] == "m":
            last[1] = max(last[1], item[1])
        elif self._outbox_items >= self.max_pending:
            self.dropped += 1  # the database is not keeping up: tokens are the first thing to go
            return
        else:
            items.append(item)
            self._outbox_items += 1
        if self._flusher is None or self._flusher.done():
            try:
                self._flusher = asyncio.get_running_loop().create_task(
                    self._flush_loop(), name="keel-bus-flush"
                )
            except RuntimeError:  # no event loop: sent by the next flush() or close()
                return
        self._dirty.set()

    async def _flush_loop(self) -> None:
        while True:
            await self._dirty.wait()
            wait = self._last_send + self.min_interval_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._dirty.clear()
            await self.flush()

    def _encode(self, outbox: dict[str, list[list[Any]]]) -> tuple[list[str], list[str]]:
        channels: list[str] = []
        payloads: list[str] = []
        for run_id, items in outbox.items():
            channel = channel_of(run_id)
            for item in items:
                if item[0] == "m":
                    payloads.append(_dumps({"r": run_id, "k": "m", "s": item[1]}))
                    channels.append(channel)
                    continue
                head = {"r": run_id, "k": "d", "s": item[1], "ts": item[3], "n": 10**15}
                budget = MAX_PAYLOAD - len(_dumps({**head, "t": ""}))
                for piece in split_text(item[2], budget):
                    self._counter += 1  # unique payloads: PostgreSQL folds identical ones of a transaction
                    payloads.append(_dumps({**head, "n": self._counter, "t": piece}))
                    channels.append(channel)
        return channels, payloads

    async def flush(self) -> None:
        """Send everything pending now, in one statement (order kept within each run)."""
        async with self._send_lock:
            if not self._outbox:
                return
            outbox, self._outbox, self._outbox_items = self._outbox, {}, 0
            channels, payloads = self._encode(outbox)
            self._last_send = time.monotonic()
            try:
                conn = await self._publisher()
                await conn.execute(
                    "select pg_notify(c, p) from unnest(%s::text[], %s::text[]) as t(c, p)",
                    (channels, payloads),
                )
            except Exception as e:  # ephemeral by design: a lost batch costs tokens, never events
                if not self._failing:
                    log.warning(
                        "live deltas not sent (%s); streams carry persisted events until the database answers",
                        type(e).__name__,
                    )
                self._failing = True
                await self._drop_publisher()
                return
            self._failing = False
            self.sent += len(payloads)
            self.statements += 1

    async def _publisher(self) -> AsyncConnection[Any]:
        import psycopg

        if self._pub is None or self._pub.closed:
            self._pub = await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=5)
        return self._pub

    async def _drop_publisher(self) -> None:
        pub, self._pub = self._pub, None
        if pub is not None:
            with contextlib.suppress(Exception):
                await pub.close()

    # -- subscribing (API processes) --------------------------------------------------------------

    def subscribe(self, run_id: str) -> Subscription:
        sub = super().subscribe(run_id)
        if self.subscribers(run_id) == 1:
            self._channels_changed()
        return sub

    def unsubscribe(self, run_id: str, sub: asyncio.Queue[TextDelta]) -> None:
        had = run_id in self._subs
        super().unsubscribe(run_id, sub)
        if had and run_id not in self._subs:
            self._channels_changed()

    def _channels_changed(self) -> None:
        self._changed.set()
        if self._closing or (self._listener is not None and not self._listener.done()):
            return
        with contextlib.suppress(RuntimeError):  # no event loop yet: ready() starts the listener
            self._listener = asyncio.get_running_loop().create_task(
                self._listen_loop(), name="keel-bus-listen"
            )

    async def ready(self, run_id: str, *, live_after: int | None = None) -> None:
        if run_id in self._subs and channel_of(run_id) not in self._listening and not self._closing:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(run_id, []).append(fut)
            self._channels_changed()
            try:
                await asyncio.wait_for(asyncio.shield(fut), self.ready_timeout_s)
            except TimeoutError:
                log.warning("not listening for run %s yet: its stream may miss tokens", run_id)
            finally:
                waiting = self._waiters.get(run_id, [])
                if fut in waiting:
                    waiting.remove(fut)
        self._set_live_after(run_id, live_after)

    async def _listen_loop(self) -> None:
        import psycopg

        while not self._closing:
            try:
                conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=5)
            except Exception as e:
                log.warning("live-delta listener cannot connect (%s); retrying", type(e).__name__)
                await asyncio.sleep(self.retry_s)
                continue
            try:
                while True:
                    await self._sync_channels(conn)
                    await self._pump_until_changed(conn)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # streams fall back to persisted events until we are back
                log.warning("live-delta listener lost its connection (%s); reconnecting", type(e).__name__)
                await asyncio.sleep(self.retry_s)
            finally:
                self._listening = set()
                with contextlib.suppress(Exception):
                    await conn.close()

    async def _sync_channels(self, conn: AsyncConnection[Any]) -> None:
        """LISTEN to the runs subscribed now, UNLISTEN the others; wake who waits in ``ready``."""
        from psycopg import sql

        self._changed.clear()
        wanted = {channel_of(r) for r in self._subs}
        add, drop = wanted - self._listening, self._listening - wanted
        statements = [sql.SQL("LISTEN {}").format(sql.Identifier(c)) for c in sorted(add)]
        statements += [sql.SQL("UNLISTEN {}").format(sql.Identifier(c)) for c in sorted(drop)]
        if statements:
            await conn.execute(sql.SQL("; ").join(statements))
        self._listening = (self._listening | add) - drop
        for run_id in list(self._waiters):
            if channel_of(run_id) in self._listening or run_id not in self._subs:
                for fut in self._waiters.pop(run_id):
                    if not fut.done():
                        fut.set_result(None)

    async def _pump_until_changed(self, conn: AsyncConnection[Any]) -> None:
        # ``notifies()`` holds the connection; a change of channels interrupts it (cancelling a wait
        # for input leaves the idle connection usable) so LISTEN can run.
        pump = asyncio.ensure_future(self._pump(conn))
        changed = asyncio.ensure_future(self._changed.wait())
        try:
            await asyncio.wait({pump, changed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, changed):
                task.cancel()
            await asyncio.gather(pump, changed, return_exceptions=True)
        error = None if pump.cancelled() else pump.exception()
        if error is not None:
            raise error

    async def _pump(self, conn: AsyncConnection[Any]) -> None:
        while True:
            async for note in conn.notifies(timeout=self.keepalive_s):
                self._dispatch(note.payload)
            await conn.execute("select 1")  # a dead connection shows here, not as endless silence

    def _dispatch(self, payload: str) -> None:
        try:
            msg = json.loads(payload)
            run_id, kind, seq = str(msg["r"]), msg["k"], int(msg["s"])
        except (ValueError, KeyError, TypeError):
            return
        if run_id not in self._subs:
            return
        if kind == "m":
            self.expect_marks = True
            self._deliver_mark(run_id, seq)
        elif kind == "d":
            ts = float(msg.get("ts") or time.time())
            self._deliver(TextDelta(run_id=run_id, seq=seq, ts=ts, text=str(msg.get("t", ""))))

    # -- closing -----------------------------------------------------------------------------------

    async def close(self) -> None:
        """Send what is pending, stop listening, close both connections."""
        with contextlib.suppress(Exception):
            await self.flush()
        self._closing = True
        tasks = [t for t in (self._flusher, self._listener) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._drop_publisher()
        for futs in self._waiters.values():
            for fut in futs:
                if not fut.done():
                    fut.set_result(None)
        self._waiters.clear()
        self._end_all()
