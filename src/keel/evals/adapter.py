"""How the runner talks to an agent: the ``Adapter`` protocol and ``AgentAdapter`` for any keel Agent.

An adapter runs one user message of a scenario's conversation and reports what happened
(:class:`TurnOutcome`), sets up and tears down whatever a scenario needs in isolation (a fresh copy of
an app's database, a sandbox account), and reads the app's state after the conversation, which the
scenario's ``final_state`` expectations are checked against::

    from keel import Agent
    from keel.evals import AgentAdapter, run_suite, load_scenarios

    adapter = AgentAdapter(Agent("local", tools=[...]), deps=lambda scenario: MyDeps(scenario.customer))
    suite = await run_suite(load_scenarios("scenarios/"), adapter)

An app adapter subclasses ``AgentAdapter`` and overrides ``setup``/``final_state``/``violations``
(see ``apps/support/evaluate.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from keel.errors import OutputValidationError, RunError
from keel.evals.results import MadeCall, TurnRecord
from keel.evals.scenarios import Scenario
from keel.events import Event, RunStarted, TextDelta, Usage

if TYPE_CHECKING:
    from keel.agent import Agent
    from keel.loop.state import RunState

__all__ = ["Adapter", "AgentAdapter", "BaseAdapter", "TurnOutcome"]


@dataclass
class TurnOutcome:
    """What one user message produced."""

    output: str
    tool_calls: list[MadeCall] = field(default_factory=list)
    escalated: bool = False
    latency_s: float = 0.0
    usage: Usage = field(default_factory=Usage)
    events: list[Event] = field(default_factory=list)
    ttft_s: float | None = None
    run_id: str | None = None
    status: str = "finished"
    error: str | None = None
    evidence: str = ""
    """Text the answer may draw facts from (tool results, retrieved passages); derived if empty."""

    def record(self, user: str, *, simulated: bool = False) -> TurnRecord:
        # what the tools returned, plus what waits for a human: a held refund's amount is a fact the
        # answer may state ("your $390.00 refund needs approval") though no tool has returned it yet
        evidence = self.evidence or "\n".join(
            _as_text(c.arguments if c.pending_approval else c.result) for c in self.tool_calls
        )
        return TurnRecord(
            user=user,
            output=self.output,
            tool_calls=self.tool_calls,
            escalated=self.escalated,
            latency_s=self.latency_s,
            ttft_s=self.ttft_s,
            input_tokens=self.usage.input_tokens,
            output_tokens=self.usage.output_tokens,
            cost_usd=self.usage.cost_usd,
            run_id=self.run_id,
            status=self.status,
            error=self.error,
            evidence=evidence,
            simulated=simulated,
        )


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, default=str, ensure_ascii=False)


def _plain(value: Any) -> Any:
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


@runtime_checkable
class Adapter(Protocol):
    """What the runner needs from the system under test. ``BaseAdapter`` gives no-op defaults."""

    name: str

    async def setup(self, scenario: Scenario) -> None:
        """Prepare an isolated world for ``scenario`` (called before its first turn)."""

    async def run_turn(self, scenario: Scenario, text: str, session_id: str) -> TurnOutcome:
        """Send one user message; all turns of a scenario share ``session_id``."""
        ...

    async def final_state(self, scenario: Scenario) -> dict[str, Any]:
        """The app state the scenario's ``expect.final_state`` is compared with."""
        ...

    async def violations(
        self, scenario: Scenario, turns: Sequence[TurnRecord], state: dict[str, Any]
    ) -> list[str]:
        """Policy violations this conversation committed (must be none): app rules the grader can't know."""
        ...

    async def teardown(self, scenario: Scenario) -> None:
        """Release what ``setup`` made."""


class BaseAdapter:
    """Defaults for the optional parts of ``Adapter``: no setup, no app state, no app policy."""

    name = "agent"

    async def setup(self, scenario: Scenario) -> None:
        return None

    async def run_turn(self, scenario: Scenario, text: str, session_id: str) -> TurnOutcome:
        raise NotImplementedError("an adapter must implement run_turn")

    async def final_state(self, scenario: Scenario) -> dict[str, Any]:
        return {}

    async def violations(
        self, scenario: Scenario, turns: Sequence[TurnRecord], state: dict[str, Any]
    ) -> list[str]:
        return []

    async def teardown(self, scenario: Scenario) -> None:
        return None

    async def warmup(self) -> None:
        """Load what the first turn would otherwise load (model weights, indexes), so that turn's latency
        measures a warm system like every other turn's. Called once before a suite."""
        return None

    async def close(self) -> None:
        """Release the adapter's own resources at the end of a suite."""
        return None


