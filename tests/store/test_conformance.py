"""One conformance suite for every RunStore backend, concurrency included."""

from __future__ import annotations

import asyncio

import pytest

from keel.events import ApprovalRequested, ModelRequested, RunFinished, RunStarted, ToolCall
from keel.store import MemoryStore, SeqConflict, SQLiteStore
from pg import new_database, postgres_url  # noqa: F401  (registers the PostgreSQL fixture)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request, tmp_path):
    if request.param == "memory":
        s = MemoryStore()
    elif request.param == "sqlite":
        s = SQLiteStore(tmp_path / "s.db")
    else:
        from keel.store.postgres import PostgresStore

        s = await PostgresStore(new_database(request.getfixturevalue("postgres_url"))).open()
    yield s
    await s.close()


def start(run_id: str, session: str | None = None, tenant: str | None = None, seq: int = 0) -> RunStarted:
    return RunStarted(
        run_id=run_id,
        seq=seq,
        agent="a",
        input="hi",
        session_id=session,
        metadata={"tenant": tenant} if tenant else {},
    )


async def test_append_and_read_back_in_order(store) -> None:
    await store.append("r1", [start("r1"), ModelRequested(run_id="r1", seq=1, step=0, model="m")])
    await store.append("r1", [RunFinished(run_id="r1", seq=2, output="x")])
    events = await store.events("r1")
    assert [e.type for e in events] == ["run_started", "model_requested", "run_finished"]
    assert [e.seq for e in await store.events("r1", after_seq=0)] == [1, 2]
    assert len(await store.events("r1", limit=2)) == 2
    rec = await store.get_run("r1")
    assert rec.status == "finished" and rec.last_seq == 2


async def test_duplicate_or_gapped_sequence_is_refused(store) -> None:
    await store.append("r1", [start("r1")])
    with pytest.raises(SeqConflict):
        await store.append("r1", [ModelRequested(run_id="r1", seq=0, step=0, model="m")])
    with pytest.raises(SeqConflict):
        await store.append("r1", [ModelRequested(run_id="r1", seq=5, step=0, model="m")])
    assert len(await store.events("r1")) == 1  # a refused batch writes nothing


async def test_status_index_and_filters(store) -> None:
    await store.append("a", [start("a", session="s1", tenant="t1")])
    call = ToolCall(id="c", name="refund")
    await store.append("a", [ApprovalRequested(run_id="a", seq=1, step=0, call=call)])
    await store.append("b", [start("b", session="s1", tenant="t2"), RunFinished(run_id="b", seq=1)])
    await store.append("c", [start("c", session="s2", tenant="t1")])
    assert [r.run_id for r in await store.list_runs(session_id="s1")] == ["a", "b"]
    assert [r.run_id for r in await store.list_runs(status="suspended")] == ["a"]
    assert [r.run_id for r in await store.list_runs(tenant="t1")] == ["a", "c"]


async def test_concurrent_writers_never_interleave_a_run(store) -> None:
    async def writer(run_id: str) -> None:
        await store.append(run_id, [start(run_id)])
        for i in range(1, 30):
            await store.append(run_id, [ModelRequested(run_id=run_id, seq=i, step=i, model="m")])
            await asyncio.sleep(0)

    await asyncio.gather(*(writer(f"r{i}") for i in range(20)))
    for i in range(20):
        assert [e.seq for e in await store.events(f"r{i}")] == list(range(30))

    # two writers racing for the same next seq: exactly one wins
    results = await asyncio.gather(
        *(store.append("r0", [RunFinished(run_id="r0", seq=30, output=w)]) for w in ("x", "y")),
        return_exceptions=True,
    )
    assert sum(isinstance(r, SeqConflict) for r in results) == 1


async def test_tail_follows_until_the_run_ends(store) -> None:
    await store.append("r", [start("r")])
    seen: list[str] = []

    async def follow() -> None:
        async for ev in store.tail("r"):
            seen.append(ev.type)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.05)
    await store.append("r", [ModelRequested(run_id="r", seq=1, step=0, model="m")])
    await store.append("r", [RunFinished(run_id="r", seq=2)])
    await asyncio.wait_for(task, 5)
    assert seen == ["run_started", "model_requested", "run_finished"]


async def test_sqlite_is_shared_between_processes(tmp_path) -> None:
    import subprocess
    import sys

    path = tmp_path / "shared.db"
    a = SQLiteStore(path)
    await a.append("r", [start("r")])
    code = (
        "import asyncio; from keel.store import SQLiteStore; from keel.events import RunFinished\n"
        f"s = SQLiteStore({str(path)!r})\n"
        "asyncio.run(s.append('r', [RunFinished(run_id='r', seq=1, output='from child')]))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    events = await a.events("r")
    assert events[-1].output == "from child"
    assert (await a.get_run("r")).status == "finished"


@pytest.mark.integration
def test_migrations_apply_once(postgres_url) -> None:
    from keel.store.migrate import migrate

    url = new_database(postgres_url)
    assert migrate(url) == ["0001_runs"]
    assert migrate(url) == []  # already applied: nothing to do
