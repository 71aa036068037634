"""Citations: which passage an answer relies on, and a check that each quote is really there.

>>> from keel.rag import Hit
>>> hits = [Hit(id="c1", score=1.0, text="Refunds are paid within 5 days.", metadata={"source": "faq.md"})]
>>> check = verify_citations([Citation("c1", "faq.md", "FAQ", "paid within 5 days")], hits)
>>> check.ok
True
>>> verify_citations([Citation("c1", "faq.md", "FAQ", "paid within 2 days")], hits).problems[0].reason
'quote not found in passage c1'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from keel.rag._text import normalise_quote
from keel.rag._types import Hit

__all__ = ["Citation", "CitationCheck", "CitationProblem", "citation_for", "verify_citations"]


@dataclass(frozen=True, slots=True)
class Citation:
    """A claim's support: the passage (``chunk_id``) and the words quoted from it."""

    chunk_id: str
    source: str
    title: str
    quote: str


@dataclass(frozen=True, slots=True)
class CitationProblem:
    citation: Citation
    reason: str
    #: the id of a retrieved passage that does contain the quote, when the cited id was wrong
    found_in: str | None = None


@dataclass(slots=True)
class CitationCheck:
    """Result of :func:`verify_citations`: ``ok`` when every citation's quote is in its passage."""

    verified: list[Citation] = field(default_factory=list)
    problems: list[CitationProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def citation_for(hit: Hit, quote: str) -> Citation:
    """Build a citation of ``quote`` from a search hit."""
    return Citation(chunk_id=hit.id, source=hit.source, title=hit.title, quote=quote)


def verify_citations(
    answer_citations: Sequence[Citation], retrieved: Sequence[Hit], *, min_quote_chars: int = 8
) -> CitationCheck:
    """Check that each citation quotes its passage verbatim (ignoring case, spacing and quote style).

    A citation fails when its ``chunk_id`` was not among the retrieved passages, when its quote is
    shorter than ``min_quote_chars`` (too short to prove anything), or when the quote is not in that
    passage's text. If another retrieved passage contains the quote, ``found_in`` names it.
    """
    texts = {h.id: normalise_quote(h.text) for h in retrieved}
    check = CitationCheck()
    for cit in answer_citations:
        quote = normalise_quote(cit.quote).strip(" .\"'")
        elsewhere = next((cid for cid, t in texts.items() if quote and quote in t), None)
        if len(quote) < min_quote_chars:
            check.problems.append(CitationProblem(cit, f"quote shorter than {min_quote_chars} characters"))
        elif cit.chunk_id not in texts:
            check.problems.append(
                CitationProblem(cit, f"passage {cit.chunk_id} was not retrieved", elsewhere)
            )
        elif quote not in texts[cit.chunk_id]:
            check.problems.append(
                CitationProblem(cit, f"quote not found in passage {cit.chunk_id}", elsewhere)
            )
        else:
            check.verified.append(cit)
    return check
