"""Retrieval for Keel agents: load, chunk, embed, index, search (hybrid + rerank), cite.

The facade is :class:`KnowledgeBase`; the pieces behind it are protocols with an embedded default
and a production backend (``Embedder``: ``LocalEmbedder`` / ``OpenAIEmbedder``; ``VectorIndex``:
``SQLiteIndex`` / ``PgVectorIndex``). Importing this package imports no numpy, onnxruntime or
psycopg: they load when first used.

>>> import asyncio
>>> from keel.rag import KnowledgeBase, Document, HashingEmbedder
>>> async def demo():
...     kb = KnowledgeBase(":memory:", embedder=HashingEmbedder())
...     await kb.ingest(Document("hours.md", "# Hours\\n\\nWe open at 9am on weekdays.", "Hours", "markdown"))
...     return (await kb.search("when do you open?"))[0].text
>>> asyncio.run(demo())
'We open at 9am on weekdays.'
"""

from keel.rag._types import Chunk, Document, Filter, FilterLike, Hit
from keel.rag.chunking import Chunker, chunk_id
from keel.rag.citations import Citation, CitationCheck, CitationProblem, citation_for, verify_citations
from keel.rag.embedders import CachedEmbedder, Embedder, HashingEmbedder, LocalEmbedder, OpenAIEmbedder
from keel.rag.errors import DimensionMismatch, DocumentTooLarge, EmbeddingError, RagError, UnreadableDocument
from keel.rag.indexes import PgVectorIndex, SQLiteIndex, VectorIndex
from keel.rag.knowledge_base import KnowledgeBase, format_passages
from keel.rag.loaders import IngestReport, Skipped, load_file, load_paths, load_urls
from keel.rag.rerank import LexicalEmbeddingReranker, Reranker, RerankWeights
from keel.rag.retrieval import HybridSearcher, QueryRewriter, SearchMode, reciprocal_rank_fusion

__all__ = [
    "CachedEmbedder",
    "Chunk",
    "Chunker",
    "Citation",
    "CitationCheck",
    "CitationProblem",
    "DimensionMismatch",
    "Document",
    "DocumentTooLarge",
    "Embedder",
    "EmbeddingError",
    "Filter",
    "FilterLike",
    "HashingEmbedder",
    "Hit",
    "HybridSearcher",
    "IngestReport",
    "KnowledgeBase",
    "LexicalEmbeddingReranker",
    "LocalEmbedder",
    "OpenAIEmbedder",
    "PgVectorIndex",
    "QueryRewriter",
    "RagError",
    "RerankWeights",
    "Reranker",
    "SQLiteIndex",
    "SearchMode",
    "Skipped",
    "UnreadableDocument",
    "VectorIndex",
    "chunk_id",
    "citation_for",
    "format_passages",
    "load_file",
    "load_paths",
    "load_urls",
    "reciprocal_rank_fusion",
    "verify_citations",
]
