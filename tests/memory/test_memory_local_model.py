"""Memory with the real parts: the local Qwen model (summaries, extraction, exact token budget) and
the local MiniLM embedder (recall by meaning)."""

from __future__ import annotations

import pytest
from memory_helpers import orders_json, tool_turn

from keel.events import AssistantMessage, Message, SystemMessage, UserMessage
from keel.loop.state import RunState
from keel.memory import ContextWindow, LongTermMemory, MemoryExtractor, Summarizer
from keel.memory.context import group_turns

pytestmark = pytest.mark.integration

CONVERSATION: list[Message] = [
    UserMessage(content="Hi, this is Dana Whitfield. My order B-7731 arrived with a cracked screen."),
    AssistantMessage(content="Sorry to hear that, Dana. Would you like a replacement or a refund?"),
    UserMessage(content="A refund please. And contact me by email only, never by phone."),
    AssistantMessage(content="Done: a refund of 249 EUR for order B-7731 is on its way, within 5 days."),
]


@pytest.fixture(scope="module")
def local():  # type: ignore[no-untyped-def]
    pytest.importorskip("llama_cpp")
    from keel.models import get_model

    return get_model("local")


async def test_local_model_summarises_a_short_conversation(local) -> None:  # type: ignore[no-untyped-def]
    result = await Summarizer(max_tokens=120).summarize("", CONVERSATION, local)
    text = result.text.lower()
    assert "b-7731" in text or "7731" in text
    assert "refund" in text
    assert 0 < result.usage.output_tokens <= 120
    assert result.usage.output_tokens < local.count_tokens(CONVERSATION) * 0.8  # condensed, not copied
    assert result.usage.input_tokens > 50


def test_budget_is_exact_with_the_real_tokenizer(local) -> None:  # type: ignore[no-untyped-def]
    history: list[Message] = []
    for i in range(8):
        history += tool_turn(i, orders_json(6), f"Order A-100{i} has shipped.")
    head: list[Message] = [SystemMessage(content="You are the support assistant of Acme.")]
    state = RunState(run_id="r", messages=[UserMessage(content="And my latest order?")])
    window = ContextWindow(prune_tool_tokens=None)
    for budget in (300, 500, 800, 1300):
        window.max_tokens = budget
        msgs = window.build(head, history, state, local)
        assert local.count_tokens(msgs) <= budget
        kept = msgs[1:-1]
        dropped = history[: len(history) - len(kept)]
        if dropped:  # one more turn would not fit, by the model's own count
            start = group_turns(dropped)[-1][0]
            assert local.count_tokens([*head, *dropped[start:], *kept, *state.messages]) > budget


async def test_local_model_extracts_durable_memories(local, tmp_path) -> None:  # type: ignore[no-untyped-def]
    memory = LongTermMemory(tmp_path / "memory.db")
    try:
        items = await MemoryExtractor(memory, local).extract(CONVERSATION, user_id="dana", tenant="acme")
        assert items, "the conversation states a contact preference and a ticket"
        assert any("email" in i.text.lower() or "7731" in i.text for i in items)
        assert {i.user_id for i in await memory.list(user_id="dana", tenant="acme")} == {"dana"}
    finally:
        await memory.close()


async def test_local_embedder_recalls_by_meaning(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    memory = LongTermMemory(tmp_path / "memory.db")
    try:
        await memory.remember("Wants to be reached by e-mail, never by phone", user_id="u", kind="preference")
        await memory.remember("Lives in Lyon, France", user_id="u")
        await memory.remember("Owns a golden retriever called Max", user_id="u")
        hits = await memory.recall("How should we get in touch with this customer?", user_id="u", k=3)
        assert hits[0].kind == "preference"
        assert await memory.recall("How should we get in touch?", user_id="someone-else") == []
    finally:
        await memory.close()
