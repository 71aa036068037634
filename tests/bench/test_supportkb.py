"""support-kb: data, decontamination of the training questions, the overlap measure, the router's
scoring, cross-validation, and (integration) the real embedder, knowledge base and model."""

from __future__ import annotations

import re
from typing import Any

import pytest

from keel.bench.router_examples import ROUTER_EXAMPLES
from keel.bench.supportkb import (
    ESCALATE,
    IntentRouter,
    cross_validate,
    decontaminate,
    load_kb,
    load_training,
    overlap,
    run_support_kb,
)
from keel.rag import HashingEmbedder

needs_data = pytest.mark.usefixtures("needs_support_kb")


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


@needs_data
def test_data_has_27_documents_and_135_questions() -> None:
    docs, qs = load_kb()
    assert len(docs) == 27 and len(qs) == 135
    assert {q["gold_doc_id"] for q in qs} == {d["doc_id"] for d in docs}
    assert [q["id"] for q in load_kb(limit=2, offset=5)[1]] == ["q5", "q6"]


@needs_data
def test_router_examples_cover_every_intent_and_none_is_a_test_question() -> None:
    docs, qs = load_kb()
    assert set(ROUTER_EXAMPLES) == {d["doc_id"] for d in docs}
    questions = {_norm(q["question"]) for q in qs}
    leaked = [ex for exs in ROUTER_EXAMPLES.values() for ex in exs if _norm(ex) in questions]
    assert leaked == []


@needs_data
def test_training_questions_have_four_per_intent_one_per_fold() -> None:
    docs, _ = load_kb()
    train = load_training()
    assert len(train) == 108 and {t["intent"] for t in train} == {d["doc_id"] for d in docs}
    for intent in {t["intent"] for t in train}:
        assert sorted(t["fold"] for t in train if t["intent"] == intent) == [0, 1, 2, 3]


async def test_decontaminate_drops_exact_and_near_duplicates_of_test_questions() -> None:
    test = [{"id": "q0", "question": "Where is my INVOICE?"}, {"id": "q1", "question": "cancel order 123"}]
    train = [
        {"id": "t0", "question": "where is my invoice"},  # the same text once normalised
        {"id": "t1", "question": "cancel order 123 !"},  # same words: cosine 1 with the hashing embedder
        {"id": "t2", "question": "how do I subscribe to the newsletter"},
    ]
    kept, dropped = await decontaminate(HashingEmbedder(), train, test)
    assert [t["id"] for t in kept] == ["t2"]
    assert [(d["id"], d["nearest"], d["exact"]) for d in dropped] == [("t0", "q0", True), ("t1", "q1", True)]
    near = [{"id": "t3", "question": "cancel order 124"}]
    kept, dropped = await decontaminate(HashingEmbedder(), near, test, threshold=0.5)
    assert kept == [] and dropped[0]["nearest"] == "q1" and not dropped[0]["exact"]
    assert 0.5 <= dropped[0]["cosine"] < 1.0
    assert (await decontaminate(HashingEmbedder(), near, test, threshold=0.99))[0] == near


def test_overlap_counts_content_words_found_in_the_source() -> None:
    src = "Your invoice can be found in the Order History section of your account."
    assert overlap("The invoice is in Order History.", src) == 1.0
    assert overlap("Call us at 555-0100 for a paper invoice.", src) < 0.5
    assert overlap("", src) == 1.0


class _KeywordEmbedder:
    """A deterministic stand-in: one dimension per keyword (for the router's unit test)."""

    words = ("refund", "human", "invoice")

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return [[float(w in t.lower()) + 0.01 for w in self.words] for t in texts]


class _FlatEmbedder:
    """Every text gets the same vector: only the trigram part of the router can separate intents."""

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0] for _ in texts]


async def test_router_takes_the_intent_with_the_nearest_examples() -> None:
    router = IntentRouter(_KeywordEmbedder(), {"get_refund": ["refund me"], ESCALATE: ["a human please"],
                                               "get_invoice": ["my invoice"]})  # fmt: skip
    assert (await router.route("I want a REFUND"))[0] == "get_refund"
    label, scores = await router.route("put me through to a human")
    assert label == ESCALATE and set(scores) == {"get_refund", ESCALATE, "get_invoice"}


