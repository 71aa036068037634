"""Example questions (``Document.questions``): indexed beside the passages, found by search, returned
as the passage they stand for; re-linked on re-ingest, kept per tenant; SQLite, PostgreSQL, real model."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.errors import ConfigError
from keel.rag import Chunker, Document, HashingEmbedder, KnowledgeBase, LocalEmbedder
from pg import new_database, postgres_url  # noqa: F401  (registers the fixture)

REFUND = "Refunds are paid to the original card within five business days."
QUESTIONS = ["when do I get my money back", "reimbursement timing"]


def docs(refund_text: str = REFUND, questions: list[str] | None = None) -> list[Document]:
    return [
        Document("refunds.md", refund_text, "Refund policy", questions=list(QUESTIONS if questions is None else questions)),
        Document("shipping.md", "Parcels to Norway take four to six days.", "Shipping"),
        Document("hours.md", "The store closes at 17:00 on Saturdays.", "Opening hours"),
    ]  # fmt: skip


def test_question_chunks_follow_the_passages_and_link_to_them() -> None:
    chunker = Chunker()
    doc = docs()[0]
    passages = chunker.split(doc)
    qs = chunker.question_chunks(doc, passages)
    assert [(c.text, c.position) for c in qs] == [(q, 1 + i) for i, q in enumerate(QUESTIONS)]
    assert all(c.metadata["question_of"] == [passages[0].id] for c in qs)
    assert len({c.id for c in [*passages, *qs]}) == 3
    # the link is part of the id: new passages give the questions new ids
    moved = chunker.split(Document("refunds.md", "Refunds take ten days.", "Refund policy"))
    assert not {c.id for c in chunker.question_chunks(doc, moved)} & {c.id for c in qs}
    with pytest.raises(ConfigError, match="list of strings"):
        chunker.question_chunks(Document("a.md", "text", questions="oops"), passages)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mode", "rerank"), [("keyword", False), ("vector", False), ("hybrid", False), ("hybrid", True)]
)
async def test_a_matched_question_returns_its_passage_in_every_mode(mode: str, rerank: bool) -> None:
    plain = KnowledgeBase(":memory:", embedder=HashingEmbedder())
    await plain.ingest(docs(questions=[]))
    kb = KnowledgeBase(":memory:", embedder=HashingEmbedder())
    report = await kb.ingest(docs())
    assert report.chunks == 5 and await kb.count() == 5
    query = "when will I get my money back"
    hits = await kb.search(query, k=5, mode=mode, rerank=rerank)  # type: ignore[arg-type]
    assert (hits[0].source, hits[0].text) == ("refunds.md", REFUND)
    assert not {h.text for h in hits} & set(QUESTIONS)  # questions are never returned as passages
    assert len({h.id for h in hits}) == len(hits)
    before = await plain.search(query, k=5, mode=mode, rerank=rerank)  # type: ignore[arg-type]
    if mode == "keyword":
        assert before == []  # the passage shares no word with the query: only the question matches
    else:
        assert hits[0].scores["vector"] > next(h.scores["vector"] for h in before if h.source == "refunds.md")
    await kb.close()
    await plain.close()


async def test_reingest_relinks_questions_and_drops_removed_ones(tmp_path: Path) -> None:
    kb = KnowledgeBase(tmp_path / "kb.db", embedder=HashingEmbedder())
    await kb.ingest(docs())
    again = await kb.ingest(docs())
    assert (again.unchanged, again.embedded) == (3, 0)
    changed = await kb.ingest(docs("Refunds are paid within ten business days."))
    assert changed.updated == 1
    hits = await kb.search("money back", k=5, mode="keyword")
    assert [h.text for h in hits] == ["Refunds are paid within ten business days."]
    await kb.ingest(docs("Refunds are paid within ten business days.", questions=[]))
    assert await kb.count() == 3
    assert await kb.search("money back", k=5, mode="keyword") == []
    await kb.close()


async def test_questions_of_one_tenant_do_not_reach_another() -> None:
    kb = KnowledgeBase(":memory:", embedder=HashingEmbedder())
    await kb.ingest(docs(), metadata={"tenant": "acme"})
    await kb.ingest(docs(questions=[]), metadata={"tenant": "other"})
    acme = await kb.search("money back", k=5, mode="keyword", filter={"tenant": "acme"})
    assert [(h.source, h.metadata["tenant"]) for h in acme] == [("refunds.md", "acme")]
    assert await kb.search("money back", k=5, mode="keyword", filter={"tenant": "other"}) == []
    await kb.close()


async def test_a_question_leads_to_the_passage_nearest_the_query() -> None:
    text = (
        "# Refunds\n\n## Card refunds\n\nRefunds to cards take five days.\n\n"
        "## Store credit\n\nStore credit arrives at once as an emailed voucher code."
    )
    doc = Document("refunds.md", text, "Refunds", "markdown", questions=["where is my voucher code"])
    kb = KnowledgeBase(":memory:", embedder=HashingEmbedder())
    await kb.ingest(doc)
    (hit,) = await kb.search("where is my voucher code", k=1, mode="vector")
    assert hit.section == "Store credit"
    await kb.close()


@pytest.mark.integration
async def test_example_questions_with_the_real_model(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="needs keel[rag]")
    embedder = LocalEmbedder()
    kb = KnowledgeBase(tmp_path / "kb.db", embedder=embedder)
    await kb.ingest(docs())
    query = "how long until I see the cash again"
    (hit,) = await kb.search(query, k=1, mode="vector")
    q, passage, question = await embedder.embed(
        [query, f"Refund policy\n{REFUND}", "Refund policy\n" + QUESTIONS[0]]
    )
    assert hit.source == "refunds.md" and hit.text == REFUND
    # max-sim: the document scores by its closest item, here the question rather than the passage
    assert hit.scores["vector"] == pytest.approx(max(float(q @ passage), float(q @ question)), abs=1e-3)
    assert float(q @ question) > float(q @ passage)
    await kb.close()


@pytest.mark.integration
async def test_example_questions_on_postgres(postgres_url: str) -> None:
    url = new_database(postgres_url, prefix="rag_questions")
    kb = KnowledgeBase(url, embedder=HashingEmbedder())
    assert (await kb.ingest(docs(), metadata={"tenant": "acme"})).chunks == 5
    hits = await kb.search("when will I get my money back", k=3, filter={"tenant": "acme"})
    assert (hits[0].source, hits[0].text) == ("refunds.md", REFUND)
    await kb.ingest(docs(questions=[]), metadata={"tenant": "acme"})
    assert await kb.count({"tenant": "acme"}) == 3
    await kb.close()
