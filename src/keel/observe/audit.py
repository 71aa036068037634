"""The audit trail: security-relevant run events appended to a hash-chained log.

``Agent(observers=[AuditTrail(AuditLog("audit.db"))])`` records every side-effecting tool call, its
outcome, approvals, guardrail trips and failures, with details scrubbed of secrets and PII.
``AuditLog.verify()`` detects any record modified, deleted or reordered afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from keel.events import Event

if TYPE_CHECKING:
    from keel.security.audit import AuditLog

__all__ = ["AuditTrail"]

DEFAULT_TYPES = frozenset(
    {"run_started", "tool_call_started", "tool_call_finished", "approval_requested", "approval_decided",
     "guardrail_tripped", "run_failed", "handoff"}
)  # fmt: skip


class AuditTrail:
    """An observer writing the chosen event types to an ``AuditLog``."""

    def __init__(self, log: AuditLog, *, types: Iterable[str] = DEFAULT_TYPES, actor: str = "keel") -> None:
        self.log = log
        self.types = frozenset(types)
        self.actor = actor

    def __call__(self, ev: Event) -> None:
        if ev.type in self.types:
            self.log.record_event(ev, actor=self.actor)
