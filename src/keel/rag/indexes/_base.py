"""The ``VectorIndex`` protocol, which every backend implements and one conformance suite checks.

An index stores items: an id, a vector, a text and metadata. Three metadata keys live in their own
columns so filters on them are cheap and exact: ``tenant`` (str), ``source`` (str) and ``tags``
(list of str). Besides vector search an index answers BM25 keyword queries over the item's text and
its ``title``/``section`` metadata, with the same tokenizer everywhere (``keel.rag._text``), so that
lexical postings are written and deleted in the same transaction as the vectors.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

from keel.errors import ConfigError
from keel.rag._types import Filter, FilterLike, Hit
from keel.rag.errors import DimensionMismatch

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["BM25_B", "BM25_K1", "VectorIndex", "Vectors", "bm25_idf", "check_upsert", "searchable_text"]

Vectors: TypeAlias = "NDArray[np.float32] | Sequence[Sequence[float]]"

BM25_K1 = 1.2
BM25_B = 0.75
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")


@runtime_checkable
class VectorIndex(Protocol):
    """A searchable collection of (id, vector, text, metadata) items.

    Scores are higher-is-better: cosine similarity for ``search``, BM25 for ``keyword_search``.
    Re-indexing a changed document is ``delete(filter={"source": src})`` then ``upsert(...)``.

    >>> import asyncio
    >>> from keel.rag import SQLiteIndex
    >>> async def demo():
    ...     index = SQLiteIndex(":memory:", dim=2)
    ...     await index.upsert(["a", "b"], [[1, 0], [0, 1]], [{"tenant": "t1"}, {"tenant": "t2"}], ["x", "y"])
    ...     return [h.id for h in await index.search([1, 0.1], k=2, filter={"tenant": "t2"})]
    >>> asyncio.run(demo())
    ['b']
    """

    @property
    def dim(self) -> int | None:
        """Vector size (``None`` until the first upsert when not given)."""
        ...

    async def upsert(
        self,
        ids: Sequence[str],
        vectors: Vectors,
        metadata: Sequence[Mapping[str, Any]] | None = None,
        texts: Sequence[str] | None = None,
    ) -> None:
        """Insert or replace items by id (replacing drops the old vector, text, tags and postings)."""
        ...

    async def delete(self, ids: Sequence[str] | None = None, *, filter: FilterLike = None) -> int:
        """Delete items by id or by a non-empty filter; returns how many were deleted."""
        ...

    async def search(
        self, vector: Sequence[float] | NDArray[np.float32], k: int = 10, filter: FilterLike = None
    ) -> list[Hit]:
        """The ``k`` items most similar (cosine) to ``vector`` that pass ``filter``."""
        ...

    async def keyword_search(self, query: str, k: int = 10, filter: FilterLike = None) -> list[Hit]:
        """The ``k`` best BM25 matches for ``query`` that pass ``filter``."""
        ...

    async def similarity(
        self, vector: Sequence[float] | NDArray[np.float32], ids: Sequence[str]
    ) -> dict[str, float]:
        """Exact cosine similarity of ``vector`` to each stored id (missing ids are left out)."""
        ...

    async def get(self, ids: Sequence[str]) -> list[Hit]:
        """Stored items by id, in the order asked (missing ids are left out); ``score`` is 0."""
        ...

    async def ids(self, filter: FilterLike = None) -> list[str]:
        """Ids of the items that pass ``filter``."""
        ...

    async def count(self, filter: FilterLike = None) -> int:
        """Number of items that pass ``filter``."""
        ...

    async def close(self) -> None:
        """Release connections; the index may not be used afterwards."""
        ...


def bm25_idf(df: int, n: int) -> float:
    """BM25 idf with the +1 inside the log (Lucene's form), never negative."""
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def searchable_text(text: str, metadata: Mapping[str, Any]) -> str:
    """What BM25 indexes: the title and heading path carry words the body often leaves out."""
    head = " ".join(str(metadata[k]) for k in ("title", "section") if metadata.get(k))
    return f"{head}\n{text}" if head else text


def check_name(name: str) -> str:
    """Collection names become table names, so only identifiers are allowed."""
    if not _NAME.match(name):
        raise ConfigError(f"collection name {name!r} must be a letter then letters, digits or _ (max 41)")
    return name


def check_upsert(
    ids: Sequence[str],
    vectors: Vectors,
    metadata: Sequence[Mapping[str, Any]] | None,
    texts: Sequence[str] | None,
    dim: int | None,
) -> tuple[NDArray[np.float32], list[Mapping[str, Any]], list[str]]:
    """Validate an upsert's arguments; return (unit-length float32 matrix, metadata, texts)."""
    import numpy as np

    from keel.rag.embedders._base import normalise_rows

    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or len(ids) != matrix.shape[0]:
        raise ConfigError(f"upsert needs one vector per id: {len(ids)} ids, vectors of shape {matrix.shape}")
    if dim is not None and matrix.shape[1] != dim:
        raise DimensionMismatch(
            f"index holds {dim}-d vectors but got {matrix.shape[1]}-d ones; "
            "a different embedder needs its own index"
        )
    if len(set(ids)) != len(ids):
        raise ConfigError("upsert got the same id twice in one call")
    if not np.isfinite(matrix).all():
        raise ConfigError("upsert got a vector with NaN or infinite values")
    meta = list(metadata) if metadata is not None else [{} for _ in ids]
    txt = list(texts) if texts is not None else ["" for _ in ids]
    if len(meta) != len(ids) or len(txt) != len(ids):
        raise ConfigError(f"upsert got {len(ids)} ids, {len(meta)} metadata and {len(txt)} texts")
    return normalise_rows(matrix), meta, txt


def query_vector(vector: Sequence[float] | NDArray[np.float32], dim: int | None) -> NDArray[np.float32]:
    """A unit-length float32 query vector of the right size."""
    import numpy as np

    q = np.asarray(vector, dtype=np.float32).reshape(-1)
    if dim is not None and q.shape[0] != dim:
        raise DimensionMismatch(f"query vector is {q.shape[0]}-d but the index holds {dim}-d vectors")
    norm = float(np.linalg.norm(q))
    out: NDArray[np.float32] = q / norm if norm > 0 else q
    return out


def delete_filter(ids: Sequence[str] | None, filter: FilterLike) -> Filter | None:
    """Validate delete's arguments: ids, or a filter that is not empty (never "delete everything")."""
    if ids is not None and filter is not None:
        raise ConfigError("delete takes ids or a filter, not both")
    if ids is None:
        f = Filter.of(filter)
        if f.empty:
            raise ConfigError("delete needs ids or a non-empty filter (tenant, source or tags)")
        return f
    return None
