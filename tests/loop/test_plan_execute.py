"""Plan-and-Execute on the scripted model: planning, concurrent steps, replanning, citations."""

from __future__ import annotations

import asyncio
import json

from keel import Agent, ToolError, tool
from keel.events import SystemMessage
from keel.testing import ScriptedModel, call


def planner_reply(steps: list[dict]) -> str:
    return json.dumps({"steps": steps})


async def test_plan_runs_independent_steps_concurrently_and_cites_them() -> None:
    running = 0
    peak = 0

    @tool
    async def lookup(city: str) -> str:
        """Weather for a city."""
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1
        return f"{city}: sunny"

    def script(messages, tools):
        system = messages[0].content if isinstance(messages[0], SystemMessage) else ""
        user = messages[-1].content
        if "planner" in system:
            return planner_reply(
                [
                    {"id": "s1", "description": "weather in Oslo", "tool": "lookup"},
                    {"id": "s2", "description": "weather in Rome", "tool": "lookup"},
                    {"id": "s3", "description": "compare", "depends_on": ["s1", "s2"]},
                ]
            )
        if tools:
            city = "Oslo" if "weather in Oslo" in user else "Rome"
            return call("lookup", city=city)
        if "Step results" in user:
            return "Both are sunny [s1] [s2], compared in [s3]."
        return "same weather"

    result = await Agent(ScriptedModel(script), tools=[lookup], pattern="plan_execute").run(
        "Compare Oslo and Rome"
    )
    assert peak == 2  # s1 and s2 ran at the same time; s3 waited for both
    done = [e for e in result.events if e.type == "plan_step_done"]
    assert [e.step_id for e in done][-1] == "s3" and {e.step_id for e in done} == {"s1", "s2", "s3"}
    assert {e.output for e in done if e.step_id != "s3"} == {"Oslo: sunny", "Rome: sunny"}
    assert "[s1]" in result.output and "[s2]" in result.output


async def test_failed_step_triggers_a_replan_that_keeps_finished_steps() -> None:
    @tool
    async def fetch(source: str) -> str:
        """Fetch a source."""
        if source == "primary":
            raise ToolError("primary is down")
        return f"data from {source}"

    plans = iter(
        [
            planner_reply(
                [
                    {"id": "s1", "description": "fetch primary", "tool": "fetch"},
                    {"id": "s2", "description": "summarise", "depends_on": ["s1"]},
                ]
            ),
            planner_reply(
                [
                    {"id": "s1", "description": "fetch backup", "tool": "fetch"},
                    {"id": "s2", "description": "summarise", "depends_on": ["s1"]},
                ]
            ),
        ]
    )

    def script(messages, tools):
        system = messages[0].content
        user = messages[-1].content
        if "planner" in system:
            return next(plans)
        if tools:
            return call("fetch", source="backup" if "backup" in user else "primary")
        if "Step results" in user:
            return "Done via backup [r1-s1]."
        return "summary of backup data"

    result = await Agent(ScriptedModel(script), tools=[fetch], pattern="plan_execute").run("get the data")
    plans_made = [e for e in result.events if e.type == "plan_created"]
    assert [p.revision for p in plans_made] == [0, 1]
    assert [s.id for s in plans_made[1].steps] == ["r1-s1", "r1-s2"]
    outcomes = {e.step_id: e.ok for e in result.events if e.type == "plan_step_done"}
    assert outcomes == {"s1": False, "r1-s1": True, "r1-s2": True}
    assert result.output == "Done via backup [r1-s1]."


async def test_invalid_plan_falls_back_to_a_single_step() -> None:
    def script(messages, tools):
        if "planner" in messages[0].content:
            return "I will just do it"
        if "Step results" in messages[-1].content:
            return "final"
        return "did it"

    result = await Agent(ScriptedModel(script), pattern="plan_execute").run("do the thing")
    plan = next(e for e in result.events if e.type == "plan_created")
    assert [s.description for s in plan.steps] == ["do the thing"]
    assert result.output == "final"


