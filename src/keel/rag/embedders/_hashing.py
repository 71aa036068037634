"""A dependency-light embedder for tests and demos: feature hashing of words and character trigrams.

It needs no model files and is deterministic, so tests of chunking, indexes and the knowledge base
run in milliseconds. Its vectors capture word overlap only; use ``LocalEmbedder`` for meaning.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from keel.rag._text import terms

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["HashingEmbedder"]


class HashingEmbedder:
    """Bag-of-words + trigram feature hashing into ``dim`` buckets, L2-normalised.

    >>> import asyncio
    >>> e = HashingEmbedder(dim=64)
    >>> v = asyncio.run(e.embed(["refund my order", "refund my order", "weather today"]))
    >>> bool(v[0] @ v[1] > 0.99 and v[0] @ v[2] < 0.5)
    True
    """

    def __init__(self, dim: int = 256) -> None:
        self._dim = dim
        self.calls = 0
        self.texts_embedded = 0

    @property
    def name(self) -> str:
        return f"hashing-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def _features(self, text: str) -> list[str]:
        words = terms(text)
        grams = [w[i : i + 3] for w in words for i in range(max(1, len(w) - 2))]
        return words + ["#" + g for g in grams]

    def embed_sync(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Synchronous ``embed``."""
        import numpy as np

        from keel.rag.embedders._base import normalise_rows

        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feat in self._features(text):
                h = int.from_bytes(hashlib.blake2b(feat.encode(), digest_size=8).digest(), "little")
                out[row, h % self._dim] += 1.0 if (h >> 63) & 1 else -1.0
        return normalise_rows(out)

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts`` (cheap enough to run on the event loop for small batches)."""
        if len(texts) > 64:
            return await asyncio.to_thread(self.embed_sync, list(texts))
        return self.embed_sync(texts)
