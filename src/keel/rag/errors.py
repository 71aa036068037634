"""Errors raised by ``keel.rag``. All derive from :class:`keel.errors.KeelError`.

>>> issubclass(DocumentTooLarge, RagError)
True
"""

from __future__ import annotations

from keel.errors import ConfigError, KeelError

__all__ = ["DimensionMismatch", "DocumentTooLarge", "EmbeddingError", "RagError", "UnreadableDocument"]


class RagError(KeelError):
    """Base class of retrieval errors."""


class DocumentTooLarge(RagError):
    """A document is bigger than the configured limit; it is skipped rather than loaded into memory.

    Raise the limit (``max_bytes`` / ``max_chunks``) if the document is legitimate, or split it.
    """

    def __init__(self, source: str, *, size: int, limit: int, unit: str = "bytes") -> None:
        super().__init__(
            f"{source}: {size:,} {unit} is over the limit of {limit:,} {unit}; "
            f"split the document or raise the limit"
        )
        self.source = source
        self.size = size
        self.limit = limit
        self.unit = unit


class UnreadableDocument(RagError):
    """A document could not be read or parsed (missing, binary, corrupt PDF, HTTP error)."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class EmbeddingError(RagError):
    """The embedder could not produce vectors (model files missing, bad server reply)."""


class DimensionMismatch(RagError, ConfigError):
    """Vectors of one size were given to an index built for another.

    Usually the embedder changed: use a new index file or collection for the new model.
    """
