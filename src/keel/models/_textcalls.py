"""Recognise tool calls that a model wrote as text instead of as native tool calls.

Small and self-hosted models served through OpenAI-compatible servers (llama.cpp, vLLM without a
tool parser, Ollama with some templates) often answer a tool request with the call written in the
message text, in the Qwen/Hermes style::

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Paris"}}
    </tool_call>

or as a bare JSON object ``{"name": "get_weather", "arguments": {"city": "Paris"}}``. This module
turns such text into :class:`~keel.events.ToolCall` objects, but only for names among the tools
that were offered, so an ordinary JSON answer is never mistaken for a call.

>>> text, calls = parse_text_tool_calls('{"name": "add", "arguments": {"a": 1}}', ["add"])
>>> (text, calls[0].name, calls[0].arguments)
('', 'add', {'a': 1})
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection
from typing import Any

from keel.events import ToolCall

__all__ = ["TextCallStreamFilter", "parse_text_tool_calls"]

_OPEN = "<tool_call>"
_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_FENCE = re.compile(r"^```(?:json|tool_call)?\s*(.*?)\s*```$", re.S)
_DECODER = json.JSONDecoder()


def _new_id() -> str:
    return f"call_{uuid.uuid4().hex[:16]}"


def _as_call(obj: Any, names: Collection[str]) -> ToolCall | None:
    """A ``ToolCall`` when ``obj`` looks like ``{"name": <offered tool>, "arguments": {...}}``."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):  # OpenAI-shaped {"type": "function", "function": {...}}
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str) or name not in names:
        return None
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):  # some templates double-encode the arguments
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            return None
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return None
    return ToolCall(id=_new_id(), name=name, arguments=args)


def _json_values(text: str) -> list[Any] | None:
    """Every JSON value in ``text`` separated only by whitespace, or None if anything else is there."""
    values: list[Any] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos == end:
            return values
        try:
            value, pos = _DECODER.raw_decode(text, pos)
        except ValueError:
            return None
        values.append(value)


def _bare_calls(text: str, names: Collection[str]) -> list[ToolCall]:
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    if not body.startswith(("{", "[")):
        return []
    values = _json_values(body)
    if not values:
        return []
    objs: list[Any] = []
    for value in values:
        objs.extend(value if isinstance(value, list) else [value])
    calls = [_as_call(obj, names) for obj in objs]
    # All or nothing: a JSON answer that merely contains a "name" key stays an answer.
    if not calls or any(c is None for c in calls):
        return []
    return [c for c in calls if c is not None]


def parse_text_tool_calls(text: str, tool_names: Collection[str]) -> tuple[str, list[ToolCall]]:
    """Split ``text`` into the prose that remains and the tool calls written in it.

    Recognises ``<tool_call>…</tool_call>`` blocks anywhere in the text (a missing closing tag at the
    end is tolerated) and, failing that, a text that is nothing but one or more JSON call objects
    (optionally in a ```json fence). Calls naming a tool outside ``tool_names`` are left in the text.

    >>> parse_text_tool_calls("Sure.<tool_call>{\\"name\\": \\"x\\", \\"arguments\\": {}}</tool_call>", {"x"})[0]
    'Sure.'
    >>> parse_text_tool_calls('{"name": "other", "arguments": {}}', {"x"})
    ('{"name": "other", "arguments": {}}', [])
    """
    if not text or not tool_names:
        return text, []
    if _OPEN in text:
        calls: list[ToolCall] = []

        def _take(match: re.Match[str]) -> str:
            found = _bare_calls(match.group(1), tool_names)
            if not found:
                return match.group(0)
            calls.extend(found)
            return ""

        rest = _TAGGED.sub(_take, text)
        if calls:
            return rest.strip(), calls
    calls = _bare_calls(text, tool_names)
    return ("", calls) if calls else (text, [])


class TextCallStreamFilter:
    """Hold back streamed text that may turn out to be a tool call written as text.

    Feed it each text delta; it returns the part that is safe to show now. Text that starts like a
    call (``<tool_call>``, or a ``{``/``[``/```` ``` ```` before any prose) is held until the stream
    ends. Then :meth:`finish` returns the held text when it was not a call after all.

    >>> f = TextCallStreamFilter()
    >>> f.feed("Hello "), f.feed("<tool_"), f.feed("call>{...")
    ('Hello ', '', '')
    >>> f.finish(found_calls=False)
    '<tool_call>{...'
    """

    def __init__(self) -> None:
        self._held = ""
        self._holding = False
        self._prose_seen = False

    def feed(self, text: str) -> str:
        if self._holding:
            self._held += text
            return ""
        pending = self._held + text
        self._held = ""
        if not self._prose_seen:
            stripped = pending.lstrip()
            if not stripped:
                self._held = pending
                return ""
            if stripped.startswith(("{", "[", "```", _OPEN)):
                self._holding = True
                self._held = pending
                return ""
            if _OPEN.startswith(stripped) or "```".startswith(stripped):
                self._held = pending  # a partial opener: the next delta decides
                return ""
            self._prose_seen = True
        at = pending.find(_OPEN)
        if at >= 0:
            self._holding = True
            self._held = pending[at:]
            return pending[:at]
        # Keep a trailing partial "<tool_c" back until the next delta settles it.
        for k in range(min(len(_OPEN) - 1, len(pending)), 0, -1):
            if _OPEN.startswith(pending[-k:]):
                self._held = pending[-k:]
                return pending[:-k]
        return pending

    def finish(self, *, found_calls: bool) -> str:
        """The held text to show at the end of the stream (nothing when it held tool calls)."""
        held, self._held = self._held, ""
        return "" if found_calls else held
