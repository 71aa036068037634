"""One conformance suite for every ``VectorIndex`` backend (SQLite file, PostgreSQL + pgvector).

Every test runs against each backend through ``open_index``, a factory that opens an index on the
same underlying storage each time it is called (a file, or a table in a real PostgreSQL server
started by ``tests/pg.py``), so persistence and multi-instance behaviour are checked too.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import pytest

from keel.errors import ConfigError
from keel.rag import Filter, PgVectorIndex, SQLiteIndex, VectorIndex
from keel.rag.errors import DimensionMismatch
from pg import new_database, postgres_url  # noqa: F401  (registers the fixture)

pytestmark = pytest.mark.integration

_collections = itertools.count()
DIM = 8


@pytest.fixture(scope="module")
def pg_database(request: pytest.FixtureRequest) -> str:
    url = request.getfixturevalue("postgres_url")
    return new_database(url, prefix="rag_conf")


@pytest.fixture(params=["sqlite", "pgvector"])
async def open_index(
    request: pytest.FixtureRequest, tmp_path: Any
) -> AsyncIterator[Callable[..., VectorIndex]]:
    opened: list[VectorIndex] = []
    if request.param == "sqlite":
        path = tmp_path / "index.db"

        def factory(dim: int | None = DIM) -> VectorIndex:
            idx = SQLiteIndex(path, dim=dim)
            opened.append(idx)
            return idx
    else:
        url = request.getfixturevalue("pg_database")
        name = f"conf_{next(_collections)}"

        def factory(dim: int | None = DIM) -> VectorIndex:
            idx = PgVectorIndex(url, dim=dim, collection=name)
            opened.append(idx)
            return idx

    yield factory
    for idx in opened:
        await idx.close()


def unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def basis(i: int, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[i % DIM] = 1.0
    if noise:
        v += np.random.default_rng(seed).normal(0, noise, DIM).astype(np.float32)
    return unit(v.tolist())


async def seed(index: VectorIndex) -> None:
    ids = [f"d{i}" for i in range(6)]
    vectors = np.stack([basis(i) for i in range(6)])
    meta = [
        {"tenant": "acme", "source": "a.md", "tags": ["billing", "eu"], "title": "Refund policy"},
        {"tenant": "acme", "source": "a.md", "tags": ["billing"]},
        {"tenant": "acme", "source": "b.md", "tags": ["shipping"]},
        {"tenant": "globex", "source": "c.md", "tags": ["billing", "eu"]},
        {"tenant": "globex", "source": "c.md", "tags": []},
        {"source": "d.md"},
    ]
    texts = [
        "Refunds are paid back to the original card within five days.",
        "Invoices can be downloaded from the billing page.",
        "Parcels ship from Rotterdam with tracking numbers.",
        "Globex refunds need a receipt.",
        "Opening hours are nine to five.",
        "The thermostat shows error E214 when the sensor is unplugged.",
    ]
    await index.upsert(ids, vectors, meta, texts)


async def test_upsert_count_get_roundtrip(open_index: Callable[..., VectorIndex]) -> None:
    index = open_index()
    await seed(index)
    assert await index.count() == 6
    hits = await index.get(["d2", "missing", "d0"])
    assert [h.id for h in hits] == ["d2", "d0"]
    assert hits[1].metadata["tags"] == ["billing", "eu"]
    assert hits[1].title == "Refund policy"
    assert hits[0].text.startswith("Parcels ship")


async def test_search_ranks_by_cosine(open_index: Callable[..., VectorIndex]) -> None:
    index = open_index()
    await seed(index)
    q = unit([0.1, 0.0, 1.0, 0.3, 0, 0, 0, 0])
    hits = await index.search(q, k=3)
    assert [h.id for h in hits] == ["d2", "d3", "d0"]
    assert hits[0].score == pytest.approx(float(q @ basis(2)), abs=1e-4)
    assert hits[0].score >= hits[1].score >= hits[2].score
    # unnormalised vectors are compared by angle, not length
    assert (await index.search(q * 7.5, k=1))[0].id == "d2"


async def test_search_matches_exact_brute_force(open_index: Callable[..., VectorIndex]) -> None:
    index = open_index()
    rng = np.random.default_rng(7)
    data = rng.normal(size=(300, DIM)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    await index.upsert([f"r{i}" for i in range(300)], data, [{"tenant": f"t{i % 3}"} for i in range(300)])
    found = total = 0
    for qi in range(20):
        q = rng.normal(size=DIM).astype(np.float32)
        q /= np.linalg.norm(q)
        exact = {f"r{i}" for i in np.argsort(-(data @ q))[:5]}
        got = {h.id for h in await index.search(q, k=5)}
        found, total = found + len(exact & got), total + 5
        if qi < 5:  # filtered search is exact on every backend (pre-filter or exact scan)
            mask = np.arange(300) % 3 == 1
            scores = np.where(mask, data @ q, -np.inf)
            exact_f = [f"r{i}" for i in np.argsort(-scores)[:5]]
            assert [h.id for h in await index.search(q, k=5, filter={"tenant": "t1"})] == exact_f
    assert found / total >= 0.95


async def test_upsert_replaces_existing_id(open_index: Callable[..., VectorIndex]) -> None:
    index = open_index()
    await seed(index)
    await index.upsert(
        ["d0"],
        [basis(7)],
        [{"tenant": "acme", "source": "a.md", "tags": ["new"]}],
        ["Completely rewritten paragraph about gift cards."],
    )
    assert await index.count() == 6
    assert (await index.search(basis(7), k=1))[0].id == "d0"
    assert (await index.search(basis(0), k=1))[0].id != "d0"
    assert [h.id for h in await index.keyword_search("gift cards")] == ["d0"]
    assert await index.keyword_search("original card refunds five days", filter={"tags": ["eu"]}) != []
    assert "d0" not in [h.id for h in await index.keyword_search("original")]
    assert await index.count({"tags": ["billing", "eu"]}) == 1


async def test_delete_by_ids_and_by_filter(open_index: Callable[..., VectorIndex]) -> None:
    index = open_index()
    await seed(index)
    assert await index.delete(["d1", "nope"]) == 1
    assert await index.get(["d1"]) == []
    assert await index.delete(filter={"source": "c.md"}) == 2
    assert await index.count() == 3
    assert "d3" not in [h.id for h in await index.search(basis(3), k=6)]
    assert await index.keyword_search("globex receipt") == []
    with pytest.raises(ConfigError):
        await index.delete(filter={})
    with pytest.raises(ConfigError):
        await index.delete()


async def test_reindex_changed_document(open_index: Callable[..., VectorIndex]) -> None:
    index = open_index()
    await seed(index)
    await index.delete(filter={"source": "a.md"})
    await index.upsert(
        ["a-new-0"], [basis(0)], [{"tenant": "acme", "source": "a.md"}], ["Refunds now take ten days."]
    )
    assert sorted(await index.ids({"source": "a.md"})) == ["a-new-0"]
    assert [h.id for h in await index.keyword_search("invoices billing page")] == []
    assert (await index.search(basis(0), k=1, filter={"tenant": "acme"}))[
        0
    ].text == "Refunds now take ten days."


async def test_filters_on_tenant_source_tags(open_index: Callable[..., VectorIndex]) -> None:
    index = open_index()
    await seed(index)
    q = basis(0)
    assert {h.id for h in await index.search(q, k=10, filter={"tenant": "globex"})} == {"d3", "d4"}
    assert {h.id for h in await index.search(q, k=10, filter={"tenant": ["globex", "acme"]})} == {
        "d0",
        "d1",
        "d2",
        "d3",
        "d4",
    }
    assert {h.id for h in await index.search(q, k=10, filter={"tags": ["billing", "eu"]})} == {"d0", "d3"}
    assert {h.id for h in await index.search(q, k=10, filter=Filter(source=("b.md",)))} == {"d2"}
    assert {h.id for h in await index.search(q, k=10, filter={"tenant": "acme", "tags": "shipping"})} == {
        "d2"
    }
    assert await index.search(q, k=10, filter={"tenant": "nobody"}) == []
    assert await index.count({"tenant": "acme"}) == 3
    assert sorted(await index.ids({"tags": ["billing"]})) == ["d0", "d1", "d3"]
    with pytest.raises(ConfigError):
        await index.search(q, k=3, filter={"tennant": "acme"})


async def test_keyword_search_bm25(open_index: Callable[..., VectorIndex]) -> None:
    index = open_index()
    await seed(index)
    hits = await index.keyword_search("error E214 thermostat")
    assert hits[0].id == "d5" and hits[0].score > 0
    refund_hits = [h.id for h in await index.keyword_search("refund")]  # stem matches "Refunds"
    assert set(refund_hits) == {"d0", "d3"}
    # the title metadata is searchable: only d0 carries "policy"
    assert [h.id for h in await index.keyword_search("policy")] == ["d0"]
    assert [h.id for h in await index.keyword_search("refund", filter={"tenant": "globex"})] == ["d3"]
    assert await index.keyword_search("the and of") == []
    assert await index.keyword_search("zebra") == []
    # a rarer matching term outweighs a common one
    await index.upsert(["x1", "x2"], [basis(1), basis(2)], None, ["refund refund refund", "refund receipt"])
    top = await index.keyword_search("receipt refund", k=2)
    assert top[0].id in {"x2", "d3"}


async def test_similarity_is_exact(open_index: Callable[..., VectorIndex]) -> None:
    index = open_index()
    await seed(index)
    q = unit([0.3, 0.2, 0.9, 0.0, 0.1, 0, 0, 0.4])
    sims = await index.similarity(q, ["d0", "d2", "missing"])
    assert set(sims) == {"d0", "d2"}
    assert sims["d2"] == pytest.approx(float(q @ basis(2)), abs=1e-4)
    assert sims["d0"] == pytest.approx(float(q @ basis(0)), abs=1e-4)


async def test_validation_errors(open_index: Callable[..., VectorIndex]) -> None:
    index = open_index()
    await seed(index)
    with pytest.raises(DimensionMismatch):
        await index.upsert(["z"], [[1.0, 0.0, 0.0]])
    with pytest.raises(DimensionMismatch):
        await index.search([1.0, 0.0], k=1)
    with pytest.raises(ConfigError):
        await index.upsert(["a", "b"], [basis(0)])
    with pytest.raises(ConfigError):
        await index.upsert(["a", "a"], [basis(0), basis(1)])
    with pytest.raises(ConfigError):
        await index.upsert(["a"], [basis(0)], [{"tags": "not-a-list"}])
    assert await index.count() == 6


async def test_persists_and_is_shared_between_instances(open_index: Callable[..., VectorIndex]) -> None:
    first = open_index()
    await seed(first)
    second = open_index(dim=None)
    assert await second.count() == 6
    assert second.dim == DIM or (await second.search(basis(4), k=1))[0].id == "d4"
    assert (await second.search(basis(4), k=1))[0].id == "d4"
    # a write through one instance is seen by searches through the other
    await second.upsert(["late"], [basis(6, noise=0.01)], [{"tenant": "acme"}], ["late arrival"])
    await first.delete(["d4"])
    assert (await first.search(basis(6), k=1))[0].id == "late"
    assert "d4" not in [h.id for h in await second.search(basis(4), k=6)]
    assert [h.id for h in await first.keyword_search("late arrival")] == ["late"]


async def test_empty_index(open_index: Callable[..., VectorIndex]) -> None:
    index = open_index(dim=None)
    assert await index.count() == 0
    assert await index.search([1.0] * DIM, k=3) == []
    assert await index.keyword_search("anything") == []
    assert await index.get(["x"]) == []
    await index.upsert([], np.zeros((0, DIM), dtype=np.float32))
    assert await index.count() == 0


async def test_bulk_delete_then_search_and_reinsert(open_index: Callable[..., VectorIndex]) -> None:
    """Enough deletions to make the embedded index compact its matrix; results must stay exact."""
    index = open_index()
    rng = np.random.default_rng(3)
    data = rng.normal(size=(3000, DIM)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    tenants = [f"t{i % 3}" for i in range(3000)]
    await index.upsert([f"b{i}" for i in range(3000)], data, [{"tenant": t} for t in tenants])
    assert await index.delete(filter={"tenant": ["t0", "t1"]}) == 2000
    assert await index.count() == 1000
    q = data[2]
    keep = np.array([t == "t2" for t in tenants])
    exact = [f"b{i}" for i in np.argsort(-np.where(keep, data @ q, -np.inf))[:5]]
    assert [h.id for h in await index.search(q, k=5)] == exact
    assert [h.id for h in await index.search(q, k=5, filter={"tenant": "t2"})] == exact
    assert await index.search(q, k=5, filter={"tenant": "t0"}) == []
    await index.upsert(["b0"], [data[0]], [{"tenant": "t0"}])
    assert [h.id for h in await index.search(data[0], k=1, filter={"tenant": "t0"})] == ["b0"]
