"""The production index: PostgreSQL + pgvector (HNSW, cosine) through psycopg 3.

One table per collection holds id, filter columns (tenant, source, tags[]), metadata (jsonb), text
and the vector; a postings table (ON DELETE CASCADE) holds BM25 term frequencies so keyword search
ranks exactly as on SQLite. Filtered searches that match few rows skip the HNSW graph and scan
exactly, because pgvector's HNSW filters *after* the graph walk and can return fewer than ``k``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from keel.errors import StoreError
from keel.rag._text import term_counts, terms
from keel.rag._types import Filter, FilterLike, Hit, item_columns
from keel.rag.errors import DimensionMismatch
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

if TYPE_CHECKING:
    import numpy as np
    import psycopg
    from numpy.typing import NDArray

__all__ = ["PgVectorIndex"]


def _vec(v: Any) -> str:
    # pgvector's text form; avoids a client-side adapter dependency.
    return "[" + ",".join(f"{float(x):.7g}" for x in v) + "]"


class PgVectorIndex:
    """A ``VectorIndex`` in PostgreSQL with the pgvector extension.

    ``url`` is a libpq URL (``postgresql://user:pw@host:5432/db``). The table ``collection`` and its
    HNSW index are created on first use; ``ef_search`` trades recall for latency. Filtered searches
    matching at most ``exact_below`` rows are answered by an exact scan.

    >>> index = PgVectorIndex("postgresql://127.0.0.1/app", dim=384, collection="kb_chunks")
    >>> index.collection
    'kb_chunks'
    """

    def __init__(
        self,
        url: str,
        *,
        dim: int | None = None,
        collection: str = "keel_chunks",
        hnsw_m: int = 16,
        ef_construction: int = 64,
        ef_search: int = 100,
        exact_below: int = 20_000,
    ) -> None:
        self.url = url
        self.collection = check_name(collection)
        self._dim = dim
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.exact_below = exact_below
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()
        self._ready = False

    @property
    def dim(self) -> int | None:
        return self._dim

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            try:
                import psycopg
            except ImportError:
                raise StoreError("PgVectorIndex needs psycopg: pip install 'keel[postgres]'") from None
            try:
                self._conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
            except psycopg.OperationalError as e:
                from keel.errors import redact

                raise StoreError(
                    f"cannot connect to PostgreSQL: {redact(str(e), 200)}; check the URL "
                    "and that the server is running"
                ) from None
            await self._conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            await self._read_dim(self._conn)
        return self._conn

    async def _read_dim(self, conn: psycopg.AsyncConnection[Any]) -> None:
        row = await (
            await conn.execute(
                "SELECT atttypmod FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = 'embedding'",
                (self.collection,),
            )
        ).fetchone()
        if row is None:
            return
        stored = int(row[0])
        if self._dim is not None and self._dim != stored:
            raise DimensionMismatch(f"table {self.collection} holds {stored}-d vectors, not {self._dim}-d")
        self._dim, self._ready = stored, True

    async def _ensure_tables(self, conn: psycopg.AsyncConnection[Any], dim: int) -> None:
        if self._ready:
            return
        c = self.collection
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (c,))
            await conn.execute(f"""
                CREATE TABLE IF NOT EXISTS {c} (
                    id text PRIMARY KEY, tenant text, source text, tags text[] NOT NULL DEFAULT '{{}}',
                    metadata jsonb NOT NULL, text text NOT NULL, length int NOT NULL,
                    embedding vector({dim}) NOT NULL)""")
            await conn.execute(f"CREATE INDEX IF NOT EXISTS {c}_tenant ON {c} (tenant)")
            await conn.execute(f"CREATE INDEX IF NOT EXISTS {c}_source ON {c} (source)")
            await conn.execute(f"CREATE INDEX IF NOT EXISTS {c}_tags ON {c} USING gin (tags)")
            await conn.execute(
                f"CREATE INDEX IF NOT EXISTS {c}_hnsw ON {c} USING hnsw (embedding vector_cosine_ops) "
                f"WITH (m = {int(self.hnsw_m)}, ef_construction = {int(self.ef_construction)})"
            )
            await conn.execute(f"""
                CREATE TABLE IF NOT EXISTS {c}_postings (
                    term text NOT NULL, id text NOT NULL REFERENCES {c} (id) ON DELETE CASCADE,
                    tf int NOT NULL, PRIMARY KEY (term, id))""")
            await conn.execute(f"CREATE INDEX IF NOT EXISTS {c}_postings_id ON {c}_postings (id)")
        self._dim, self._ready = dim, True

    def _where(self, f: Filter) -> tuple[str, list[Any]]:
        clauses: list[str] = ["TRUE"]
        params: list[Any] = []
        for col, values in (("tenant", f.tenant), ("source", f.source)):
            if values:
                clauses.append(f"i.{col} = ANY(%s)")
                params.append(list(values))
        if f.tags:
            clauses.append("i.tags @> %s::text[]")
            params.append(list(f.tags))
        return " AND ".join(clauses), params

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
        rows: list[tuple[Any, ...]] = []
        postings: list[tuple[str, str, int]] = []
        for id_, vec, m, text in zip(ids, matrix, meta, txt, strict=True):
            tenant, source, tags = item_columns(m)
            counts, length = term_counts(searchable_text(text, m))
            rows.append((id_, tenant, source, tags, json.dumps(dict(m)), text, length, _vec(vec)))
            postings.extend((term, id_, tf) for term, tf in counts.items())
        c = self.collection
        async with self._lock:
            conn = await self._connection()
            await self._ensure_tables(conn, int(matrix.shape[1]))
            async with conn.transaction(), conn.cursor() as cur:
                await cur.execute(f"DELETE FROM {c} WHERE id = ANY(%s)", (list(ids),))
                await cur.executemany(
                    f"INSERT INTO {c} (id, tenant, source, tags, metadata, text, length, embedding) "
                    "VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s, %s::vector)",
                    rows,
                )
                await cur.executemany(
                    f"INSERT INTO {c}_postings (term, id, tf) VALUES (%s, %s, %s)", postings
                )

    async def delete(self, ids: Sequence[str] | None = None, *, filter: FilterLike = None) -> int:
        """Delete by ids, or by a non-empty filter; postings go with them (ON DELETE CASCADE)."""
        f = delete_filter(ids, filter)
        async with self._lock:
            conn = await self._connection()
            if not self._ready:
                await self._read_dim(conn)
            if not self._ready:
                return 0
            if f is None:
                cur = await conn.execute(
                    f"DELETE FROM {self.collection} WHERE id = ANY(%s)", (list(ids or []),)
                )
            else:
                where, params = self._where(f)
                cur = await conn.execute(f"DELETE FROM {self.collection} i WHERE {where}", params)
            return max(cur.rowcount, 0)

    # ---------------------------------------------------------------- reads

    async def _rows(self, sql: str, params: Sequence[Any], setup: Sequence[str] = ()) -> list[Any]:
        async with self._lock:
            conn = await self._connection()
            if not self._ready:
                await self._read_dim(conn)
            if not self._ready:
                return []
            async with conn.transaction(), conn.cursor() as cur:
                for stmt in setup:
                    await cur.execute(stmt)
                await cur.execute(sql, list(params))
                return await cur.fetchall()

    @staticmethod
    def _hits(rows: Sequence[Any], kind: str) -> list[Hit]:
        return [
            Hit(id=r[0], score=float(r[3]), text=r[2], metadata=dict(r[1]), scores={kind: float(r[3])})
            for r in rows
        ]

    async def search(
        self, vector: Sequence[float] | NDArray[np.float32], k: int = 10, filter: FilterLike = None
    ) -> list[Hit]:
        """Cosine top-``k`` through the HNSW index, or an exact scan for selective filters."""
        f = Filter.of(filter)
        if k <= 0:
            return []
        q = _vec(query_vector(vector, self._dim))
        where, params = self._where(f)
        sql = (
            f"SELECT i.id, i.metadata, i.text, 1 - (i.embedding <=> %s::vector) FROM {self.collection} i "
            f"WHERE {where} ORDER BY i.embedding <=> %s::vector LIMIT %s"
        )
        ef = f"SET LOCAL hnsw.ef_search = {max(int(self.ef_search), int(k))}"
        exact = ["SET LOCAL enable_indexscan = off", "SET LOCAL enable_bitmapscan = off"]
        selective = not f.empty and await self.count(f) <= self.exact_below
        hits = self._hits(await self._rows(sql, [q, *params, q, k], exact if selective else [ef]), "vector")
        if len(hits) < k and not f.empty and not selective and await self.count(f) > len(hits):
            # the graph walk ran out of matching neighbours: answer exactly instead of short
            hits = self._hits(await self._rows(sql, [q, *params, q, k], exact), "vector")
        return hits

    async def keyword_search(self, query: str, k: int = 10, filter: FilterLike = None) -> list[Hit]:
        """BM25 (k1=1.2, b=0.75) computed in SQL from the postings table."""
        f = Filter.of(filter)
        qterms = list(dict.fromkeys(terms(query)))
        if not qterms or k <= 0:
            return []
        c = self.collection
        stats = await self._rows(f"SELECT COUNT(*), COALESCE(AVG(length), 1) FROM {c}", [])
        if not stats or not stats[0][0]:
            return []
        n, avgdl = int(stats[0][0]), float(stats[0][1]) or 1.0
        df = dict(
            await self._rows(
                f"SELECT term, COUNT(*) FROM {c}_postings WHERE term = ANY(%s) GROUP BY term", [qterms]
            )
        )
        weights = [(t, bm25_idf(int(df[t]), n)) for t in qterms if t in df]
        if not weights:
            return []
        where, params = self._where(f)
        sql = (
            f"WITH w(term, idf) AS (SELECT * FROM unnest(%s::text[], %s::float8[])) "
            f"SELECT i.id, i.metadata, i.text, SUM(w.idf * p.tf * {BM25_K1 + 1} / "
            f"(p.tf + {BM25_K1} * (1 - {BM25_B} + {BM25_B} * i.length / %s))) AS score "
            f"FROM w JOIN {c}_postings p ON p.term = w.term JOIN {c} i ON i.id = p.id "
            f"WHERE {where} GROUP BY i.id ORDER BY score DESC, i.id LIMIT %s"
        )
        params_all = [[t for t, _ in weights], [w for _, w in weights], avgdl, *params, k]
        return self._hits(await self._rows(sql, params_all), "bm25")

    async def similarity(
        self, vector: Sequence[float] | NDArray[np.float32], ids: Sequence[str]
    ) -> dict[str, float]:
        """Exact cosine of ``vector`` to each of ``ids`` (no ORDER BY, so the graph is not used)."""
        if not ids:
            return {}
        q = _vec(query_vector(vector, self._dim))
        rows = await self._rows(
            f"SELECT id, 1 - (embedding <=> %s::vector) FROM {self.collection} WHERE id = ANY(%s)",
            [q, list(ids)],
        )
        return {r[0]: float(r[1]) for r in rows}

    async def get(self, ids: Sequence[str]) -> list[Hit]:
        """Stored items by id, in the order asked."""
        if not ids:
            return []
        rows = await self._rows(
            f"SELECT id, metadata, text, 0.0 FROM {self.collection} WHERE id = ANY(%s)", [list(ids)]
        )
        by_id = {h.id: h for h in self._hits(rows, "get")}
        for h in by_id.values():
            h.scores = {}
        return [by_id[i] for i in ids if i in by_id]

    async def ids(self, filter: FilterLike = None) -> list[str]:
        """Ids of the items that pass ``filter``."""
        where, params = self._where(Filter.of(filter))
        return [
            r[0]
            for r in await self._rows(f"SELECT id FROM {self.collection} i WHERE {where} ORDER BY id", params)
        ]

    async def count(self, filter: FilterLike = None) -> int:
        """Number of items that pass ``filter``."""
        where, params = self._where(Filter.of(filter))
        rows = await self._rows(f"SELECT COUNT(*) FROM {self.collection} i WHERE {where}", params)
        return int(rows[0][0]) if rows else 0

    async def drop(self) -> None:
        """Drop the collection's tables (tests, re-creating with another embedder)."""
        async with self._lock:
            conn = await self._connection()
            await conn.execute(f"DROP TABLE IF EXISTS {self.collection}_postings, {self.collection}")
            self._ready = False

    async def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    def __repr__(self) -> str:
        return f"PgVectorIndex(collection={self.collection!r}, dim={self._dim})"
