"""Token counting for context building, memoised.

Before every model call the whole history is measured again (and its tool results pruned again),
though almost all of it was measured before the previous call. With the local model's tokenizer that
repetition cost ~30 ms a call over a 50-turn session; remembering counts by content makes it a
fraction of that. Only the per-text and per-turn figures are memoised: the final whole-prompt count
that enforces the budget is always computed afresh.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

from keel.events import Message, UserMessage
from keel.models._tokens import estimate_text_tokens

if TYPE_CHECKING:
    from keel.models.base import Model

__all__ = ["LRU", "TokenCounter", "key_of"]

V = TypeVar("V")


def key_of(*parts: str) -> str:
    """A compact cache key for long texts."""
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        h.update(p.encode())
        h.update(b"\x00")
    return h.hexdigest()


class LRU(Generic[V]):
    """A bounded mapping that forgets the least recently used entry.

    >>> c: LRU[int] = LRU(2)
    >>> c.get_or("a", lambda: 1), c.get_or("b", lambda: 2), c.get_or("a", lambda: 9)
    (1, 2, 1)
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._data: OrderedDict[str, V] = OrderedDict()

    def get_or(self, key: str, make: Callable[[], V]) -> V:
        if key in self._data:
            self._data.move_to_end(key)
            return self._data[key]
        value = self._data[key] = make()
        if len(self._data) > self.size:
            self._data.popitem(last=False)
        return value


class TokenCounter:
    """``model``'s token counts, with texts and turns memoised in ``cache``."""

    def __init__(self, model: Model, cache: LRU[int] | None = None) -> None:
        self.model = model
        self.cache: LRU[int] = cache if cache is not None else LRU()
        self._empty: int | None = None

    def messages(self, messages: Sequence[Message]) -> int:
        """Exact count of a whole prompt (never memoised); nothing costs nothing (some chat
        templates cannot render an empty list)."""
        return self.model.count_tokens(messages) if messages else 0

    def text(self, text: str) -> int:
        """Tokens of ``text`` as a message's content (the message framing subtracted)."""
        if len(text) < 64:  # too short to matter; spares the tokenizer thousands of tiny calls
            return estimate_text_tokens(text)
        return self.cache.get_or(key_of("text", self.model.name, text), lambda: self._text(text))

    def _text(self, text: str) -> int:
        if self._empty is None:
            self._empty = self.model.count_tokens([UserMessage(content="")])
        return max(0, self.model.count_tokens([UserMessage(content=text)]) - self._empty)

    def turn(self, head: Sequence[Message], head_tokens: int, turn: Sequence[Message]) -> int:
        """What adding ``turn`` after ``head`` costs."""
        key = key_of("turn", self.model.name, *(m.model_dump_json() for m in turn))
        return self.cache.get_or(key, lambda: self.model.count_tokens([*head, *turn]) - head_tokens)
