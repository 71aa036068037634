"""Pruning large tool results in old turns down to the parts the conversation went on to use.

A tool result the assistant has already answered from is mostly dead weight: of a 40-order listing,
the answer used one order. So a large result keeps only the lines (text) or fields (JSON) that carry
a term the assistant's later messages used (its answer and its later tool-call arguments); when
nothing was referenced, a head-and-tail excerpt remains. Every cut is marked, so the model knows
text was removed.

>>> rows = "\\n".join(f"order A-{1000 + i}: status shipped" for i in range(40))
>>> print(prune_text(rows, "Order A-1007 has shipped.", max_tokens=30))
order A-1007: status shipped
[… pruned: kept 1 of 40 lines that later messages referenced …]
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from keel.events import AssistantMessage, Message, ToolMessage, UserMessage
from keel.memory._counting import LRU, key_of
from keel.models._tokens import estimate_text_tokens

__all__ = ["TextCounter", "head_tail", "prune_messages", "prune_text", "salient_terms"]

TextCounter = Callable[[str], int]
"""Tokens of a piece of text (the model's tokenizer, or an estimate)."""

_TERM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-./@:]*[A-Za-z0-9]|[0-9]")
# fmt: off
_STOP = frozenset({  # only words of four or more letters can be salient, so only those are listed
    "about", "after", "also", "been", "before", "being", "below", "could", "does", "each", "from",
    "have", "here", "into", "just", "more", "most", "only", "other", "over", "same", "some", "such",
    "than", "that", "their", "them", "then", "there", "these", "they", "this", "those", "through",
    "very", "what", "when", "where", "which", "while", "will", "with", "would", "your", "yours",
})
# fmt: on
_ID_KEYS = frozenset({"id", "name", "title", "key", "sku", "number", "order_id", "ticket_id"})


def salient_terms(text: str) -> set[str]:
    """Terms worth matching: anything with a digit (ids, amounts, dates), acronyms and codes in
    capitals, and other words of 4+ letters.

    >>> sorted(salient_terms("Your order A-1001 ships on 12 May via DHL."))
    ['12', 'a-1001', 'dhl', 'order', 'ships']
    """
    out: set[str] = set()
    for t in _TERM.findall(text):
        low = t.lower()
        if any(c.isdigit() for c in low) or (len(low) >= 4 and low not in _STOP) or t.isupper():
            out.add(low)
    return out


def _unit_terms(text: str) -> set[str]:
    return {t.lower() for t in _TERM.findall(text)}


