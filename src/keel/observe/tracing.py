"""OpenTelemetry tracing from the event log: a span per run, per model call and per tool call.

Attributes follow the OpenTelemetry GenAI conventions (``gen_ai.request.model``,
``gen_ai.usage.input_tokens`` ...). Only ids, names, counts and outcomes are recorded, never message
text or tool arguments, so traces carry no secrets and no personal data; pass ``record_content=True``
to add them, scrubbed by ``keel.security.secrets.scrub``. Export with any OTel exporter (OTLP to
Phoenix or Jaeger, or the in-memory exporter in tests).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from keel.events import (
    ApprovalRequested,
    Event,
    GuardrailTripped,
    ModelRequested,
    ModelResponded,
    RunFailed,
    RunFinished,
    RunResumed,
    RunStarted,
    ToolCallFinished,
    ToolCallStarted,
)

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

__all__ = ["Tracing"]


def _ns(ts: float) -> int:
    return int(ts * 1e9)


class Tracing:
    """An observer that turns events into spans: ``Agent(observers=[Tracing()])``."""

    def __init__(self, tracer: Tracer | None = None, *, record_content: bool = False) -> None:
        if tracer is None:
            from opentelemetry import trace

            tracer = trace.get_tracer("keel")
        self.tracer = tracer
        self.record_content = record_content
        self._lock = threading.Lock()
        self._runs: dict[str, Span] = {}
        self._open: dict[tuple[str, str], Span] = {}

    def __call__(self, ev: Event) -> None:
        with self._lock:
            self._handle(ev)

    def _child(self, run_id: str, name: str, ts: float, attrs: dict[str, Any]) -> Span:
        from opentelemetry import trace

        parent = self._runs.get(run_id)
        ctx = trace.set_span_in_context(parent) if parent is not None else None
        return self.tracer.start_span(name, context=ctx, start_time=_ns(ts), attributes=attrs)

    def _content(self, value: Any) -> str:
        import json

        from keel.security.secrets import scrub

        return json.dumps(scrub(value), default=str)[:4000]

    def _handle(self, ev: Event) -> None:
        if isinstance(ev, RunStarted | RunResumed):
            from opentelemetry import trace

            attrs: dict[str, Any] = {"keel.run_id": ev.run_id}
            if isinstance(ev, RunStarted):
                attrs.update({"gen_ai.agent.name": ev.agent, "keel.pattern": ev.pattern})
                if ev.session_id:
                    attrs["session.id"] = ev.session_id
                if ev.parent_run_id and ev.parent_run_id in self._runs:
                    ctx = trace.set_span_in_context(self._runs[ev.parent_run_id])
                    self._runs[ev.run_id] = self.tracer.start_span(
                        f"agent {ev.agent}", context=ctx, start_time=_ns(ev.ts), attributes=attrs
                    )
                    return
            name = f"agent {ev.agent}" if isinstance(ev, RunStarted) else "agent resume"
            self._runs[ev.run_id] = self.tracer.start_span(name, start_time=_ns(ev.ts), attributes=attrs)
        elif isinstance(ev, ModelRequested):
            attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": ev.model, "keel.step": ev.step}
            self._open[(ev.run_id, f"model:{ev.step}")] = self._child(
                ev.run_id, f"chat {ev.model}", ev.ts, attrs
            )
        elif isinstance(ev, ModelResponded):
            span = self._open.pop((ev.run_id, f"model:{ev.step}"), None)
            if span is not None:
                span.set_attributes({
                    "gen_ai.response.model": ev.model,
                    "gen_ai.usage.input_tokens": ev.usage.input_tokens,
                    "gen_ai.usage.output_tokens": ev.usage.output_tokens,
                    "gen_ai.response.finish_reasons": [ev.finish_reason],
                    "keel.cost_usd": ev.usage.cost_usd,
                    "keel.tool_calls": len(ev.message.tool_calls),
                })  # fmt: skip
                if self.record_content:
                    span.set_attribute("gen_ai.output", self._content(ev.message.model_dump()))
                span.end(end_time=_ns(ev.ts))
        elif isinstance(ev, ToolCallStarted):
            attrs = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": ev.call.name,
                     "gen_ai.tool.call.id": ev.call.id}  # fmt: skip
            if self.record_content:
                attrs["gen_ai.tool.arguments"] = self._content(ev.call.arguments)
            self._open[(ev.run_id, f"tool:{ev.call.id}")] = self._child(
                ev.run_id, f"execute_tool {ev.call.name}", ev.ts, attrs
            )
        elif isinstance(ev, ToolCallFinished):
            span = self._open.pop((ev.run_id, f"tool:{ev.result.call_id}"), None)
            if span is not None:
                span.set_attribute("keel.tool.error", ev.result.is_error)
                if ev.result.is_error:
                    from opentelemetry.trace import Status, StatusCode

                    span.set_status(Status(StatusCode.ERROR, "tool returned an error"))
                span.end(end_time=_ns(ev.ts))
        elif isinstance(ev, GuardrailTripped | ApprovalRequested):
            span = self._runs.get(ev.run_id)
            if span is not None:
                span.add_event(ev.type, {"keel.detail": getattr(ev, "guardrail", "") or getattr(ev, "reason", "")},
                               timestamp=_ns(ev.ts))  # fmt: skip
                if isinstance(ev, ApprovalRequested):
                    span.set_attribute("keel.status", "suspended")
                    self._end_run(ev.run_id, ev.ts)
        elif isinstance(ev, RunFinished | RunFailed):
            span = self._runs.get(ev.run_id)
            if span is not None:
                if isinstance(ev, RunFailed):
                    from opentelemetry.trace import Status, StatusCode

                    span.set_status(Status(StatusCode.ERROR, ev.reason))
                    span.set_attribute("keel.failure_reason", ev.reason)
                span.set_attribute(
                    "gen_ai.usage.input_tokens", ev.usage.input_tokens if isinstance(ev, RunFinished) else 0
                )
                self._end_run(ev.run_id, ev.ts)

    def _end_run(self, run_id: str, ts: float) -> None:
        for key in [k for k in self._open if k[0] == run_id]:
            self._open.pop(key).end(end_time=_ns(ts))
        span = self._runs.pop(run_id, None)
        if span is not None:
            span.end(end_time=_ns(ts))
