"""Memory: what an agent keeps of a conversation, and what it remembers about a user across them.

Short-term (:mod:`keel.memory.context`): ``ContextWindow`` fits each prompt into a token budget with
pinned facts, a rolling summary of old turns (``Summarizer``) and pruned tool results.
Long-term (:mod:`keel.memory.longterm`): ``LongTermMemory`` stores per-user facts in a vector index
(SQLite or PostgreSQL), written by the ``remember`` tool or a ``MemoryExtractor`` after a run, and
read back by ``MemoryProvider`` into the prompt or by the ``recall`` tool.

>>> from keel.memory import ContextWindow, Summarizer
>>> window = ContextWindow(3000, summarizer=Summarizer(max_tokens=200))
"""

from keel.memory.context import ContextBuilder, ContextProvider, ContextWindow, TokenWindow
from keel.memory.extract import MemoryExtractor
from keel.memory.longterm import LongTermMemory, MemoryItem, MemoryProvider, MemoryScope
from keel.memory.prune import prune_messages, prune_text
from keel.memory.summary import Summarizer, load_session_summary
from keel.memory.tools import forget_tool, recall_tool, remember_tool

__all__ = [
    "ContextBuilder",
    "ContextProvider",
    "ContextWindow",
    "LongTermMemory",
    "MemoryExtractor",
    "MemoryItem",
    "MemoryProvider",
    "MemoryScope",
    "Summarizer",
    "TokenWindow",
    "forget_tool",
    "load_session_summary",
    "prune_messages",
    "prune_text",
    "recall_tool",
    "remember_tool",
]