def _discriminative(refs: set[str], units: Sequence[set[str]]) -> set[str]:
    """Referenced terms that single out a few units: "order" in every row selects nothing."""
    limit = max(2, len(units) // 5)
    df: dict[str, int] = {}
    for u in units:
        for t in u & refs:
            df[t] = df.get(t, 0) + 1
    return {t for t, n in df.items() if n <= limit}


def head_tail(text: str, max_tokens: int, count: TextCounter = estimate_text_tokens) -> str:
    """The start and end of ``text`` within ``max_tokens``, the middle replaced by a marker.

    >>> head_tail("x" * 4000, 50).count("characters omitted")
    1
    """
    if count(text) <= max_tokens:
        return text
    ratio = len(text) / max(1, count(text))
    chars = max(0, int(max_tokens * ratio) - 60)
    for _ in range(8):
        half = chars // 2
        cut = len(text) - 2 * half
        out = f"{text[:half]}\n[… {cut} characters omitted …]\n{text[len(text) - half :] if half else ''}"
        if count(out) <= max_tokens or chars == 0:
            return out
        chars = int(chars * 0.8)
    return out


def _subtree_terms(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {t for k, v in value.items() for t in _unit_terms(str(k)) | _subtree_terms(v)}
    if isinstance(value, list):
        return {t for v in value for t in _subtree_terms(v)}
    return _unit_terms(str(value))


def _prune_json(value: Any, selected: set[str], refs: set[str], picked: bool = False) -> tuple[Any, bool]:
    """(the value cut to what was referenced, whether anything was kept).

    ``selected`` terms pick records (an order id picks that order); inside a picked record every
    referenced term keeps its field (the answer said "shipped with DHL": status and carrier stay).
    """
    if isinstance(value, dict):
        picked = picked or bool(_subtree_terms(value) & selected)
        out: dict[str, Any] = {}
        for k, v in value.items():
            sub, keep = _prune_json(v, selected, refs, picked)
            if keep:
                out[k] = sub
        if not out:
            return None, False
        for k, v in value.items():  # keep what identifies the kept record
            if str(k).lower() in _ID_KEYS and k not in out and not isinstance(v, dict | list):
                out[k] = v
        return {k: out[k] for k in value if k in out}, True
    if isinstance(value, list):
        kept = [sub for sub, keep in (_prune_json(v, selected, refs, picked) for v in value) if keep]
        return kept, bool(kept)
    return value, bool(_unit_terms(str(value)) & (refs if picked else selected))


def _records(value: Any) -> list[set[str]]:
    """The units a term must be rare among: the elements of the document's longest list (its
    records), or its leaves when it has no list."""
    longest: list[Any] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            if len(v) > len(longest):
                longest = v
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
    if len(longest) >= 3:
        return [_subtree_terms(v) for v in longest]
    return _json_leaves(value)


def _json_leaves(value: Any) -> list[set[str]]:
    if isinstance(value, dict):
        return [u for v in value.values() for u in _json_leaves(v)]
    if isinstance(value, list):
        return [u for v in value for u in _json_leaves(v)]
    return [_unit_terms(str(value))]


def _count_leaves(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_count_leaves(v) for v in value.values())
    if isinstance(value, list):
        return sum(_count_leaves(v) for v in value)
    return 1


def _prune_json_text(text: str, refs: set[str]) -> str | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict | list):
        return None
    selected = _discriminative(refs, _records(data))
    if not selected:
        return None
    pruned, kept = _prune_json(data, selected, refs)
    if not kept:
        return None
    total, left = _count_leaves(data), _count_leaves(pruned)
    body = json.dumps(pruned, ensure_ascii=False, default=str)
    return f"{body}\n[… pruned: kept {left} of {total} values that later messages referenced …]"


def _prune_lines(text: str, refs: set[str]) -> str | None:
    lines = text.splitlines()
    if len(lines) < 3:
        return None
    units = [_unit_terms(line) for line in lines]
    selected = _discriminative(refs, units)
    keep = [i for i, u in enumerate(units) if u & selected]
    if not keep:
        return None
    out = [lines[i] for i in keep]
    return (
        "\n".join(out)
        + f"\n[… pruned: kept {len(keep)} of {len(lines)} lines that later messages referenced …]"
    )


def prune_text(text: str, later: str, max_tokens: int, count: TextCounter = estimate_text_tokens) -> str:
    """Cut ``text`` (a tool result) to at most ``max_tokens``, keeping what ``later`` referenced.

    JSON keeps the referenced values with the ids of their records; other text keeps the referenced
    lines; otherwise (or if that is still too long) the head and tail are kept.
    """
    if count(text) <= max_tokens:
        return text
    refs = salient_terms(later)
    pruned = (_prune_json_text(text, refs) or _prune_lines(text, refs)) if refs else None
    return head_tail(pruned if pruned is not None else text, max_tokens, count)


def _later_text(messages: Sequence[Message], start: int) -> str:
    """What the assistant said and asked for after ``start``, up to the next user message."""
    parts: list[str] = []
    for m in messages[start:]:
        if isinstance(m, UserMessage):
            break
        if isinstance(m, AssistantMessage):
            parts.append(m.content)
            parts.extend(json.dumps(c.arguments, ensure_ascii=False, default=str) for c in m.tool_calls)
    return "\n".join(parts)


def _pruned(
    content: str,
    messages: Sequence[Message],
    i: int,
    max_tokens: int,
    count: TextCounter,
    cache: LRU[str] | None,
) -> str:
    later = _later_text(messages, i)
    if cache is None:
        return prune_text(content, later, max_tokens, count)
    key = key_of("prune", str(max_tokens), content, later)
    return cache.get_or(key, lambda: prune_text(content, later, max_tokens, count))


def prune_messages(
    messages: Sequence[Message],
    max_tokens: int,
    count: TextCounter = estimate_text_tokens,
    *,
    answered_only: bool = False,
    cache: LRU[str] | None = None,
) -> list[Message]:
    """``messages`` with every tool result over ``max_tokens`` pruned (see :func:`prune_text`).

    ``answered_only`` leaves alone the results no assistant message has followed yet: the model has
    not read those, so it still needs them whole. ``cache`` memoises results across calls.
    """
    out: list[Message] = []
    for i, m in enumerate(messages):
        if isinstance(m, ToolMessage) and count(m.content) > max_tokens:
            answered = any(isinstance(x, AssistantMessage) for x in messages[i + 1 :])
            if not answered_only or answered:
                m = m.model_copy(
                    update={"content": _pruned(m.content, messages, i, max_tokens, count, cache)}
                )
        out.append(m)
    return out