async def test_long_step_results_are_cut_to_fit_the_models_context() -> None:
    from keel.models.base import ModelProfile

    prompts: list[int] = []

    def script(messages, tools):
        system = messages[0].content if isinstance(messages[0], SystemMessage) else ""
        user = messages[-1].content
        prompts.append(model.count_tokens(messages))
        if "planner" in system:
            return planner_reply(
                [{"id": f"s{i}", "description": f"write part {i}"} for i in range(1, 7)]
                + [{"id": "s7", "description": "merge", "depends_on": [f"s{i}" for i in range(1, 7)]}]
            )
        if "Step results" in user:
            return "Merged [s7]."
        return f"PART-START {'word ' * 3000} PART-END"  # ~3000 tokens per step

    model = ScriptedModel(script)
    model.profile = ModelProfile(native_tools=True, context_window=2048)
    result = await Agent(model, pattern="plan_execute").run("Write a long report")
    assert result.output == "Merged [s7]."
    assert max(prompts) <= 2048  # the merge step and the answer saw all 6 results, each cut to a share
    done = {e.step_id: e.output for e in result.events if e.type == "plan_step_done"}
    assert done["s1"].endswith("PART-END")  # the event keeps the whole output; only prompts are cut


async def test_a_planner_answer_cut_off_mid_json_becomes_a_one_step_plan() -> None:
    from keel.errors import MalformedResponse

    def script(messages, tools):
        system = messages[0].content if isinstance(messages[0], SystemMessage) else ""
        if "planner" in system:
            return MalformedResponse("structured output is not complete JSON", snippet='{"steps": [{"id"')
        if "Step results" in messages[-1].content:
            return "Done [s1]."
        return "worked on it"

    result = await Agent(ScriptedModel(script), pattern="plan_execute").run("Do the thing")
    plans = [e for e in result.events if e.type == "plan_created"]
    assert [s.description for s in plans[0].steps] == ["Do the thing"]
    notes = [e.output for e in result.events if e.type == "plan_step_done" and e.step_id == "plan"]
    assert notes and "planner output invalid" in notes[0] and "complete JSON" in notes[0]
    assert result.output == "Done [s1]."


async def test_repeated_plan_steps_and_ids_are_made_distinct() -> None:
    def script(messages, tools):
        system = messages[0].content if isinstance(messages[0], SystemMessage) else ""
        if "planner" in system:
            return planner_reply(
                [
                    {"id": "look", "description": "Look it up"},
                    {"id": "look", "description": "Summarise"},
                    {"id": "again", "description": "look  it UP"},  # a repeat of the first step
                    {"id": "end", "description": "Answer", "depends_on": ["again", "look"]},
                ]
            )
        if "Step results" in messages[-1].content:
            return "ok"
        return "step output"

    result = await Agent(ScriptedModel(script), pattern="plan_execute").run("x")
    steps = [e for e in result.events if e.type == "plan_created"][0].steps
    assert [(s.id, s.description) for s in steps] == [
        ("look", "Look it up"),
        ("s2", "Summarise"),
        ("end", "Answer"),
    ]
    assert steps[2].depends_on == ["look"]  # "again" was the repeat of "look"; duplicates collapse


async def test_a_replan_drops_repeated_steps_too() -> None:
    @tool
    async def fetch(source: str) -> str:
        """Fetch a source."""
        if source == "primary":
            raise ToolError("primary is down")
        return f"data from {source}"

    plans = iter(
        [
            planner_reply([{"id": "s1", "description": "fetch primary", "tool": "fetch"}]),
            planner_reply(
                [
                    {"id": "s1", "description": "fetch backup", "tool": "fetch"},
                    {"id": "s2", "description": "Fetch  backup", "tool": "fetch"},  # a repeat
                ]
            ),
        ]
    )

    def script(messages, tools):
        if "planner" in messages[0].content:
            return next(plans)
        if tools:
            return call("fetch", source="backup" if "backup" in messages[-1].content else "primary")
        return "Done [r1-s1]."

    result = await Agent(ScriptedModel(script), tools=[fetch], pattern="plan_execute").run("get the data")
    replan = [e for e in result.events if e.type == "plan_created"][1]
    assert [s.id for s in replan.steps] == ["r1-s1"]
