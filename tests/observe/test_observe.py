"""Metrics, tracing and the audit trail, fed by real runs' events."""

from __future__ import annotations

import pytest

from keel import Agent, RunError, ToolError, tool
from keel.observe import AuditTrail, Metrics, Tracing
from keel.testing import ScriptedModel, call


@tool
async def add(a: int, b: int) -> int:
    """Add."""
    return a + b


@tool(side_effects=True)
async def charge(card: str, amount: float) -> str:
    """Charge a card."""
    if amount > 100:
        raise ToolError("declined")
    return "ok"


async def test_metrics_count_success_rate_latency_tokens_and_tool_errors() -> None:
    metrics = Metrics()
    ok_agent = Agent(
        ScriptedModel(lambda m, t: "done" if m[-1].role == "tool" else call("add", a=1, b=2)),
        tools=[add],
        observers=[metrics],
        name="calc",
    )
    for _ in range(3):
        await ok_agent.run("1+2")
    failing = Agent(
        ScriptedModel(lambda m, t: call("charge", card="x", amount=500)),
        tools=[charge],
        observers=[metrics],
        name="calc",
        max_steps=2,
    )
    with pytest.raises(RunError):
        await failing.run("pay")
    snap = metrics.snapshot()
    assert snap["agents"]["calc"]["runs"] == 4
    assert snap["agents"]["calc"]["success_rate"] == 0.75
    assert snap["agents"]["calc"]["failures"] == {"max_steps": 1}
    assert snap["tools"] == {"add": {"ok": 3, "error": 0}, "charge": {"ok": 0, "error": 1}}
    assert snap["models"]["scripted"]["calls"] == 8 and snap["models"]["scripted"]["input_tokens"] > 0
    text = metrics.prometheus()
    assert 'keel_runs_total{agent="calc",status="finished"} 3' in text
    assert 'keel_run_seconds_count{agent="calc"} 4' in text


async def test_tracing_builds_nested_spans_without_content() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    agent = Agent(
        ScriptedModel([call("charge", card="4111 1111 1111 1111", amount=5), "paid"]),
        tools=[charge],
        observers=[Tracing(provider.get_tracer("test"))],
        name="shop",
    )
    await agent.run("charge my card 4111 1111 1111 1111")
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"agent shop", "chat scripted", "execute_tool charge"}
    root = spans["agent shop"]
    assert spans["execute_tool charge"].parent.span_id == root.context.span_id
    assert spans["chat scripted"].attributes["gen_ai.usage.input_tokens"] > 0
    dumped = str([dict(s.attributes) for s in spans.values()])
    assert "4111" not in dumped  # no content, so no card number, in traces by default


async def test_audit_trail_records_side_effects_and_detects_tampering(tmp_path) -> None:
    import sqlite3

    from keel.security.audit import AuditLog

    log = AuditLog(tmp_path / "audit.db")
    agent = Agent(
        ScriptedModel([call("charge", card="4111111111111111", amount=5), "paid"]),
        tools=[charge],
        observers=[AuditTrail(log)],
    )
    await agent.run("pay")
    actions = [r.action for r in log.records()]
    assert actions == ["run_started", "tool_call_started", "tool_call_finished"]
    assert "4111111111111111" not in str([r.details for r in log.records()])  # PII scrubbed
    assert log.verify()
    db = sqlite3.connect(tmp_path / "audit.db")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("update audit_log set action = 'nothing' where rowid = 2")
    # an attacker with the file can drop the guard trigger: the hash chain still gives them away
    for (name,) in db.execute("select name from sqlite_master where type = 'trigger'").fetchall():
        db.execute(f"drop trigger {name}")
    db.execute("update audit_log set action = 'nothing' where rowid = 2")
    db.commit()
    assert not AuditLog(tmp_path / "audit.db").verify()


async def test_a_broken_observer_never_breaks_a_run() -> None:
    def broken(ev):
        raise RuntimeError("observer bug")

    result = await Agent(ScriptedModel(["ok"]), observers=[broken]).run("hi")
    assert result.output == "ok"
