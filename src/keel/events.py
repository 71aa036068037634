"""The one data model: messages, tool calls, usage and run events.

A run is an append-only log of the events defined here. Every provider converts to and from these
messages at its edge; every consumer (streaming, tracing, metrics, audit, evaluation, resume) reads
these events. This module imports nothing from the rest of Keel.

>>> ev = RunStarted(run_id="r1", seq=0, agent="demo", input="hi")
>>> parse_event(ev.model_dump_json()) == ev
True
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "AgentMessage",
    "Annotation",
    "ApprovalDecided",
    "ApprovalRequested",
    "AssistantMessage",
    "BreakerChanged",
    "Event",
    "GuardrailTripped",
    "Handoff",
    "Message",
    "ModelRequested",
    "ModelResponded",
    "OutputRejected",
    "PlanCreated",
    "PlanStep",
    "PlanStepDone",
    "RetryScheduled",
    "RunFailed",
    "RunFinished",
    "RunResumed",
    "RunStarted",
    "SummaryCreated",
    "SystemMessage",
    "TextDelta",
    "Thought",
    "ToolCall",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolMessage",
    "ToolResult",
    "ToolStage",
    "Usage",
    "UserMessage",
    "dump_events",
    "parse_event",
    "parse_events",
]


class _Model(BaseModel):
    # defer_build: validators are built on first use, not at import, which keeps `import keel` fast
    model_config = ConfigDict(extra="forbid", defer_build=True)


# --------------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------------


class ToolCall(_Model):
    """A model's request to call one tool. ``arguments`` is already-parsed JSON."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class SystemMessage(_Model):
    role: Literal["system"] = "system"
    content: str


class UserMessage(_Model):
    role: Literal["user"] = "user"
    content: str


class AssistantMessage(_Model):
    role: Literal["assistant"] = "assistant"
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)


class ToolMessage(_Model):
    """A tool's result as the model sees it."""

    role: Literal["tool"] = "tool"
    tool_call_id: str
    name: str
    content: str
    is_error: bool = False


Message: TypeAlias = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolMessage, Field(discriminator="role")
]


class Usage(_Model):
    """Tokens and money. Adds with ``+``."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    requests: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            requests=self.requests + other.requests,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class ToolResult(_Model):
    """What a tool returned (``content`` is JSON-able), or the error it raised."""

    call_id: str
    name: str
    content: Any = None
    is_error: bool = False
    truncated: bool = False


# --------------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------------


class _Event(_Model):
    run_id: str
    seq: int = 0
    ts: float = Field(default_factory=time.time)


class RunStarted(_Event):
    type: Literal["run_started"] = "run_started"
    agent: str
    input: str
    session_id: str | None = None
    parent_run_id: str | None = None
    pattern: str = "react"
    model: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class RunResumed(_Event):
    type: Literal["run_resumed"] = "run_resumed"
    worker: str = ""


class ModelRequested(_Event):
    type: Literal["model_requested"] = "model_requested"
    step: int
    model: str
    n_messages: int = 0
    n_tools: int = 0


class TextDelta(_Event):
    """A streamed piece of the model's answer. Streamed to subscribers, never persisted."""

    type: Literal["text_delta"] = "text_delta"
    text: str


class ModelResponded(_Event):
    type: Literal["model_responded"] = "model_responded"
    step: int
    model: str
    message: AssistantMessage
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str = "stop"
    latency_ms: float = 0.0


class Thought(_Event):
    type: Literal["thought"] = "thought"
    step: int
    text: str


class OutputRejected(_Event):
    """The final answer failed validation; the model is asked again with the error."""

    type: Literal["output_rejected"] = "output_rejected"
    step: int
    error: str


class ToolStage(_Event):
    """One stage of the small-model tool path (select, decide, fill, check)."""

    type: Literal["tool_stage"] = "tool_stage"
    step: int
    stage: Literal["select", "decide", "fill", "check"]
    detail: dict[str, Any] = Field(default_factory=dict)


class ToolCallStarted(_Event):
    type: Literal["tool_call_started"] = "tool_call_started"
    step: int
    call: ToolCall
    idempotency_key: str | None = None


class ToolCallFinished(_Event):
    type: Literal["tool_call_finished"] = "tool_call_finished"
    step: int
    result: ToolResult
    duration_ms: float = 0.0


