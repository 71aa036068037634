"""An append-only float32 matrix addressed by increasing integer slots, with tombstones.

The SQLite index keeps its vectors here for exact search. Slots only grow (the index hands out
``next_slot`` inside its write transaction), so a sorted slot array plus ``searchsorted`` maps slots
to rows without a Python dict; deleted rows are marked dead and squeezed out once they are a
quarter of the matrix.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["SlotMatrix"]


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

    @classmethod
    def load(cls, conn: sqlite3.Connection, table: str, dim: int, batch: int = 20_000) -> SlotMatrix:
        """Read every stored vector, in slot order, ``batch`` rows at a time."""
        import numpy as np

        total = int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        store = cls(dim, capacity=max(1024, total + total // 4))
        cursor = conn.execute(f"SELECT slot, vector FROM {table} ORDER BY slot")
        while rows := cursor.fetchmany(batch):
            slots = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
            store.append(slots, vecs)
        return store

    def _grow(self, need: int) -> None:
        import numpy as np

        cap = len(self.slots)
        if need <= cap:
            return
        new = max(need, cap * 2)
        self.slots = np.resize(self.slots, new)
        self.alive = np.concatenate([self.alive[: self.n], np.zeros(new - self.n, dtype=bool)])
        data = np.zeros((new, self.dim), dtype=np.float32)
        data[: self.n] = self.data[: self.n]
        self.data = data

    def append(self, slots: Sequence[int] | NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        """Add rows; ``slots`` must be larger than every slot already stored."""
        count = len(slots)
        if count == 0:
            return
        self._grow(self.n + count)
        self.slots[self.n : self.n + count] = slots
        self.data[self.n : self.n + count] = vectors
        self.alive[self.n : self.n + count] = True
        self.n += count

    def rows_of(self, slots: Sequence[int]) -> NDArray[np.int64]:
        """Row numbers of the live ``slots`` (unknown or dead slots are dropped)."""
        import numpy as np

        if not slots or self.n == 0:
            return np.zeros(0, dtype=np.int64)
        wanted = np.asarray(slots, dtype=np.int64)
        rows = np.searchsorted(self.slots[: self.n], wanted)
        inside = rows < self.n
        rows, wanted = rows[inside], wanted[inside]
        ok = (self.slots[rows] == wanted) & self.alive[rows]
        out: NDArray[np.int64] = rows[ok]
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
        self.slots[:live] = self.slots[: self.n][keep]
        self.data[:live] = self.data[: self.n][keep]
        self.alive[:live] = True
        self.alive[live : self.n] = False
        self.n, self.dead = live, 0

    def scores(self, q: NDArray[np.float32], slots: Sequence[int]) -> dict[int, float]:
        """Dot products of ``q`` with each of the live ``slots``."""
        rows = self.rows_of(slots)
        return {int(self.slots[r]): float(x) for r, x in zip(rows, self.data[rows] @ q, strict=True)}

    def top_k(self, q: NDArray[np.float32], k: int, slots: Sequence[int] | None) -> list[tuple[int, float]]:
        """(slot, score) of the ``k`` best rows, among ``slots`` when given, best first."""
        import numpy as np

        if k <= 0 or self.n == 0:
            return []
        if slots is None:
            scores = self.data[: self.n] @ q
            if self.dead:
                scores[~self.alive[: self.n]] = -np.inf
            candidates = None
        else:
            candidates = self.rows_of(slots)
            if len(candidates) == 0:
                return []
            scores = self.data[candidates] @ q
        live = len(scores) - (self.dead if slots is None else 0)
        k = min(k, live)
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        rows = top if candidates is None else candidates[top]
        return [
            (int(self.slots[r]), float(scores[t]))
            for r, t in zip(rows, top, strict=True)
            if np.isfinite(scores[t])
        ]
