"""Structure-aware chunking: sections by heading, paragraphs packed up to a token budget, with overlap.

A chunk never spans two sections, so its heading path (``section``) describes all of it. Inside a
section, whole paragraphs are packed greedily; a paragraph over the budget is split at sentence
ends, a sentence over the budget at word boundaries. Consecutive chunks of one section share up to
``overlap_tokens`` of trailing sentences, so a fact cut at a boundary is still whole in one chunk.

>>> from keel.rag import Document
>>> doc = Document(source="faq.md", format="markdown", title="FAQ",
...                text="# FAQ\\n\\n## Refunds\\n\\nRefunds take 5 days.\\n\\n## Shipping\\n\\nWe ship daily.")
>>> [(c.section, c.text) for c in Chunker().split(doc)]
[('Refunds', 'Refunds take 5 days.'), ('Shipping', 'We ship daily.')]
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from keel.errors import ConfigError
from keel.rag._text import estimate_tokens
from keel.rag._types import QUESTION_OF, Chunk, Document
from keel.rag.errors import DocumentTooLarge

__all__ = ["Chunker", "chunk_id"]

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^(```|~~~)")
_PARA = "\x00"  # marks a unit that starts a paragraph; never present in loaded text
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+(?=[\"'(\[]?[A-Z0-9À-Ý])|\n")


def chunk_id(source: str, position: int, text: str) -> str:
    """Stable id: the first 20 hex digits of sha256(source, position, content).

    The content hashed is the chunk's embedding text (title, heading path and body), so any change
    to what gets embedded gives a new id and a fresh vector.
    """
    return hashlib.sha256(f"{source}\x1f{position}\x1f{text}".encode()).hexdigest()[:20]


@dataclass(slots=True)
class _Section:
    path: list[str]
    blocks: list[str]


def _sections(doc: Document) -> list[_Section]:
    """Split into sections at Markdown headings (Markdown/HTML documents), keeping code fences whole."""
    structured = doc.format in ("markdown", "html")
    sections = [_Section([], [])]
    stack: list[tuple[int, str]] = []
    para: list[str] = []
    in_fence = False

    def flush() -> None:
        text = "\n".join(para).strip()
        if text:
            sections[-1].blocks.append(text)
        para.clear()

    for line in doc.text.splitlines():
        if _FENCE.match(line.strip()):
            in_fence = not in_fence
            para.append(line)
            if not in_fence:
                flush()
            continue
        m = None if in_fence or not structured else _HEADING.match(line)
        if m:
            flush()
            level, title = len(m.group(1)), m.group(2).strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
            sections.append(_Section([t for _, t in stack], []))
        elif not in_fence and not line.strip():
            flush()
        else:
            para.append(line)
    flush()
    return [s for s in sections if s.blocks]


def _join(units: list[tuple[str, int]]) -> str:
    text = "".join(("\n\n" + u[1:]) if u.startswith(_PARA) else (" " + u) for u, _ in units)
    return text.strip()


class Chunker:
    """Split documents into chunks of at most ``max_tokens`` (by ``count_tokens``) with overlap.

    ``count_tokens`` should be the embedder's tokenizer (``LocalEmbedder.count_tokens``) so chunks
    fit the model; without one a word-based estimate is used. A document that would produce more
    than ``max_chunks`` chunks raises ``DocumentTooLarge`` instead of filling memory.
    """

    def __init__(
        self,
        *,
        max_tokens: int = 200,
        overlap_tokens: int = 32,
        max_chunks: int = 20_000,
        count_tokens: Callable[[str], int] | None = None,
    ) -> None:
        if max_tokens < 16 or not 0 <= overlap_tokens < max_tokens // 2:
            raise ConfigError("chunking needs max_tokens >= 16 and 0 <= overlap_tokens < max_tokens / 2")
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.max_chunks = max_chunks
        self.count_tokens = count_tokens or estimate_tokens

    def _units(self, block: str) -> list[tuple[str, int]]:
        """A block as (piece, tokens) units no bigger than the budget: the block, its sentences or word runs.

        The first unit of a block starts with a paragraph break marker so packing can rejoin pieces
        of one paragraph with a space and separate paragraphs with a blank line.
        """
        n = self.count_tokens(block)
        if n <= self.max_tokens:
            return [(_PARA + block, n)]
        units: list[tuple[str, int]] = []
        for sentence in (s.strip() for s in _SENTENCE_END.split(block)):
            if not sentence:
                continue
            sn = self.count_tokens(sentence)
            if sn <= self.max_tokens:
                units.append((sentence, sn))
                continue
            words = sentence.split()
            step = max(1, int(len(words) * self.max_tokens / (sn * 1.1)))
            for i in range(0, len(words), step):
                piece = " ".join(words[i : i + step])
                units.append((piece, self.count_tokens(piece)))
        if units:
            units[0] = (_PARA + units[0][0], units[0][1])
        return units

    def _pack(self, units: list[tuple[str, int]]) -> list[tuple[str, int]]:
        chunks: list[tuple[str, int]] = []
        current: list[tuple[str, int]] = []
        size = 0
        fresh = 0  # units in ``current`` that are not overlap from the previous chunk
        for unit in units:
            if current and size + unit[1] > self.max_tokens and fresh:
                chunks.append((_join(current), size))
                current, size = self._overlap(current), 0
                size = sum(n for _, n in current)
                while current and size + unit[1] > self.max_tokens:
                    size -= current.pop(0)[1]
                fresh = 0
            current.append(unit)
            size += unit[1]
            fresh += 1
        if current and fresh:
            chunks.append((_join(current), size))
        return chunks

    def _overlap(self, units: list[tuple[str, int]]) -> list[tuple[str, int]]:
        if not self.overlap_tokens:
            return []
        tail: list[tuple[str, int]] = []
        size = 0
        last = units[-1]
        pieces = [
            (s.strip(_PARA), self.count_tokens(s))
            for s in _SENTENCE_END.split(last[0])
            if s.strip(_PARA + " ")
        ]
        for piece in reversed(pieces):
            if size + piece[1] > self.overlap_tokens:
                break
            tail.insert(0, piece)
            size += piece[1]
        return tail

    def split(self, doc: Document) -> list[Chunk]:
        """Chunks of ``doc`` in reading order, ``position`` 0, 1, 2 ..."""
        chunks: list[Chunk] = []
        for section in _sections(doc):
            path = section.path
            if path and doc.title and path[0] == doc.title:
                path = path[1:]  # the H1 repeats the title, which the chunk carries anyway
            heading = " > ".join(path)
            units = [u for block in section.blocks for u in self._units(block)]
            for text, tokens in self._pack(units):
                position = len(chunks)
                if position >= self.max_chunks:
                    raise DocumentTooLarge(
                        doc.source, size=position + 1, limit=self.max_chunks, unit="chunks"
                    )
                chunk = Chunk(
                    id="",
                    text=text,
                    source=doc.source,
                    title=doc.title,
                    position=position,
                    section=heading,
                    tokens=tokens,
                    metadata=dict(doc.metadata),
                )
                chunk.id = chunk_id(doc.source, position, chunk.embedding_text())
                chunks.append(chunk)
        return chunks

    def question_chunks(self, doc: Document, passages: list[Chunk], key: str = "") -> list[Chunk]:
        """One chunk per example question of ``doc`` (``Document.questions``), after its passages.

        Each carries the ids of ``passages`` under ``metadata["question_of"]``, so a search can turn
        a matched question into its passage. The ids are part of the question chunk's id: when the
        passages change, the question chunks get new ids and are rewritten with the new links.
        ``key`` replaces ``doc.source`` in the id (the knowledge base adds the tenant there).

        >>> from keel.rag import Document
        >>> doc = Document("refunds.md", "Refunds are paid within 5 days.", "Refunds", questions=["money back?"])
        >>> chunker = Chunker()
        >>> passages = chunker.split(doc)
        >>> [(c.text, c.position, c.metadata["question_of"]) for c in chunker.question_chunks(doc, passages)] == [
        ...     ("money back?", 1, [passages[0].id])]
        True
        """
        if isinstance(doc.questions, str) or not all(isinstance(q, str) for q in doc.questions):
            raise ConfigError(f"Document.questions of {doc.source!r} must be a list of strings")
        parents = [c.id for c in passages]
        out: list[Chunk] = []
        if not parents:
            return out
        for question in dict.fromkeys(" ".join(q.split()) for q in doc.questions):
            if not question:
                continue
            position = len(passages) + len(out)
            chunk = Chunk(
                id="",
                text=question,
                source=doc.source,
                title=doc.title,
                position=position,
                tokens=self.count_tokens(question),
                metadata={**doc.metadata, QUESTION_OF: parents},
            )
            links = "\x1f".join(parents)
            chunk.id = chunk_id(key or doc.source, position, f"{chunk.embedding_text()}\x1f{links}")
            out.append(chunk)
        return out
