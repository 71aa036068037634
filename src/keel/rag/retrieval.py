"""Hybrid retrieval: BM25 and vector rankings fused by reciprocal rank, then reranked.

>>> from keel.rag import Hit
>>> a = [Hit("x", 0.9), Hit("y", 0.8)]
>>> b = [Hit("y", 12.0), Hit("z", 3.0)]
>>> [h.id for h in reciprocal_rank_fusion([a, b])]
['y', 'x', 'z']
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Literal, TypeAlias

from keel.errors import ConfigError
from keel.rag._types import QUESTION_OF, Filter, FilterLike, Hit

if TYPE_CHECKING:
    from keel.rag.embedders import Embedder
    from keel.rag.indexes import VectorIndex
    from keel.rag.rerank import Reranker

__all__ = ["HybridSearcher", "QueryRewriter", "SearchMode", "reciprocal_rank_fusion"]

SearchMode = Literal["hybrid", "vector", "keyword"]
#: A hook that turns the user's query into extra queries (expansions, translations, HyDE ...).
#: Sync or async; returns one query or several. The original query is always searched as well.
QueryRewriter: TypeAlias = Callable[[str], "str | Sequence[str] | Awaitable[str | Sequence[str]]"]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Hit]], k: int = 60) -> list[Hit]:
    """Fuse rankings: each hit scores ``sum(1 / (k + rank))`` over the rankings it appears in.

    RRF needs no score calibration between BM25 and cosine, which live on different scales.
    Component scores of the inputs are merged into each fused hit's ``scores``.
    """
    fused: dict[str, Hit] = {}
    rrf: dict[str, float] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            rrf[hit.id] = rrf.get(hit.id, 0.0) + 1.0 / (k + rank)
            if hit.id in fused:
                for name, value in hit.scores.items():
                    fused[hit.id].scores[name] = max(value, fused[hit.id].scores.get(name, value))
            else:
                fused[hit.id] = replace(hit, scores=dict(hit.scores))
    out = []
    for id_, hit in fused.items():
        hit.score = rrf[id_]
        hit.scores["rrf"] = rrf[id_]
        out.append(hit)
    out.sort(key=lambda h: -h.score)
    return out


class HybridSearcher:
    """Runs one search: rewrite → embed → vector + BM25 candidates → RRF → rerank → top ``k``.

    ``candidates`` is how many hits each ranking contributes; the reranker sees the best
    ``rerank_depth`` fused hits, each with its exact cosine (``scores["vector"]``) and BM25
    (``scores["bm25"]``, 0 when the passage shares no query term) filled in.
    """

    def __init__(
        self,
        index: VectorIndex,
        embedder: Embedder,
        *,
        reranker: Reranker | None = None,
        rewrite: QueryRewriter | None = None,
        candidates: int = 50,
        rerank_depth: int = 30,
        rrf_k: int = 60,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.reranker = reranker
        self.rewrite = rewrite
        self.candidates = candidates
        self.rerank_depth = rerank_depth
        self.rrf_k = rrf_k

    async def _queries(self, query: str) -> list[str]:
        if self.rewrite is None:
            return [query]
        out = self.rewrite(query)
        if inspect.isawaitable(out):
            out = await out
        extra = [out] if isinstance(out, str) else list(out)
        return list(dict.fromkeys([query, *(q for q in extra if q and q.strip())]))

    async def search(
        self,
        query: str,
        k: int = 5,
        filter: FilterLike = None,
        *,
        mode: SearchMode = "hybrid",
        rerank: bool = True,
    ) -> list[Hit]:
        """The ``k`` best passages for ``query`` among those passing ``filter``."""
        if mode not in ("hybrid", "vector", "keyword"):
            raise ConfigError(f"unknown search mode {mode!r}: use 'hybrid', 'vector' or 'keyword'")
        f = Filter.of(filter)
        if not query.strip() or k <= 0:
            return []
        queries = await self._queries(query)
        vectors = await self.embedder.embed(queries) if mode != "keyword" else None
        rankings: list[list[Hit]] = []
        for i, q in enumerate(queries):
            qv = vectors[i] if vectors is not None else None
            if qv is not None:
                rankings.append(await self._passages(await self.index.search(qv, self.candidates, f), qv))
            if mode != "vector":
                rankings.append(
                    await self._passages(await self.index.keyword_search(q, self.candidates, f), qv)
                )
        if len(rankings) == 1 and not (rerank and self.reranker):
            return rankings[0][:k]
        fused = reciprocal_rank_fusion(rankings, self.rrf_k)
        if not (rerank and self.reranker):
            return fused[:k]
        pool = fused[: max(self.rerank_depth, k)]
        qvec = vectors[0] if vectors is not None else (await self.embedder.embed([query]))[0]
        await self._fill_scores(pool, qvec, query, f, rewritten=len(queries) > 1)
        return (await self.reranker.rerank(query, pool, query_vector=qvec))[:k]

    async def _fill_scores(
        self, pool: list[Hit], qvec: object, query: str, f: Filter, *, rewritten: bool
    ) -> None:
        if rewritten:  # component scores must describe the user's own query, not a rewrite
            for h in pool:
                h.scores.pop("vector", None)
                h.scores.pop("bm25", None)
        missing_vec = [h.id for h in pool if "vector" not in h.scores]
        if missing_vec:
            sims = await self.index.similarity(qvec, missing_vec)  # type: ignore[arg-type]
            for h in pool:
                if h.id in sims:
                    h.scores["vector"] = sims[h.id]
        if any("bm25" not in h.scores for h in pool):
            # BM25 for pool members the keyword ranking cut off: one wider keyword query.
            ranking = await self.index.keyword_search(query, self.candidates * 4, f)
            wide = {h.id: h.score for h in await self._passages(ranking, qvec)}
            for h in pool:
                h.scores.setdefault("bm25", wide.get(h.id, 0.0))
        for h in pool:
            h.scores.setdefault("vector", 0.0)

    async def _passages(self, ranking: list[Hit], qvec: object) -> list[Hit]:
        """The ranking with each example-question hit (``Document.questions``) replaced by the passage
        it stands for, keeping its rank and scores; a passage listed twice keeps its best rank.

        A document's score is thus the best of its passages' and its questions' (multi-vector
        max-sim). When a document has several passages, the question leads to the one closest to
        the query (its first passage in a keyword-only search).
        """
        links = {h.id: h.metadata[QUESTION_OF] for h in ranking if h.metadata.get(QUESTION_OF)}
        if not links:
            return ranking
        wanted = sorted({p for ids in links.values() for p in ids})
        stored = {h.id: h for h in await self.index.get(wanted)}
        several = sorted({p for ids in links.values() if len(ids) > 1 for p in ids if p in stored})
        near = await self.index.similarity(qvec, several) if several and qvec is not None else {}  # type: ignore[arg-type]
        out: list[Hit] = []
        seen: set[str] = set()
        for hit in ranking:
            if hit.id in links:
                ids = [p for p in links[hit.id] if p in stored]
                if not ids:
                    continue  # a stale link: its passages were removed
                best = max(ids, key=lambda p: near.get(p, 0.0))
                passage = stored[best]
                hit = replace(passage, score=hit.score, scores=dict(hit.scores))
            if hit.id not in seen:
                seen.add(hit.id)
                out.append(hit)
        return out
