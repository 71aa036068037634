"""Per-model prices in USD per million tokens, used to turn usage into cost.

Override or extend with :func:`set_price`. Local models cost nothing. Prices of hosted models change;
the table holds published list prices and is a default, not a bill.
"""

from __future__ import annotations

from dataclasses import dataclass

from keel.events import Usage


@dataclass(frozen=True, slots=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None = None


_PRICES: dict[str, Price] = {
    "gpt-4o": Price(2.50, 10.00, 1.25),
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "gpt-4.1": Price(2.00, 8.00, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "claude-3-5-haiku-latest": Price(0.80, 4.00, 0.08),
    "claude-3-5-sonnet-latest": Price(3.00, 15.00, 0.30),
    "claude-sonnet-4-20250514": Price(3.00, 15.00, 0.30),
    "claude-opus-4-20250514": Price(15.00, 75.00, 1.50),
}


def set_price(model: str, input_per_mtok: float, output_per_mtok: float, cached: float | None = None) -> None:
    """Register or override the price of ``model`` (the name after the provider prefix)."""
    _PRICES[model] = Price(input_per_mtok, output_per_mtok, cached)


def get_price(model: str) -> Price | None:
    name = model.split(":", 1)[1] if ":" in model else model
    return _PRICES.get(name)


def cost_of(model: str, usage: Usage) -> float:
    """The cost in USD of ``usage`` on ``model``; 0.0 for local or unknown models."""
    price = get_price(model)
    if price is None:
        return 0.0
    cached = min(usage.cached_tokens, usage.input_tokens)
    cached_rate = (
        price.cached_input_per_mtok if price.cached_input_per_mtok is not None else price.input_per_mtok
    )
    return (
        (usage.input_tokens - cached) * price.input_per_mtok
        + cached * cached_rate
        + usage.output_tokens * price.output_per_mtok
    ) / 1_000_000


def with_cost(model: str, usage: Usage) -> Usage:
    return usage.model_copy(update={"cost_usd": cost_of(model, usage)})
