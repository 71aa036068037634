"""Plan-and-Execute: a planner writes a typed plan, an executor runs its steps (independent ones
concurrently), a replanner revises the rest when a step fails, and the answer cites the steps.

Every stage is an event (``plan_created``, ``plan_step_done``), so a resumed run skips finished steps.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, ValidationError

from keel.errors import MalformedResponse
from keel.events import Message, PlanCreated, PlanStep, PlanStepDone, SystemMessage, ToolCall, UserMessage
from keel.loop.jsontext import extract_json
from keel.loop.output import finish_with_answer
from keel.loop.state import result_text
from keel.memory.prune import head_tail
from keel.models.base import ModelSettings

if TYPE_CHECKING:
    from keel.loop.run import Run

__all__ = ["Plan", "PlanExecute"]


class Plan(BaseModel):
    """The planner's output: steps with optional tool hints and dependencies (by step id)."""

    steps: list[PlanStep] = Field(min_length=1, max_length=12)


_PLANNER = (
    "You are the planner. Break the user's request into a short list of steps (at most 4) that together answer it. "
    "Each step has an id (s1, s2, ...), a description, optionally the name of one tool to use, and "
    "depends_on (ids of steps whose results it needs). Independent steps must not depend on each other. "
    "Answer with JSON only."
)


def _distinct(steps: list[PlanStep]) -> list[PlanStep]:
    """Drop repeated steps (same description and tool) and make step ids unique; a dependency on a
    dropped repeat points at the step it repeated."""
    seen: dict[tuple[str, str | None], str] = {}
    alias: dict[str, str] = {}
    used: set[str] = set()
    out: list[PlanStep] = []
    for s in steps:
        key = (" ".join(s.description.lower().split()), s.tool)
        if key in seen:
            alias.setdefault(s.id, seen[key])
            continue
        sid = s.id if s.id not in used else f"s{len(out) + 1}"
        while sid in used:
            sid += "'"
        used.add(sid)
        seen[key] = sid
        alias.setdefault(s.id, sid)
        out.append(s.model_copy(update={"id": sid}))
    return [
        s.model_copy(update={"depends_on": list(dict.fromkeys(alias.get(d, d) for d in s.depends_on))})
        for s in out
    ]


