"""The measurement behind docs/decisions/0002-embedded-vector-index.md: which embedded index?

    python benchmarks/rag/index_choice.py              # 100k vectors; HNSW builds take ~1-3 min each
    python benchmarks/rag/index_choice.py --n 20000    # quick look

Candidates, all single-process and file-backed, on the same structured 384-d vectors (a 48-d latent
projected up plus noise, as real sentence embeddings are) with 200 queries, top-10:

- ``SQLiteIndex`` (keel's default): vectors in SQLite, exact numpy search on an in-memory matrix;
- ``sqlite-vec`` ``vec0`` (exact, in SQLite; needs pysqlite3-binary to load the extension here);
- ``faiss`` ``IndexHNSWFlat`` (approximate), persisted with ``faiss.write_index``;
- ``usearch`` HNSW (approximate), persisted with ``index.save``.

Packages: sqlite-vec, pysqlite3-binary, faiss-cpu and usearch are needed only for this script.
Each missing one is skipped with a note.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1] / "src")]

import numpy as np  # noqa: E402
from run import OUT, pct, structured  # noqa: E402

Search = Callable[[np.ndarray], list[int]]
Built = tuple[float, list[tuple[str, Search]], float]  # build seconds, (setting, search) pairs, file MB


def measure(search: Search, queries: np.ndarray, exact: list[set[int]]) -> tuple[float, float, float]:
    lat, found = [], 0
    for q, truth in zip(queries, exact, strict=True):
        t = time.perf_counter()
        got = search(q)
        lat.append((time.perf_counter() - t) * 1000)
        found += len(truth & set(got))
    return pct(lat, 50), pct(lat, 99), found / (10 * len(queries))


def keel_sqlite(data: np.ndarray, tmp: Path) -> Built:
    from keel.rag import SQLiteIndex

    index = SQLiteIndex(tmp / "keel.db", dim=data.shape[1])
    t = time.perf_counter()
    for s in range(0, len(data), 20_000):
        asyncio.run(
            index.upsert([str(i) for i in range(s, min(s + 20_000, len(data)))], data[s : s + 20_000])
        )
    build = time.perf_counter() - t

    def search(q: np.ndarray) -> list[int]:
        return [int(h.id) for h in index._search_sync(q, 10, __import__("keel.rag").rag.Filter())]

    return build, [("", search)], (tmp / "keel.db").stat().st_size / 2**20


def sqlite_vec(data: np.ndarray, tmp: Path) -> Built:
    import pysqlite3
    import sqlite_vec as sv

    conn = pysqlite3.connect(str(tmp / "vec.db"))
    conn.enable_load_extension(True)
    sv.load(conn)
    conn.execute(
        f"create virtual table v using vec0(id integer primary key, emb float[{data.shape[1]}] "
        "distance_metric=cosine)"
    )
    t = time.perf_counter()
    conn.executemany(
        "insert into v(id, emb) values (?, ?)", ((i, row.tobytes()) for i, row in enumerate(data))
    )
    conn.commit()
    build = time.perf_counter() - t

    def search(q: np.ndarray) -> list[int]:
        return [
            r[0]
            for r in conn.execute(
                "select id from v where emb match ? and k = 10 order by distance",
                (q.astype(np.float32).tobytes(),),
            )
        ]

    return build, [("", search)], (tmp / "vec.db").stat().st_size / 2**20


EF_SEARCH = (64, 256)


def faiss_hnsw(data: np.ndarray, tmp: Path) -> Built:
    import faiss

    faiss.omp_set_num_threads(2)
    index = faiss.IndexHNSWFlat(data.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 100
    t = time.perf_counter()
    index.add(data)
    build = time.perf_counter() - t
    faiss.write_index(index, str(tmp / "faiss.index"))
    faiss.omp_set_num_threads(1)  # single-threaded queries, like the others

    def searcher(ef: int) -> Search:
        def search(q: np.ndarray) -> list[int]:
            index.hnsw.efSearch = ef
            return [int(i) for i in index.search(q.reshape(1, -1), 10)[1][0]]

        return search

    return (
        build,
        [(f"ef={ef}", searcher(ef)) for ef in EF_SEARCH],
        (tmp / "faiss.index").stat().st_size / 2**20,
    )


def usearch_hnsw(data: np.ndarray, tmp: Path) -> Built:
    from usearch.index import Index

    index = Index(ndim=data.shape[1], metric="cos", connectivity=16, expansion_add=100)
    t = time.perf_counter()
    index.add(np.arange(len(data)), data, threads=2)
    build = time.perf_counter() - t
    index.save(str(tmp / "usearch.index"))

    def searcher(ef: int) -> Search:
        def search(q: np.ndarray) -> list[int]:
            index.expansion_search = ef
            return [int(k) for k in index.search(q, 10, threads=1).keys]

        return search

    return (
        build,
        [(f"ef={ef}", searcher(ef)) for ef in EF_SEARCH],
        (tmp / "usearch.index").stat().st_size / 2**20,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    proj = rng.standard_normal((48, 384), dtype=np.float32)
    data = structured(args.n, 384, rng, proj)
    queries = structured(args.queries, 384, rng, proj)
    exact = [set(np.argpartition(-(data @ q), 10)[:10].tolist()) for q in queries]
    rows = []
    OUT.mkdir(parents=True, exist_ok=True)
    candidates: list[tuple[str, Callable[[np.ndarray, Path], Built]]] = [
        ("keel SQLiteIndex (numpy exact)", keel_sqlite),
        ("sqlite-vec vec0 (exact)", sqlite_vec),
        ("faiss HNSWFlat M16 efC100", faiss_hnsw),
        ("usearch HNSW M16 efC100", usearch_hnsw),
    ]
    for name, make in candidates:
        with tempfile.TemporaryDirectory(dir=OUT) as tmp:
            try:
                build, searches, size = make(data, Path(tmp))
            except ImportError as e:
                print(f"skipped {name}: {e.name} is not installed")
                continue
            for setting, search in searches:
                search(queries[0])
                rows.append((f"{name} {setting}".strip(), build, size, *measure(search, queries, exact)))
            print(f"  done: {name}", flush=True)
    print(
        f"\n{args.n:,} × 384-d structured vectors, {args.queries} queries, top-10, single-threaded queries "
        "(numpy's matrix product may use both cores)\n"
    )
    print("| index | insert/build s | file MB | p50 ms | p99 ms | recall@10 |")
    print("|---|---|---|---|---|---|")
    for name, build, size, p50, p99, rec in rows:
        print(f"| {name} | {build:.1f} | {size:.0f} | {p50:.2f} | {p99:.2f} | {rec:.3f} |")


if __name__ == "__main__":
    main()
