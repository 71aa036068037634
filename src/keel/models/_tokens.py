"""Token estimates for providers without a local tokenizer."""

from __future__ import annotations

from collections.abc import Sequence

from keel.events import AssistantMessage, Message, ToolMessage


def estimate_text_tokens(text: str) -> int:
    """About four characters a token for English text, never less than one per word."""
    return max(len(text) // 4, len(text.split())) if text else 0


def estimate_tokens(messages: Sequence[Message]) -> int:
    """Estimate the prompt tokens of ``messages`` (content plus a few tokens of framing each)."""
    total = 0
    for m in messages:
        total += 4 + estimate_text_tokens(m.content)
        if isinstance(m, AssistantMessage):
            for c in m.tool_calls:
                total += 8 + estimate_text_tokens(c.name) + estimate_text_tokens(str(c.arguments))
        elif isinstance(m, ToolMessage):
            total += 2
    return total


class EstimatedTokenCount:
    """``count_tokens`` by estimate, for models with no tokenizer in Keel (remote and scripted ones).

    >>> class Tiny(EstimatedTokenCount): ...
    >>> Tiny().count_tokens([])
    0
    """

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """An estimate (about four characters a token); exact counts need the provider's tokenizer."""
        return estimate_tokens(messages)
