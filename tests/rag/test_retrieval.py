"""Hybrid retrieval, reciprocal-rank fusion, query rewriting, reranking and citations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from keel.rag import (
    Citation,
    HashingEmbedder,
    Hit,
    HybridSearcher,
    LexicalEmbeddingReranker,
    LocalEmbedder,
    RerankWeights,
    SQLiteIndex,
    citation_for,
    reciprocal_rank_fusion,
    verify_citations,
)

PASSAGES = {
    "refund": ("Refund policy", "Refunds are paid to the original card within five business days."),
    "e214": ("Thermostat errors", "Error E214 means the wall sensor is unplugged."),
    "ship": ("Shipping", "Parcels to Norway take four to six days and customs are paid by the recipient."),
    "hours": ("Leeds store", "The Leeds store closes at 17:00 on Saturdays."),
    "cancel": ("Cancel order", "Open your order details and press the Cancel Order button."),
}


async def make_searcher(embedder: Any = None, **kw: Any) -> HybridSearcher:
    embedder = embedder or HashingEmbedder()
    index = SQLiteIndex(":memory:")
    ids = list(PASSAGES)
    texts = [t for _, t in PASSAGES.values()]
    meta = [
        {"title": title, "source": f"{i}.md", "tenant": "acme" if i != "hours" else "other"}
        for i, (title, _) in PASSAGES.items()
    ]
    await index.upsert(
        ids,
        await embedder.embed([f"{m['title']}\n{t}" for m, t in zip(meta, texts, strict=True)]),
        meta,
        texts,
    )
    return HybridSearcher(index, embedder, **kw)


def test_rrf_scores_and_merges_component_scores() -> None:
    a = [Hit("x", 0.9, scores={"vector": 0.9}), Hit("y", 0.5, scores={"vector": 0.5})]
    b = [Hit("y", 7.0, scores={"bm25": 7.0})]
    fused = reciprocal_rank_fusion([a, b], k=60)
    assert [h.id for h in fused] == ["y", "x"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert fused[0].scores == {"vector": 0.5, "bm25": 7.0, "rrf": pytest.approx(1 / 62 + 1 / 61)}
    assert a[1].scores == {"vector": 0.5}  # inputs are not modified


async def test_modes_and_filters() -> None:
    s = await make_searcher()
    assert (await s.search("E214", k=1, mode="keyword"))[0].id == "e214"
    assert (await s.search("refunds paid to card", k=1, mode="vector"))[0].id == "refund"
    assert (await s.search("store closes saturday", k=1))[0].id == "hours"
    assert "hours" not in [
        h.id for h in await s.search("store closes saturday", k=5, filter={"tenant": "acme"})
    ]
    assert await s.search("   ", k=3) == []
    with pytest.raises(Exception, match="unknown search mode"):
        await s.search("x", mode="fuzzy")  # type: ignore[arg-type]


async def test_query_rewrite_hook_sync_and_async() -> None:
    seen: list[str] = []

    def expand(q: str) -> list[str]:
        seen.append(q)
        return ["customs recipient Norway"] if "import tax" in q else []

    async def aexpand(q: str) -> str:
        return "Cancel Order button"

    plain = await make_searcher(rerank_depth=5)
    assert "ship" not in [h.id for h in await plain.search("import tax", k=1, mode="keyword")]
    rewritten = await make_searcher(rewrite=expand)
    assert (await rewritten.search("import tax", k=1, mode="keyword"))[0].id == "ship"
    assert seen == ["import tax"]
    assert (await (await make_searcher(rewrite=aexpand)).search("stop my purchase", k=1))[0].id == "cancel"


class RecordingReranker:
    def __init__(self) -> None:
        self.pools: list[list[Hit]] = []

    async def rerank(self, query: str, hits: Sequence[Hit], *, query_vector: Any = None) -> list[Hit]:
        self.pools.append(list(hits))
        return sorted(hits, key=lambda h: h.id)


class FixedQueryEmbedder(HashingEmbedder):
    """Embeds every query as the Leeds passage, so vector and keyword rankings disagree."""

    async def embed(self, texts: Sequence[str]) -> Any:
        if len(texts) <= 1:
            texts = ["Leeds store\n" + PASSAGES["hours"][1]] * len(texts)
        return await super().embed(texts)


async def test_reranker_sees_complete_scores() -> None:
    rec = RecordingReranker()
    s = await make_searcher(FixedQueryEmbedder(), reranker=rec, candidates=1)
    hits = await s.search("E214 sensor", k=2)
    pool = {h.id: h for h in rec.pools[0]}
    assert set(pool) == {"hours", "e214"}  # top-1 of each ranking
    assert pool["hours"].scores["bm25"] == 0.0  # filled: no query term in it
    qvec = (await s.embedder.embed(["E214 sensor"]))[0]
    assert pool["e214"].scores["vector"] == pytest.approx((await s.index.similarity(qvec, ["e214"]))["e214"])
    assert all("rrf" in h.scores for h in pool.values())
    assert [h.id for h in hits] == ["e214", "hours"]  # the recording reranker sorts by id
    no_rerank = await s.search("E214 sensor", k=2, rerank=False)
    assert len(rec.pools) == 1 and {h.id for h in no_rerank} == {"hours", "e214"}


async def test_reranker_features_and_typo_robust_headings() -> None:
    rr = LexicalEmbeddingReranker(
        RerankWeights(vector=0, bm25=0, coverage=0, rrf=0, heading_vector=0, heading_trigram=1.0)
    )
    hits = [
        Hit("a", 0.1, "Press the button.", {"title": "Track order"}, {"vector": 0.4, "bm25": 0.0}),
        Hit("b", 0.1, "Press the button.", {"title": "Cancel order"}, {"vector": 0.4, "bm25": 0.0}),
    ]
    ranked = await rr.rerank("i want to canceloing my ordr", hits)
    assert ranked[0].id == "b" and ranked[0].scores["rerank"] > ranked[1].scores["rerank"]
    for f in await LexicalEmbeddingReranker().features("refund card", hits):
        assert all(0.0 <= v <= 1.0 for v in f.values())


@pytest.mark.integration
async def test_hybrid_rerank_with_the_real_model() -> None:
    embedder = LocalEmbedder()
    s = await make_searcher(embedder, reranker=LexicalEmbeddingReranker(embedder=embedder))
    assert (await s.search("how do I get my money back", k=1))[0].id == "refund"
    assert (await s.search("my thermostat display says E214", k=1))[0].id == "e214"
    assert (await s.search("i need to cancelation of my purchse", k=1))[0].id == "cancel"


async def test_verify_citations() -> None:
    s = await make_searcher()
    hits = await s.search("refund card", k=2)
    refund = next(h for h in hits if h.id == "refund")
    ok = citation_for(refund, "paid to the original  CARD")
    wrong_quote = Citation("refund", refund.source, refund.title, "paid in cash at the store")
    wrong_id = Citation(next(h.id for h in hits if h.id != "refund"), "x", "x", "within five business days")
    unknown = Citation("nope", "x", "x", "within five business days")
    short = citation_for(refund, "paid")
    check = verify_citations([ok, wrong_quote, wrong_id, unknown, short], hits)
    assert check.verified == [ok] and not check.ok
    reasons = {p.citation: (p.reason, p.found_in) for p in check.problems}
    assert reasons[wrong_quote] == ("quote not found in passage refund", None)
    assert reasons[wrong_id][1] == "refund" and reasons[unknown] == (
        "passage nope was not retrieved",
        "refund",
    )
    assert "shorter" in reasons[short][0]
    curly = Citation("refund", "", "", "“Refunds are paid to the original card”")
    assert verify_citations([curly], hits).ok
