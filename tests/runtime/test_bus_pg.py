"""``PgBus`` on a real PostgreSQL: a publishing bus (a worker's) and a listening bus (an API's),
each with its own connections, as in production."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from keel.events import TextDelta
from keel.runtime.bus import PgBus
from pg import new_database, postgres_url  # noqa: F401

pytestmark = pytest.mark.integration
pytest.importorskip("psycopg", reason="install the postgres extra: pip install 'keel[postgres]'")


@pytest.fixture
async def buses(postgres_url):
    url = new_database(postgres_url, "bus")
    worker, api = PgBus(url), PgBus(url)
    try:
        yield worker, api
    finally:
        await worker.close()
        await api.close()


async def receive(
    sub, *, until_text: str = "", until_mark: int | None = None, timeout_s: float = 10.0
) -> str:
    """Concatenate the subscription's deltas until they spell ``until_text`` / a mark arrives."""
    text = ""
    deadline = time.monotonic() + timeout_s
    while len(text) < len(until_text) or (until_mark is not None and sub.marked < until_mark):
        assert time.monotonic() < deadline, (
            f"got {len(text)} of {len(until_text)} characters, mark {sub.marked}"
        )
        with contextlib.suppress(TimeoutError):
            text += (await asyncio.wait_for(sub.get(), 0.05)).text
    return text


async def test_a_token_stream_arrives_whole_in_order_and_coalesced(buses) -> None:
    worker, api = buses
    sub = api.subscribe("run-1")
    await api.ready("run-1")
    tokens = [f"tok{i} " for i in range(400)]
    started = time.monotonic()
    for tok in tokens:  # a fast model: 400 tokens in about half a second
        worker.publish(TextDelta(run_id="run-1", seq=3, text=tok))
        await asyncio.sleep(0.001)
    worker.mark("run-1", 5)
    got = await receive(sub, until_text="".join(tokens), until_mark=5)
    elapsed = time.monotonic() - started
    assert got == "".join(tokens)
    assert sub.marked == 5 and sub.qsize() == 0
    # coalesced: at most one statement per 20 ms window, far fewer NOTIFYs than tokens
    assert worker.statements <= elapsed / 0.02 + 2 and worker.sent < len(tokens) / 3


async def test_big_deltas_are_split_under_the_payload_limit_and_rejoined(buses) -> None:
    worker, api = buses
    sub = api.subscribe("run-big")
    await api.ready("run-big")
    big = '«unicode» 漢字 🎉 "quotes" and \\ backslashes\n' * 1500  # ~75k characters
    worker.publish(TextDelta(run_id="run-big", seq=0, text=big))
    await worker.flush()
    assert worker.sent > 10  # split: one NOTIFY could not carry it
    assert await receive(sub, until_text=big) == big


async def test_only_subscribed_runs_are_delivered_and_unsubscribing_stops_them(buses) -> None:
    worker, api = buses
    watched = api.subscribe("watched")
    other = api.subscribe("other")
    await api.ready("watched")
    await api.ready("other")
    worker.publish(TextDelta(run_id="watched", seq=0, text="mine"))
    worker.publish(TextDelta(run_id="unwatched", seq=0, text="nobody's"))
    worker.mark("watched", 1)
    assert await receive(watched, until_text="mine", until_mark=1) == "mine"
    assert other.empty()
    other.close()
    await asyncio.sleep(0.1)  # the listener UNLISTENs
    assert len(api._listening) == 1
    worker.publish(TextDelta(run_id="other", seq=0, text="late"))
    worker.mark("watched", 2)
    await receive(watched, until_mark=2)
    assert other.empty()


async def test_marks_wake_the_api_and_follow_the_deltas_before_them(buses) -> None:
    worker, api = buses
    woken: list[tuple[str, int]] = []
    api.on_mark = lambda run_id, seq: woken.append((run_id, seq))
    sub = api.subscribe("r")
    await api.ready("r", live_after=0)
    assert sub.live_after == 0
    order: list[str] = []
    for i in range(5):
        worker.publish(TextDelta(run_id="r", seq=i, text=f"d{i}"))
        worker.mark("r", i + 1)
        await asyncio.sleep(0.03)
    async with asyncio.timeout(10):
        while sub.marked < 5:
            await sub.wait_marked(5, 0.1)
    while not sub.empty():
        order.append(sub.get_nowait().text)
    assert order == [f"d{i}" for i in range(5)]
    assert woken == [("r", i + 1) for i in range(5)]


async def test_the_listener_survives_a_lost_connection(buses, postgres_url) -> None:
    import psycopg

    worker, api = buses
    api.retry_s = 0.1
    sub = api.subscribe("r")
    await api.ready("r")
    with psycopg.connect(api.url, autocommit=True) as admin:
        admin.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            "where query ilike 'listen%%' and pid <> pg_backend_pid()"
        )
    async with asyncio.timeout(10):  # it reconnects and LISTENs again
        while True:
            worker.publish(TextDelta(run_id="r", seq=0, text="back"))
            await worker.flush()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.2):
                    assert (await sub.get()).text == "back"
                    break
