"""A run's state is a fold over its events: ``RunState.from_events(events)``.

Nothing about a run lives only in a Python object: whatever the loop needs to continue a run (on this
worker or another, now or after a crash) is rebuilt here from the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from keel.events import (
    AgentMessage,
    Annotation,
    ApprovalDecided,
    ApprovalRequested,
    AssistantMessage,
    Event,
    Handoff,
    Message,
    ModelResponded,
    OutputRejected,
    PlanCreated,
    PlanStep,
    PlanStepDone,
    RunFailed,
    RunFinished,
    RunStarted,
    SummaryCreated,
    ToolCall,
    ToolCallFinished,
    ToolCallStarted,
    ToolMessage,
    ToolResult,
    Usage,
    UserMessage,
)

__all__ = ["RunState", "RunStatus", "result_text"]

RunStatus = Literal["running", "suspended", "finished", "failed"]


def result_text(result: ToolResult) -> str:
    """How a tool result is shown to a model."""
    content = result.content
    if isinstance(content, str):
        text = content
    elif isinstance(content, bool | int | float) or content is None:
        text = (
            "null" if content is None else str(content).lower() if isinstance(content, bool) else str(content)
        )
    else:
        import json

        text = json.dumps(content, default=str, ensure_ascii=False)
    return f"ERROR: {text}" if result.is_error else text


@dataclass
class RunState:
    """Everything the loop knows about one run, derived from its events."""

    run_id: str
    agent: str = ""
    input: str = ""
    session_id: str | None = None
    parent_run_id: str | None = None
    pattern: str = "react"
    metadata: dict[str, Any] = field(default_factory=dict)
    status: RunStatus = "running"
    step: int = 0
    """Number of model responses so far."""
    last_seq: int = -1
    messages: list[Message] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    output: Any = None
    failure: RunFailed | None = None
    last_response: AssistantMessage | None = None
    started: dict[str, ToolCallStarted] = field(default_factory=dict)
    results: dict[str, ToolResult] = field(default_factory=dict)
    approvals_pending: dict[str, ApprovalRequested] = field(default_factory=dict)
    approvals: dict[str, ApprovalDecided] = field(default_factory=dict)
    calls: list[ToolCall] = field(default_factory=list)
    call_origin: dict[str, tuple[int, int]] = field(default_factory=dict)
    """call id -> (step, index) of the model response that asked for it: the idempotency key's basis."""
    plan: list[PlanStep] = field(default_factory=list)
    plan_revision: int = 0
    plan_done: dict[str, PlanStepDone] = field(default_factory=dict)
    board: list[AgentMessage] = field(default_factory=list)
    handoffs: list[Handoff] = field(default_factory=list)
    summary: SummaryCreated | None = None
    output_rejections: int = 0
    annotations: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The latest ``annotation`` event of each kind."""

    @classmethod
    def from_events(cls, run_id: str, events: list[Event]) -> RunState:
        state = cls(run_id=run_id)
        for ev in events:
            state.apply(ev)
        return state

    @property
    def done(self) -> bool:
        return self.status in ("finished", "failed")

    @property
    def pending_calls(self) -> list[ToolCall]:
        """Tool calls the last model response asked for that have no result yet."""
        if self.last_response is None:
            return []
        return [c for c in self.last_response.tool_calls if c.id not in self.results]

    def apply(self, ev: Event) -> None:
        self.last_seq = ev.seq
        if isinstance(ev, RunStarted):
            self.agent, self.input, self.session_id = ev.agent, ev.input, ev.session_id
            self.parent_run_id, self.pattern, self.metadata = ev.parent_run_id, ev.pattern, ev.metadata
            self.messages.append(UserMessage(content=ev.input))
        elif isinstance(ev, ModelResponded):
            self.step = max(self.step, ev.step + 1)
            self.usage = self.usage + ev.usage
            self.last_response = ev.message
            self.messages.append(ev.message)
            self.calls.extend(ev.message.tool_calls)
            for i, c in enumerate(ev.message.tool_calls):
                self.call_origin[c.id] = (ev.step, i)
        elif isinstance(ev, ToolCallStarted):
            self.started[ev.call.id] = ev
        elif isinstance(ev, ToolCallFinished):
            r = ev.result
            self.results[r.call_id] = r
            self.messages.append(
                ToolMessage(tool_call_id=r.call_id, name=r.name, content=result_text(r), is_error=r.is_error)
            )
        elif isinstance(ev, ApprovalRequested):
            self.approvals_pending[ev.call.id] = ev
            self.status = "suspended"
        elif isinstance(ev, ApprovalDecided):
            self.approvals_pending.pop(ev.call_id, None)
            self.approvals[ev.call_id] = ev
            if not self.approvals_pending and self.status == "suspended":
                self.status = "running"
        elif isinstance(ev, OutputRejected):
            self.output_rejections += 1
            self.messages.append(
                UserMessage(content=f"Your answer was rejected: {ev.error}\nAnswer again, correcting this.")
            )
        elif isinstance(ev, PlanCreated):
            self.plan, self.plan_revision = list(ev.steps), ev.revision
        elif isinstance(ev, PlanStepDone):
            self.plan_done[ev.step_id] = ev
        elif isinstance(ev, AgentMessage):
            self.board.append(ev)
        elif isinstance(ev, Handoff):
            self.handoffs.append(ev)
        elif isinstance(ev, Annotation):
            self.annotations[ev.kind] = ev.data
        elif isinstance(ev, SummaryCreated):
            self.summary = ev
        elif isinstance(ev, RunFinished):
            self.status, self.output = "finished", ev.output
        elif isinstance(ev, RunFailed):
            self.status, self.failure = "failed", ev
