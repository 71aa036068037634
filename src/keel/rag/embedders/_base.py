"""The ``Embedder`` protocol and small helpers every embedder shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["Embedder", "normalise_rows"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors (cosine similarity == dot product).

    ``name`` identifies the model *and* its settings: two embedders with the same name must give the
    same vectors, because the embedding cache is keyed on it.

    >>> import asyncio
    >>> from keel.rag import HashingEmbedder
    >>> asyncio.run(HashingEmbedder(dim=8).embed(["hello"])).shape
    (1, 8)
    """

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """One row per text, in order, dtype float32, each row of unit length."""
        ...


def normalise_rows(matrix: Any) -> NDArray[np.float32]:
    """Return ``matrix`` as float32 with unit-length rows (zero rows stay zero)."""
    import numpy as np

    m = np.asarray(matrix, dtype=np.float32)
    if m.ndim == 1:
        m = m.reshape(1, -1)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: NDArray[np.float32] = (m / norms).astype(np.float32, copy=False)
    return out
