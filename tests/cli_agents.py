"""Agents for the CLI tests, loaded with ``--agent cli_agents:...``."""

from keel import Agent, tool
from keel.testing import ScriptedModel, call


@tool
async def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def _script(messages, tools):
    return f"The sum is {messages[-1].content}." if messages[-1].role == "tool" else call("add", a=2, b=3)


adder = Agent(ScriptedModel(_script), tools=[add], name="adder")


def make_adder() -> Agent:
    return Agent(ScriptedModel(_script), tools=[add], name="adder")


tools = [add]
