"""support-kb: retrieval, intent routing and answer faithfulness on the Bitext customer-support KB.

Data: ``bitext_kb_documents.jsonl`` (27 documents, one per intent), ``bitext_qa.jsonl`` (135 noisy
test questions with ``gold_doc_id`` and ``intent``) and ``bitext_rich_responses_sample.jsonl`` (108
questions with their intent, the *training* questions) from the Bitext customer-support dataset
(CDLA-Sharing-1.0), found in ``$KEEL_SUPPORT_KB`` or the repository's shared data folder.

Train/test protocol: the test questions are only ever scored. The training questions are
decontaminated first (:func:`decontaminate`: any whose normalised text equals a test question's, or
whose embedding has cosine >= 0.95 with one, is dropped and listed in the metrics); the rest serve
as the router's examples and as each document's example questions. Every setting (router scoring,
keyword weight, question expansion) was chosen by 4-fold cross-validation on the training
questions alone (:func:`cross_validate`, ``python -m keel.bench.supportkb --dev``).

- **Retrieval** with ``keel.rag.KnowledgeBase`` (local MiniLM embedder, in-memory SQLite): each
  document is indexed with its training questions as ``Document.questions`` (doc2query-style
  expansion: a matched question returns its document). hit@1, hit@5 and MRR of the gold document
  for BM25 (``mode="keyword"``), dense (``"vector"``), hybrid (RRF, no rerank) and hybrid + rerank
  (the default search); the same without questions under ``retrieval_without_questions``. Items:
  hybrid + rerank hit@5.
- **Routing** over the 27 intents: each intent's examples are its document's title and text, the
  short requests of :data:`ROUTER_EXAMPLES` (written for this benchmark) and its training
  questions; an intent scores the mean over its examples of cosine + 0.5 x character-trigram
  Jaccard (:class:`IntentRouter`). ``routing.baseline`` is the earlier rule, that of
  ``apps/support/intents.py`` (mean cosine of the 3 nearest examples, no training questions).
  ``contact_human_agent`` is the escalation intent.
- **Faithfulness** on a small sample: the model answers from the top retrieved document only; an
  answer is faithful when at least 80% of its content words (stop words removed) occur in that
  document (a unigram-precision overlap measure, not an LLM judge).
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from keel.bench._common import Progress, stderr_progress
from keel.bench.results import ItemResult
from keel.bench.router_examples import ROUTER_EXAMPLES
from keel.errors import ConfigError

if TYPE_CHECKING:
    from keel.models.base import Model

__all__ = [
    "ESCALATE",
    "ROUTER_EXAMPLES",
    "IntentRouter",
    "cross_validate",
    "data_path",
    "decontaminate",
    "load_kb",
    "load_training",
    "overlap",
    "run_support_kb",
]

ESCALATE = "contact_human_agent"
METHODS = {  # name -> (search mode, rerank)
    "bm25": ("keyword", False),
    "dense": ("vector", False),
    "hybrid": ("hybrid", False),
    "hybrid+rerank": ("hybrid", True),
}
FAITHFUL_AT = 0.8
NEAR_DUPLICATE = 0.95  # cosine at or above which a training question counts as a test question
FOLDS = 4  # the training sample holds 4 questions per intent: one per fold
# fmt: off
_STOP = frozenset([
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "to", "of", "and", "or", "in", "on",
    "at", "for", "with", "by", "from", "as", "it", "its", "this", "that", "these", "those", "you",
    "your", "we", "our", "i", "me", "my", "us", "they", "them", "their", "he", "she", "his", "her",
    "can", "could", "will", "would", "should", "may", "might", "must", "do", "does", "did", "have",
    "has", "had", "not", "no", "if", "so", "but", "then", "than", "there", "here", "what", "which",
    "who", "how", "when", "where", "why", "all", "any", "some", "please", "also", "just", "about",
    "into", "out", "up", "more", "most", "such", "only", "own", "same", "very", "s", "t"
])
# fmt: on


def data_path() -> Path:
    """Folder with the Bitext files: ``$KEEL_SUPPORT_KB``, else ``shared/data/support-kb`` in a folder
    above this file (the repository's data folder sits beside the checkout)."""
    env = os.environ.get("KEEL_SUPPORT_KB")
    if env:
        if not (Path(env) / "bitext_kb_documents.jsonl").is_file():
            raise ConfigError(f"KEEL_SUPPORT_KB={env} holds no bitext_kb_documents.jsonl")
        return Path(env)
    candidates = [p / "shared" / "data" / "support-kb" for p in Path(__file__).resolve().parents]
    for c in candidates:
        if (c / "bitext_kb_documents.jsonl").is_file():
            return c
    raise ConfigError(
        "support-kb data not found: set KEEL_SUPPORT_KB to the folder holding bitext_kb_documents.jsonl"
    )


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def load_kb(
    *, limit: int | None = None, offset: int = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(documents, questions)``; questions get an ``id`` (``q<line>``) and are sliced by offset/limit."""
    base = data_path()
    docs = _jsonl(base / "bitext_kb_documents.jsonl")
    qs = _jsonl(base / "bitext_qa.jsonl")
    for i, q in enumerate(qs):
        q["id"] = f"q{i}"
    return docs, qs[offset : None if limit is None else offset + limit]


def load_training() -> list[dict[str, Any]]:
    """The 108 training questions (``bitext_rich_responses_sample.jsonl``) as ``{"id", "question",
    "intent", "gold_doc_id", "fold"}``; ``fold`` is the question's place among its intent's, mod 4."""
    rows = _jsonl(data_path() / "bitext_rich_responses_sample.jsonl")
    seen: dict[str, int] = {}
    out = []
    for i, r in enumerate(rows):
        n = seen[r["intent"]] = seen.get(r["intent"], -1) + 1
        out.append({"id": f"t{i}", "question": r["question"], "intent": r["intent"],
                    "gold_doc_id": r["intent"], "fold": n % FOLDS})  # fmt: skip
    return out


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


async def decontaminate(
    embedder: Any, train: Sequence[dict[str, Any]], test: Sequence[dict[str, Any]],
    threshold: float = NEAR_DUPLICATE,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # fmt: skip
    """``(kept, dropped)``: training questions that are no test question, and those that are.

    A training question is dropped when its normalised text (lower case, punctuation removed)
    equals a test question's, or when its embedding has cosine >= ``threshold`` with one. Each
    dropped row gets ``nearest`` (the test question's id), ``cosine`` and ``exact``.

    >>> kept, dropped = await decontaminate(embedder, train, test)  # doctest: +SKIP
    """
    texts = [t["question"] for t in train] + [q["question"] for q in test]
    vecs = [_unit(v) for v in await embedder.embed(texts)]
    tv, qv = vecs[: len(train)], vecs[len(train) :]
    normed = {_norm(q["question"]): q["id"] for q in test}
    kept, dropped = [], []
    for t, v in zip(train, tv, strict=True):
        sims = [sum(a * b for a, b in zip(v, w, strict=True)) for w in qv]
        best = max(range(len(sims)), key=sims.__getitem__) if sims else -1
        exact = _norm(t["question"]) in normed
        if exact or (best >= 0 and sims[best] >= threshold):
            nearest = normed.get(_norm(t["question"])) or test[best]["id"]
            dropped.append({**t, "nearest": nearest, "cosine": round(sims[best], 4), "exact": exact})
        else:
            kept.append(t)
    return kept, dropped


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP]


def overlap(answer: str, source: str) -> float:
    """Share of the answer's content words that occur in ``source`` (1.0 for an empty answer).

    >>> overlap("Go to Order History to find your invoice.", "Your invoice is in the Order History section.")
    0.6
    """
    words = _words(answer)
    if not words:
        return 1.0
    have = set(_words(source))
    return sum(w in have for w in words) / len(words)


def _unit(v: Sequence[float]) -> list[float]:
    n = math.sqrt(sum(float(x) * float(x) for x in v)) or 1.0
    return [float(x) / n for x in v]


def _trigrams(text: str) -> frozenset[str]:
    s = f" {_norm(text)} "
    return frozenset(s[i : i + 3] for i in range(len(s) - 2))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


class IntentRouter:
    """Intent routing by similarity to labelled examples (sentence embeddings + character trigrams).

    Each example's similarity to the request is its cosine plus ``keyword_weight`` times the
    Jaccard overlap of their character trigrams (which survives typos such as "canceloing").
    ``scoring="mean"`` scores an intent by the mean similarity over all its examples (the cosine
    part is the dot product with the intent's centroid); ``"mean-top"`` by the mean of its ``top``
    best examples, the rule of ``apps/support/intents.py``. The best intent wins.

    >>> router = IntentRouter(embedder, {"get_refund": ["I want my money back"]})  # doctest: +SKIP
    >>> (await router.route("refund please"))[0]  # doctest: +SKIP
    'get_refund'
    """

    def __init__(
        self,
        embedder: Any,
        examples: dict[str, list[str]],
        *,
        scoring: Literal["mean", "mean-top"] = "mean",
        top: int = 3,
        keyword_weight: float = 0.5,
    ) -> None:
        self.embedder = embedder
        self.examples = examples
        self.scoring = scoring
        self.top = top
        self.keyword_weight = keyword_weight
        self._vectors: tuple[Any, list[str], list[frozenset[str]]] | None = None

    @classmethod
    def from_documents(
        cls, embedder: Any, docs: Sequence[dict[str, Any]], training: Sequence[dict[str, Any]] = (),
        **options: Any,
    ) -> IntentRouter:  # fmt: skip
        """Examples per intent: the document's title and text, :data:`ROUTER_EXAMPLES`, and the
        ``training`` questions (``{"question", "intent"}``) of that intent."""
        examples = {d["doc_id"]: [d["title"], d["text"], *ROUTER_EXAMPLES.get(d["doc_id"], [])] for d in docs}
        for t in training:
            examples[t["intent"]].append(t["question"])
        return cls(embedder, examples, **options)

    async def route(self, text: str) -> tuple[str, dict[str, float]]:
        """``(best intent, score of every intent)`` for one request."""
        import numpy as np

        if self._vectors is None:
            pairs = [(label, ex) for label, exs in self.examples.items() for ex in exs]
            vecs = np.asarray(await self.embedder.embed([p[1] for p in pairs]), dtype=np.float64)
            vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            self._vectors = (vecs, [label for label, _ in pairs], [_trigrams(ex) for _, ex in pairs])
        vecs, labels, grams = self._vectors
        qv = np.asarray((await self.embedder.embed([text]))[0], dtype=np.float64)
        cosines = vecs @ (qv / max(float(np.linalg.norm(qv)), 1e-12))
        mine = _trigrams(text)
        sims: dict[str, list[float]] = {label: [] for label in self.examples}
        for label, cosine, g in zip(labels, cosines.tolist(), grams, strict=True):
            sims[label].append(cosine + self.keyword_weight * _jaccard(mine, g))
        keep = self.top if self.scoring == "mean-top" else None
        scores = {k: _mean(sorted(s, reverse=True)[:keep]) for k, s in sims.items()}
        return max(scores, key=lambda k: scores[k]), scores


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("-inf")


async def _build_kb(
    docs: Sequence[dict[str, Any]], embedder: Any, training: Sequence[dict[str, Any]] = ()
) -> Any:
    from keel.rag import Document, KnowledgeBase

    questions: dict[str, list[str]] = {d["doc_id"]: [] for d in docs}
    for t in training:
        questions[t["gold_doc_id"]].append(t["question"])
    kb = KnowledgeBase(":memory:", embedder=embedder)
    await kb.ingest([
        Document(source=d["doc_id"], text=d["text"], title=d["title"], questions=questions[d["doc_id"]])
        for d in docs
    ])  # fmt: skip
    return kb


async def _retrieval(
    kb: Any, questions: Sequence[dict[str, Any]], n_docs: int
) -> tuple[list[ItemResult], dict[str, dict[str, float]], dict[str, list[str]]]:
    ranks: dict[str, list[int | None]] = {m: [] for m in METHODS}
    items: list[ItemResult] = []
    top_docs: dict[str, list[str]] = {}
    for q in questions:
        per: dict[str, int | None] = {}
        started = time.perf_counter()
        for name, (mode, rerank) in METHODS.items():
            hits = await kb.search(q["question"], k=n_docs, mode=mode, rerank=rerank)
            sources = list(dict.fromkeys(h.source for h in hits))
            rank = sources.index(q["gold_doc_id"]) + 1 if q["gold_doc_id"] in sources else None
            per[name] = rank
            ranks[name].append(rank)
            if name == "hybrid+rerank":
                top_docs[q["id"]] = sources[:5]
        r = per["hybrid+rerank"]
        ok = r is not None and r <= 5
        items.append(ItemResult(
            f"retrieval/{q['id']}", "retrieval", ok,
            why="" if ok else f"gold {q['gold_doc_id']} at rank {r}; got {top_docs[q['id']][:3]}",
            latency_s=time.perf_counter() - started, output=top_docs[q["id"]], expected=q["gold_doc_id"],
            detail={"question": q["question"], "ranks": per}, trace={"question": q, "ranks": per},
        ))  # fmt: skip
    metrics = {}
    for name, rs in ranks.items():
        n = len(rs) or 1
        metrics[name] = {
            "hit@1": round(sum(1 for r in rs if r == 1) / n, 4),
            "hit@5": round(sum(1 for r in rs if r is not None and r <= 5) / n, 4),
            "mrr": round(sum(1 / r for r in rs if r) / n, 4),
        }
    return items, metrics, top_docs


async def _routing(
    router: IntentRouter, questions: Sequence[dict[str, Any]]
) -> tuple[list[ItemResult], dict[str, Any]]:
    items = []
    tp = fp = fn = 0
    for q in questions:
        started = time.perf_counter()
        label, scores = await router.route(q["question"])
        ok = label == q["intent"]
        tp += label == ESCALATE and q["intent"] == ESCALATE
        fp += label == ESCALATE and q["intent"] != ESCALATE
        fn += label != ESCALATE and q["intent"] == ESCALATE
        best = sorted(scores.items(), key=lambda kv: -kv[1])[:3]
        items.append(ItemResult(
            f"routing/{q['id']}", "routing", ok, why="" if ok else f"routed to {label}, intent {q['intent']}",
            latency_s=time.perf_counter() - started, output=label, expected=q["intent"],
            detail={"question": q["question"], "top3": best}, trace={"question": q, "scores": scores},
        ))  # fmt: skip
    n = len(items) or 1
    return items, {
        "accuracy": round(sum(i.ok for i in items) / n, 4),
        "escalation": {"tp": tp, "fp": fp, "fn": fn,
                       "recall": round(tp / (tp + fn), 4) if tp + fn else None,
                       "precision": round(tp / (tp + fp), 4) if tp + fp else None},
        "examples_per_intent": {k: len(v) for k, v in router.examples.items()},
    }  # fmt: skip


ANSWER_PROMPT = (
    "You are a customer support assistant. Answer the customer's question in one or two sentences "
    "using only the passage below. Do not add anything the passage does not say.\n\nPassage:\n{passage}"
)


async def _faithfulness(
    model: Model, docs: dict[str, dict[str, Any]], questions: Sequence[dict[str, Any]],
    top_docs: dict[str, list[str]], n: int,
) -> tuple[list[ItemResult], dict[str, Any]]:  # fmt: skip
    from keel.events import Message, SystemMessage, UserMessage
    from keel.models.base import ModelSettings

    step = max(1, len(questions) // max(n, 1))
    sample = list(questions)[::step][:n]
    items = []
    for q in sample:
        top = (top_docs.get(q["id"]) or [""])[0]
        passage = docs[top]["text"] if top in docs else ""
        started = time.perf_counter()
        msgs: list[Message] = [
            SystemMessage(content=ANSWER_PROMPT.format(passage=passage)),
            UserMessage(content=q["question"]),
        ]
        resp = await model.request(msgs, settings=ModelSettings(max_tokens=96, temperature=0.0))
        answer = resp.message.content.strip()
        score = overlap(answer, passage)
        ok = score >= FAITHFUL_AT
        items.append(ItemResult(
            f"faithfulness/{q['id']}", "faithfulness", ok,
            why="" if ok else f"only {score:.0%} of the answer's content words are in {top}",
            latency_s=time.perf_counter() - started, input_tokens=resp.usage.input_tokens,
            output_tokens=resp.usage.output_tokens, output=answer, expected=top,
            detail={"overlap": round(score, 4), "retrieved_gold": top == q["gold_doc_id"]},
            trace={"question": q, "passage": passage, "answer": answer},
        ))  # fmt: skip
    m = len(items) or 1
    return items, {
        "n": len(items),
        "mean_overlap": round(sum(i.detail["overlap"] for i in items) / m, 4),
        "faithful": round(sum(i.ok for i in items) / m, 4),
        "threshold": FAITHFUL_AT,
        "measure": "unigram precision of content words against the retrieved document",
    }


ROUTER_METHOD = "mean over each intent's examples of cosine + 0.5 x trigram Jaccard; training questions"
BASELINE_METHOD = "apps/support/intents.py rule: mean cosine of the 3 nearest examples; no training questions"


async def _retrieve(
    docs: Sequence[dict[str, Any]], embedder: Any, training: Sequence[dict[str, Any]],
    questions: Sequence[dict[str, Any]],
) -> tuple[list[ItemResult], dict[str, dict[str, float]], dict[str, list[str]]]:  # fmt: skip
    kb = await _build_kb(docs, embedder, training)
    try:
        return await _retrieval(kb, questions, len(docs))
    finally:
        await kb.close()


async def run_support_kb(
    model: Model | None,
    *,
    limit: int | None = None,
    offset: int = 0,
    faithfulness_n: int = 10,
    progress: Progress | None = stderr_progress,
) -> tuple[list[ItemResult], dict[str, Any]]:
    """Retrieval, routing and (when ``model`` is given) faithfulness; returns items and metrics.

    ``limit``/``offset`` slice the test questions; training questions are always checked against
    all 135 test questions, so a slice trains on exactly what the full run trains on.
    """
    from keel.rag import LocalEmbedder

    docs, questions = load_kb(limit=limit, offset=offset)
    embedder = LocalEmbedder()
    training, dropped = await decontaminate(embedder, load_training(), load_kb()[1])
    ret_items, ret_metrics, top_docs = await _retrieve(docs, embedder, training, questions)
    _, plain_metrics, _ = await _retrieve(docs, embedder, (), questions)
    if progress is not None:
        progress(f"[support-kb] retrieval {json.dumps(ret_metrics)}")
    route_items, route_metrics = await _routing(
        IntentRouter.from_documents(embedder, docs, training), questions
    )
    baseline = IntentRouter.from_documents(embedder, docs, scoring="mean-top", keyword_weight=0.0)
    route_metrics["method"] = ROUTER_METHOD
    route_metrics["baseline"] = {"accuracy": (await _routing(baseline, questions))[1]["accuracy"],
                                 "method": BASELINE_METHOD}  # fmt: skip
    if progress is not None:
        progress(f"[support-kb] routing accuracy {route_metrics['accuracy']}")
    items = ret_items + route_items
    metrics: dict[str, Any] = {
        "retrieval": ret_metrics,
        "retrieval_without_questions": plain_metrics,
        "routing": route_metrics,
        "training": _training_summary(training, dropped),
    }
    if model is not None and faithfulness_n > 0:
        by_id = {d["doc_id"]: d for d in docs}
        f_items, f_metrics = await _faithfulness(model, by_id, questions, top_docs, faithfulness_n)
        items += f_items
        metrics["faithfulness"] = f_metrics
        if progress is not None:
            progress(
                f"[support-kb] faithfulness {f_metrics['faithful']} (mean overlap {f_metrics['mean_overlap']})"
            )
    return items, metrics


def _training_summary(
    training: Sequence[dict[str, Any]], dropped: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "source": "bitext_rich_responses_sample.jsonl",
        "used": len(training),
        "near_duplicate_cosine": NEAR_DUPLICATE,
        "dropped": [
            {k: d[k] for k in ("id", "question", "intent", "nearest", "cosine", "exact")} for d in dropped
        ],
    }


class _MemoEmbedder:
    """Embeds each distinct text once (cross-validation embeds the same examples many times)."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self.memo: dict[str, Any] = {}

    async def embed(self, texts: Sequence[str]) -> list[Any]:
        missing = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if missing:
            self.memo.update(zip(missing, await self.embedder.embed(missing), strict=True))
        return [self.memo[t] for t in texts]


def router_grid() -> dict[str, tuple[bool, dict[str, Any]]]:
    """The router settings compared by :func:`cross_validate`: name -> (use training questions, options)."""
    grid: dict[str, tuple[bool, dict[str, Any]]] = {}
    for train in (False, True):
        for scoring, top in (("mean-top", 1), ("mean-top", 3), ("mean", 0)):
            for weight in (0.0, 0.5, 1.0):
                name = f"{scoring}{top or ''} kw={weight} {'+train' if train else 'no-train'}"
                grid[name] = (train, {"scoring": scoring, "top": top or 3, "keyword_weight": weight})
    return grid


async def cross_validate(
    embedder: Any = None,
    *,
    grid: dict[str, tuple[bool, dict[str, Any]]] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """4-fold cross-validation on the training questions only (the test questions are not scored).

    Fold ``k`` holds the ``k``-th training question of every intent; the other folds train. Reports
    the mean routing accuracy of every ``grid`` setting (default :func:`router_grid`), and retrieval
    figures with and without the training folds as example questions. This is how the benchmark's
    settings were chosen; run it with ``python -m keel.bench.supportkb --dev``.

    >>> report = await cross_validate()  # doctest: +SKIP
    >>> max(report["routing_accuracy"], key=report["routing_accuracy"].get)  # doctest: +SKIP
    'mean kw=0.5 +train'
    """
    from keel.rag import LocalEmbedder

    embedder = embedder or LocalEmbedder()
    memo = _MemoEmbedder(embedder)
    docs, test = load_kb()
    training, dropped = await decontaminate(embedder, load_training(), test)
    grid = grid or router_grid()
    routing: dict[str, list[float]] = {name: [] for name in grid}
    retrieval: dict[str, list[dict[str, dict[str, float]]]] = {"with_questions": [], "without_questions": []}
    for fold in range(FOLDS):
        train = [t for t in training if t["fold"] != fold]
        held = [t for t in training if t["fold"] == fold]
        for name, (use, options) in grid.items():
            router = IntentRouter.from_documents(memo, docs, train if use else (), **options)
            routing[name].append((await _routing(router, held))[1]["accuracy"])
        retrieval["with_questions"].append((await _retrieve(docs, embedder, train, held))[1])
        retrieval["without_questions"].append((await _retrieve(docs, embedder, (), held))[1])
        if progress is not None:
            progress(f"[support-kb --dev] fold {fold + 1}/{FOLDS} done")
    return {
        "folds": FOLDS,
        "training": _training_summary(training, dropped),
        "routing_accuracy": dict(sorted(((k, round(sum(v) / FOLDS, 4)) for k, v in routing.items()),
                                        key=lambda kv: -kv[1])),
        "retrieval": {k: _mean_metrics(v) for k, v in retrieval.items()},
    }  # fmt: skip


def _mean_metrics(runs: Sequence[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {
        method: {m: round(sum(r[method][m] for r in runs) / len(runs), 4) for m in runs[0][method]}
        for method in runs[0]
    }


if __name__ == "__main__":  # python -m keel.bench.supportkb --dev
    import asyncio
    import sys

    if sys.argv[1:] != ["--dev"]:
        sys.exit("usage: python -m keel.bench.supportkb --dev  (cross-validation on the training questions)")
    print(json.dumps(asyncio.run(cross_validate(progress=stderr_progress)), indent=2))
