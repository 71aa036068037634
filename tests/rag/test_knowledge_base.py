"""KnowledgeBase: ingest, re-index, tenants, tools, context, bad inputs; real model, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from keel.rag import (
    Document,
    HashingEmbedder,
    KnowledgeBase,
    LocalEmbedder,
    citation_for,
    verify_citations,
)
from keel.tools import Tool
from pg import new_database, postgres_url  # noqa: F401  (registers the fixture)

SUPPORT_KB = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "support-kb" / "bitext_kb_documents.jsonl"
)


class Counting(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__(dim=128)
        self.seen: list[str] = []

    async def embed(self, texts: Sequence[str]) -> Any:
        self.seen += list(texts)
        return await super().embed(texts)


def faq(text_refund: str = "Refunds are paid within 5 days.", **meta: Any) -> Document:
    return Document(
        "faq.md",
        f"# FAQ\n\n## Refunds\n\n{text_refund}\n\n## Shipping\n\nWe ship on weekdays.",
        "FAQ",
        "markdown",
        dict(meta),
    )


async def test_ingest_search_and_unchanged_reingest(tmp_path: Path) -> None:
    emb = Counting()
    kb = KnowledgeBase(tmp_path / "kb.db", embedder=emb)
    first = await kb.ingest([faq(), Document("hours.txt", "Open nine to five on weekdays.")])
    assert (first.documents, first.added, first.chunks, first.embedded) == (2, 2, 3, 3)
    assert len(emb.seen) == 3
    hit = (await kb.search("how fast are refunds paid", k=1))[0]
    assert (hit.source, hit.title, hit.section) == ("faq.md", "FAQ", "Refunds")
    before = len(emb.seen)
    again = await kb.ingest([faq(), Document("hours.txt", "Open nine to five on weekdays.")])
    assert (again.unchanged, again.chunks, again.embedded) == (2, 0, 0)
    assert len(emb.seen) == before
    await kb.close()
    # a new KnowledgeBase on the same file: same data, and the embedding cache in the file
    emb2 = Counting()
    kb2 = KnowledgeBase(tmp_path / "kb.db", embedder=emb2)
    assert await kb2.count() == 3
    assert (await kb2.ingest(faq(tags=["new"]))).embedded == 0  # metadata change: re-indexed from cache
    assert emb2.seen == [] and await kb2.count({"tags": ["new"]}) == 2
    await kb2.close()


async def test_changed_document_replaces_old_chunks() -> None:
    emb = Counting()
    kb = KnowledgeBase(":memory:", embedder=emb)
    await kb.ingest(faq())
    report = await kb.ingest(faq("Refunds now take 10 days and need a receipt."))
    assert (report.updated, report.chunks, report.embedded) == (1, 1, 1)  # only the changed section
    assert await kb.count({"source": "faq.md"}) == 2
    texts = [h.text for h in await kb.search("refunds", k=5)]
    assert "Refunds now take 10 days and need a receipt." in texts
    assert not any("5 days" in t for t in texts)
    assert await kb.remove("faq.md") == 2 and await kb.count() == 0


async def test_tenants_are_isolated_and_tool_filter_is_fixed() -> None:
    kb = KnowledgeBase(":memory:", embedder=HashingEmbedder())
    await kb.ingest(faq("Acme refunds take 3 days."), metadata={"tenant": "acme"})
    await kb.ingest(faq("Globex refunds take 30 days."), metadata={"tenant": "globex"})
    assert await kb.count() == 4  # same source, two tenants: both kept
    acme = await kb.search("refunds", k=5, filter={"tenant": "acme"})
    assert acme and all(h.metadata["tenant"] == "acme" for h in acme)
    tool = kb.as_tool(filter={"tenant": "globex"})
    assert isinstance(tool, Tool) and tool.name == "search_knowledge_base"
    assert list(tool.spec().parameters["properties"]) == ["query"]
    out = await tool.invoke({"query": "how long do refunds take"})
    assert "Globex refunds take 30 days." in out and "Acme" not in out
    ids = [line[1:].split("]")[0] for line in out.splitlines() if line.startswith("[")]
    assert ids and [h.id for h in await kb.index.get(ids)] == ids  # citation ids are real chunk ids
    assert await kb.remove("faq.md", tenant="acme") == 2 and await kb.count() == 2


async def test_context_for_and_citations() -> None:
    kb = KnowledgeBase(":memory:", embedder=HashingEmbedder())
    await kb.ingest(faq())
    block = await kb.context_for("when do you ship?")
    hits = await kb.search("when do you ship?")
    assert f"[{hits[0].id}]" in block and "cite" in block and "We ship on weekdays." in block
    assert verify_citations([citation_for(hits[0], hits[0].text)], hits).ok
    assert "No passages" in await KnowledgeBase(":memory:", embedder=HashingEmbedder()).context_for("x")


async def test_bad_inputs_are_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_text("# Good\n\nUseful text.")
    (tmp_path / "huge.txt").write_text("word " * 2000)
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 garbage")
    many = Document(
        "many.txt", "\n\n".join(f"Paragraph {i} has enough words to stand alone here." for i in range(80))
    )
    kb = KnowledgeBase(":memory:", embedder=HashingEmbedder(), max_bytes=5_000)
    from keel.rag import Chunker

    kb.chunker = Chunker(max_tokens=20, overlap_tokens=0, max_chunks=50)
    report = await kb.ingest([tmp_path, many, tmp_path / "missing.md"])
    assert report.documents == 1 and await kb.count() == 1
    assert {(Path(s.source).name, s.kind) for s in report.skipped} == {
        ("huge.txt", "too_large"),
        ("bad.pdf", "unreadable"),
        ("many.txt", "too_large"),
        ("missing.md", "not_found"),
    }


@pytest.mark.integration
async def test_real_model_on_the_support_kb(tmp_path: Path) -> None:
    if not SUPPORT_KB.exists():
        pytest.skip("shared/data/support-kb is not next to the repository")
    docs = [
        Document(f"bitext/{d['doc_id']}", d["text"], d["title"]) for d in map(json.loads, SUPPORT_KB.open())
    ]
    calls: list[int] = []

    class Spy(LocalEmbedder):
        def embed_sync(self, texts: Sequence[str]) -> Any:
            calls.append(len(texts))
            return super().embed_sync(texts)

    kb = KnowledgeBase(tmp_path / "support.db", embedder=Spy())
    report = await kb.ingest(docs)
    assert report.chunks == 27 and report.ok
    for question, gold in (
        ("how can I cancel my order?", "bitext/cancel_order"),
        ("i forgot my pasword", "bitext/recover_password"),
        ("I want to talk to a real person", "bitext/contact_human_agent"),
    ):
        assert gold in [h.source for h in await kb.search(question, k=3)]
    await kb.close()
    embedded = sum(calls)
    kb2 = KnowledgeBase(tmp_path / "support.db", embedder=Spy(), collection="copy")
    assert (await kb2.ingest(docs)).chunks == 27
    assert sum(calls) == embedded  # a new collection in the same file: all vectors from the cache
    await kb2.close()


@pytest.mark.integration
async def test_knowledge_base_on_postgres(postgres_url: str) -> None:
    url = new_database(postgres_url, prefix="rag_kb")
    kb = KnowledgeBase(url, embedder=HashingEmbedder())
    report = await kb.ingest(
        [faq(), Document("hours.txt", "Open nine to five on weekdays.")], metadata={"tenant": "acme"}
    )
    assert report.chunks == 3
    assert (await kb.search("refunds paid", k=1, filter={"tenant": "acme"}))[0].section == "Refunds"
    assert (await kb.ingest(faq("Refunds take 10 days."), metadata={"tenant": "acme"})).updated == 1
    assert [h.text for h in await kb.search("refunds", k=5, mode="keyword")] == ["Refunds take 10 days."]
    await kb.close()
    kb2 = KnowledgeBase(url, embedder=HashingEmbedder())
    assert await kb2.count({"tenant": "acme"}) == 3
    await kb2.close()


def test_import_is_light() -> None:
    code = (
        "import sys, keel.rag; heavy = [m for m in ('numpy', 'onnxruntime', 'psycopg', 'tokenizers', 'pypdf')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_cache_writes_in_the_same_file_do_not_reload_the_index(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from keel.rag.indexes import _matrix

    loads: list[int] = []
    original = _matrix.SlotMatrix.load.__func__  # type: ignore[attr-defined]

    def counting_load(cls: Any, *args: Any, **kwargs: Any) -> Any:
        loads.append(1)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(_matrix.SlotMatrix, "load", classmethod(counting_load))
    kb = KnowledgeBase(tmp_path / "kb.db", embedder=Counting())
    await kb.ingest([faq(), Document("hours.txt", "Open nine to five on weekdays.")])
    await kb.ingest(Document("more.txt", "Gift cards never expire."))
    for q in ("refunds", "weekday hours", "gift cards", "shipping days"):  # each new query is cached
        assert await kb.search(q, k=1)
    assert len(loads) == 1
    other = KnowledgeBase(tmp_path / "kb.db", embedder=Counting())  # another writer on the same file
    await other.ingest(Document("late.txt", "Late deliveries are refunded."))
    assert "late.txt" in [h.source for h in await kb.search("late deliveries", k=3, mode="vector")]
    assert len(loads) == 3  # the other instance's first load, then one reload here
    await kb.close()
    await other.close()
