"""Vector indexes: ``SQLiteIndex`` (embedded default, one local file) and ``PgVectorIndex``
(PostgreSQL + pgvector HNSW). Both implement ``VectorIndex`` and pass one conformance suite."""

from keel.rag.indexes._base import VectorIndex, Vectors
from keel.rag.indexes._pgvector import PgVectorIndex
from keel.rag.indexes._sqlite import SQLiteIndex

__all__ = ["PgVectorIndex", "SQLiteIndex", "VectorIndex", "Vectors"]
