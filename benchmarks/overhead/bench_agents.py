"""The benchmark agent, built the same way in each framework with that framework's own test model.

One tool ``add(a: int, b: int)``; the scripted model calls ``add(a=2, b=3)`` on its first turn and,
once it sees the tool result, answers ``"The sum is 5."`` (the answer quotes the tool result, so a
run that skipped the tool fails the check). ``delay_s`` makes every model call await that long (the
concurrency benchmark); ``sync_tool`` defines the tool with ``def`` instead of ``async def``.

Each builder returns a :class:`BenchAgent` with an async and a sync entry point, so the harnesses
never touch framework APIs. Anchor frameworks are imported inside their builder: Keel alone needs
only Keel installed.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

EXPECTED = "The sum is 5."

# Tracing and verbose logging off in every framework, as TARGETS.md's setup requires.
os.environ.setdefault("LANGSMITH_TRACING", "false")
os.environ.setdefault("LANGCHAIN_TRACING_V2", "false")
os.environ.setdefault("LOGFIRE_IGNORE_NO_CONFIG", "1")


@dataclass
class BenchAgent:
    """A framework's agent behind one face: ``arun``/``run_sync`` return the final answer text."""

    framework: str
    version: str
    arun: Callable[[str], Awaitable[str]]
    run_sync: Callable[[str], str]
    steps_per_run: int | None = None
    """Loop steps per run where the framework counts them (Keel: 2 model turns + 1 tool round)."""


def _add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def _aadd(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def _tool_fn(sync_tool: bool) -> Callable[..., Any]:
    fn = _add if sync_tool else _aadd
    # Every framework names the tool after the function; both must be called "add".
    fn.__name__ = "add"
    return fn


# -- Keel --------------------------------------------------------------------------------------------


def keel_agent(*, delay_s: float = 0.0, sync_tool: bool = False) -> BenchAgent:
    """Keel ``Agent`` with ``keel.testing.ScriptedModel`` answering through a function."""
    import keel
    from keel import Agent, tool
    from keel.events import AssistantMessage, ToolCall, ToolMessage
    from keel.testing import ScriptedModel

    call_add = AssistantMessage(tool_calls=[ToolCall(id="call_1", name="add", arguments={"a": 2, "b": 3})])

    def reply(messages: Any, tools: Any) -> AssistantMessage:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            return AssistantMessage(content=f"The sum is {last.content}.")
        return call_add

    model = ScriptedModel(reply, delay_s=delay_s)
    agent: Agent[str] = Agent(model, tools=[tool(_tool_fn(sync_tool))])

    async def arun(prompt: str) -> str:
        result = await agent.run(prompt)
        # ScriptedModel records every request for test assertions; a real provider keeps nothing,
        # so the record is dropped to measure the framework rather than the test double.
        model.calls.clear()
        return str(result.output)

    def run_sync(prompt: str) -> str:
        result = agent.run_sync(prompt)
        model.calls.clear()
        return str(result.output)

    return BenchAgent("Keel", keel.__version__, arun, run_sync, steps_per_run=3)


# -- LangGraph -------------------------------------------------------------------------------------


def langgraph_agent(*, delay_s: float = 0.0, sync_tool: bool = False) -> BenchAgent:
    """LangGraph ``create_react_agent`` over a minimal custom ``BaseChatModel``."""
    import warnings
    from importlib.metadata import version

    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
    from langchain_core.outputs import ChatGeneration, ChatResult
    from langchain_core.tools import tool as lc_tool

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_react_agent is deprecated in favour of langchain.agents
        from langgraph.prebuilt import create_react_agent

    class ScriptedChat(BaseChatModel):
        delay_s: float = 0.0

        @property
        def _llm_type(self) -> str:
            return "scripted"

        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self

        def _reply(self, messages: list[BaseMessage]) -> ChatResult:
            last = messages[-1]
            if isinstance(last, ToolMessage):
                msg = AIMessage(content=f"The sum is {last.content}.")
            else:
                msg = AIMessage(
                    content="", tool_calls=[{"name": "add", "args": {"a": 2, "b": 3}, "id": "call_1"}]
                )
            return ChatResult(generations=[ChatGeneration(message=msg)])

        def _generate(
            self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
        ) -> ChatResult:
            if self.delay_s:
                time.sleep(self.delay_s)
            return self._reply(messages)

        async def _agenerate(
            self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
        ) -> ChatResult:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            return self._reply(messages)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = create_react_agent(ScriptedChat(delay_s=delay_s), tools=[lc_tool(_tool_fn(sync_tool))])

    async def arun(prompt: str) -> str:
        state = await graph.ainvoke({"messages": [("user", prompt)]})
        return str(state["messages"][-1].content)

    def run_sync(prompt: str) -> str:
        state = graph.invoke({"messages": [("user", prompt)]})
        return str(state["messages"][-1].content)

    return BenchAgent("LangGraph", version("langgraph"), arun, run_sync)


# -- Pydantic AI -----------------------------------------------------------------------------------


def pydantic_ai_agent(*, delay_s: float = 0.0, sync_tool: bool = False) -> BenchAgent:
    """Pydantic AI ``Agent`` over ``FunctionModel``, instrumentation off."""
    from importlib.metadata import version

    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    def reply(messages: list[ModelMessage]) -> ModelResponse:
        for part in messages[-1].parts:
            if isinstance(part, ToolReturnPart):
                return ModelResponse(parts=[TextPart(f"The sum is {part.content}.")])
        return ModelResponse(parts=[ToolCallPart("add", {"a": 2, "b": 3}, tool_call_id="call_1")])

    def fn(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return reply(messages)

    async def afn(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        await asyncio.sleep(delay_s)
        return reply(messages)

    Agent.instrument_all(False)  # the default, stated: no OpenTelemetry spans
    agent = Agent(FunctionModel(afn if delay_s else fn))
    agent.tool_plain(_tool_fn(sync_tool))

    async def arun(prompt: str) -> str:
        return str((await agent.run(prompt)).output)

    def run_sync(prompt: str) -> str:
        return str(agent.run_sync(prompt).output)

    return BenchAgent("Pydantic AI", version("pydantic-ai-slim"), arun, run_sync)


BUILDERS: dict[str, Callable[..., BenchAgent]] = {
    "keel": keel_agent,
    "langgraph": langgraph_agent,
    "pydantic_ai": pydantic_ai_agent,
}
ANCHORS = ("langgraph", "pydantic_ai")
