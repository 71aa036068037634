"""Chunking: structure, token limits, overlap, stable ids, limits."""

from __future__ import annotations

import itertools

import pytest

from keel.errors import ConfigError
from keel.rag import Chunker, Document, DocumentTooLarge, LocalEmbedder


def words(text: str) -> int:
    return len(text.split())


def sentences(n: int, start: int = 0) -> str:
    return " ".join(f"Sentence {i} describes step {i} of the process." for i in range(start, start + n))


GUIDE = Document(
    source="guide.md",
    title="Guide",
    format="markdown",
    text=f"# Guide\n\nIntro paragraph.\n\n## Install\n\n{sentences(30)}\n\n## Configure\n\nSet the key.\n\n"
    "```\n# not a heading\nrun --fast\n```\n\n### Advanced\n\nTune the cache.",
)


def test_chunks_follow_headings_and_never_span_sections() -> None:
    chunks = Chunker(max_tokens=40, overlap_tokens=10, count_tokens=words).split(GUIDE)
    sections = [c.section for c in chunks]
    assert sections[0] == "" and chunks[0].text == "Intro paragraph."
    assert {"Install", "Configure", "Configure > Advanced"} <= set(sections)
    assert all("Set the key" not in c.text for c in chunks if c.section == "Install")
    code = next(c for c in chunks if "run --fast" in c.text)
    assert "# not a heading" in code.text and code.section == "Configure"  # fences are not split on '#'
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert all(c.source == "guide.md" and c.title == "Guide" for c in chunks)


def test_token_limit_and_overlap() -> None:
    chunks = [
        c
        for c in Chunker(max_tokens=40, overlap_tokens=10, count_tokens=words).split(GUIDE)
        if c.section == "Install"
    ]
    assert len(chunks) >= 5
    assert all(words(c.text) <= 40 for c in chunks)
    for prev, nxt in itertools.pairwise(chunks):
        last_sentence = prev.text.rsplit(". ", 1)[-1].rstrip(".")
        assert nxt.text.startswith(last_sentence)  # the previous chunk's last sentence is repeated
    joined = " ".join(c.text for c in chunks)
    assert all(f"Sentence {i} " in joined for i in range(30))  # nothing lost


def test_oversized_sentence_is_split_by_words() -> None:
    doc = Document("long.txt", " ".join(f"w{i}" for i in range(500)))
    chunks = Chunker(max_tokens=50, overlap_tokens=0, count_tokens=words).split(doc)
    assert all(words(c.text) <= 50 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == [f"w{i}" for i in range(500)]


def test_ids_are_stable_and_content_addressed() -> None:
    chunker = Chunker(max_tokens=40, overlap_tokens=0, count_tokens=words)
    a = chunker.split(GUIDE)
    b = chunker.split(Document(GUIDE.source, GUIDE.text, GUIDE.title, GUIDE.format))
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)
    changed = chunker.split(
        Document(
            GUIDE.source, GUIDE.text.replace("Set the key.", "Set the API key."), GUIDE.title, GUIDE.format
        )
    )
    diff = [x.position for x, y in zip(a, changed, strict=True) if x.id != y.id]
    assert diff == [next(c.position for c in a if "Set the key" in c.text)]
    other = chunker.split(Document("other.md", GUIDE.text, GUIDE.title, GUIDE.format))
    assert not {c.id for c in a} & {c.id for c in other}


def test_plain_text_hash_lines_are_not_headings() -> None:
    doc = Document("t.txt", "#1 tip: restart it.\n\nSecond para.", format="text")
    chunks = Chunker(count_tokens=words).split(doc)
    assert [c.section for c in chunks] == [""] and "#1 tip" in chunks[0].text


def test_limits() -> None:
    with pytest.raises(DocumentTooLarge, match="chunks"):
        Chunker(max_tokens=20, overlap_tokens=0, max_chunks=3, count_tokens=words).split(
            Document("big.txt", sentences(50))
        )
    with pytest.raises(ConfigError):
        Chunker(max_tokens=100, overlap_tokens=60)


@pytest.mark.integration
def test_chunks_fit_the_real_model_window() -> None:
    embedder = LocalEmbedder()
    chunker = Chunker(count_tokens=embedder.count_tokens)
    doc = Document("manual.md", "# Manual\n\n## Details\n\n" + sentences(200), "Manual", "markdown")
    chunks = chunker.split(doc)
    assert len(chunks) > 5
    assert all(embedder.count_tokens(c.embedding_text()) <= 256 for c in chunks)
    assert all(c.tokens <= 200 for c in chunks)
