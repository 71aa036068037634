"""The embedded default index: one SQLite file, exact vector search on an in-memory numpy matrix.

Why this design (measurements in ``docs/decisions/0002-embedded-vector-index.md``): SQLite holds
the truth (vectors, texts, metadata, BM25 postings) in one transactional file that needs no server
and no extension; search multiplies an in-memory copy of the vectors, which is exact (recall 1.0),
several times faster than sqlite-vec's brute force, and filters before scoring, so a filtered
search never comes back short as post-filtered HNSW results do. Another process's commits are
noticed through a generation counter that every write of this collection bumps, and the matrix is
reloaded; writes by other tables in the same file (the embedding cache) cost nothing.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.rag._text import term_counts, terms
from keel.rag._types import Filter, FilterLike, Hit, item_columns
from keel.rag.indexes._base import (
    BM25_B,
    BM25_K1,
    Vectors,
    bm25_idf,
    check_name,
    check_upsert,
    delete_filter,
    query_vector,
    searchable_text,
)
from keel.rag.indexes._matrix import SlotMatrix

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["SQLiteIndex"]


class SQLiteIndex:
    """A ``VectorIndex`` in a local SQLite file (``":memory:"`` for a throwaway one).

    Several collections can share one file (``collection`` names the tables). All methods are
    async and run their blocking work in a worker thread.

    >>> import asyncio
    >>> async def demo():
    ...     index = SQLiteIndex(":memory:")
    ...     await index.upsert(["a"], [[0.6, 0.8]], [{"source": "s.md"}], ["refund policy"])
    ...     hits = await index.keyword_search("refunds")
    ...     return hits[0].id, await index.count()
    >>> asyncio.run(demo())
    ('a', 1)
    """

    def __init__(
        self, path: str | Path = ":memory:", *, dim: int | None = None, collection: str = "chunks"
    ) -> None:
        self.path = str(path)
        self.collection = check_name(collection)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
        self._lock = threading.RLock()
        self._t = {n: f"{self.collection}_{n}" for n in ("items", "tags", "postings", "meta")}
        self._create_schema()
        stored = self._meta_get("dim")
        if stored is not None and dim is not None and int(stored) != dim:
            from keel.rag.errors import DimensionMismatch

            raise DimensionMismatch(
                f"{self.path} collection {collection!r} holds {stored}-d vectors, not {dim}-d"
            )
        self._dim = int(stored) if stored is not None else dim
        self._matrix: SlotMatrix | None = None
        self._version = -1
        self._generation = -1
        self._stats: tuple[int, float] | None = None

    # ---------------------------------------------------------------- schema and state

    def _create_schema(self) -> None:
        t = self._t
        with self._lock:
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(f"""
            CREATE TABLE IF NOT EXISTS {t["items"]} (
                slot INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, tenant TEXT, source TEXT,
                metadata TEXT NOT NULL, text TEXT NOT NULL, length INTEGER NOT NULL, vector BLOB NOT NULL);
            CREATE INDEX IF NOT EXISTS {t["items"]}_tenant ON {t["items"]}(tenant);
            CREATE INDEX IF NOT EXISTS {t["items"]}_source ON {t["items"]}(source);
            CREATE TABLE IF NOT EXISTS {t["tags"]} (tag TEXT NOT NULL, slot INTEGER NOT NULL,
                PRIMARY KEY (tag, slot)) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS {t["tags"]}_slot ON {t["tags"]}(slot);
            CREATE TABLE IF NOT EXISTS {t["postings"]} (term TEXT NOT NULL, slot INTEGER NOT NULL,
                tf INTEGER NOT NULL, PRIMARY KEY (term, slot)) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS {t["postings"]}_slot ON {t["postings"]}(slot);
            CREATE TABLE IF NOT EXISTS {t["meta"]} (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            """)

    def _meta_get(self, key: str) -> str | None:
        row = self._conn.execute(f"SELECT value FROM {self._t['meta']} WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @property
    def dim(self) -> int | None:
        return self._dim

    def _fresh_matrix(self) -> SlotMatrix:
        """The in-memory vectors, reloaded when another connection changed this collection.

        ``PRAGMA data_version`` is a free check that *someone* committed to the file; only then is
        the collection's own generation counter read, so commits to other tables (the embedding
        cache in the same file) never trigger a reload.
        """
        version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        if self._matrix is not None and version == self._version:
            return self._matrix
        generation = int(self._meta_get("generation") or 0)
        if self._matrix is None or generation != self._generation:
            dim_s = self._meta_get("dim")
            self._dim = int(dim_s) if dim_s is not None else self._dim
            self._matrix = SlotMatrix.load(self._conn, self._t["items"], self._dim or 1)
            self._generation = generation
            self._stats = None
        self._version = version
        return self._matrix

    def _bump_generation_locked(self) -> None:
        self._generation += 1
        self._conn.execute(
            f"INSERT OR REPLACE INTO {self._t['meta']} VALUES ('generation', ?)", (str(self._generation),)
        )

    @contextmanager
    def _write_locked(self) -> Iterator[SlotMatrix]:
        """One IMMEDIATE write transaction (the caller holds ``_lock``), yielding the current matrix.

        On any failure it rolls back and drops the matrix, since the generation may be off by one
        now: the next read reloads it.
        """
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._fresh_matrix()
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            self._matrix = None
            raise

    # ---------------------------------------------------------------- writes

    async def upsert(
        self,
        ids: Sequence[str],
        vectors: Vectors,
        metadata: Sequence[Mapping[str, Any]] | None = None,
        texts: Sequence[str] | None = None,
    ) -> None:
        """Insert or replace items by id, in one transaction."""
        if not ids:
            return
        matrix, meta, txt = check_upsert(ids, vectors, metadata, texts, self._dim)
        await asyncio.to_thread(self._upsert_sync, list(ids), matrix, meta, txt)

    def _upsert_sync(
        self, ids: list[str], matrix: NDArray[np.float32], meta: list[Mapping[str, Any]], txt: list[str]
    ) -> None:
        t = self._t
        rows: list[tuple[Any, ...]] = []
        tag_rows: list[tuple[str, int]] = []
        posting_rows: list[tuple[str, int, int]] = []
        with self._lock:
            with self._write_locked() as store:
                if self._dim is None:
                    self._dim = int(matrix.shape[1])
                if store.dim != self._dim:  # loaded before the first vector fixed the size: still empty
                    store = self._matrix = SlotMatrix(self._dim)
                self._conn.execute(f"INSERT OR IGNORE INTO {t['meta']} VALUES ('dim', ?)", (str(self._dim),))
                old = self._delete_ids_locked(ids)
                row = self._conn.execute(f"SELECT value FROM {t['meta']} WHERE key = 'next_slot'").fetchone()
                first = int(row[0]) if row else 1
                slots = list(range(first, first + len(ids)))
                for slot, id_, vec, m, text in zip(slots, ids, matrix, meta, txt, strict=True):
                    tenant, source, tags = item_columns(m)
                    counts, length = term_counts(searchable_text(text, m))
                    rows.append((slot, id_, tenant, source, json.dumps(dict(m)), text, length, vec.tobytes()))
                    tag_rows.extend((tag, slot) for tag in tags)
                    posting_rows.extend((term, slot, tf) for term, tf in counts.items())
                self._conn.executemany(f"INSERT INTO {t['items']} VALUES (?,?,?,?,?,?,?,?)", rows)
                self._conn.executemany(f"INSERT INTO {t['tags']} VALUES (?,?)", tag_rows)
                self._conn.executemany(f"INSERT INTO {t['postings']} VALUES (?,?,?)", posting_rows)
                self._conn.execute(
                    f"INSERT OR REPLACE INTO {t['meta']} VALUES ('next_slot', ?)", (str(first + len(ids)),)
                )
                self._bump_generation_locked()
            store.remove(old)
            store.append(slots, matrix, [r[2] for r in rows], [r[3] for r in rows])
            self._stats = None

    def _delete_ids_locked(self, ids: Sequence[str]) -> list[int]:
        t = self._t
        slots: list[int] = []
        for start in range(0, len(ids), 500):
            part = list(ids[start : start + 500])
            marks = ",".join("?" * len(part))
            slots += [
                r[0] for r in self._conn.execute(f"SELECT slot FROM {t['items']} WHERE id IN ({marks})", part)
            ]
        self._delete_slots_locked(slots)
        return slots

    def _delete_slots_locked(self, slots: Sequence[int]) -> None:
        t = self._t
        for start in range(0, len(slots), 500):
            part = list(slots[start : start + 500])
            marks = ",".join("?" * len(part))
            for table in ("items", "tags", "postings"):
                self._conn.execute(f"DELETE FROM {t[table]} WHERE slot IN ({marks})", part)

    async def delete(self, ids: Sequence[str] | None = None, *, filter: FilterLike = None) -> int:
        """Delete by ids, or by a non-empty filter (e.g. every chunk of one source)."""
        f = delete_filter(ids, filter)
        return await asyncio.to_thread(self._delete_sync, ids, f)

    def _delete_sync(self, ids: Sequence[str] | None, f: Filter | None) -> int:
        with self._lock:
            with self._write_locked() as store:
                if f is not None:
                    where, params = self._where(f)
                    slots = [
                        r[0]
                        for r in self._conn.execute(
                            f"SELECT slot FROM {self._t['items']} i WHERE {where}", params
                        )
                    ]
                    self._delete_slots_locked(slots)
                else:
                    slots = self._delete_ids_locked(list(ids or []))
                if slots:
                    self._bump_generation_locked()
            store.remove(slots)
            self._stats = None
            return len(slots)

    # ---------------------------------------------------------------- reads

    def _where(self, f: Filter) -> tuple[str, list[Any]]:
        clauses: list[str] = ["1"]
        params: list[Any] = []
        for col, values in (("tenant", f.tenant), ("source", f.source)):
            if values:
                clauses.append(f"i.{col} IN ({','.join('?' * len(values))})")
                params.extend(values)
        for tag in f.tags:
            clauses.append(f"EXISTS (SELECT 1 FROM {self._t['tags']} g WHERE g.slot = i.slot AND g.tag = ?)")
            params.append(tag)
        return " AND ".join(clauses), params

    def _hits(self, scored: Sequence[tuple[int, float]], kind: str) -> list[Hit]:
        if not scored:
            return []
        marks = ",".join("?" * len(scored))
        rows = {
            r[0]: r[1:]
            for r in self._conn.execute(
                f"SELECT slot, id, metadata, text FROM {self._t['items']} WHERE slot IN ({marks})",
                [s for s, _ in scored],
            )
        }
        return [
            Hit(
                id=rows[s][0],
                score=score,
                text=rows[s][2],
                metadata=json.loads(rows[s][1]),
                scores={kind: score},
            )
            for s, score in scored
            if s in rows
        ]

    async def search(
        self, vector: Sequence[float] | NDArray[np.float32], k: int = 10, filter: FilterLike = None
    ) -> list[Hit]:
        """Exact cosine top-``k``; with a filter, only matching items are scored."""
        f = Filter.of(filter)
        q = query_vector(vector, self._dim)
        return await asyncio.to_thread(self._search_sync, q, k, f)

    def _search_sync(self, q: NDArray[np.float32], k: int, f: Filter) -> list[Hit]:
        with self._lock:
            store = self._fresh_matrix()
            mask = None
            if not f.empty:
                mask = store.mask(f.tenant, f.source)
                if f.tags:  # tags live in SQL only: intersect the mask with the tagged rows
                    where, params = self._where(Filter(tags=f.tags))
                    slots = [
                        r[0]
                        for r in self._conn.execute(
                            f"SELECT slot FROM {self._t['items']} i WHERE {where}", params
                        )
                    ]
                    tagged = mask & False
                    tagged[store.rows_of(slots)] = True
                    mask &= tagged
            return self._hits(store.top_k(q, k, mask), "vector")

    async def keyword_search(self, query: str, k: int = 10, filter: FilterLike = None) -> list[Hit]:
        """BM25 (k1=1.2, b=0.75) over text + title + section, computed in SQL from the postings."""
        f = Filter.of(filter)
        qterms = list(dict.fromkeys(terms(query)))
        if not qterms or k <= 0:
            return []
        return await asyncio.to_thread(self._keyword_sync, qterms, k, f)

    def _keyword_sync(self, qterms: list[str], k: int, f: Filter) -> list[Hit]:
        t = self._t
        with self._lock:
            self._fresh_matrix()
            if self._stats is None:
                n, total = self._conn.execute(
                    f"SELECT COUNT(*), COALESCE(SUM(length), 0) FROM {t['items']}"
                ).fetchone()
                self._stats = (int(n), (total / n) if n else 1.0)
            n, avgdl = self._stats
            if n == 0:
                return []
            marks = ",".join("?" * len(qterms))
            df = dict(
                self._conn.execute(
                    f"SELECT term, COUNT(*) FROM {t['postings']} WHERE term IN ({marks}) GROUP BY term",
                    qterms,
                )
            )
            weights = [(term, bm25_idf(df[term], n)) for term in qterms if term in df]
            if not weights:
                return []
            values = ",".join("(?, ?)" for _ in weights)
            where, params = self._where(f)
            sql = (
                f"WITH w(term, idf) AS (VALUES {values}) "
                f"SELECT p.slot, SUM(w.idf * p.tf * {BM25_K1 + 1} / "
                f"(p.tf + {BM25_K1} * (1 - {BM25_B} + {BM25_B} * i.length / ?))) AS score "
                f"FROM w JOIN {t['postings']} p ON p.term = w.term JOIN {t['items']} i ON i.slot = p.slot "
                f"WHERE {where} GROUP BY p.slot ORDER BY score DESC, p.slot LIMIT ?"
            )
            flat = [x for pair in weights for x in pair]
            scored = [(int(s), float(v)) for s, v in self._conn.execute(sql, [*flat, avgdl, *params, k])]
            return self._hits(scored, "bm25")

    async def similarity(
        self, vector: Sequence[float] | NDArray[np.float32], ids: Sequence[str]
    ) -> dict[str, float]:
        """Exact cosine of ``vector`` to each of ``ids``."""
        q = query_vector(vector, self._dim)
        return await asyncio.to_thread(self._similarity_sync, q, list(ids))

    def _similarity_sync(self, q: NDArray[np.float32], ids: list[str]) -> dict[str, float]:
        with self._lock:
            store = self._fresh_matrix()
            pairs = self._slots_of(ids)
            scores = store.scores(q, [s for _, s in pairs])
            return {id_: scores[slot] for id_, slot in pairs if slot in scores}

    def _slots_of(self, ids: list[str]) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            out += self._conn.execute(
                f"SELECT id, slot FROM {self._t['items']} WHERE id IN ({marks})", part
            ).fetchall()
        return out

    async def get(self, ids: Sequence[str]) -> list[Hit]:
        """Stored items by id, in the order asked."""
        return await asyncio.to_thread(self._get_sync, list(ids))

    def _get_sync(self, ids: list[str]) -> list[Hit]:
        with self._lock:
            by_id = {h.id: h for h in self._hits([(s, 0.0) for _, s in self._slots_of(ids)], "get")}
        for h in by_id.values():
            h.scores = {}
        return [by_id[i] for i in ids if i in by_id]

    async def ids(self, filter: FilterLike = None) -> list[str]:
        """Ids of the items that pass ``filter``."""
        where, params = self._where(Filter.of(filter))
        sql = f"SELECT id FROM {self._t['items']} i WHERE {where} ORDER BY slot"
        return [r[0] for r in await asyncio.to_thread(self._fetch, sql, params)]

    async def count(self, filter: FilterLike = None) -> int:
        """Number of items that pass ``filter``."""
        where, params = self._where(Filter.of(filter))
        sql = f"SELECT COUNT(*) FROM {self._t['items']} i WHERE {where}"
        return int((await asyncio.to_thread(self._fetch, sql, params))[0][0])

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, list(params)).fetchall()

    async def close(self) -> None:
        """Close the SQLite connection and drop the in-memory vectors."""
        with self._lock:
            self._conn.close()
            self._matrix = None

    def __repr__(self) -> str:
        return f"SQLiteIndex({self.path!r}, collection={self.collection!r}, dim={self._dim})"