class ApprovalRequested(_Event):
    type: Literal["approval_requested"] = "approval_requested"
    step: int
    call: ToolCall
    reason: str = ""


class ApprovalDecided(_Event):
    type: Literal["approval_decided"] = "approval_decided"
    call_id: str
    approved: bool
    by: str = ""
    reason: str = ""


class GuardrailTripped(_Event):
    type: Literal["guardrail_tripped"] = "guardrail_tripped"
    guardrail: str
    where: Literal["input", "output", "tool_args", "tool_result"]
    reason: str
    blocked: bool = True


class RetryScheduled(_Event):
    type: Literal["retry_scheduled"] = "retry_scheduled"
    target: str
    attempt: int
    delay_s: float
    error: str


class BreakerChanged(_Event):
    type: Literal["breaker_changed"] = "breaker_changed"
    breaker: str
    state: Literal["closed", "open", "half_open"]


class PlanStep(_Model):
    id: str
    description: str
    tool: str | None = None
    depends_on: list[str] = Field(default_factory=list)


class PlanCreated(_Event):
    type: Literal["plan_created"] = "plan_created"
    steps: list[PlanStep]
    revision: int = 0


class PlanStepDone(_Event):
    type: Literal["plan_step_done"] = "plan_step_done"
    step_id: str
    ok: bool
    output: str = ""


class AgentMessage(_Event):
    """A message between agents on a team's shared conversation (the blackboard)."""

    type: Literal["agent_message"] = "agent_message"
    sender: str
    recipient: str | None = None
    content: str


class Handoff(_Event):
    type: Literal["handoff"] = "handoff"
    from_agent: str
    to_agent: str
    task: str
    child_run_id: str


class SummaryCreated(_Event):
    type: Literal["summary_created"] = "summary_created"
    covers_seq: int
    text: str


class Annotation(_Event):
    """A pattern's own decision, kept in the log (an intent, a route, a quality verdict)."""

    type: Literal["annotation"] = "annotation"
    kind: str
    data: dict[str, Any] = Field(default_factory=dict)


class RunFinished(_Event):
    type: Literal["run_finished"] = "run_finished"
    output: Any = None
    usage: Usage = Field(default_factory=Usage)


class RunFailed(_Event):
    type: Literal["run_failed"] = "run_failed"
    reason: str
    error_type: str = ""
    message: str = ""


Event: TypeAlias = Annotated[
    RunStarted
    | RunResumed
    | ModelRequested
    | TextDelta
    | ModelResponded
    | Thought
    | OutputRejected
    | ToolStage
    | ToolCallStarted
    | ToolCallFinished
    | ApprovalRequested
    | ApprovalDecided
    | GuardrailTripped
    | RetryScheduled
    | BreakerChanged
    | PlanCreated
    | PlanStepDone
    | AgentMessage
    | Handoff
    | SummaryCreated
    | Annotation
    | RunFinished
    | RunFailed,
    Field(discriminator="type"),
]

_adapters: dict[str, TypeAdapter[Any]] = {}


def _adapter(kind: str) -> TypeAdapter[Any]:
    """Union adapters, built on first use (building them costs tens of milliseconds)."""
    if kind not in _adapters:
        target: Any = {"event": Event, "events": list[Event], "messages": list[Message]}[kind]
        _adapters[kind] = TypeAdapter(target)
    return _adapters[kind]


def parse_event(data: str | bytes | dict[str, Any]) -> Event:
    """Parse one event from JSON text or a dict."""
    if isinstance(data, dict):
        return _adapter("event").validate_python(data)  # type: ignore[no-any-return]
    return _adapter("event").validate_json(data)  # type: ignore[no-any-return]


def parse_events(data: str | bytes) -> list[Event]:
    """Parse a JSON array of events."""
    return _adapter("events").validate_json(data)  # type: ignore[no-any-return]


def dump_events(events: list[Event]) -> bytes:
    """Serialise events as a JSON array."""
    return _adapter("events").dump_json(events)


def parse_messages(data: str | bytes | list[dict[str, Any]]) -> list[Message]:
    if isinstance(data, list):
        return _adapter("messages").validate_python(data)  # type: ignore[no-any-return]
    return _adapter("messages").validate_json(data)  # type: ignore[no-any-return]
