"""Long-term memory in an agent's prompt: remembered in one session, recalled in the next, for the
same user only (ScriptedModel, real SQLite)."""

from __future__ import annotations

import pytest
from memory_helpers import PreparedReAct

from keel import Agent
from keel.events import Message, SystemMessage
from keel.memory import ContextWindow, LongTermMemory, MemoryProvider, remember_tool
from keel.models.base import ToolSpec
from keel.rag import HashingEmbedder
from keel.store import SQLiteStore
from keel.testing import ScriptedModel, call


@pytest.fixture
async def memory(tmp_path):
    m = LongTermMemory(tmp_path / "memory.db", embedder=HashingEmbedder(dim=64))
    yield m
    await m.close()


class Recorder:
    def __init__(self, script: list[object]) -> None:
        self.systems: list[str] = []
        self.script = list(script)
        self.model = ScriptedModel(self.reply)

    def reply(self, messages: list[Message], tools: list[ToolSpec]) -> object:
        self.systems.append("\n".join(m.content for m in messages if isinstance(m, SystemMessage)))
        return self.script.pop(0)


@pytest.mark.parametrize("route", ["policy", "prepare-hook"])
async def test_memories_reach_the_prompt_of_their_user_only(memory, tmp_path, route: str) -> None:
    rec = Recorder(
        [call("remember", text="Prefers email updates about refund status", kind="preference"), "Noted.",
         "We will email you about the refund status.", "How can I help?"]
    )  # fmt: skip
    window = ContextWindow(2000, providers=[MemoryProvider(memory, min_similarity=0.1)])
    extra = {"policies": [window.policy()]} if route == "policy" else {"pattern": PreparedReAct(window)}
    agent = Agent(
        rec.model,
        instructions="You are Acme's support assistant.",
        tools=[remember_tool(memory)],
        context=window,
        store=SQLiteStore(tmp_path / "runs.db"),
        **extra,
    )
    alice = {"user_id": "alice", "tenant": "acme"}
    await agent.run("Please send me email updates about my refund status.", session_id="s1", metadata=alice)
    assert "What you remember" not in rec.systems[0]  # nothing remembered yet
    # a new session, days later: the memory is recalled into the system prompt
    await agent.run("Any news on my refund status?", session_id="s2", metadata=alice)
    assert rec.systems[2].startswith("You are Acme's support assistant.")
    assert "- Prefers email updates about refund status (preference" in rec.systems[2]
    # another user of the same tenant asking the same question sees none of it
    await agent.run(
        "Any news on my refund status?", session_id="s3", metadata={"user_id": "bob", "tenant": "acme"}
    )
    assert "Prefers email" not in rec.systems[3]


async def test_a_failing_provider_does_not_stop_the_run(tmp_path) -> None:
    class Broken:
        async def provide(self, state: object, conversation: object) -> str:
            raise ConnectionError("memory database is down")

    window = ContextWindow(2000, providers=[Broken()])
    agent = Agent(ScriptedModel(["fine"]), context=window, policies=[window.policy()])
    r = await agent.run("hi")
    assert r.output == "fine"


async def test_the_policy_passes_through_when_the_window_is_not_the_context() -> None:
    window = ContextWindow(50)
    model = ScriptedModel(["ok"])
    r = await Agent(model, instructions="x " * 200, policies=[window.policy()]).run("hi")
    assert r.output == "ok" and model.count_tokens(model.calls[0]) > 50  # untouched, not cut
