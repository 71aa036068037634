"""The labelled retrieval set: customer-style questions with the article ids that answer them."""

from __future__ import annotations

import random
from typing import Any

from apps.support.datagen.kb import Article


def _typo(text: str, rng: random.Random) -> str:
    """One realistic slip in a longer word: two letters swapped, a letter dropped or doubled."""
    words = text.split(" ")
    spots = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not spots:
        return text
    i = rng.choice(spots)
    w = words[i]
    j = rng.randint(1, len(w) - 2)
    kind = rng.choice(["swap", "drop", "double"])
    if kind == "swap":
        w = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    elif kind == "drop":
        w = w[:j] + w[j + 1 :]
    else:
        w = w[:j] + w[j] + w[j:]
    words[i] = w
    return " ".join(words)


def questions(arts: list[Article], rng: random.Random) -> list[dict[str, Any]]:
    """One row per written question; about a quarter get a typo so retrieval is tested on noisy input."""
    by_slug = {a.slug: a.id for a in arts}
    rows: list[dict[str, Any]] = []
    for art in arts:
        for q in art.source.questions:
            text, also = (q, []) if isinstance(q, str) else q
            noisy = rng.random() < 0.25
            rows.append(
                {
                    "id": f"Q-{len(rows) + 1:04d}",
                    "question": _typo(text, rng) if noisy else text,
                    "gold": [art.id, *(by_slug[s] for s in also)],
                    "category": art.category,
                    "noise": "typo" if noisy else None,
                }
            )
    return rows
