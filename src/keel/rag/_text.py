"""Text normalisation shared by BM25 (every index backend) and the reranker.

One tokenizer for every backend means a query ranks the same on SQLite and on PostgreSQL.

>>> terms("Refunds for the damaged items, order #A-1042")
['refund', 'damag', 'item', 'order', '1042']
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

__all__ = ["STOPWORDS", "estimate_tokens", "normalise_quote", "stem", "term_counts", "terms"]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# A short English list: enough to keep "the"/"how"/"do" from dominating a query, short enough
# that negations and question words that matter for support text ("not", "cancel") survive.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
    ]
)

_SUFFIXES = (
    "ational",
    "ization",
    "fulness",
    "ousness",
    "iveness",
    "ments",
    "ment",
    "ingly",
    "ings",
    "edly",
    "ness",
    "ing",
    "ies",
    "ied",
    "ed",
    "es",
    "ly",
    "s",
)


def stem(word: str) -> str:
    """A light suffix stripper (not Porter): merges plural and tense forms, leaves short words alone.

    >>> [stem(w) for w in ("refunds", "refunded", "refunding", "policies", "bus")]
    ['refund', 'refund', 'refund', 'polic', 'bus']
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    for suf in _SUFFIXES:
        if word.endswith(suf) and len(word) - len(suf) >= 3:
            if suf == "s" and word.endswith(("ss", "us", "is")):
                return word
            root = word[: -len(suf)]
            if suf in ("ies", "ied"):
                return root + "i" if len(root) < 3 else root
            if suf in ("es",) and not root.endswith(("s", "x", "z", "ch", "sh")):
                return word[:-1]
            return root
    return word


def terms(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Lower-cased, accent-folded, stemmed word terms of ``text``, stopwords dropped."""
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    out: list[str] = []
    for w in _WORD.findall(folded):
        if not keep_stopwords and w in STOPWORDS:
            continue
        out.append(stem(w))
    return out


def term_counts(text: str) -> tuple[Counter[str], int]:
    """(term frequencies, document length in terms) for BM25 postings."""
    t = terms(text)
    return Counter(t), len(t)


def estimate_tokens(text: str) -> int:
    """Rough sub-word token count when no tokenizer is at hand (~1.3 tokens a word, plus punctuation)."""
    words = len(text.split())
    punct = len(re.findall(r"[^\w\s]", text))
    return int(words * 1.25) + punct // 2


_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\u00a0": " "})


def normalise_quote(text: str) -> str:
    """Case-, whitespace- and quote-style-insensitive form used to check that a quote is verbatim."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    return " ".join(text.split())
