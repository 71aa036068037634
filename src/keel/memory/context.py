"""Context building: fit the system prompt, the session history and the run into a token budget."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from keel.events import Message, UserMessage

if TYPE_CHECKING:
    from keel.loop.state import RunState
    from keel.models.base import Model

__all__ = ["ContextBuilder", "TokenWindow"]


class ContextBuilder(Protocol):
    def build(
        self, head: list[Message], history: Sequence[Message], state: RunState, model: Model
    ) -> list[Message]:
        """Return the messages to send: ``head`` (system) first, then as much history as fits."""
        ...


class TokenWindow:
    """Keep the system prompt, the current run and the newest history turns that fit ``max_tokens``.

    History is dropped oldest first and never splits a tool call from its result. Token counts come
    from ``model.count_tokens`` (exact for the local model, estimated elsewhere).
    """

    def __init__(self, max_tokens: int = 3000) -> None:
        self.max_tokens = max_tokens

    def build(
        self, head: list[Message], history: Sequence[Message], state: RunState, model: Model
    ) -> list[Message]:
        fixed = [*head, *state.messages]
        used = model.count_tokens(fixed)
        kept: list[Message] = []
        turns = _turns(history)
        for turn in reversed(turns):
            cost = model.count_tokens(turn)
            if used + cost > self.max_tokens:
                break
            kept[:0] = turn
            used += cost
        return [*head, *kept, *state.messages]


def _turns(history: Sequence[Message]) -> list[list[Message]]:
    """Group messages by user turn, so a tool call always stays with its result."""
    turns: list[list[Message]] = []
    for m in history:
        if isinstance(m, UserMessage) or not turns:
            turns.append([m])
        else:
            turns[-1].append(m)
    return turns