class PlanExecute:
    """The Plan-and-Execute pattern. ``max_replans`` bounds revisions after failed steps."""

    name = "plan_execute"

    def __init__(self, max_replans: int = 2) -> None:
        self.max_replans = max_replans

    async def step(self, run: Run) -> None:
        st = run.state
        waiting = [c for c in st.calls if c.id not in st.results]
        if waiting:  # calls that were suspended for approval and are now decided
            await run.execute_tools(waiting)
            self._close_steps(run, waiting)
            return
        if not st.plan:
            await self._plan(run, revision=0)
            return
        failed = [s for s in st.plan if s.id in st.plan_done and not st.plan_done[s.id].ok]
        if failed:
            if st.plan_revision >= self.max_replans:
                await self._answer(run)
                return
            await self._plan(run, revision=st.plan_revision + 1)
            return
        ready = [
            s for s in st.plan if s.id not in st.plan_done and all(d in st.plan_done for d in s.depends_on)
        ]
        if not ready:
            await self._answer(run)
            return
        await asyncio.gather(*(self._execute(run, s) for s in ready))

    def _close_steps(self, run: Run, calls: list[ToolCall]) -> None:
        st = run.state
        for call in calls:
            result = st.results.get(call.id)
            step = next((s for s in st.plan if s.tool == call.name and s.id not in st.plan_done), None)
            if result is not None and step is not None:
                run.emit(
                    PlanStepDone(
                        run_id=run.run_id, step_id=step.id, ok=not result.is_error, output=result_text(result)
                    )
                )

    def _share(self, run: Run, parts: int) -> int:
        """Tokens each of ``parts`` step results may take in a prompt: together they fill at most half
        the model's context, so a plan of long step outputs never overflows the window."""
        window = run.config.model.profile.context_window
        return max(48, window // 2 // max(1, parts))

    def _fit(self, run: Run, text: str, parts: int) -> str:
        return head_tail(text, self._share(run, parts))

    def _tool_list(self, run: Run) -> str:
        return "\n".join(f"- {t.name}: {t.description}" for t in run.config.tools.values()) or "(no tools)"

    async def _plan(self, run: Run, revision: int) -> None:
        st = run.state
        context = f"Tools:\n{self._tool_list(run)}\n\nRequest: {st.input}"
        if revision:
            done = "\n".join(
                f"- {sid}: {'ok' if d.ok else 'FAILED'}: {self._fit(run, d.output, len(st.plan_done))}"
                for sid, d in st.plan_done.items()
            )
            context += (
                f"\n\nThe previous plan hit a failure. Results so far:\n{done}\nPlan only the remaining work."
            )
        schema = Plan.model_json_schema()
        messages: list[Message] = [SystemMessage(content=_PLANNER), UserMessage(content=context)]
        try:
            msg = await run.call_model(
                messages, (), output_schema=schema, settings=ModelSettings(tool_choice="none")
            )
            plan = Plan.model_validate_json(extract_json(msg.content))
        except (ValidationError, MalformedResponse) as e:
            # a small model may write an invalid plan, or repeat steps until its answer is cut off:
            # the request itself becomes the one step rather than the run failing
            plan = Plan(steps=[PlanStep(id="s1", description=st.input)])
            run.emit(
                PlanStepDone(
                    run_id=run.run_id, step_id="plan", ok=True, output=f"planner output invalid: {e}"[:300]
                )
            )
        steps = _distinct(plan.steps)
        if revision:  # keep finished steps; renumber new ones so ids stay unique
            kept = [s for s in st.plan if s.id in st.plan_done and st.plan_done[s.id].ok]
            ids = {s.id for s in kept}
            steps = kept + [
                s.model_copy(
                    update={
                        "id": f"r{revision}-{s.id}",
                        "depends_on": [d if d in ids else f"r{revision}-{d}" for d in s.depends_on],
                    }
                )
                for s in steps
            ]
        known = {s.id for s in steps}
        steps = [
            s.model_copy(update={"depends_on": [d for d in s.depends_on if d in known and d != s.id]})
            for s in steps
        ]
        run.emit(PlanCreated(run_id=run.run_id, steps=steps, revision=revision))

    def _inputs(self, run: Run, step: PlanStep) -> str:
        done = run.state.plan_done
        deps = [d for d in step.depends_on if d in done]
        return "\n".join(f"[{d}] {self._fit(run, done[d].output, len(deps))}" for d in deps)

    async def _execute(self, run: Run, step: PlanStep) -> None:
        tool = run.config.tools.get(step.tool or "")
        inputs = self._inputs(run, step)
        prompt = f"Overall request: {run.state.input}\nCurrent step ({step.id}): {step.description}"
        if inputs:
            prompt += f"\nResults of earlier steps:\n{inputs}"
        messages: list[Message] = [
            SystemMessage(content=run.system_prompt() or "You execute one step of a plan."),
            UserMessage(content=prompt),
        ]
        if tool is None:
            msg = await run.call_model(messages, (), settings=ModelSettings(tool_choice="none"))
            run.emit(PlanStepDone(run_id=run.run_id, step_id=step.id, ok=True, output=msg.content))
            return
        msg = await run.call_model(messages, [tool.spec()], settings=ModelSettings(tool_choice=tool.name))
        if not msg.tool_calls:
            run.emit(
                PlanStepDone(
                    run_id=run.run_id, step_id=step.id, ok=False, output="the model made no tool call"
                )
            )
            return
        await run.execute_tools(msg.tool_calls[:1])
        result = run.state.results.get(msg.tool_calls[0].id)
        if result is None:  # suspended for approval: the step finishes when the run resumes
            return
        run.emit(
            PlanStepDone(
                run_id=run.run_id, step_id=step.id, ok=not result.is_error, output=result_text(result)
            )
        )

    async def _answer(self, run: Run) -> None:
        st = run.state
        lines = "\n".join(
            f"[{s.id}] {s.description}: "
            + (
                self._fit(run, st.plan_done[s.id].output, len(st.plan))
                if s.id in st.plan_done
                else "(not done)"
            )
            for s in st.plan
        )
        messages: list[Message] = [
            SystemMessage(
                content=(run.system_prompt() + "\n\n").lstrip() + "Answer the request from the step results. "
                "Cite the steps you used as [s1], [s2]. If a step failed, say what could not be done."
            ),
            UserMessage(content=f"Request: {st.input}\n\nStep results:\n{lines}"),
        ]
        msg = await run.call_model(
            messages, (), output_schema=run.config.output_schema, settings=ModelSettings(tool_choice="none")
        )
        await finish_with_answer(run, msg.content)
