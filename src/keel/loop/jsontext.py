"""Pulling a JSON value out of model text (code fences, leading prose)."""

from __future__ import annotations

import json

__all__ = ["extract_json"]


def extract_json(text: str) -> str:
    """Return the JSON document in ``text``: the whole text, a fenced block, or the first balanced
    object/array. Falls back to the stripped text so the caller's validator reports the error.

    >>> extract_json('Sure! ```json\\n{"a": 1}\\n```')
    '{"a": 1}'
    """
    s = text.strip()
    if "```" in s:
        parts = s.split("```")
        for block in parts[1::2]:
            block = block.strip()
            if block.startswith("json"):
                block = block[4:].strip()
            if block[:1] in "{[":
                return block
    if s[:1] in "{[":
        return s
    decoder = json.JSONDecoder()
    for i, ch in enumerate(s):
        if ch in "{[":
            try:
                _, end = decoder.raw_decode(s[i:])
            except ValueError:
                continue
            return s[i : i + end]
    return s
