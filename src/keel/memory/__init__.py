"""Memory: conversation windows under a token budget, and long-term memory."""

from keel.memory.context import ContextBuilder, TokenWindow

__all__ = ["ContextBuilder", "TokenWindow"]
