"""Policies: cross-cutting behaviour composed around model calls and tool calls.

A policy overrides ``around_model`` and/or ``around_tool``; an agent holds an ordered list, the first
being the outermost wrapper. Retry, circuit breaker, fallback, cache, rate limit, budget, guardrails
and permissions are all policies: a new cross-cutting concern is a new policy, never an ``if`` in
the loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keel.events import Event, Message, ToolCall, ToolResult
from keel.models.base import Model, ModelResponse, ModelSettings, ToolSpec

if TYPE_CHECKING:
    from keel.loop.state import RunState
    from keel.tools._tool import Tool, ToolContext

__all__ = ["ModelCall", "ModelNext", "Policy", "ToolInvocation", "ToolNext", "chain_model", "chain_tool"]


@dataclass
class ModelCall:
    """One model request on its way through the policies. Policies may replace ``model``."""

    model: Model
    messages: Sequence[Message]
    tools: Sequence[ToolSpec]
    output_schema: dict[str, Any] | None
    settings: ModelSettings
    state: RunState
    emit: Callable[[Event], None]
    stream: Callable[[str], None] | None = None
    """Called with each text chunk when the run is streaming."""
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolInvocation:
    """One tool call on its way through the policies."""

    tool: Tool
    call: ToolCall
    ctx: ToolContext
    state: RunState
    emit: Callable[[Event], None]


ModelNext = Callable[[ModelCall], Awaitable[ModelResponse]]
ToolNext = Callable[[ToolInvocation], Awaitable[ToolResult]]


class Policy:
    """Base class: both hooks pass through. Override what you need."""

    name = "policy"

    async def around_model(self, call: ModelCall, next: ModelNext) -> ModelResponse:
        return await next(call)

    async def around_tool(self, inv: ToolInvocation, next: ToolNext) -> ToolResult:
        return await next(inv)

    async def on_input(self, text: str, state: RunState, emit: Callable[[Event], None]) -> None:
        """Inspect the user's input once the run is recorded; raise ``GuardrailError`` to block it."""
        return None

    async def on_output(self, output: Any, state: RunState, emit: Callable[[Event], None]) -> Any:
        """Inspect or rewrite the final output (guardrails, PII masking)."""
        return output


def _overrides(p: Policy, hook: str) -> bool:
    return getattr(type(p), hook) is not getattr(Policy, hook)


def chain_model(policies: Sequence[Policy], last: ModelNext) -> ModelNext:
    """Compose ``around_model`` hooks, outermost first; policies without the hook are skipped."""
    fn = last
    for p in reversed([p for p in policies if _overrides(p, "around_model")]):
        fn = _bind_model(p, fn)
    return fn


def _bind_model(p: Policy, nxt: ModelNext) -> ModelNext:
    async def wrapped(call: ModelCall) -> ModelResponse:
        return await p.around_model(call, nxt)

    return wrapped


def chain_tool(policies: Sequence[Policy], last: ToolNext) -> ToolNext:
    fn = last
    for p in reversed([p for p in policies if _overrides(p, "around_tool")]):
        fn = _bind_tool(p, fn)
    return fn


def _bind_tool(p: Policy, nxt: ToolNext) -> ToolNext:
    async def wrapped(inv: ToolInvocation) -> ToolResult:
        return await p.around_tool(inv, nxt)

    return wrapped
