"""An append-only float32 matrix addressed by increasing integer slots, with tombstones.

The SQLite index keeps its vectors here for exact search. Slots only grow (the index hands out
``next_slot`` inside its write transaction), so a sorted slot array plus ``searchsorted`` maps slots
to rows without a Python dict; deleted rows are marked dead and squeezed out once they are a
quarter of the matrix. Each row also carries small integer codes of its tenant and source, so the
common filters are a vectorised mask instead of a SQL round trip returning thousands of slots.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["SlotMatrix"]

_GATHER_BELOW = 0.3  # a filter matching less than this share of rows scores only those rows


def _dot(matrix: NDArray[np.float32], q: NDArray[np.float32]) -> NDArray[np.float32]:
    """Row-wise dot products. ``einsum`` runs numpy's own single-threaded SIMD loop: a
    matrix-vector product is memory-bound, and BLAS's spinning worker threads cost more CPU than
    they save, especially when the cores are shared with other requests."""
    import numpy as np

    out: NDArray[np.float32] = np.einsum("ij,j->i", matrix, q)
    return out


class SlotMatrix:
    """Vectors by slot. Not thread-safe: the owning index holds its lock around every call."""

    def __init__(self, dim: int, capacity: int = 1024) -> None:
        import numpy as np

        self.dim = dim
        self.n = 0
        self.dead = 0
        self.slots = np.zeros(capacity, dtype=np.int64)
        self.alive = np.zeros(capacity, dtype=bool)
        self.data = np.zeros((capacity, dim), dtype=np.float32)
        self.tenant = np.full(capacity, -1, dtype=np.int32)
        self.source = np.full(capacity, -1, dtype=np.int32)
        self._codes: dict[str, dict[str, int]] = {"tenant": {}, "source": {}}

    @classmethod
    def load(cls, conn: sqlite3.Connection, table: str, dim: int, batch: int = 20_000) -> SlotMatrix:
        """Read every stored vector (with tenant and source), in slot order, ``batch`` rows at a time."""
        import numpy as np

        total = int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        store = cls(dim, capacity=max(1024, total + total // 4))
        cursor = conn.execute(f"SELECT slot, vector, tenant, source FROM {table} ORDER BY slot")
        while rows := cursor.fetchmany(batch):
            slots = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
            store.append(slots, vecs, [r[2] for r in rows], [r[3] for r in rows])
        return store

    def _grow(self, need: int) -> None:
        import numpy as np

        cap = len(self.slots)
        if need <= cap:
            return
        new = max(need, cap * 2)
        self.slots = np.resize(self.slots, new)
        self.alive = np.concatenate([self.alive[: self.n], np.zeros(new - self.n, dtype=bool)])
        self.tenant = np.concatenate([self.tenant[: self.n], np.full(new - self.n, -1, dtype=np.int32)])
        self.source = np.concatenate([self.source[: self.n], np.full(new - self.n, -1, dtype=np.int32)])
        data = np.zeros((new, self.dim), dtype=np.float32)
        data[: self.n] = self.data[: self.n]
        self.data = data

    def _code(self, column: str, value: str | None) -> int:
        if value is None:
            return -1
        codes = self._codes[column]
        return codes.setdefault(value, len(codes))

    def append(
        self,
        slots: Sequence[int] | NDArray[np.int64],
        vectors: NDArray[np.float32],
        tenants: Sequence[str | None] | None = None,
        sources: Sequence[str | None] | None = None,
    ) -> None:
        """Add rows; ``slots`` must be larger than every slot already stored."""
        count = len(slots)
        if count == 0:
            return
        self._grow(self.n + count)
        end = self.n + count
        self.slots[self.n : end] = slots
        self.data[self.n : end] = vectors
        self.alive[self.n : end] = True
        self.tenant[self.n : end] = [self._code("tenant", t) for t in tenants or [None] * count]
        self.source[self.n : end] = [self._code("source", s) for s in sources or [None] * count]
        self.n = end

    def rows_of(self, slots: Sequence[int]) -> NDArray[np.int64]:
        """Row numbers of the live ``slots`` (unknown or dead slots are dropped)."""
        import numpy as np

        if not len(slots) or self.n == 0:
            return np.zeros(0, dtype=np.int64)
        wanted = np.asarray(slots, dtype=np.int64)
        rows = np.searchsorted(self.slots[: self.n], wanted)
        inside = rows < self.n
        rows, wanted = rows[inside], wanted[inside]
        ok = (self.slots[rows] == wanted) & self.alive[rows]
        out: NDArray[np.int64] = rows[ok]
        return out

    def mask(self, tenants: Sequence[str] = (), sources: Sequence[str] = ()) -> NDArray[np.bool_]:
        """Live rows whose tenant is one of ``tenants`` and source one of ``sources`` (empty = any)."""
        import numpy as np

        out = self.alive[: self.n].copy()
        for column, values, codes in (("tenant", tenants, self.tenant), ("source", sources, self.source)):
            if values:
                known = [self._codes[column][v] for v in values if v in self._codes[column]]
                out &= np.isin(codes[: self.n], np.asarray(known, dtype=np.int32))
        return out

    def remove(self, slots: Sequence[int]) -> None:
        """Mark ``slots`` dead; compact when a quarter of the rows are dead."""
        rows = self.rows_of(slots)
        self.alive[rows] = False
        self.dead += len(rows)
        if self.dead > 1024 and self.dead * 4 > self.n:
            self.compact()

    def compact(self) -> None:
        """Drop dead rows (keeps slot order)."""
        keep = self.alive[: self.n]
        live = int(keep.sum())
        for arr in (self.slots, self.data, self.tenant, self.source):
            arr[:live] = arr[: self.n][keep]
        self.alive[:live] = True
        self.alive[live : self.n] = False
        self.n, self.dead = live, 0

    def scores(self, q: NDArray[np.float32], slots: Sequence[int]) -> dict[int, float]:
        """Dot products of ``q`` with each of the live ``slots``."""
        rows = self.rows_of(slots)
        return {int(self.slots[r]): float(x) for r, x in zip(rows, _dot(self.data[rows], q), strict=True)}

    def top_k(
        self, q: NDArray[np.float32], k: int, mask: NDArray[np.bool_] | None = None
    ) -> list[tuple[int, float]]:
        """(slot, score) of the ``k`` best live rows (among ``mask`` when given), best first."""
        import numpy as np

        if k <= 0 or self.n == 0:
            return []
        allowed = self.alive[: self.n] if mask is None else mask
        matched = int(allowed.sum())
        if matched == 0:
            return []
        if matched < _GATHER_BELOW * self.n:
            rows = np.flatnonzero(allowed)
            scores = _dot(self.data[rows], q)
        else:  # most rows qualify: one pass over the whole matrix beats gathering a copy
            rows = None
            scores = _dot(self.data[: self.n], q)
            if matched < self.n:
                scores[~allowed] = -np.inf
        k = min(k, matched)
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        picked = top if rows is None else rows[top]
        return [(int(self.slots[r]), float(scores[t])) for r, t in zip(picked, top, strict=True)]
