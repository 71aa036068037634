"""Intent routing for the support agent: a lightweight classifier, measured against the model.

Intents: faq, order_status, refund_return, account, complaint, out_of_scope, human_request.
A few high-precision rules go first (an explicit ask for a human, an order id with a status word);
the rest is nearest-neighbour over sentence embeddings of labelled examples (the local MiniLM
embedder), with BM25 as the fallback when no embedder is installed. ``confidence`` is the margin
between the best and second-best intent, so callers can escalate when it is low.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["INTENTS", "Intent", "IntentClassifier", "anger_score", "order_ids"]

INTENTS = ("faq", "order_status", "refund_return", "account", "complaint", "out_of_scope", "human_request")

EXAMPLES: dict[str, list[str]] = {
    "faq": [
        "how long does standard shipping take", "do you ship internationally", "what payment methods do you accept",
        "can I pay in installments", "what is your return policy", "how many days do I have to return something",
        "is the coffee grinder covered by warranty", "how do I clean the cast iron pan", "do you price match",
        "how do promo codes work", "when will my refund show up on my card", "can I return a final sale item",
        "what are your support hours", "how much is expedited shipping", "do gift cards expire",
        "my blender won't turn on, what should I do", "how do I care for a wool blanket",
    ],
    "order_status": [
        "where is my order", "has my package shipped yet", "track order A-10023", "when will order A-10100 arrive",
        "what's the status of my order", "my order hasn't arrived", "can you give me the tracking number",
        "is A-10555 delivered", "what did I order recently", "show me my orders",
    ],
    "refund_return": [
        "I want a refund for order A-10023", "please refund my order", "I'd like to return the lamp I bought",
        "refund $40 on order A-10990", "can I get my money back", "the item was damaged, I want a refund",
        "start a return for A-10321", "how do I return my order and get refunded", "cancel my order and refund me",
    ],
    "account": [
        "how do I reset my password", "I can't log in", "change the email on my account", "delete my account",
        "update my shipping address", "my account is locked", "what tier am I", "unsubscribe me from the newsletter",
        "please contact me by text message from now on", "I prefer email", "what do you know about me",
    ],
    "complaint": [
        "this is the worst service ever", "I am very unhappy with my purchase", "your courier was rude",
        "I want to file a complaint", "the product quality is terrible", "I've waited weeks and nobody helps",
        "this is ridiculous, my order is late again", "I'm furious about how I was treated",
    ],
    "out_of_scope": [
        "what's the weather tomorrow", "write me a poem", "who won the football game", "what is the capital of France",
        "help me with my homework", "tell me a joke", "what stocks should I buy", "translate this into German",
        "can you write python code for me",
    ],
    "human_request": [
        "I want to talk to a human", "let me speak to a real person", "connect me to an agent",
        "get me a manager", "can I talk to someone", "transfer me to customer service representative",
        "human please", "I need a live agent",
    ],
}  # fmt: skip

_ORDER_ID = re.compile(r"\bA-?\s?(\d{5})\b", re.I)
_AMOUNT = re.compile(r"(?:\$\s?(\d+(?:[.,]\d{1,2})?)|(\d+(?:\.\d{1,2})?)\s?(?:dollars|usd|bucks))", re.I)
_WHO = r"(?:a\s+|an\s+|the\s+|your\s+|some)?(?:real\s+|live\s+|actual\s+)?(?:human|person|people|agent|one|body|manager|supervisor|representative|rep|customer service|support team|staff)"
_HUMAN = re.compile(
    rf"\b(?:talk|speak|chat)\s+(?:to|with)\s+{_WHO}\b"
    rf"|\b(?:get|give|connect|transfer|put)\s+me\s+(?:to\s+|through\s+to\s+|with\s+)?{_WHO}\b"
    r"|\btransfer\s+me\b|\b(?:i|we)(?:'d|\s+would)?\s+(?:really\s+)?(?:want|need|like)\s+(?:a\s+|an\s+)?(?:real\s+|live\s+)?"
    r"(?:human|person|manager|supervisor|representative|live agent)\b"
    r"|\bhuman,?\s+please\b|\bcall\s*-?\s*back\b|\bcall me back\b|\ba (?:real )?person help\b|\bnot (?:you|a bot|the bot)\b",
    re.I,
)
_COMPLAINT = re.compile(
    r"\b(complain\w*|not happy|unhappy|disappointed|rude|on record|wasted|arrived (?:broken|damaged|cracked)|broken|damaged"
    r"|wrong item|sent me the wrong|stop it|fed up|ridiculous|unacceptable|never came|still not here|is late|LATE|messed up)\b",
    re.I,
)
_RETURN_ACTION = re.compile(
    r"\b(want|like|need|going)\s+to\s+(return|send\s+\w+\s+back|get\s+a\s+refund)\b|\brefund\s+(me|it|my|order)\b",
    re.I,
)
_PREFERENCE = re.compile(r"\b(from now on|prefer|instead)\b.*\b(text|sms|call|phone|email|chat)\b", re.I)
_BARE_HUMAN = re.compile(
    r"^\W*(a\s+)?(human|agent|representative|rep|person|operator|live agent|real person)\W*$", re.I
)
_FOLLOW_UP = re.compile(r"^\s*(what about|how about|and\b|ok\b|okay\b|what if|also\b|same for)", re.I)
_MY_ORDER = re.compile(
    r"\b(my|the)\s+(order|package|parcel|delivery|shipment)\b|\bwhere\s+is\b|\btrack", re.I
)
_ANGRY = {
    "furious": 2, "outraged": 2, "ridiculous": 1.5, "unacceptable": 1.5, "worst": 1.5, "terrible": 1, "awful": 1,
    "horrible": 1, "disgusting": 1.5, "scam": 2, "angry": 1.5, "pathetic": 1.5, "useless": 1, "incompetent": 1.5,
    "fed up": 1.5, "sick of": 1.5, "lawyer": 2, "sue": 2, "never again": 1.5, "hate": 1,
}  # fmt: skip


def order_ids(text: str) -> list[str]:
    """Order ids mentioned in ``text``, normalised to ``A-12345``."""
    return [f"A-{m}" for m in _ORDER_ID.findall(text)]


def amounts(text: str) -> list[float]:
    return [float((a or b).replace(",", ".")) for a, b in _AMOUNT.findall(text)]


def anger_score(text: str) -> float:
    """A lexicon score of anger: words, exclamation runs and shouting. Above ~2 means angry."""
    low = text.lower()
    score = sum(w for term, w in _ANGRY.items() if term in low)
    score += 1.0 if "!!" in text else 0.0
    letters = [c for c in text if c.isalpha()]
    if len(letters) > 12 and sum(c.isupper() for c in letters) / len(letters) > 0.6:
        score += 1.5
    return score


@dataclass(frozen=True, slots=True)
class Intent:
    label: str
    confidence: float
    by: str
    scores: dict[str, float]


class IntentClassifier:
    """Classify a support message. ``embedder`` (``async embed(texts)``) is optional."""

    def __init__(self, embedder: Any | None = None, examples: dict[str, list[str]] | None = None) -> None:
        self.embedder = embedder
        self.examples = examples or EXAMPLES
        self._vectors: list[tuple[str, list[float]]] | None = None

    async def classify(self, text: str, history: Sequence[str] = ()) -> Intent:
        rule = self._rules(text)
        if rule is not None:
            return rule
        scores = await self._scores(text)
        # escalation is an action: only an explicit ask (the rules above) routes to a human
        scores.pop("human_request", None)
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        (best, s1), (_, s2) = ranked[0], ranked[1]
        if best == "order_status" and not order_ids(text) and not _MY_ORDER.search(text):
            best = "faq"  # a general question about shipping or orders is a help-centre question
        if history and (
            _FOLLOW_UP.search(text) or (len(text.split()) <= 4 and best in ("out_of_scope", "faq"))
        ):
            prev = await self.classify(history[-1])
            if prev.label not in ("out_of_scope", "human_request"):
                return Intent(prev.label, prev.confidence, "follow-up", scores)
        return Intent(best, round(s1 - s2, 4), "embedding" if self.embedder else "bm25", scores)

    def _rules(self, text: str) -> Intent | None:
        if _HUMAN.search(text) or _BARE_HUMAN.match(text):
            return Intent("human_request", 1.0, "rule", {})
        if _PREFERENCE.search(text):
            return Intent("account", 1.0, "rule", {})
        low = text.lower()
        ids = order_ids(text)
        if (
            (ids or anger_score(text) >= 2.0)
            and _COMPLAINT.search(text)
            and not re.search(r"\b(refund|return)\b", low)
        ):
            return Intent("complaint", 1.0, "rule", {})
        if ids and re.search(r"\b(refund|money back|return(ing)?|reimburse|cancel\w*)\b", low):
            return Intent("refund_return", 1.0, "rule", {})
        if ids and re.search(
            r"\b(where|status|track|tracking|shipped|arriv|deliver|late|update|happened)\w*", low
        ):
            return Intent("order_status", 1.0, "rule", {})
        if _RETURN_ACTION.search(text):
            return Intent("refund_return", 1.0, "rule", {})
        if _COMPLAINT.search(text) and not text.rstrip().endswith("?"):
            return Intent("complaint", 0.5, "rule", {})
        return None

    async def _scores(self, text: str) -> dict[str, float]:
        if self.embedder is None:
            return self._bm25(text)
        if self._vectors is None:
            pairs = [(label, ex) for label, exs in self.examples.items() for ex in exs]
            vecs = await self.embedder.embed([p[1] for p in pairs])
            self._vectors = [
                (label, _unit(list(map(float, v)))) for (label, _), v in zip(pairs, vecs, strict=True)
            ]
        (qv,) = await self.embedder.embed([text])
        q = _unit(list(map(float, qv)))
        best: dict[str, list[float]] = {label: [] for label in self.examples}
        for label, v in self._vectors:
            best[label].append(sum(a * b for a, b in zip(q, v, strict=True)))
        # mean of the top-3 neighbours per intent: steadier than the single nearest example
        return {label: sum(sorted(s, reverse=True)[:3]) / min(3, len(s)) for label, s in best.items()}

    def _bm25(self, text: str) -> dict[str, float]:
        words = set(re.findall(r"[a-z]+", text.lower()))
        out: dict[str, float] = {}
        for label, exs in self.examples.items():
            vocab = [set(re.findall(r"[a-z]+", e.lower())) for e in exs]
            out[label] = max(len(words & v) / math.sqrt(len(v) + 1) for v in vocab)
        return out


def _unit(v: list[float]) -> list[float]:
    n = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / n for x in v]
