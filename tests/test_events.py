"""The event model: JSON round trips and the state fold."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from keel.events import (
    ApprovalDecided,
    ApprovalRequested,
    AssistantMessage,
    ModelResponded,
    RunFinished,
    RunStarted,
    ToolCall,
    ToolCallFinished,
    ToolResult,
    Usage,
    dump_events,
    parse_event,
    parse_events,
    parse_messages,
)
from keel.loop.state import RunState


def _log() -> list:
    call = ToolCall(id="c1", name="refund", arguments={"amount": 120})
    return [
        RunStarted(run_id="r", seq=0, agent="a", input="refund me", session_id="s"),
        ModelResponded(
            run_id="r",
            seq=1,
            step=0,
            model="m",
            message=AssistantMessage(tool_calls=[call]),
            usage=Usage(input_tokens=10),
        ),
        ApprovalRequested(run_id="r", seq=2, step=0, call=call),
        ApprovalDecided(run_id="r", seq=3, call_id="c1", approved=True),
        ToolCallFinished(
            run_id="r", seq=4, step=0, result=ToolResult(call_id="c1", name="refund", content={"ok": True})
        ),
        RunFinished(run_id="r", seq=5, output="done", usage=Usage(input_tokens=10)),
    ]


def test_every_event_round_trips_through_json() -> None:
    events = _log()
    assert parse_events(dump_events(events)) == events
    for ev in events:
        assert parse_event(ev.model_dump_json()) == ev
        assert parse_event(ev.model_dump(mode="json")) == ev


def test_unknown_event_type_and_extra_fields_are_rejected() -> None:
    with pytest.raises(ValidationError):
        parse_event('{"type": "nope", "run_id": "r"}')
    with pytest.raises(ValidationError):
        parse_event('{"type": "run_finished", "run_id": "r", "surprise": 1}')


def test_messages_discriminate_on_role() -> None:
    msgs = parse_messages(
        [
            {"role": "user", "content": "hi"},
            {"role": "tool", "tool_call_id": "c", "name": "t", "content": "x"},
        ]
    )
    assert [m.role for m in msgs] == ["user", "tool"]


def test_state_is_a_fold_over_the_log() -> None:
    events = _log()
    mid = RunState.from_events("r", events[:3])
    assert mid.status == "suspended"
    assert [c.id for c in mid.pending_calls] == ["c1"]
    end = RunState.from_events("r", events)
    assert end.status == "finished" and end.output == "done"
    assert end.pending_calls == [] and end.usage.input_tokens == 10
    assert [m.role for m in end.messages] == ["user", "assistant", "tool"]


def test_usage_adds() -> None:
    total = Usage(input_tokens=1, output_tokens=2, cost_usd=0.5) + Usage(
        input_tokens=3, cached_tokens=1, cost_usd=0.25
    )
    assert (total.input_tokens, total.output_tokens, total.cached_tokens, total.cost_usd) == (4, 2, 1, 0.75)
    assert total.total_tokens == 6
