"""Shared pieces for scenario generation: the world the scenarios are drawn from, and a builder."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from apps.support.datagen.kb import Article

# Tools that change state; a scenario that must not act forbids them all.
SIDE_EFFECT_TOOLS = [
    "process_refund",
    "cancel_order",
    "create_ticket",
    "update_ticket",
    "remember_preference",
    "escalate",
]
CANCELLED = ["cancelled", "canceled"]


@dataclass
class World:
    """The generated data a scenario may refer to, plus bookkeeping so scenarios reuse few orders."""

    customers: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    products: list[dict[str, Any]]
    articles: list[Article]
    policy: dict[str, Any]
    values: dict[str, str]
    ref: date
    used_orders: set[str] = field(default_factory=set)

    def customer(self, cid: str) -> dict[str, Any]:
        """The customer with id ``cid``."""
        return next(c for c in self.customers if c["id"] == cid)

    def orders_of(self, cid: str) -> list[dict[str, Any]]:
        """All orders of one customer, oldest first."""
        return [o for o in self.orders if o["customer_id"] == cid]

    def pick_orders(
        self, rng: random.Random, n: int, pred: Callable[[dict[str, Any]], bool]
    ) -> list[dict[str, Any]]:
        """``n`` distinct orders matching ``pred`` that no earlier scenario used."""
        pool = [o for o in self.orders if o["id"] not in self.used_orders and pred(o)]
        chosen = rng.sample(pool, min(n, len(pool)))
        self.used_orders.update(o["id"] for o in chosen)
        return chosen

    def article(self, slug: str) -> Article:
        """The article with this slug."""
        return next(a for a in self.articles if a.slug == slug)

    def threshold(self) -> float:
        """Refunds strictly above this need a supervisor."""
        return float(self.policy["refunds"]["supervisor_approval_over"])

    def tier_customers(self, tier: str) -> list[dict[str, Any]]:
        """Customers of one tier."""
        return [c for c in self.customers if c["tier"] == tier]


def call(name: str, **arguments: Any) -> dict[str, Any]:
    """An expected (or forbidden) tool call; arguments are matched as a subset."""
    return {"name": name, "arguments": arguments}


def money(amount: float) -> str:
    """Amounts as scenarios expect them in answers: ``42.50``."""
    return f"{amount:,.2f}"


def money_alts(amount: float) -> list[str]:
    """Ways an answer may write an amount: 42.50, and $42 for whole amounts."""
    text = money(amount)
    return [text, "$" + text[:-3]] if text.endswith(".00") else [text]


def day_alts(n: int | str, unit: str = "days") -> list[str]:
    """'30 days' and '30-day' style alternatives."""
    return [f"{n} {unit}", f"{n}-{unit.rstrip('s')}", f"{n} {unit.rstrip('s')}"]


def range_alts(lo: int | str, hi: int | str) -> list[str]:
    """'5 to 10', '5-10', '5–10' and '5 - 10'."""
    return [f"{lo} to {hi}", f"{lo}-{hi}", f"{lo}–{hi}", f"{lo} - {hi}", f"{lo} and {hi}"]


def date_alts(iso: str) -> list[str]:
    """A date as ISO, 'October 5', 'Oct 5' or '10/5'."""
    d = date.fromisoformat(iso)
    return [iso, f"{d:%B} {d.day}", f"{d:%b} {d.day}", f"{d.month}/{d.day}"]


def scenario(
    sid: str,
    intent: str,
    customer: str,
    turns: Iterable[str],
    *,
    title: str,
    tags: Iterable[str] = (),
    goal: str | None = None,
    context: dict[str, Any] | None = None,
    tool_calls: Iterable[dict[str, Any]] = (),
    forbidden: Iterable[dict[str, Any] | str] = (),
    final_state: dict[str, Any] | None = None,
    must_contain: Iterable[str | list[str]] = (),
    must_not_contain: Iterable[str] = (),
    must_escalate: bool = False,
    must_not_escalate: bool = False,
    resolvable: bool = True,
    kb_articles: Iterable[str] = (),
) -> dict[str, Any]:
    """One scenario in the documented layout (see apps/support/scenarios/README.md)."""
    turns = list(turns)
    out: dict[str, Any] = {"id": sid, "intent": intent, "title": title, "customer": customer}
    out["tags"] = sorted({*tags, "multi_turn" if len(turns) > 1 else "single_turn"})
    out["turns"] = turns
    if goal:
        out["goal"] = goal
    if context:
        out["context"] = context
    out["expect"] = {
        "tool_calls": list(tool_calls),
        "forbidden_tool_calls": [call(f) if isinstance(f, str) else f for f in forbidden],
        "final_state": final_state or {},
        "must_contain": list(must_contain),
        "must_not_contain": list(must_not_contain),
        "must_escalate": must_escalate,
        "must_not_escalate": must_not_escalate,
        "resolvable": resolvable,
        "kb_articles": list(kb_articles),
    }
    return out
