"""Keel RAG benchmark: retrieval quality, support-KB accuracy, ingestion throughput, index latency.

    python benchmarks/rag/run.py                 # everything at 100k vectors (about 5 minutes on 2 cores)
    python benchmarks/rag/run.py --million       # also the 1M-vector index run (about 4 more minutes)
    python benchmarks/rag/run.py --only quality  # one section: quality, support, ingest, index

Prints Markdown tables. The labelled set is built by ``corpus.py`` (see its docstring). Embeddings
of the quality runs are cached in benchmarks/out/embed-cache.db so a second run is quick; the
ingestion section always starts from an empty cache.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1] / "src")]

import numpy as np  # noqa: E402
from corpus import Query, bitext_documents, bitext_queries, build, dev_split, is_relevant  # noqa: E402

from keel.rag import Hit, KnowledgeBase, LocalEmbedder, SQLiteIndex  # noqa: E402

OUT = HERE.parents[1] / "benchmarks" / "out"
MODES = [
    ("vector only", "vector", False),
    ("BM25 only", "keyword", False),
    ("hybrid (RRF)", "hybrid", False),
    ("hybrid + rerank", "hybrid", True),
]


def first_relevant(q: Query, hits: list[Hit]) -> int | None:
    return next((i for i, h in enumerate(hits) if is_relevant(q, h.source, h.section)), None)


def metrics(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    return {
        "hit@1": sum(r == 0 for r in ranks) / n,
        "recall@5": sum(r is not None and r < 5 for r in ranks) / n,
        "mrr@10": sum(1 / (r + 1) for r in ranks if r is not None and r < 10) / n,
    }


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p)) if values else float("nan")


async def evaluate(
    kb: KnowledgeBase, queries: list[Query]
) -> dict[str, tuple[list[int | None], list[float]]]:
    out: dict[str, tuple[list[int | None], list[float]]] = {}
    for label, mode, rerank in MODES:
        ranks, lat = [], []
        for q in queries:
            t = time.perf_counter()
            hits = await kb.search(q.question, k=10, mode=mode, rerank=rerank)  # type: ignore[arg-type]
            lat.append((time.perf_counter() - t) * 1000)
            ranks.append(first_relevant(q, hits))
        out[label] = (ranks, lat)
    return out


def query_embedding_ms(embedder: LocalEmbedder, questions: list[str]) -> list[float]:
    out = []
    for q in questions:
        t = time.perf_counter()
        embedder.embed_sync([q])
        out.append((time.perf_counter() - t) * 1000)
    return out


async def section_quality(embedder: LocalEmbedder) -> None:
    docs, queries = build()
    path = OUT / "rag-quality.db"
    for p in OUT.glob("rag-quality.db*"):
        p.unlink()
    kb = KnowledgeBase(path, embedder=embedder, cache=OUT / "embed-cache.db")
    report = await kb.ingest(docs)
    print(
        f"\n### Retrieval quality: {len(docs)} documents ({report.chunks} chunks), {len(queries)} questions\n"
    )
    res = await evaluate(kb, queries)
    held = [i for i, q in enumerate(queries) if not dev_split(q)]
    print("| retrieval | recall@5 | MRR@10 | held-out recall@5 | held-out MRR@10 | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for label, (ranks, lat) in res.items():
        m, h = metrics(ranks), metrics([ranks[i] for i in held])
        print(
            f"| {label} | {m['recall@5']:.3f} | {m['mrr@10']:.3f} | {h['recall@5']:.3f} | {h['mrr@10']:.3f} "
            f"| {pct(lat, 50):.1f} | {pct(lat, 99):.1f} |"
        )
    emb_ms = query_embedding_ms(embedder, [q.question for q in queries[:200]])
    print(
        f"\n(held-out: the {len(held)} questions not used to fit the reranker weights. Latencies exclude "
        f"embedding the query, which is cached here; uncached it adds p50 {pct(emb_ms, 50):.1f} ms / "
        f"p99 {pct(emb_ms, 99):.1f} ms with LocalEmbedder.)\n"
    )
    groups: dict[str, list[int]] = defaultdict(list)
    for i, q in enumerate(queries):
        groups[q.group].append(i)
    print("| recall@5 / MRR@10 by question group | n | " + " | ".join(label for label, _, _ in MODES) + " |")
    print("|---|---|" + "---|" * len(MODES))
    for g, idx in groups.items():
        cells = []
        for label in res:
            m = metrics([res[label][0][i] for i in idx])
            cells.append(f"{m['recall@5']:.2f} / {m['mrr@10']:.2f}")
        print(f"| {g} | {len(idx)} | " + " | ".join(cells) + " |")
    await kb.close()


async def section_support(embedder: LocalEmbedder) -> None:
    docs = bitext_documents()
    queries = [q for q in bitext_queries(rich=False)]
    kb = KnowledgeBase(":memory:", embedder=embedder, cache=OUT / "embed-cache.db")
    await kb.ingest(docs)
    res = await evaluate(kb, queries)
    print(f"\n### Support KB (Bitext): {len(docs)} documents, {len(queries)} questions, gold_doc_id\n")
    print("| retrieval | hit@1 | hit@5 | MRR@10 |")
    print("|---|---|---|---|")
    for label, (ranks, _) in res.items():
        m = metrics(ranks)
        print(f"| {label} | {m['hit@1']:.3f} | {m['recall@5']:.3f} | {m['mrr@10']:.3f} |")
    await kb.close()


class Clock:
    """Wall and CPU seconds of a block (CPU time is robust to other processes sharing the cores)."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


