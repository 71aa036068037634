"""The shape of one help-centre article source, shared by the per-category modules."""

from __future__ import annotations

from dataclasses import dataclass, field

# A question is its text, or (text, other article slugs that also answer it).
Question = str | tuple[str, list[str]]


@dataclass(frozen=True)
class Src:
    """One article as written: its title and body are templates over the policy placeholders.

    Example::

        Src("free-shipping", "Free shipping over ${free_ship}", ["shipping"], "Body ...", ["free delivery?"])
    """

    slug: str
    title: str
    tags: list[str]
    body: str
    questions: list[Question] = field(default_factory=list)
