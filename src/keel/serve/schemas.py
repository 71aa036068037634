"""Request and response bodies of the HTTP API (they make the OpenAPI schema at ``/openapi.json``).

Session ids are stored prefixed with the tenant (``acme:chat-1``) so that two tenants choosing
the same session id never share history; the API shows them without the prefix.

>>> scope_session("acme", "chat-1"), unscope_session("acme:chat-1")
('acme:chat-1', 'chat-1')
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from keel.agent import ToolCallRecord
from keel.errors import redact
from keel.events import Event, Message, RunStarted, Usage
from keel.loop.state import RunState

__all__ = [
    "ApprovalView",
    "DecisionRequest",
    "EventsPage",
    "PendingCall",
    "RunRequest",
    "RunView",
    "SessionView",
    "scope_session",
    "unscope_session",
]

MAX_MESSAGE_CHARS = 1_000_000
"""Schema-level cap; the configured ``max_message_chars`` (default 32,000) is checked on top."""
SESSION_PATTERN = r"^[A-Za-z0-9_.:@\-]{1,128}$"


def scope_session(tenant: str, session_id: str | None) -> str | None:
    return None if session_id is None else f"{tenant}:{session_id}"


def unscope_session(stored: str | None) -> str | None:
    if stored is None:
        return None
    return stored.partition(":")[2] if ":" in stored else stored


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunRequest(_Body):
    """Start a run of an agent."""

    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, description="The user's message.")
    session_id: str | None = Field(
        None, pattern=SESSION_PATTERN, description="Keeps conversation history across runs."
    )
    metadata: dict[str, Any] = Field(default_factory=dict, description="Stored with the run.")
    priority: Literal["interactive", "default", "batch"] = "interactive"
    stream: bool = Field(False, description="Answer with server-sent events instead of one JSON body.")


class DecisionRequest(_Body):
    """Approve or deny a tool call that waits for a human."""

    approve: bool
    call_id: str | None = Field(None, max_length=200, description="Which pending call (default: the first).")
    reason: str = Field("", max_length=2000)


class ToolCallView(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any]
    result: Any = None
    is_error: bool = False
    pending_approval: bool = False


class PendingCall(BaseModel):
    call_id: str
    name: str
    arguments: dict[str, Any]
    reason: str = ""


class FailureView(BaseModel):
    reason: str
    message: str


class RunView(BaseModel):
    """A run as the API shows it: a fold over its events."""

    run_id: str
    agent: str
    status: Literal["running", "suspended", "finished", "failed"]
    output: Any = None
    tool_calls: list[ToolCallView] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    session_id: str | None = None
    pending_approvals: list[PendingCall] = Field(default_factory=list)
    failure: FailureView | None = None

    @classmethod
    def of(cls, state: RunState, agent: str | None = None) -> RunView:
        calls = [ToolCallView.model_validate(r, from_attributes=True) for r in ToolCallRecord.all_of(state)]
        failure = None
        if state.failure is not None:
            failure = FailureView(reason=state.failure.reason, message=redact(state.failure.message))
        return cls(
            run_id=state.run_id,
            agent=agent or str(state.metadata.get("agent") or state.agent),
            status=state.status,
            output=state.output,
            tool_calls=calls,
            usage=state.usage,
            session_id=unscope_session(state.session_id),
            pending_approvals=pending_calls(state),
            failure=failure,
        )


def pending_calls(state: RunState) -> list[PendingCall]:
    return [
        PendingCall(call_id=a.call.id, name=a.call.name, arguments=a.call.arguments, reason=a.reason)
        for a in state.approvals_pending.values()
    ]


class EventsPage(BaseModel):
    events: list[Event]
    next_after: int | None = Field(description="Pass as ?after= for the next page; null at the end.")


class ApprovalView(BaseModel):
    run_id: str
    agent: str
    session_id: str | None
    pending: list[PendingCall]


class ApprovalsList(BaseModel):
    approvals: list[ApprovalView]


class RunSummary(BaseModel):
    run_id: str
    agent: str
    status: str
    created: float
    updated: float


class RunsList(BaseModel):
    runs: list[RunSummary]


class SessionView(BaseModel):
    session_id: str
    runs: list[RunSummary]
    messages: list[Message]


class AgentInfo(BaseModel):
    name: str
    model: str
    pattern: str
    tools: list[str]


class AgentsList(BaseModel):
    agents: list[AgentInfo]


class KeyCreate(_Body):
    scopes: list[Literal["run", "approve", "read", "admin"]] = Field(min_length=1)
    name: str = Field("", max_length=200)


class KeyInfo(BaseModel):
    key_id: str
    tenant: str
    scopes: list[str]
    name: str
    created: float
    revoked: float | None = None


class KeyCreated(KeyInfo):
    key: str = Field(description="The secret: shown only in this response.")


class KeysList(BaseModel):
    keys: list[KeyInfo]


def present(ev: Event) -> Event:
    """An event as the API shows it: session ids without the tenant prefix."""
    if isinstance(ev, RunStarted) and ev.session_id is not None:
        return ev.model_copy(update={"session_id": unscope_session(ev.session_id)})
    return ev
