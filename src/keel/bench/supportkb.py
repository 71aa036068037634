"""support-kb: retrieval, intent routing and answer faithfulness on the Bitext customer-support KB.

Data: ``bitext_kb_documents.jsonl`` (27 documents, one per intent) and ``bitext_qa.jsonl`` (135
noisy questions with ``gold_doc_id`` and ``intent``) from the Bitext customer-support dataset
(CDLA-Sharing-1.0), found in ``$KEEL_SUPPORT_KB`` or the repository's shared data folder.

- **Retrieval** with ``keel.rag.KnowledgeBase`` (local MiniLM embedder, in-memory SQLite): hit@1,
  hit@5 and MRR of the gold document for BM25 (``mode="keyword"``), dense (``"vector"``), hybrid
  (RRF, no rerank) and hybrid + rerank (the default search). Items: hybrid + rerank hit@5.
- **Routing** over the 27 intents by nearest neighbours over sentence embeddings, the approach of
  ``apps/support/intents.py`` (mean cosine of the three nearest examples per intent). The examples
  are each document's title and text plus the short requests in :data:`ROUTER_EXAMPLES`, written for
  this benchmark; none is a test question. ``contact_human_agent`` is the escalation intent.
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
from typing import TYPE_CHECKING, Any

from keel.bench._common import Progress, stderr_progress
from keel.bench.results import ItemResult
from keel.bench.router_examples import ROUTER_EXAMPLES
from keel.errors import ConfigError

if TYPE_CHECKING:
    from keel.models.base import Model

__all__ = ["ESCALATE", "ROUTER_EXAMPLES", "IntentRouter", "data_path", "load_kb", "overlap", "run_support_kb"]

ESCALATE = "contact_human_agent"
METHODS = {  # name -> (search mode, rerank)
    "bm25": ("keyword", False),
    "dense": ("vector", False),
    "hybrid": ("hybrid", False),
    "hybrid+rerank": ("hybrid", True),
}
FAITHFUL_AT = 0.8
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "to",
        "of",
        "and",
        "or",
        "in",
        "on",
        "at",
        "for",
        "with",
        "by",
        "from",
        "as",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "you",
        "your",
        "we",
        "our",
        "i",
        "me",
        "my",
        "us",
        "they",
        "them",
        "their",
        "he",
        "she",
        "his",
        "her",
        "can",
        "could",
        "will",
        "would",
        "should",
        "may",
        "might",
        "must",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "not",
        "no",
        "if",
        "so",
        "but",
        "then",
        "than",
        "there",
        "here",
        "what",
        "which",
        "who",
        "how",
        "when",
        "where",
        "why",
        "all",
        "any",
        "some",
        "please",
        "also",
        "just",
        "about",
        "into",
        "out",
        "up",
        "more",
        "most",
        "such",
        "only",
        "own",
        "same",
        "very",
        "s",
        "t",
    ]
)


def data_path() -> Path:
    """Folder with the Bitext files: ``$KEEL_SUPPORT_KB``, else ``shared/data/support-kb`` above us."""
    env = os.environ.get("KEEL_SUPPORT_KB")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates += [p / "shared" / "data" / "support-kb" for p in here.parents]
    candidates.append(Path("/work/shared/data/support-kb"))
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


class IntentRouter:
    """Nearest-neighbour intent routing over sentence embeddings (``apps/support/intents.py``'s rule:
    mean cosine of the ``top`` nearest examples of each intent; the best intent wins).

    >>> router = IntentRouter(embedder, {"get_refund": ["I want my money back"]})  # doctest: +SKIP
    >>> (await router.route("refund please"))[0]  # doctest: +SKIP
    'get_refund'
    """

    def __init__(self, embedder: Any, examples: dict[str, list[str]], *, top: int = 3) -> None:
        self.embedder = embedder
        self.examples = examples
        self.top = top
        self._vectors: list[tuple[str, list[float]]] | None = None

    @classmethod
    def from_documents(cls, embedder: Any, docs: Sequence[dict[str, Any]]) -> IntentRouter:
        """Examples per intent: the document's title, its text, and :data:`ROUTER_EXAMPLES`."""
        examples = {d["doc_id"]: [d["title"], d["text"], *ROUTER_EXAMPLES.get(d["doc_id"], [])] for d in docs}
        return cls(embedder, examples)

    async def route(self, text: str) -> tuple[str, dict[str, float]]:
        if self._vectors is None:
            pairs = [(label, ex) for label, exs in self.examples.items() for ex in exs]
            vecs = await self.embedder.embed([p[1] for p in pairs])
            self._vectors = [(label, _unit(v)) for (label, _), v in zip(pairs, vecs, strict=True)]
        (qv,) = await self.embedder.embed([text])
        q = _unit(qv)
        sims: dict[str, list[float]] = {label: [] for label in self.examples}
        for label, v in self._vectors:
            sims[label].append(sum(a * b for a, b in zip(q, v, strict=True)))
        scores = {
            k: sum(sorted(s, reverse=True)[: self.top]) / min(self.top, len(s)) for k, s in sims.items()
        }
        return max(scores, key=lambda k: scores[k]), scores


async def _build_kb(docs: Sequence[dict[str, Any]], embedder: Any) -> Any:
    from keel.rag import Document, KnowledgeBase

    kb = KnowledgeBase(":memory:", embedder=embedder)
    await kb.ingest([Document(source=d["doc_id"], text=d["text"], title=d["title"]) for d in docs])
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


async def run_support_kb(
    model: Model | None,
    *,
    limit: int | None = None,
    offset: int = 0,
    faithfulness_n: int = 10,
    progress: Progress | None = stderr_progress,
) -> tuple[list[ItemResult], dict[str, Any]]:
    """Retrieval, routing and (when ``model`` is given) faithfulness; returns items and metrics."""
    from keel.rag import LocalEmbedder

    docs, questions = load_kb(limit=limit, offset=offset)
    embedder = LocalEmbedder()
    kb = await _build_kb(docs, embedder)
    try:
        ret_items, ret_metrics, top_docs = await _retrieval(kb, questions, len(docs))
    finally:
        await kb.close()
    if progress is not None:
        progress(f"[support-kb] retrieval {json.dumps(ret_metrics)}")
    route_items, route_metrics = await _routing(IntentRouter.from_documents(embedder, docs), questions)
    if progress is not None:
        progress(f"[support-kb] routing accuracy {route_metrics['accuracy']}")
    items = ret_items + route_items
    metrics: dict[str, Any] = {"retrieval": ret_metrics, "routing": route_metrics}
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
