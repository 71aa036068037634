"""An embedding cache in a SQLite file: the same text is never embedded twice by the same model."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from keel.rag.embedders._base import Embedder

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["CachedEmbedder", "content_key"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS keel_embedding_cache (
    model TEXT NOT NULL,
    hash TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, hash)
) WITHOUT ROWID
"""


def content_key(text: str) -> str:
    """sha256 of the UTF-8 text: the cache's content hash."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CachedEmbedder:
    """Wraps an embedder; vectors are stored per (model name, sha256 of text) in SQLite.

    Within one call, duplicate texts are embedded once; across calls and processes, a text already
    in the file is read back instead of embedded. ``hits``/``misses`` count texts.

    >>> import asyncio
    >>> from keel.rag import HashingEmbedder
    >>> inner = HashingEmbedder(dim=16)
    >>> cached = CachedEmbedder(inner)          # ":memory:"; pass a path to persist
    >>> _ = asyncio.run(cached.embed(["a b", "a b", "c d"]))
    >>> _ = asyncio.run(cached.embed(["a b"]))
    >>> inner.texts_embedded, cached.hits
    (2, 1)
    """

    def __init__(self, inner: Embedder, path: str | Path = ":memory:") -> None:
        self.inner = inner
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL") if self.path != ":memory:" else None
        self._conn.execute(_SCHEMA)
        self._conn.commit()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def _lookup(self, keys: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self._conn.execute(
                    f"SELECT hash, vector FROM keel_embedding_cache WHERE model = ? AND hash IN ({marks})",
                    [self.name, *part],
                )
                found.update((h, v) for h, v in rows)
        return found

    def _store(self, items: list[tuple[str, bytes]], dim: int) -> None:
        with self._lock:
            self._conn.executemany(
                "INSERT OR REPLACE INTO keel_embedding_cache (model, hash, dim, vector) VALUES (?, ?, ?, ?)",
                [(self.name, h, dim, v) for h, v in items],
            )
            self._conn.commit()

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Cached vectors where present; the rest embedded by ``inner`` in one call and stored."""
        import numpy as np

        keys = [content_key(t) for t in texts]
        unique = list(dict.fromkeys(keys))
        found = await asyncio.to_thread(self._lookup, unique) if unique else {}
        missing = [k for k in unique if k not in found]
        self.hits += sum(1 for k in keys if k in found)
        self.misses += len(missing)
        if missing:
            first_text = {k: t for k, t in zip(keys, texts, strict=True)}
            fresh = await self.inner.embed([first_text[k] for k in missing])
            fresh = np.asarray(fresh, dtype=np.float32)
            blobs = [(k, fresh[i].tobytes()) for i, k in enumerate(missing)]
            await asyncio.to_thread(self._store, blobs, int(fresh.shape[1]))
            found.update(blobs)
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([np.frombuffer(found[k], dtype=np.float32) for k in keys])

    def close(self) -> None:
        """Close the SQLite connection."""
        with self._lock:
            self._conn.close()
