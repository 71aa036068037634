"""The help-centre quote: which retrieved sentences the support agent shows beside its answer."""

from __future__ import annotations

import pytest

from apps.support.agent import _sentences, rank_sentences

RETURNS = """Changed your mind? You can return most items within **30 days of delivery** for a refund to
your original payment method. Premier members have 45 days.

## Refund amount
Refunds are issued once the return reaches our warehouse.
"""

SHIPPING = """We offer three shipping methods within the United States.

| Method | Cost | Delivery time after shipping |
|---|---|---|
| Standard | $5.99 (free on orders of $75.00 or more) | 5 to 7 business days |
| Expedited | $12.99 | 2 to 3 business days |

## When does my order ship?
Orders placed before 2 p.m. ET on a business day usually leave our warehouse the same day; later orders
ship the next business day.
"""

INTERNATIONAL = """## Cost and timing
International shipping is a flat **$29.99** per order and takes **10 to 20 business days**
after the order ships.
"""


def test_wrapped_lines_join_and_headings_and_table_rules_drop() -> None:
    items = _sentences(RETURNS + "\n" + SHIPPING + "\n" + INTERNATIONAL)
    assert (
        "You can return most items within **30 days of delivery** for a refund to your original payment method."
        in items
    )
    assert any(
        x.startswith("International shipping is a flat") and x.endswith("after the order ships.")
        for x in items
    )
    assert "| Standard | $5.99 (free on orders of $75.00 or more) | 5 to 7 business days |" in items
    assert not any(x.startswith("#") or set(x) <= set("|-: ") for x in items)
    assert any(
        x.startswith("Orders placed before 2 p.m. ET on a business day") for x in items
    )  # not cut at "p.m."


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("If I pick standard shipping, how long will it take?", "5 to 7"),  # the rare word beats "shipping"
        ("What time do I have to order by for same-day shipping?", "2 p.m."),  # a time of day is asked for
    ],
)
async def test_rarity_and_the_kind_of_fact_asked_for_rank_sentences(question: str, fact: str) -> None:
    ranked = await rank_sentences(question, [("shipping", SHIPPING)])  # no embedder: words and cues alone
    assert fact in ranked[0][0]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("How long do I have to send something back?", "30 days"),  # no content word is shared
        ("If I pick standard shipping, how long will it take?", "5 to 7"),
        ("Do you ship to Canada? How long would it take?", "10 to 20"),
        ("What time do I have to order by for same-day shipping?", "2 p.m."),
    ],
)
async def test_with_the_real_embedder_the_answering_sentence_is_quoted(question: str, fact: str) -> None:
    pytest.importorskip("onnxruntime")
    from keel.rag import LocalEmbedder

    passages = [("international", INTERNATIONAL), ("returns", RETURNS), ("shipping", SHIPPING)]
    ranked = await rank_sentences(question, passages, LocalEmbedder())
    assert any(fact in sentence for sentence, _ in ranked[:2])  # the agent quotes the top two


async def test_the_embedder_breaks_ties_by_meaning() -> None:
    from keel.rag import HashingEmbedder

    passages = [("returns", RETURNS)]
    plain = await rank_sentences("premier members", passages)
    embedded = await rank_sentences("premier members", passages, HashingEmbedder(dim=64))
    assert plain[0][0] == embedded[0][0] == "Premier members have 45 days."

    class Broken:
        async def embed(self, texts):
            raise RuntimeError("embedder down")

    assert await rank_sentences("premier members", passages, Broken()) == plain  # falls back, no error


def _state(name: str, content: dict):
    from types import SimpleNamespace

    from keel.events import ToolCall, ToolResult

    call = ToolCall(id="c1", name=name, arguments={})
    return SimpleNamespace(calls=[call], results={"c1": ToolResult(call_id="c1", name=name, content=content)})


@pytest.mark.parametrize(
    ("content", "answer", "problem"),
    [
        ({"status": "delivered", "delivered": "2025-11-03"}, "Order A-1 was delivered.", "delivery date"),
        ({"status": "cancelled", "amount_refunded": 277}, "Order A-1 was cancelled.", "refunded amount"),
        ({"status": "returned", "amount_refunded": 201.99}, "We received your return.", "refunded amount"),
    ],
)
def test_an_order_answer_must_state_the_facts_the_lookup_found(content, answer, problem) -> None:
    from apps.support.agent import _missing_facts

    assert any(problem in p for p in _missing_facts(answer, _state("get_order_status", content)))
    full = {
        "delivery date": "Order A-1 was delivered on November 3.",
        "refunded amount": f"Order A-1 was {content['status']}; $"
        + f"{float(content.get('amount_refunded', 0)):.2f} was refunded.",
    }[problem]
    assert _missing_facts(full, _state("get_order_status", content)) == []
