"""Long-term memory: one conformance suite over SQLite (the default) and PostgreSQL + pgvector.

Every test runs on both backends through ``open_memory``, a factory that opens a ``LongTermMemory``
on the same storage each time (a SQLite file, or a table in the PostgreSQL server that
``tests/pg.py`` starts), so persistence across instances is checked too.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import numpy as np
import pytest

from keel.errors import ConfigError
from keel.loop.state import RunState
from keel.memory import LongTermMemory, MemoryProvider, MemoryScope
from keel.memory.longterm import memory_id
from keel.rag import HashingEmbedder
from pg import new_database, postgres_url  # noqa: F401  (registers the fixture)

_tables = itertools.count()
DAY = 86_400.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class TableEmbedder:
    """Vectors chosen by the test: exact control over similarity."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    @property
    def name(self) -> str:
        return "table"

    @property
    def dim(self) -> int:
        return 3

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        m = np.asarray([self.table[t] for t in texts], dtype=np.float32)
        return m / np.linalg.norm(m, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def pg_database(request: pytest.FixtureRequest) -> str:
    return new_database(request.getfixturevalue("postgres_url"), prefix="memory")


@pytest.fixture(params=["sqlite", pytest.param("pgvector", marks=pytest.mark.integration)])
async def open_memory(
    request: pytest.FixtureRequest, tmp_path: Any
) -> AsyncIterator[Callable[..., LongTermMemory]]:
    opened: list[LongTermMemory] = []
    location = (
        str(tmp_path / "memory.db") if request.param == "sqlite" else request.getfixturevalue("pg_database")
    )
    collection = f"mem_{next(_tables)}"

    def factory(**kw: Any) -> LongTermMemory:
        kw.setdefault("embedder", HashingEmbedder(dim=64))
        memory = LongTermMemory(location, collection=collection, **kw)
        opened.append(memory)
        return memory

    yield factory
    for m in opened:
        await m.close()


async def test_recall_ranks_the_users_memories_by_meaning(open_memory) -> None:
    memory = open_memory()
    await memory.remember("Prefers to be contacted by email", user_id="u1", kind="preference")
    await memory.remember("Lives in Berlin, Germany", user_id="u1")
    await memory.remember("Had a broken blender replaced in March", user_id="u1", kind="outcome")
    hits = await memory.recall("contact them by email?", user_id="u1", k=2)
    assert hits[0].text == "Prefers to be contacted by email" and hits[0].kind == "preference"
    assert len(hits) == 2 and hits[0].score >= hits[1].score
    assert 0 < hits[0].similarity <= 1.0


async def test_recency_breaks_ties_but_not_meaning(open_memory) -> None:
    clock = Clock()
    table = {
        "old": [1, 0, 0],
        "new": [1, 0, 0],
        "far": [0, 1, 0],
        "q": [1, 0.05, 0],
        "fresh-but-off": [0.3, 1, 0],
    }
    memory = open_memory(embedder=TableEmbedder(table), clock=clock, recency_weight=0.2, half_life_days=30)
    await memory.remember("old", user_id="u")
    clock.now += 60 * DAY
    await memory.remember("new", user_id="u")
    await memory.remember("fresh-but-off", user_id="u")
    hits = await memory.recall("q", user_id="u", k=3)
    assert [h.text for h in hits] == ["new", "old", "fresh-but-off"]
    assert hits[0].similarity == pytest.approx(hits[1].similarity, abs=1e-4)


async def test_same_text_for_two_users_stays_two_memories(open_memory) -> None:
    memory = open_memory()
    a = await memory.remember("My order A-1001 arrived late", user_id="alice")
    b = await memory.remember("My order A-1001 arrived late", user_id="bob")
    assert a.id != b.id
    for user, mine in (("alice", a.id), ("bob", b.id)):
        hits = await memory.recall("order A-1001 late", user_id=user, k=10)
        assert [h.id for h in hits] == [mine] and all(h.user_id == user for h in hits)
    assert await memory.forget_user(user_id="bob") == 1
    assert [h.id for h in await memory.recall("order A-1001", user_id="alice")] == [a.id]


async def test_a_tenant_boundary_separates_the_same_user_id(open_memory) -> None:
    memory = open_memory()
    await memory.remember("Works at Acme on the Gold plan", user_id="u1", tenant="acme")
    await memory.remember("Works at Globex on the Free plan", user_id="u1", tenant="globex")
    await memory.remember("No tenant at all", user_id="u1")
    acme = await memory.recall("which plan does the user have at work", user_id="u1", tenant="acme", k=10)
    assert [h.text for h in acme] == ["Works at Acme on the Gold plan"] and acme[0].tenant == "acme"
    assert [i.text for i in await memory.list(user_id="u1")] == ["No tenant at all"]
    assert await memory.forget_tenant("globex") == 1
    assert await memory.list(user_id="u1", tenant="globex") == []
    assert len(await memory.list(user_id="u1", tenant="acme")) == 1
    with pytest.raises(ConfigError):
        await memory.forget_tenant("")


async def test_scope_keys_cannot_collide(open_memory) -> None:
    memory = open_memory()
    await memory.remember("first", user_id="b/c", tenant="a")
    await memory.remember("second", user_id="c", tenant="a/b")
    assert [i.text for i in await memory.list(user_id="b/c", tenant="a")] == ["first"]
    assert [i.text for i in await memory.list(user_id="c", tenant="a/b")] == ["second"]


async def test_forget_by_id_only_for_the_owner(open_memory) -> None:
    memory = open_memory()
    item = await memory.remember("Allergic to peanuts", user_id="alice")
    assert await memory.forget(item.id, user_id="mallory") is False
    assert await memory.forget(item.id, user_id="alice", tenant="other") is False
    assert await memory.get(item.id, user_id="alice") is not None
    assert await memory.forget(item.id, user_id="alice") is True
    assert await memory.get(item.id, user_id="alice") is None
    assert await memory.forget(item.id, user_id="alice") is False


async def test_forget_user_erases_everything_of_that_user(open_memory) -> None:
    memory = open_memory()
    for i in range(5):
        await memory.remember(f"fact number {i}", user_id="gone", tenant="acme")
    await memory.remember("fact number 0", user_id="stays", tenant="acme")
    assert await memory.forget_user(user_id="gone", tenant="acme") == 5
    assert await memory.list(user_id="gone", tenant="acme") == []
    assert await memory.recall("fact number", user_id="gone", tenant="acme") == []
    assert len(await memory.list(user_id="stays", tenant="acme")) == 1
    # the rows are gone from the index itself, not just hidden
    assert await memory.index.count(filter={"tenant": "acme"}) == 1


async def test_remembering_again_refreshes_one_memory(open_memory) -> None:
    clock = Clock()
    memory = open_memory(clock=clock)
    first = await memory.remember("Prefers  SMS", user_id="u", kind="preference")
    clock.now += 10 * DAY
    again = await memory.remember("prefers sms", user_id="u", kind="preference")
    assert again.id == first.id == memory_id(MemoryScope("u"), "Prefers SMS")
    [only] = await memory.list(user_id="u")
    assert only.created == clock.now


async def test_memories_persist_across_instances_with_their_fields(open_memory) -> None:
    memory = open_memory()
    await memory.remember("Ticket T-9: printer jam, fixed by replacing the roller", user_id="u",
                          kind="ticket", source="run-1", metadata={"ticket": "T-9"})  # fmt: skip
    reopened = open_memory()
    [item] = await reopened.list(user_id="u")
    assert (item.kind, item.source, item.metadata) == ("ticket", "run-1", {"ticket": "T-9"})
    assert [i.text for i in await reopened.list(user_id="u", kinds=["fact"])] == []
    hits = await reopened.recall("printer", user_id="u", kinds=["ticket"])
    assert hits and hits[0].id == item.id


async def test_provider_adds_only_the_runs_users_memories(open_memory) -> None:
    memory = open_memory()
    await memory.remember("Prefers email for updates", user_id="alice", tenant="acme")
    await memory.remember("Prefers phone calls for updates", user_id="bob", tenant="acme")
    provider = MemoryProvider(memory, min_similarity=0.0)
    alice = RunState(
        run_id="r", input="how do I get updates?", metadata={"user_id": "alice", "tenant": "acme"}
    )
    text = await provider.provide(alice, [])
    assert "Prefers email" in text and "phone" not in text
    assert await provider.provide(RunState(run_id="r2", input="updates?"), []) == ""


def test_scope_comes_from_metadata_then_deps() -> None:
    class Deps:
        user_id = "d1"
        tenant = "t"

    assert MemoryScope.from_metadata({"user_id": "m1"}, Deps()) == MemoryScope("m1", "")
    assert MemoryScope.from_metadata({}, Deps()) == MemoryScope("d1", "t")
    assert MemoryScope.from_metadata({}, {"user_id": "x", "tenant": "y"}) == MemoryScope("x", "y")
    assert MemoryScope.from_metadata({}, None) is None
    with pytest.raises(ConfigError):
        MemoryScope("")
