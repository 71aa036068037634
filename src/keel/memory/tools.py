"""Memory as tools: ``remember``, ``recall`` and ``forget`` for an agent's model.

The user whose memory a tool touches comes from the run (its metadata ``user_id``/``tenant``, or
its deps), never from the model's arguments: a prompt cannot talk the model into reading or writing
another user's memory.

>>> from keel.rag import HashingEmbedder
>>> from keel.memory import LongTermMemory
>>> memory = LongTermMemory(":memory:", embedder=HashingEmbedder())
>>> sorted(remember_tool(memory).parameters["properties"])
['kind', 'text']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from keel.errors import ToolError
from keel.memory.longterm import MemoryScope
from keel.tools._tool import Tool, ToolContext

if TYPE_CHECKING:
    from keel.memory.longterm import LongTermMemory

__all__ = ["forget_tool", "recall_tool", "remember_tool", "scope_of"]

ScopeFn = Callable[[ToolContext], "MemoryScope | None"]


def scope_of(ctx: ToolContext | None) -> MemoryScope | None:
    """The user a tool call acts for: the run's metadata ``user_id``/``tenant``, else its deps."""
    if ctx is None:
        return None
    return MemoryScope.from_metadata(ctx.metadata, ctx.deps)


def _require(scope: ScopeFn, ctx: ToolContext | None) -> MemoryScope:
    found = scope(ctx) if ctx is not None else None  # a direct invoke() passes no context
    if found is None:
        raise ToolError(
            "memory is not available in this conversation: no user is known "
            "(the application starts the run with metadata={'user_id': ...})"
        )
    return found


def remember_tool(
    memory: LongTermMemory,
    *,
    kinds: Sequence[str] = ("fact", "preference"),
    scope: ScopeFn = scope_of,
    name: str = "remember",
) -> Tool:
    """A tool that stores a durable fact or preference about the current user.

    >>> from keel.rag import HashingEmbedder
    >>> from keel.memory import LongTermMemory
    >>> remember_tool(LongTermMemory(":memory:", embedder=HashingEmbedder())).name
    'remember'
    """
    allowed = list(kinds)

    async def remember(ctx: ToolContext, text: str, kind: str = allowed[0]) -> dict[str, Any]:
        """Args:
        text: the fact, in one short sentence about the user
        kind: what sort of memory it is
        """
        who = _require(scope, ctx)
        if kind not in allowed:
            raise ToolError(f"kind must be one of {allowed}, not {kind!r}")
        source = ctx.run_id
        item = await memory.remember(text, user_id=who.user_id, tenant=who.tenant, kind=kind, source=source)
        return {"id": item.id, "remembered": item.text, "kind": item.kind}

    return Tool(
        remember,
        name=name,
        description=(
            "Remember a durable fact or preference about the user for future conversations "
            f"(kinds: {', '.join(allowed)}). Use it when the user states something that will still "
            "matter later, such as a preferred contact channel or their plan."
        ),
        side_effects=True,
        examples=["Please remember that I prefer email.", "Note that my company is on the Pro plan."],
    )


def recall_tool(
    memory: LongTermMemory, *, k: int = 5, scope: ScopeFn = scope_of, name: str = "recall"
) -> Tool:
    """A tool that searches the current user's memories.

    >>> from keel.rag import HashingEmbedder
    >>> from keel.memory import LongTermMemory
    >>> recall_tool(LongTermMemory(":memory:", embedder=HashingEmbedder())).name
    'recall'
    """

    async def recall(ctx: ToolContext, query: str) -> list[dict[str, Any]]:
        """Args:
        query: what you want to know about the user
        """
        who = _require(scope, ctx)
        items = await memory.recall(query, user_id=who.user_id, tenant=who.tenant, k=k)
        return [{"id": i.id, "text": i.text, "kind": i.kind, "score": round(i.score, 3)} for i in items]

    return Tool(
        recall,
        name=name,
        description=(
            "Search what you remember about the user (facts, preferences, past tickets and their outcomes)."
        ),
        examples=["What do you remember about me?", "Did I have a problem with an order before?"],
    )


def forget_tool(memory: LongTermMemory, *, scope: ScopeFn = scope_of, name: str = "forget") -> Tool:
    """A tool that deletes one of the current user's memories by id (ids come from ``recall``).

    >>> from keel.rag import HashingEmbedder
    >>> from keel.memory import LongTermMemory
    >>> forget_tool(LongTermMemory(":memory:", embedder=HashingEmbedder())).name
    'forget'
    """

    async def forget(ctx: ToolContext, memory_id: str) -> dict[str, Any]:
        """Args:
        memory_id: the id recall gave for the memory
        """
        who = _require(scope, ctx)
        deleted = await memory.forget(memory_id, user_id=who.user_id, tenant=who.tenant)
        if not deleted:
            raise ToolError(f"no memory {memory_id!r} for this user; call recall to find the id")
        return {"forgotten": memory_id}

    return Tool(
        forget,
        name=name,
        description="Delete one memory about the user, by the id recall returned.",
        side_effects=True,
        examples=["Forget my old address."],
    )
