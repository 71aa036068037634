"""``KnowledgeBase``: the facade that ingests documents and answers searches for agents.

>>> import asyncio
>>> from keel.rag import Document, HashingEmbedder
>>> async def demo():
...     kb = KnowledgeBase(":memory:", embedder=HashingEmbedder())
...     await kb.ingest([Document("faq.md", "# FAQ\\n\\nRefunds are paid within 5 days.", "FAQ", "markdown")])
...     return [h.source for h in await kb.search("how fast are refunds paid?", k=1)]
>>> asyncio.run(demo())
['faq.md']
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.rag._types import Chunk, Document, Filter, FilterLike, Hit
from keel.rag.chunking import Chunker, chunk_id
from keel.rag.errors import DocumentTooLarge
from keel.rag.loaders import DEFAULT_MAX_BYTES, IngestReport, load_paths, load_urls
from keel.rag.retrieval import HybridSearcher, QueryRewriter, SearchMode

if TYPE_CHECKING:
    from keel.rag.embedders import Embedder
    from keel.rag.indexes import VectorIndex
    from keel.rag.rerank import Reranker
    from keel.tools import Tool

__all__ = ["KnowledgeBase", "format_passages"]

_BATCH = 256  # chunks embedded per call: large enough to batch well, small enough to bound memory


def _is_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def _meta_hash(meta: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode()).hexdigest()[:16]


def format_passages(hits: Sequence[Hit], *, max_chars: int | None = None) -> str:
    """Passages as a model reads them, each headed by the id to cite.

    >>> print(format_passages([Hit("c1", 1.0, "Refunds take 5 days.", {"title": "FAQ", "source": "faq.md"})]))
    [c1] FAQ (faq.md)
    Refunds take 5 days.
    """
    if not hits:
        return "No passages found."
    blocks: list[str] = []
    used = 0
    for h in hits:
        head = " > ".join(p for p in (h.title, h.section) if p) or h.source
        block = f"[{h.id}] {head} ({h.source})\n{h.text.strip()}"
        if max_chars is not None and blocks and used + len(block) > max_chars:
            break
        blocks.append(block)
        used += len(block) + 2
    return "\n\n".join(blocks)


@dataclass(slots=True)
class _Pending:
    """Chunks waiting to be embedded together, and the stale ids to delete when they are written."""

    chunks: list[Chunk] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)


class KnowledgeBase:
    """Documents in, cited passages out.

    ``path_or_url`` is a SQLite file (``":memory:"`` for a throwaway one) or a ``postgresql://`` URL
    (PostgreSQL + pgvector). ``embedder`` defaults to :class:`~keel.rag.LocalEmbedder`; with a
    SQLite file, embeddings are cached in the same file, so re-ingesting never embeds a known text
    twice. ``index`` overrides the backend chosen from ``path_or_url``.
    Searches are hybrid (BM25 + vectors, fused by reciprocal rank) and reranked.
    """

    def __init__(
        self,
        path_or_url: str | Path = ":memory:",
        embedder: Embedder | None = None,
        index: VectorIndex | None = None,
        *,
        collection: str = "chunks",
        chunker: Chunker | None = None,
        reranker: Reranker | None = None,
        rewrite: QueryRewriter | None = None,
        cache: bool | str | Path = True,
        max_bytes: int = DEFAULT_MAX_BYTES,
        candidates: int = 50,
    ) -> None:
        self.location = str(path_or_url)
        self.collection = collection
        self.max_bytes = max_bytes
        self._is_pg = self.location.startswith(("postgresql://", "postgres://"))
        from keel.rag.embedders import CachedEmbedder, LocalEmbedder
        from keel.rag.rerank import LexicalEmbeddingReranker

        base = embedder if embedder is not None else LocalEmbedder()
        self.base_embedder = base
        cache_path: str | None = None
        if cache is True and not self._is_pg and self.location != ":memory:":
            cache_path = self.location
        elif isinstance(cache, str | Path):
            cache_path = str(cache)
        self.embedder: Embedder = CachedEmbedder(base, cache_path) if cache_path else base
        counter = getattr(base, "count_tokens", None)
        self.chunker = chunker or Chunker(count_tokens=counter if callable(counter) else None)
        self._index = index
        self._reranker = (
            reranker if reranker is not None else LexicalEmbeddingReranker(embedder=self.embedder)
        )
        self._rewrite = rewrite
        self._candidates = candidates

    @property
    def index(self) -> VectorIndex:
        """The vector index (opened on first use)."""
        if self._index is None:
            from keel.rag.indexes import PgVectorIndex, SQLiteIndex

            dim = self.embedder.dim
            if self._is_pg:
                self._index = PgVectorIndex(self.location, dim=dim, collection=f"keel_{self.collection}")
            else:
                self._index = SQLiteIndex(self.location, dim=dim, collection=self.collection)
        return self._index

    def searcher(self) -> HybridSearcher:
        """The retrieval pipeline this knowledge base runs (to search with other settings)."""
        return HybridSearcher(
            self.index,
            self.embedder,
            reranker=self._reranker,
            rewrite=self._rewrite,
            candidates=self._candidates,
        )

    # ---------------------------------------------------------------- ingest

    async def ingest(
        self,
        items: Sequence[str | Path | Document] | str | Path | Document,
        *,
        metadata: Mapping[str, Any] | None = None,
    ) -> IngestReport:
        """Load, chunk, embed and index files, directories, URLs or ``Document`` values.

        ``metadata`` (e.g. ``{"tenant": "acme", "tags": ["billing"]}``) is added to every document.
        A changed document replaces its old chunks; an unchanged one costs no embedding. Inputs that
        cannot be loaded are listed in ``report.skipped``; the rest are ingested.
        """
        start = time.perf_counter()
        report = IngestReport()
        batch = [items] if isinstance(items, str | Path | Document) else list(items)
        docs = [d for d in batch if isinstance(d, Document)]
        urls = [str(u) for u in batch if _is_url(u)]
        paths = [p for p in batch if isinstance(p, str | Path) and not _is_url(p)]
        docs += load_paths(paths, report=report, max_bytes=self.max_bytes)
        if urls:
            docs += await load_urls(urls, report=report, max_bytes=self.max_bytes)
        await self._ingest_documents(docs, metadata or {}, report)
        report.seconds = time.perf_counter() - start
        return report

    async def _ingest_documents(
        self, docs: Sequence[Document], metadata: Mapping[str, Any], report: IngestReport
    ) -> None:
        pending = _Pending()
        for doc in docs:
            meta = {**metadata, **doc.metadata}
            doc = Document(doc.source, doc.text, doc.title, doc.format, meta, doc.questions)
            try:
                chunks = self.chunker.split(doc)
            except DocumentTooLarge as e:
                report.skip(doc.source, "too_large", str(e).split(": ", 1)[-1])
                continue
            if not chunks:
                report.skip(doc.source, "empty", "no text to index")
                continue
            report.documents += 1
            await self._plan(doc, chunks, pending, report)
            if len(pending.chunks) >= _BATCH:
                await self._flush(pending, report)
        await self._flush(pending, report)

    async def _plan(
        self, doc: Document, chunks: list[Chunk], pending: _Pending, report: IngestReport
    ) -> None:
        tenant = doc.metadata.get("tenant")
        key = f"{tenant}\x1f{doc.source}" if tenant else doc.source
        if tenant:  # one source may exist for several tenants: keep their chunk ids apart
            for c in chunks:
                c.id = chunk_id(key, c.position, c.embedding_text())
        chunks = chunks + self.chunker.question_chunks(doc, chunks, key)
        meta_hash = _meta_hash(doc.metadata)
        for c in chunks:
            c.metadata["meta_hash"] = meta_hash
        scope = Filter(source=(doc.source,), tenant=(tenant,) if tenant else ())
        old = set(await self.index.ids(scope))
        new = {c.id for c in chunks}
        stored = (await self.index.get(sorted(old & new)[:1])) if old & new else []
        same_meta = bool(stored) and stored[0].metadata.get("meta_hash") == meta_hash
        if old == new and same_meta:
            report.unchanged += 1
            return
        report.added += 0 if old else 1
        report.updated += 1 if old else 0
        # Unchanged chunks keep their vectors unless the metadata changed (it is stored per chunk).
        pending.chunks += [c for c in chunks if c.id not in old or not same_meta]
        pending.stale += sorted(old - new)

    async def _flush(self, pending: _Pending, report: IngestReport) -> None:
        if pending.stale:
            await self.index.delete(pending.stale)
        if pending.chunks:
            texts = [c.embedding_text() for c in pending.chunks]
            misses = getattr(self.embedder, "misses", None)
            vectors = await self.embedder.embed(texts)
            after = getattr(self.embedder, "misses", None)
            report.embedded += (
                (after - misses) if isinstance(after, int) and isinstance(misses, int) else len(texts)
            )
            await self.index.upsert(
                [c.id for c in pending.chunks],
                vectors,
                [c.index_metadata() for c in pending.chunks],
                [c.text for c in pending.chunks],
            )
            report.chunks += len(pending.chunks)
        pending.chunks, pending.stale = [], []

    async def remove(self, source: str, *, tenant: str | None = None) -> int:
        """Delete every chunk of ``source`` (of one tenant when given); returns how many."""
        return await self.index.delete(filter=Filter(source=(source,), tenant=(tenant,) if tenant else ()))

    # ---------------------------------------------------------------- search

    async def search(
        self,
        query: str,
        k: int = 5,
        filter: FilterLike = None,
        *,
        mode: SearchMode = "hybrid",
        rerank: bool = True,
    ) -> list[Hit]:
        """The ``k`` best passages: hybrid BM25 + vector retrieval, fused and reranked.

        ``mode="vector"`` or ``"keyword"`` use one ranking only; ``rerank=False`` stops after fusion.
        """
        return await self.searcher().search(query, k, filter, mode=mode, rerank=rerank)

    async def context_for(
        self, query: str, k: int = 5, filter: FilterLike = None, *, max_chars: int = 6_000
    ) -> str:
        """A prompt block of the best passages for ``query``, for a context provider."""
        hits = await self.search(query, k, filter)
        if not hits:
            return "No passages in the knowledge base match this request."
        return (
            "Passages from the knowledge base. Answer from them and cite the id in brackets of each "
            "passage you use, like [id]. If they do not contain the answer, say so.\n\n"
            + format_passages(hits, max_chars=max_chars)
        )

    def as_tool(
        self,
        name: str = "search_knowledge_base",
        *,
        k: int = 5,
        filter: FilterLike = None,
        description: str | None = None,
    ) -> Tool:
        """A Keel tool that searches this knowledge base and returns passages with citation ids.

        ``filter`` is fixed when the tool is made (e.g. the tenant of the agent's customer), so the
        model can never search another tenant's documents.
        """
        from keel.tools import Tool

        fixed = Filter.of(filter)
        kb = self

        async def search_knowledge_base(query: str) -> str:
            """Search the knowledge base for passages that answer a question.

            Args:
                query: the question or keywords to look up, in the user's words
            """
            return format_passages(await kb.search(query, k=k, filter=fixed))

        return Tool(
            search_knowledge_base,
            name=name,
            description=description
            or ("Search the knowledge base. Returns passages, each headed by [id]; cite the ids you use."),
        )

    async def count(self, filter: FilterLike = None) -> int:
        """Number of indexed chunks passing ``filter``."""
        return await self.index.count(filter)

    async def close(self) -> None:
        """Close the index and the embedding cache."""
        if self._index is not None:
            await self._index.close()
        close = getattr(self.embedder, "close", None)
        if callable(close) and self.embedder is not self.base_embedder:
            close()
