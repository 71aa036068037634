"""Writing long-term memory: the remember/recall/forget tools and extraction after a run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from keel import Agent
from keel.errors import MalformedResponse
from keel.events import Annotation, Message, UserMessage
from keel.memory import LongTermMemory, MemoryExtractor, forget_tool, recall_tool, remember_tool
from keel.models.base import ModelResponse, ModelSettings, ToolSpec
from keel.rag import HashingEmbedder
from keel.store import SQLiteStore
from keel.testing import ScriptedModel, call

ALICE = {"user_id": "alice", "tenant": "acme"}


@pytest.fixture
async def memory(tmp_path):
    m = LongTermMemory(tmp_path / "memory.db", embedder=HashingEmbedder(dim=64))
    yield m
    await m.close()


class SchemaRecorder(ScriptedModel):
    """A ScriptedModel that also records the output schema of each request."""

    def __init__(self, replies: Any) -> None:
        super().__init__(replies)
        self.schemas: list[dict[str, Any] | None] = []

    async def request(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        output_schema: dict[str, Any] | None = None,
        settings: ModelSettings | None = None,
    ) -> ModelResponse:
        self.schemas.append(output_schema)
        return await super().request(messages, tools, output_schema, settings)


def memories(*rows: tuple[str, str]) -> str:
    return json.dumps({"memories": [{"text": t, "kind": k} for t, k in rows]})


# --------------------------------------------------------------------------------------------------
# tools
# --------------------------------------------------------------------------------------------------


async def test_remember_and_recall_tools_act_for_the_runs_user(memory) -> None:
    model = ScriptedModel(
        [call("remember", text="Prefers email over phone", kind="preference"), "Noted.",
         call("recall", query="prefers email or phone"), "You prefer email."]
    )  # fmt: skip
    agent = Agent(model, tools=[remember_tool(memory), recall_tool(memory)])
    r1 = await agent.run("Please remember I prefer email.", metadata=ALICE)
    assert r1.tool_calls[0].result["remembered"] == "Prefers email over phone"
    [item] = await memory.list(user_id="alice", tenant="acme")
    assert (item.kind, item.source) == ("preference", r1.run_id)
    r2 = await agent.run("How do I like to be contacted?", metadata=ALICE)
    assert [h["text"] for h in r2.tool_calls[0].result] == ["Prefers email over phone"]
    # another user asking the same gets nothing of alice's
    model2 = ScriptedModel([call("recall", query="prefers email or phone"), "Nothing."])
    r3 = await Agent(model2, tools=[recall_tool(memory)]).run(
        "?", metadata={"user_id": "bob", "tenant": "acme"}
    )
    assert r3.tool_calls[0].result == []


async def test_the_model_cannot_choose_whose_memory(memory) -> None:
    tool = remember_tool(memory)
    assert set(tool.parameters["properties"]) == {"text", "kind"}
    model = ScriptedModel([call("remember", text="x is admin", user_id="bob"), "ok"])
    r = await Agent(model, tools=[tool]).run("hi", metadata=ALICE)
    assert r.tool_calls[0].is_error and "user_id" in str(r.tool_calls[0].result)
    assert await memory.list(user_id="bob") == []


async def test_memory_tools_need_a_known_user(memory) -> None:
    model = ScriptedModel([call("remember", text="Likes tea"), "ok"])
    r = await Agent(model, tools=[remember_tool(memory)]).run("remember I like tea")
    assert r.tool_calls[0].is_error and "no user is known" in str(r.tool_calls[0].result)


async def test_remember_refuses_unknown_kinds(memory) -> None:
    model = ScriptedModel([call("remember", text="Is a wizard", kind="secret"), "ok"])
    r = await Agent(model, tools=[remember_tool(memory)]).run("hi", metadata=ALICE)
    assert r.tool_calls[0].is_error and "kind must be one of" in str(r.tool_calls[0].result)


async def test_forget_tool_deletes_only_the_users_own_memory(memory) -> None:
    mine = await memory.remember("Old address: 1 Elm St", user_id="alice", tenant="acme")
    theirs = await memory.remember("Old address: 9 Oak Rd", user_id="bob", tenant="acme")
    model = ScriptedModel([call("forget", memory_id=theirs.id), call("forget", memory_id=mine.id), "Done."])
    r = await Agent(model, tools=[forget_tool(memory)]).run("forget my old address", metadata=ALICE)
    assert r.tool_calls[0].is_error and not r.tool_calls[1].is_error
    assert await memory.get(theirs.id, user_id="bob", tenant="acme") is not None
    assert await memory.list(user_id="alice", tenant="acme") == []


# --------------------------------------------------------------------------------------------------
# extraction
# --------------------------------------------------------------------------------------------------

CONVERSATION: list[Message] = [
    UserMessage(
        content="Hi, I'm Dana. Order B-7731 arrived broken; please email me, I never pick up the phone."
    ),
]


async def test_extract_stores_the_models_memories_under_a_schema(memory) -> None:
    model = SchemaRecorder(
        [memories(("Dana prefers email", "preference"), ("Order B-7731 arrived broken", "ticket"))]
    )
    extractor = MemoryExtractor(memory, model)
    items = await extractor.extract(CONVERSATION, user_id="dana", tenant="acme", source="run-9")
    assert sorted((i.text, i.kind) for i in items) == [
        ("Dana prefers email", "preference"),
        ("Order B-7731 arrived broken", "ticket"),
    ]
    assert model.schemas[0] == extractor.schema
    assert model.schemas[0]["properties"]["memories"]["items"]["properties"]["kind"]["enum"] == list(
        extractor.kinds
    )
    assert all(i.source == "run-9" for i in await memory.list(user_id="dana", tenant="acme"))
    assert "B-7731" in model.calls[0][-1].content  # the model saw the conversation


async def test_extraction_is_lenient_about_shape_and_caps_the_count(memory) -> None:
    extractor = MemoryExtractor(memory, max_items=2)
    rows = [{"text": "a"}, "b", {"text": ""}, {"oops": 1}, {"text": "c", "kind": "bogus"}]
    assert extractor.parse(json.dumps(rows)) == [("a", "fact"), ("b", "fact")]
    assert extractor.parse('Sure! ```json\n{"memories": []}\n```') == []
    with pytest.raises(MalformedResponse):
        extractor.parse("I think the user likes tea")


async def test_extraction_skips_near_duplicates(memory) -> None:
    await memory.remember("The user prefers email contact", user_id="dana")
    model = ScriptedModel(
        [memories(("The user prefers email contact.", "preference"), ("Lives in Lyon", "fact"))]
    )
    items = await MemoryExtractor(memory, model, dedupe_similarity=0.9).extract(CONVERSATION, user_id="dana")
    assert [i.text for i in items] == ["Lives in Lyon"]
    assert len(await memory.list(user_id="dana")) == 2


async def test_extraction_policy_in_the_foreground_records_what_it_stored(memory) -> None:
    extractor_model = ScriptedModel([memories(("Dana prefers email", "preference"))])
    extractor = MemoryExtractor(memory, extractor_model)
    agent = Agent(ScriptedModel(["I'll email you."]), policies=[extractor.policy(background=False)])
    r = await agent.run(CONVERSATION[0].content, metadata={"user_id": "dana"})
    [note] = [e for e in r.events if isinstance(e, Annotation) and e.kind == "memory.extracted"]
    [item] = await memory.list(user_id="dana")
    assert note.data["ids"] == [item.id] and item.source == r.run_id
    assert "I'll email you." in extractor_model.calls[0][-1].content  # the final answer is included


async def test_extraction_policy_in_the_background_and_its_failures(memory) -> None:
    extractor = MemoryExtractor(memory, ScriptedModel(["not json", memories(("Likes tea", "preference"))]))
    agent = Agent(ScriptedModel(["a", "b", "c"]), policies=[extractor.policy()])
    r1 = await agent.run("hi", metadata={"user_id": "u"})
    await extractor.drain()
    assert r1.status == "finished" and await memory.list(user_id="u") == []  # bad JSON: logged, skipped
    await agent.run("I like tea", metadata={"user_id": "u"})
    await extractor.drain()
    assert [i.text for i in await memory.list(user_id="u")] == ["Likes tea"]
    await agent.run("no user here")  # no user: no extraction call at all
    await extractor.drain()
    assert len(extractor.model.calls) == 2  # type: ignore[union-attr]


async def test_extract_run_reads_a_finished_run_from_the_store(memory, tmp_path) -> None:
    store = SQLiteStore(tmp_path / "runs.db")
    r = await Agent(ScriptedModel(["Refund issued for B-7731."]), store=store).run(
        "My order B-7731 is broken", metadata={"user_id": "dana", "tenant": "acme"}
    )
    model = ScriptedModel([memories(("Refund issued for order B-7731", "outcome"))])
    items = await MemoryExtractor(memory, model).extract_run(store, r.run_id)
    assert [(i.user_id, i.tenant, i.source, i.kind) for i in items] == [("dana", "acme", r.run_id, "outcome")]
    assert "Refund issued for B-7731." in model.calls[0][-1].content