class AgentAdapter(BaseAdapter):
    """Runs scenarios through a keel ``Agent``, streaming when ``stream`` to measure time to first token.

    ``deps(scenario)`` builds the per-conversation deps; ``escalation_tools`` are the tool names that
    hand the conversation to a human (a result's ``extra["escalated"]`` is used when present).
    """

    def __init__(
        self,
        agent: Agent[Any],
        *,
        deps: Callable[[Scenario], Any] | None = None,
        stream: bool = True,
        escalation_tools: Sequence[str] = ("escalate", "handoff_to_human", "transfer_to_human"),
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.agent = agent
        self.deps = deps
        self.stream = stream
        self.escalation_tools = frozenset(escalation_tools)
        self.name = name or agent.name
        self.metadata = dict(metadata or {})

    async def warmup(self) -> None:
        load = getattr(self.agent.model, "load", None)
        if load is not None:
            await load()

    def deps_for(self, scenario: Scenario) -> Any:
        return self.deps(scenario) if self.deps is not None else None

    def metadata_for(self, scenario: Scenario) -> dict[str, Any]:
        """``RunStarted.metadata`` of the scenario's runs: the scenario id, so runs can be traced back."""
        return {"eval_scenario": scenario.id, **self.metadata}

    async def run_turn(self, scenario: Scenario, text: str, session_id: str) -> TurnOutcome:
        deps = self.deps_for(scenario)
        metadata = self.metadata_for(scenario)
        started = time.perf_counter()
        ttft: float | None = None
        events: list[Event] = []
        extra: dict[str, Any] = {}
        output: str | None = None
        error: str | None = None
        try:
            if self.stream:
                stream = self.agent.run_stream(text, session_id=session_id, deps=deps, metadata=metadata)
                async for ev in stream:
                    if isinstance(ev, TextDelta):
                        ttft = ttft if ttft is not None else time.perf_counter() - started
                    else:
                        events.append(ev)
            else:
                result = await self.agent.run(text, session_id=session_id, deps=deps, metadata=metadata)
                events, extra = list(result.events), dict(result.extra)
                if result.output is not None:
                    output = (
                        result.output if isinstance(result.output, str) else _as_text(_plain(result.output))
                    )
        except (RunError, OutputValidationError) as exc:
            error = f"{getattr(exc, 'reason', 'output')}: {exc}"
            if exc.result is not None and not events:
                events = list(exc.result.events)
        latency = time.perf_counter() - started
        return self.outcome(events, latency_s=latency, ttft_s=ttft, extra=extra, error=error, output=output)

    def outcome(
        self,
        events: list[Event],
        *,
        latency_s: float,
        ttft_s: float | None = None,
        extra: dict[str, Any] | None = None,
        error: str | None = None,
        output: str | None = None,
    ) -> TurnOutcome:
        """Build the outcome of a turn from its run log (the same for streamed and plain runs)."""
        from keel.loop.state import RunState

        run_id = next((e.run_id for e in events if isinstance(e, RunStarted)), None)
        state = RunState.from_events(run_id or "", events)
        calls = [
            MadeCall(
                name=c.name,
                arguments=c.arguments,
                result=state.results[c.id].content if c.id in state.results else None,
                is_error=state.results[c.id].is_error if c.id in state.results else False,
                pending_approval=c.id in state.approvals_pending,
            )
            for c in state.calls
        ]
        return TurnOutcome(
            output=output if output is not None else self.output_text(state),
            tool_calls=calls,
            escalated=bool((extra or {}).get("escalated")) or self.escalated(state, calls),
            latency_s=latency_s,
            usage=state.usage,
            events=events,
            ttft_s=ttft_s,
            run_id=run_id,
            status=state.status,
            error=error,
        )

    def output_text(self, state: RunState) -> str:
        """The answer the user saw (override for runs that suspend with a holding message)."""
        out = state.output
        if out is None:
            return ""
        if isinstance(out, str):
            return out
        return _as_text(_plain(out))

    def escalated(self, state: RunState, calls: Sequence[MadeCall]) -> bool:
        """Whether the turn handed the conversation to a human: an escalation tool ran, the pattern
        annotated an escalation, or a call waits for a human's approval."""
        return (
            any(c.name in self.escalation_tools and c.executed for c in calls)
            or "escalated" in state.annotations
            or bool(state.approvals_pending)
        )
