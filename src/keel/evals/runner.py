"""Running a suite: each scenario's conversation in one session, graded, with bounded concurrency.

>>> import asyncio
>>> from keel import Agent
>>> from keel.testing import ScriptedModel
>>> from keel.evals import AgentAdapter, Scenario, run_suite
>>> agent = Agent(ScriptedModel(lambda msgs, tools: "Hello!"))
>>> s = Scenario(id="hi", turns=["hi"], expect={"must_contain": ["hello"]})
>>> suite = asyncio.run(run_suite([s], AgentAdapter(agent)))
>>> suite.summary["pass_rate"]
1.0
"""

from __future__ import annotations

import asyncio
import platform
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from keel.errors import KeelError
from keel.evals.adapter import Adapter
from keel.evals.grading import DEFAULT_FACT_PATTERNS, grade
from keel.evals.metrics import summarise
from keel.evals.results import ScenarioResult, SuiteResult, TurnRecord
from keel.evals.scenarios import Scenario
from keel.evals.simulate import SimulatedUser

__all__ = ["machine_info", "run_ab", "run_scenario", "run_suite"]

Progress = Callable[[ScenarioResult, int, int], None]


async def _conversation(
    scenario: Scenario, adapter: Adapter, user: SimulatedUser | None, turn_timeout_s: float | None
) -> list[TurnRecord]:
    session = f"eval-{scenario.id}-{uuid.uuid4().hex[:8]}"
    turns: list[TurnRecord] = []
    scripted = list(scenario.turns)
    limit = max(scenario.max_turns, len(scripted)) if scenario.goal else len(scripted)
    while len(turns) < limit:
        simulated = not scripted
        if scripted:
            text: str | None = scripted.pop(0)
        elif user is None:
            break
        else:
            text = await user.next_message(scenario, [(t.user, t.output) for t in turns])
        if text is None:
            break
        try:
            outcome = await asyncio.wait_for(adapter.run_turn(scenario, text, session), turn_timeout_s)
        except TimeoutError:
            turns.append(
                TurnRecord(user=text, error=f"timeout: no answer in {turn_timeout_s}s", status="failed")
            )
            break
        record = outcome.record(text, simulated=simulated)
        turns.append(record)
        if record.error or record.status == "failed":
            break  # a failed turn leaves nothing sensible to continue from
    return turns


async def run_scenario(
    scenario: Scenario,
    adapter: Adapter,
    *,
    user: SimulatedUser | None = None,
    turn_timeout_s: float | None = None,
    fact_patterns: Sequence[str] | None = None,
) -> ScenarioResult:
    """Run and grade one scenario in isolation (``setup`` → turns → ``final_state`` → ``teardown``).

    A goal-driven scenario without a ``user`` plays only its scripted turns. An error the adapter
    raises is recorded on the result (``error``), never raised: one broken scenario can't stop a suite.
    """
    started = time.perf_counter()
    patterns = fact_patterns or getattr(adapter, "fact_patterns", None) or DEFAULT_FACT_PATTERNS
    turns: list[TurnRecord] = []
    try:
        await adapter.setup(scenario)
        try:
            turns = await _conversation(scenario, adapter, user, turn_timeout_s)
            state = await adapter.final_state(scenario)
            violations = await adapter.violations(scenario, turns, state)
        finally:
            await adapter.teardown(scenario)
        result = grade(scenario, turns, state, violations, fact_patterns=patterns)
    except (KeelError, OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        result = grade(scenario, turns, {}, [], fact_patterns=patterns)
        result.error = f"{type(exc).__name__}: {exc}"[:500]
    result.duration_s = time.perf_counter() - started
    return result


def machine_info() -> dict[str, Any]:
    """Where a figure was measured: OS, CPU count, Python."""
    import os

    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


async def run_suite(
    scenarios: Sequence[Scenario],
    adapter: Adapter,
    *,
    concurrency: int = 1,
    user: SimulatedUser | None = None,
    turn_timeout_s: float | None = None,
    progress: Progress | None = None,
    meta: dict[str, Any] | None = None,
) -> SuiteResult:
    """Run every scenario through ``adapter``, at most ``concurrency`` at a time, and summarise.

    Scenarios with the same ``customer`` never overlap, so an adapter that scopes its checks to the
    customer stays correct under concurrency. Results keep the suite's order.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    gate = asyncio.Semaphore(concurrency)
    locks: dict[str, asyncio.Lock] = {}
    results: list[ScenarioResult | None] = [None] * len(scenarios)
    done = 0
    started_at = datetime.now(UTC)
    started = time.perf_counter()

    async def one(i: int, scenario: Scenario) -> None:
        nonlocal done
        lock = locks.setdefault(scenario.customer or f"\0{scenario.id}", asyncio.Lock())
        async with lock, gate:
            results[i] = await run_scenario(scenario, adapter, user=user, turn_timeout_s=turn_timeout_s)
        done += 1
        if progress is not None:
            progress(results[i], done, len(scenarios))  # type: ignore[arg-type]

    warmup = getattr(adapter, "warmup", None)
    if warmup is not None:
        await warmup()
    warmed = time.perf_counter() - started
    await asyncio.gather(*(one(i, s) for i, s in enumerate(scenarios)))
    finished = [r for r in results if r is not None]
    info = {
        "agent": getattr(adapter, "name", "agent"),
        "started": started_at.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - started, 1),
        "warmup_s": round(warmed, 1),
        "scenarios": len(finished),
        "concurrency": concurrency,
        "simulated_user": user.name if user else None,
        "machine": machine_info(),
        **(meta or {}),
    }
    return SuiteResult(meta=info, summary=summarise(finished), scenarios=finished)


async def run_ab(
    scenarios: Sequence[Scenario],
    a: Adapter,
    b: Adapter,
    *,
    concurrency: int = 1,
    user: SimulatedUser | None = None,
    n_boot: int = 10_000,
) -> tuple[SuiteResult, SuiteResult, dict[str, Any]]:
    """Run two agent versions on the same suite (one after the other, so they never compete for a
    local model) and compare them with a paired bootstrap (see ``keel.evals.compare``)."""
    from keel.evals.compare import compare

    first = await run_suite(scenarios, a, concurrency=concurrency, user=user, meta={"variant": a.name})
    second = await run_suite(scenarios, b, concurrency=concurrency, user=user, meta={"variant": b.name})
    return first, second, compare(first, second, n_boot=n_boot)
