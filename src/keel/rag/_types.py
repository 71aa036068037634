"""The values that cross ``keel.rag``'s boundaries: documents, chunks, hits and metadata filters.

>>> f = Filter.of({"tenant": "acme", "tags": ["billing"]})
>>> f.matches({"tenant": "acme", "tags": ["billing", "eu"]})
True
>>> f.matches({"tenant": "other", "tags": ["billing"]})
False
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from keel.errors import ConfigError

__all__ = ["QUESTION_OF", "Chunk", "Document", "DocumentFormat", "Filter", "FilterLike", "Hit"]

DocumentFormat = Literal["text", "markdown", "html", "pdf"]

#: Metadata keys that indexes store in their own columns, so filters on them are cheap.
FILTER_KEYS = ("tenant", "source", "tags")
#: Metadata key of an example-question chunk: the ids of the passages of its document.
QUESTION_OF = "question_of"


@dataclass(slots=True)
class Document:
    """A loaded document: its text (already extracted from HTML/PDF) and where it came from.

    ``text`` of a Markdown or HTML document keeps headings as Markdown ``#`` lines, so the chunker
    can follow the structure.

    ``questions`` are example questions the document answers, in users' words (doc2query-style
    expansion). Each is indexed as one more searchable item that stands for the document's
    passages: a search that matches a question returns the passage, never the question. They help
    most for short answers (FAQ entries, help articles) that users ask about in other words.

    >>> Document(source="faq.md", text="# Refunds\\nWithin 30 days.", title="FAQ").title
    'FAQ'
    >>> Document("refunds.md", "Refunds are paid within 5 days.", questions=["when do I get my money back"]).questions
    ['when do I get my money back']
    """

    source: str
    text: str
    title: str = ""
    format: DocumentFormat = "text"
    metadata: dict[str, Any] = field(default_factory=dict)
    questions: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Chunk:
    """A piece of a document small enough to embed, with a stable id.

    ``id`` is a hash of (source, position, content): the same content at the same place always gets
    the same id, so re-ingesting an unchanged document re-embeds nothing.
    ``section`` is the heading path (``"Returns > Damaged items"``).
    """

    id: str
    text: str
    source: str
    title: str
    position: int
    section: str = ""
    tokens: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)

    def index_metadata(self) -> dict[str, Any]:
        """The metadata stored in the index: the document's metadata plus where the chunk sits."""
        meta = dict(self.metadata)
        meta.update(source=self.source, title=self.title, section=self.section, position=self.position)
        return meta

    def embedding_text(self) -> str:
        """What the embedder sees: the title and heading path give a short chunk its context."""
        head = " > ".join(p for p in (self.title, self.section) if p)
        return f"{head}\n{self.text}" if head else self.text


@dataclass(slots=True)
class Hit:
    """One search result. ``score`` is higher-is-better; ``scores`` keeps each stage's score.

    >>> h = Hit(id="c1", score=0.8, text="Refunds take 5 days.", metadata={"source": "faq.md"})
    >>> h.source
    'faq.md'
    """

    id: str
    score: float
    text: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return str(self.metadata.get("source", ""))

    @property
    def title(self) -> str:
        return str(self.metadata.get("title", ""))

    @property
    def section(self) -> str:
        return str(self.metadata.get("section", ""))


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"filter {key!r} must be a string or a list of strings, got {value!r}")


@dataclass(frozen=True, slots=True)
class Filter:
    """A metadata filter. Every given field must match (AND).

    - ``tenant``/``source``: the item's value is one of these (a single string or a list).
    - ``tags``: the item carries **all** of these tags.

    Build one from a plain mapping with :meth:`of`; unknown keys are an error so that a typo never
    silently widens a search across tenants.
    """

    tenant: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @classmethod
    def of(cls, value: FilterLike) -> Filter:
        """Normalise ``None``, a ``Filter`` or a mapping like ``{"tenant": "acme"}``."""
        if value is None:
            return cls()
        if isinstance(value, Filter):
            return value
        unknown = set(value) - set(FILTER_KEYS)
        if unknown:
            raise ConfigError(f"unknown filter keys {sorted(unknown)}: filters support {list(FILTER_KEYS)}")
        return cls(
            tenant=_strings(value.get("tenant"), "tenant"),
            source=_strings(value.get("source"), "source"),
            tags=tuple(dict.fromkeys(_strings(value.get("tags"), "tags"))),
        )

    @property
    def empty(self) -> bool:
        return not (self.tenant or self.source or self.tags)

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        """Whether an item with this metadata passes the filter (the reference semantics)."""
        if self.tenant and metadata.get("tenant") not in self.tenant:
            return False
        if self.source and metadata.get("source") not in self.source:
            return False
        if self.tags:
            have = set(metadata.get("tags") or ())
            if not set(self.tags) <= have:
                return False
        return True


FilterLike: TypeAlias = Filter | Mapping[str, Any] | None


def item_columns(metadata: Mapping[str, Any]) -> tuple[str | None, str | None, list[str]]:
    """(tenant, source, tags) of an item, validated, for the index's filter columns."""
    tenant = metadata.get("tenant")
    source = metadata.get("source")
    tags = metadata.get("tags") or []
    if tenant is not None and not isinstance(tenant, str):
        raise ConfigError(f"metadata 'tenant' must be a string, got {tenant!r}")
    if source is not None and not isinstance(source, str):
        raise ConfigError(f"metadata 'source' must be a string, got {source!r}")
    if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
        raise ConfigError(f"metadata 'tags' must be a list of strings, got {tags!r}")
    return tenant, source, list(dict.fromkeys(tags))