async def test_mean_scoring_uses_every_example_and_trigrams_survive_typos() -> None:
    examples = {"get_refund": ["human", "refund", "refund"], ESCALATE: ["human refund", "refund human"]}
    # one exact example against consistently close ones: the top-1 rule and the mean disagree
    top1 = IntentRouter(_KeywordEmbedder(), examples, scoring="mean-top", top=1, keyword_weight=0.0)
    mean = IntentRouter(_KeywordEmbedder(), examples, scoring="mean", keyword_weight=0.0)
    assert (await top1.route("human"))[0] == "get_refund"
    assert (await mean.route("human"))[0] == ESCALATE
    typo = {"cancel_order": ["cancelling my order"], "get_invoice": ["get my invoice"]}
    plain = IntentRouter(_FlatEmbedder(), typo, keyword_weight=0.0)
    grams = IntentRouter(_FlatEmbedder(), typo, keyword_weight=0.5)
    _, flat = await plain.route("canceloing ordr")
    assert flat["cancel_order"] == pytest.approx(flat["get_invoice"])  # the embedding cannot tell
    assert (await grams.route("canceloing ordr"))[0] == "cancel_order"


@needs_data
async def test_cross_validation_scores_only_training_questions() -> None:
    grid = {"mean kw=0.5 +train": (True, {"keyword_weight": 0.5}), "mean kw=0.5 no-train": (False, {})}
    report = await cross_validate(HashingEmbedder(), grid=grid)
    assert report["folds"] == 4 and set(report["routing_accuracy"]) == set(grid)
    acc = report["routing_accuracy"]
    assert acc["mean kw=0.5 +train"] > acc["mean kw=0.5 no-train"]
    ret = report["retrieval"]
    assert ret["with_questions"]["hybrid+rerank"]["mrr"] > ret["without_questions"]["hybrid+rerank"]["mrr"]
    assert report["training"]["used"] + len(report["training"]["dropped"]) == 108


@needs_data
@pytest.mark.integration
async def test_no_training_question_is_a_test_question_with_the_local_embedder() -> None:
    pytest.importorskip("onnxruntime", reason="needs keel[rag]")
    from keel.rag import LocalEmbedder

    embedder = LocalEmbedder()
    _, test = load_kb()
    kept, dropped = await decontaminate(embedder, load_training(), test)
    assert len(kept) + len(dropped) == 108 and all(d["cosine"] >= 0.95 or d["exact"] for d in dropped)
    test_text = {_norm(q["question"]) for q in test}
    assert not [t for t in kept if _norm(t["question"]) in test_text]
    vecs = await embedder.embed([t["question"] for t in kept] + [q["question"] for q in test])
    sims = vecs[: len(kept)] @ vecs[len(kept) :].T
    assert float(sims.max()) < 0.95


@needs_data
@pytest.mark.integration
async def test_retrieval_and_routing_with_the_local_embedder() -> None:
    pytest.importorskip("onnxruntime", reason="needs keel[rag]")
    items, metrics = await run_support_kb(None, limit=25, progress=None)
    assert {i.category for i in items} == {"retrieval", "routing"} and len(items) == 50
    assert set(metrics["retrieval"]) == {"bm25", "dense", "hybrid", "hybrid+rerank"}
    for m in metrics["retrieval"].values():
        assert 0 <= m["hit@1"] <= m["hit@5"] <= 1 and 0 <= m["mrr"] <= 1
    assert metrics["retrieval"]["hybrid+rerank"]["hit@5"] >= 0.8
    assert metrics["routing"]["accuracy"] >= 0.7
    assert set(metrics["retrieval_without_questions"]) == set(metrics["retrieval"])
    with_q, without = (
        metrics["retrieval"]["hybrid+rerank"],
        metrics["retrieval_without_questions"]["hybrid+rerank"],
    )
    assert with_q["mrr"] >= without["mrr"]
    assert 0 <= metrics["routing"]["baseline"]["accuracy"] <= 1
    train = metrics["training"]
    assert train["used"] + len(train["dropped"]) == 108 and all(
        d["nearest"].startswith("q") for d in train["dropped"]
    )
    assert all(i.ok == (i.output == i.expected) for i in items if i.category == "routing")


@needs_data
@pytest.mark.integration
async def test_faithfulness_answers_come_from_the_retrieved_document(local_model: Any) -> None:
    pytest.importorskip("onnxruntime", reason="needs keel[rag]")
    items, metrics = await run_support_kb(local_model, limit=3, faithfulness_n=1, progress=None)
    (f,) = [i for i in items if i.category == "faithfulness"]
    assert f.output and 0.0 <= f.detail["overlap"] <= 1.0 and f.trace["passage"]
    assert f.ok == (f.detail["overlap"] >= metrics["faithfulness"]["threshold"])
    assert f.input_tokens > 0