async def section_ingest() -> None:
    docs, _ = build()
    embedder = LocalEmbedder()
    embedder.embed_sync(["warm up"])
    texts = [c.embedding_text() for d in docs for c in KnowledgeBase(embedder=embedder).chunker.split(d)]
    with Clock() as raw:
        embedder.embed_sync(texts)
    rows = [("raw embedder (LocalEmbedder.embed_sync, the same chunk texts)", raw, len(texts), len(texts))]
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(Path(tmp) / "kb.db", embedder=embedder)
        with Clock() as c1:
            first = await kb.ingest(docs)
        rows.append(("ingest, empty cache (load + chunk + embed + index)", c1, first.chunks, first.embedded))
        with Clock() as c2:
            again = await kb.ingest(docs)
        kb2 = KnowledgeBase(Path(tmp) / "kb2.db", embedder=embedder, cache=Path(tmp) / "kb.db")
        with Clock() as c3:
            cached = await kb2.ingest(docs)
        rows.append(("ingest into a new index, warm embedding cache", c3, cached.chunks, cached.embedded))
        rows.append(
            (f"re-ingest unchanged documents ({again.unchanged} unchanged)", c2, first.chunks, again.embedded)
        )
        await kb.close()
        await kb2.close()
    tokens = statistics.mean(embedder.count_tokens(t) for t in texts)
    print(
        f"\n### Ingestion: {len(docs)} documents → {first.chunks} chunks (mean {tokens:.0f} word pieces; "
        f"{load_line()})\n"
    )
    print("| run | wall s | chunks/s | CPU s | chunks per CPU-s | texts embedded |")
    print("|---|---|---|---|---|---|")
    for label, clock, chunks, embedded in rows:
        print(
            f"| {label} | {clock.wall:.1f} | {chunks / clock.wall:,.0f} | {clock.cpu:.1f} | "
            f"{chunks / max(clock.cpu, 1e-9):,.0f} | {embedded} |"
        )


def structured(n: int, dim: int, rng: np.random.Generator, proj: np.ndarray) -> np.ndarray:
    """Embedding-like vectors: a 48-d latent projected to ``dim`` plus noise, unit length."""
    x = rng.standard_normal((n, proj.shape[0]), dtype=np.float32) @ proj
    x += 0.35 * rng.standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


async def section_index(n: int, dim: int = 384, queries: int = 200) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    proj = rng.standard_normal((48, dim), dtype=np.float32)
    tenants = np.arange(n) % 10
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        path = Path(tmp) / "index.db"
        index = SQLiteIndex(path, dim=dim)
        data = np.empty((n, dim), dtype=np.float32)
        t = time.perf_counter()
        for start in range(0, n, 20_000):
            block = structured(min(20_000, n - start), dim, rng, proj)
            data[start : start + len(block)] = block
            ids = [f"v{i}" for i in range(start, start + len(block))]
            meta = [{"tenant": f"t{tenants[i]}"} for i in range(start, start + len(block))]
            await index.upsert(ids, block, meta, [""] * len(block))
        insert_s = time.perf_counter() - t
        await index.close()
        size_mb = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 2**20  # noqa: ASYNC240
        t = time.perf_counter()
        index = SQLiteIndex(path)
        await index.search(data[0], k=1)
        open_s = time.perf_counter() - t
        qs = structured(queries, dim, rng, proj)
        rows = {}
        for label, flt, mask in (
            ("unfiltered", None, None),
            ("tenant filter (10%)", {"tenant": "t3"}, tenants == 3),
        ):
            lat, cpu, found = [], [], 0
            for q in qs:
                t, c = time.perf_counter(), time.process_time()
                hits = await index.search(q, k=10, filter=flt)
                lat.append((time.perf_counter() - t) * 1000)
                cpu.append((time.process_time() - c) * 1000)
                scores = data @ q
                if mask is not None:
                    scores = np.where(mask, scores, -np.inf)
                exact = {f"v{i}" for i in np.argpartition(-scores, 10)[:10]}
                found += len(exact & {h.id for h in hits})
            rows[label] = (pct(lat, 50), pct(lat, 99), pct(cpu, 50), found / (10 * len(qs)))
        await index.close()
    print(
        f"\n### Embedded index (SQLiteIndex, exact): {n:,} × {dim}-d structured vectors, {queries} queries, "
        "top-10\n"
    )
    print(
        f"insert {insert_s:.1f} s ({n / insert_s:,.0f} vectors/s) · file {size_mb:,.0f} MB · "
        f"open + load matrix + first query {open_s:.1f} s · {load_line()}\n"
    )
    print("| query | p50 ms | p99 ms | CPU ms (p50) | recall@10 vs exact |")
    print("|---|---|---|---|---|")
    for label, (p50, p99, cpu_ms, rec) in rows.items():
        print(f"| {label} | {p50:.1f} | {p99:.1f} | {cpu_ms:.1f} | {rec:.3f} |")
    return rows


def load_line() -> str:
    try:
        return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    except OSError:
        return f"{os.cpu_count()} CPUs"


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["quality", "support", "ingest", "index"], action="append")
    ap.add_argument("--vectors", type=int, default=100_000, help="index size (default 100000)")
    ap.add_argument("--million", action="store_true", help="also run the index section at 1,000,000 vectors")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    only = set(args.only or ["quality", "support", "ingest", "index"])
    print(f"# Keel RAG benchmark ({load_line()} at start)")
    embedder = LocalEmbedder()
    if "quality" in only:
        await section_quality(embedder)
    if "support" in only:
        await section_support(embedder)
    if "ingest" in only:
        await section_ingest()
    if "index" in only:
        await section_index(args.vectors)
        if args.million:
            await section_index(1_000_000, queries=100)


if __name__ == "__main__":
    asyncio.run(main())
