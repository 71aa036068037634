"""Reranking the fused candidates.

No cross-encoder ships its weights on PyPI (``INFRA-NOTES``), so the default reranker is a
documented linear model over signals that RRF throws away: RRF only sees *ranks*, while the
reranker sees how close the cosine is, how much of the query the passage covers, and how well the
passage's heading (title and section) matches the query, by embedding and by character trigrams. Its weights were fitted on a
development split of the benchmark set and its gain is measured on the held-out split
(``benchmarks/rag/run.py``; figures in ``docs/rag.md``).

>>> import asyncio
>>> from keel.rag import Hit
>>> hits = [Hit("a", 0.03, "Parcels ship daily.", {"title": "Shipping"}, {"vector": 0.31, "bm25": 0.0}),
...         Hit("b", 0.02, "Refunds are paid in 5 days.", {"title": "Refunds"}, {"vector": 0.52, "bm25": 4.1})]
>>> [h.id for h in asyncio.run(LexicalEmbeddingReranker().rerank("how long do refunds take", hits))]
['b', 'a']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from keel.rag._text import terms
from keel.rag._types import Hit

if TYPE_CHECKING:
    from keel.rag.embedders import Embedder

__all__ = ["LexicalEmbeddingReranker", "RerankWeights", "Reranker"]


@runtime_checkable
class Reranker(Protocol):
    """Reorders candidate hits for a query. Hits arrive with ``scores["vector"]`` (cosine),
    ``scores["bm25"]`` and ``scores["rrf"]`` filled in; the result's ``score`` is the reranker's."""

    async def rerank(self, query: str, hits: Sequence[Hit], *, query_vector: Any = None) -> list[Hit]:
        """``query_vector`` is the query's embedding when retrieval computed one (to save a model call)."""
        ...


@dataclass(frozen=True, slots=True)
class RerankWeights:
    """Weights of the linear reranker's features (each feature lies in [0, 1]).

    The defaults were fitted by grid search on the development half of the benchmark questions
    (``benchmarks/rag/run.py``) and checked on the held-out half.
    """

    vector: float = 1.0
    bm25: float = 0.3
    coverage: float = 0.8
    rrf: float = 0.3
    heading_vector: float = 1.5
    heading_trigram: float = 1.0


def _trigrams(text: str) -> set[str]:
    s = " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())
    return {s[i : i + 3] for i in range(len(s) - 2)}


def _scaled(values: Sequence[float]) -> list[float]:
    lo, hi = min(values, default=0.0), max(values, default=0.0)
    return [(v - lo) / (hi - lo) if hi > lo else 1.0 for v in values]


class LexicalEmbeddingReranker:
    """Linear reranker over embedding and lexical features of (query, passage).

    Features, each scaled to [0, 1] within the candidate pool:

    - ``vector``: cosine of query and passage embeddings (min-max scaled over the pool);
    - ``bm25``: the passage's BM25 score divided by the pool's best;
    - ``coverage``: share of the distinct query terms that occur in the passage or its headings;
    - ``rrf``: the fused rank score (min-max scaled);
    - ``heading_vector``: cosine of the query and the passage's *heading* (title > section)
      embeddings. A heading names the topic in a few words, so it matches a short or misspelt
      question better than a long passage does. Needs ``embedder``; headings are cached;
    - ``heading_trigram``: share of the heading's character trigrams found in the query, which
      survives typos ("canceloing my purchase" still shares most trigrams with "Cancel order").

    Cost: one batched embedding of the (cached) headings per query, microseconds per passage else.
    """

    def __init__(
        self,
        weights: RerankWeights | None = None,
        *,
        embedder: Embedder | None = None,
        cache_size: int = 20_000,
    ) -> None:
        self.weights = weights or RerankWeights()
        self.embedder = embedder
        self._heads: dict[str, Any] = {}
        self._cache_size = cache_size

    async def _heading_vectors(self, headings: list[str]) -> list[Any]:
        assert self.embedder is not None
        missing = [h for h in dict.fromkeys(headings) if h not in self._heads]
        if missing:
            if len(self._heads) + len(missing) > self._cache_size:
                self._heads.clear()
            for h, v in zip(missing, await self.embedder.embed(missing), strict=True):
                self._heads[h] = v
        return [self._heads[h] for h in headings]

    async def features(
        self, query: str, hits: Sequence[Hit], *, query_vector: Any = None
    ) -> list[dict[str, float]]:
        """The feature values of each hit, in order (exposed for tuning and inspection)."""
        qset = set(terms(query))
        qgrams = _trigrams(query)
        headings = [" > ".join(p for p in (h.title, h.section) if p) for h in hits]
        head_sim = [0.0] * len(hits)
        if self.embedder is not None and self.weights.heading_vector and hits:
            qv = query_vector if query_vector is not None else (await self.embedder.embed([query]))[0]
            head_sim = [float(v @ qv) for v in await self._heading_vectors(headings)]
        bm = [h.scores.get("bm25", 0.0) for h in hits]
        bmax = max(bm, default=0.0) or 1.0
        vec = _scaled([h.scores.get("vector", 0.0) for h in hits])
        rrf = _scaled([h.scores.get("rrf", h.score) for h in hits])
        heads = _scaled(head_sim)
        out = []
        for i, (h, heading) in enumerate(zip(hits, headings, strict=True)):
            present = set(terms(h.text)) | set(terms(heading))
            hgrams = _trigrams(heading)
            out.append(
                {
                    "vector": vec[i],
                    "bm25": bm[i] / bmax,
                    "coverage": len(qset & present) / len(qset) if qset else 0.0,
                    "rrf": rrf[i],
                    "heading_vector": heads[i] if self.embedder is not None else 0.0,
                    "heading_trigram": len(qgrams & hgrams) / len(hgrams) if hgrams else 0.0,
                }
            )
        return out

    async def rerank(self, query: str, hits: Sequence[Hit], *, query_vector: Any = None) -> list[Hit]:
        """Hits sorted by the weighted feature sum; ``scores["rerank"]`` keeps that sum."""
        w = asdict(self.weights)
        ranked = []
        for h, f in zip(hits, await self.features(query, hits, query_vector=query_vector), strict=True):
            s = sum(w[name] * value for name, value in f.items())
            h.scores["rerank"] = s
            h.score = s
            ranked.append(h)
        ranked.sort(key=lambda h: -h.score)
        return ranked
