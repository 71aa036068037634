"""Assemble the help centre: format each article template with the policy and give it an id and front matter."""

from __future__ import annotations

import json
import random
import re
import string
from dataclasses import dataclass
from datetime import date, timedelta

from apps.support.datagen import (
    kb_accounts,
    kb_care,
    kb_orders,
    kb_payments,
    kb_privacy,
    kb_promotions,
    kb_refunds,
    kb_returns,
    kb_shipping,
    kb_troubleshooting,
    kb_warranty,
)
from apps.support.datagen.kbsrc import Src

# (module, id prefix); the order fixes article ids.
SECTIONS = [
    (kb_shipping, "SHP"),
    (kb_orders, "ORD"),
    (kb_returns, "RET"),
    (kb_refunds, "REF"),
    (kb_warranty, "WAR"),
    (kb_payments, "PAY"),
    (kb_accounts, "ACC"),
    (kb_privacy, "PRV"),
    (kb_promotions, "PRO"),
    (kb_care, "CARE"),
    (kb_troubleshooting, "TRB"),
]
# Shop identity placeholders are not policy numbers, so they are left out of the policy references.
_NOT_POLICY = {"name", "shop", "website", "support_email", "support_phone", "hours_weekday", "hours_weekend"}


@dataclass(frozen=True)
class Article:
    """One formatted help-centre article."""

    id: str
    slug: str
    title: str
    category: str
    tags: list[str]
    updated: str
    body: str
    placeholders: list[str]
    source: Src

    @property
    def markdown(self) -> str:
        """The article file: JSON-valued front matter (valid YAML), then the Markdown body."""
        front = [
            "---",
            f"id: {self.id}",
            f"slug: {self.slug}",
            f"title: {json.dumps(self.title, ensure_ascii=False)}",
            f"category: {self.category}",
            f"tags: {json.dumps(self.tags, ensure_ascii=False)}",
            f"updated: {self.updated}",
            "---",
        ]
        return "\n".join(front) + "\n\n" + self.body


def _placeholders(*templates: str) -> list[str]:
    names: list[str] = []
    for template in templates:
        for _, name, _, _ in string.Formatter().parse(template):
            if name and name not in names:
                names.append(name)
    return names


def articles(values: dict[str, str], rng: random.Random, ref: date) -> list[Article]:
    """Every article, formatted with ``values``; ids are ``KB-<SECTION>-<nnn>`` in source order."""
    out: list[Article] = []
    for module, prefix in SECTIONS:
        for n, src in enumerate(module.ARTICLES, start=1):
            title = src.title.format(**values)
            body = f"# {title}\n\n" + src.body.strip().format(**values) + "\n"
            body = re.sub(r"([^\n])\n(#{1,3} )", r"\1\n\n\2", body)  # a heading always follows a blank line
            body = re.sub(r"\n{3,}", "\n\n", body)
            out.append(
                Article(
                    id=f"KB-{prefix}-{n:03d}",
                    slug=src.slug,
                    title=title,
                    category=module.CATEGORY,
                    tags=list(src.tags),
                    updated=(ref - timedelta(days=rng.randint(3, 320))).isoformat(),
                    body=body,
                    placeholders=[p for p in _placeholders(src.title, src.body) if p not in _NOT_POLICY],
                    source=src,
                )
            )
    return out


def policy_refs(arts: list[Article], values: dict[str, str]) -> dict[str, dict[str, object]]:
    """For each policy placeholder: its text as the articles show it, and which articles state it."""
    refs: dict[str, dict[str, object]] = {}
    for art in arts:
        for name in art.placeholders:
            entry = refs.setdefault(name, {"text": values[name], "articles": []})
            ids = entry["articles"]
            assert isinstance(ids, list)
            ids.append(art.id)
    return dict(sorted(refs.items()))
