"""BFCL (Berkeley Function Calling Leaderboard) single-turn categories, scored by BFCL's AST checker.

Data comes from the installed ``bfcl-eval`` package (``bfcl_eval/data/BFCL_v4_<category>.json`` and
``possible_answer/``); nothing is copied or downloaded. Two modes:

- ``raw``: the model alone, one request with every function as a tool and ``tool_choice="auto"``,
  in its own chat template (Qwen's ``<tool_call>`` format for the local model);
- ``keel``: Keel's tool path, as an agent runs it: embedding routing over the functions, the model
  asked only for the chosen function's arguments under its JSON-schema grammar, then the grounding
  check. An irrelevance item passes when the path decides that no tool fits.

Functions are converted to JSON schema the way BFCL converts them for function-calling models
(``bfcl_eval.model_handler.utils.convert_to_tool`` with ``GORILLA_TO_OPENAPI``; dots in names become
underscores and are mapped back before checking).

>>> spec = to_json_schema({"type": "dict", "properties": {"x": {"type": "float", "description": "X."}}})
>>> spec["type"], spec["properties"]["x"]["type"]
('object', 'number')
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.bench._common import OneTurn, Progress, events_json, messages_json, stderr_progress
from keel.bench._schema_tool import SchemaTool
from keel.bench.bfcl_check import check_calls
from keel.bench.results import ItemResult
from keel.errors import ConfigError, KeelError
from keel.events import AssistantMessage, Message, SystemMessage, ToolCall, ToolStage, UserMessage

if TYPE_CHECKING:
    from keel.models.base import Model

__all__ = [
    "CATEGORIES",
    "BfclItem",
    "BfclRunner",
    "data_dir",
    "load_items",
    "replay_gold_bfcl",
    "run_bfcl",
    "to_json_schema",
]

CATEGORIES = (
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
    "live_simple",
    "live_multiple",
    "live_irrelevance",
)
_PY_HINT = " Note that the provided function is in Python 3 syntax."
# bfcl_eval.constants.type_mappings.GORILLA_TO_OPENAPI, for when only the data is importable
_TYPES = {
    "integer": "integer", "number": "number", "float": "number", "string": "string", "boolean": "boolean",
    "bool": "boolean", "array": "array", "list": "array", "dict": "object", "object": "object",
    "tuple": "array", "any": "string", "byte": "integer", "short": "integer", "long": "integer",
    "double": "number", "char": "string", "ArrayList": "array", "Array": "array", "HashMap": "object",
    "Hashtable": "object", "Queue": "array", "Stack": "array", "Any": "string", "String": "string",
    "Bigint": "integer",
}  # fmt: skip
_MAX_TOKENS = 384  # room for a few parallel calls; irrelevance answers are cut short instead of rambling


@dataclass
class BfclItem:
    """One BFCL entry: the conversation, its function documents and the accepted answers."""

    id: str
    category: str
    messages: list[dict[str, Any]]
    functions: list[dict[str, Any]]
    ground_truth: Any = None


def data_dir() -> Path:
    """Where the installed ``bfcl-eval`` keeps its data (``ConfigError`` when it is not installed)."""
    import importlib.util

    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("BFCL needs the `bfcl-eval` package: pip install --no-deps 'bfcl-eval==2026.3.23'")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_items(category: str, *, limit: int | None = None, offset: int = 0) -> list[BfclItem]:
    """The first ``limit`` items of ``category`` after ``offset``, in the file's order.

    >>> [i.id for i in load_items("simple_python", limit=2)]  # doctest: +SKIP
    ['simple_python_0', 'simple_python_1']
    """
    if category not in CATEGORIES:
        raise ConfigError(f"unknown BFCL category {category!r}: use one of {', '.join(CATEGORIES)}")
    base = data_dir()
    rows = _read_lines(base / f"BFCL_v4_{category}.json")
    end = None if limit is None else offset + limit
    rows = rows[offset:end]
    answers: dict[str, Any] = {}
    answer_file = base / "possible_answer" / f"BFCL_v4_{category}.json"
    if "irrelevance" not in category:
        answers = {a["id"]: a["ground_truth"] for a in _read_lines(answer_file)}
    items = []
    for r in rows:
        functions = copy.deepcopy(r["function"])
        for f in functions:  # as bfcl's add_language_specific_hint_to_function_doc does for Python
            f["description"] = f.get("description", "") + _PY_HINT
        items.append(BfclItem(r["id"], category, r["question"][0], functions, answers.get(r["id"])))
    return items


def _cast(properties: dict[str, Any]) -> dict[str, Any]:
    """BFCL's ``_cast_to_openai_type``: Gorilla types to JSON-schema types, recursively."""
    for value in properties.values():
        kind = value.get("type", "string")
        if kind == "float":
            value["format"] = "float"
            value["description"] = value.get("description", "") + " This is a float type value."
        value["type"] = _TYPES.get(kind, "string")
        if value["type"] in ("array", "object"):
            if "properties" in value:
                value["properties"] = _cast(value["properties"])
            elif "items" in value:
                items = value["items"]
                items["type"] = _TYPES.get(items.get("type", "string"), "string")
                if items["type"] == "array" and "items" in items:
                    items["items"]["type"] = _TYPES.get(items["items"].get("type", "string"), "string")
                elif items["type"] == "object" and "properties" in items:
                    items["properties"] = _cast(items["properties"])
    return properties


def to_json_schema(parameters: dict[str, Any]) -> dict[str, Any]:
    """A BFCL ``parameters`` block as the JSON schema a function-calling model is given."""
    out = copy.deepcopy(parameters)
    out["type"] = "object"
    out["properties"] = _cast(out.get("properties", {}))
    return out


def _safe_name(name: str) -> str:
    return re.sub(r"\.", "_", name)


def build_tools(item: BfclItem) -> tuple[list[SchemaTool], dict[str, str]]:
    """Keel tools for the item's functions, and the map from tool name back to BFCL's name."""
    tools, names = [], {}
    for f in item.functions:
        safe = _safe_name(f["name"])
        names[safe] = f["name"]
        tools.append(SchemaTool(safe, f.get("description", ""), to_json_schema(f.get("parameters", {}))))
    return tools, names


def _messages(raw: list[dict[str, Any]]) -> list[Message]:
    out: list[Message] = []
    for m in raw:
        role, content = m.get("role"), str(m.get("content") or "")
        if role == "system":
            out.append(SystemMessage(content=content))
        elif role == "assistant":
            out.append(AssistantMessage(content=content))
        else:
            out.append(UserMessage(content=content))
    return out


def _decode(calls: Sequence[ToolCall], names: dict[str, str]) -> list[dict[str, Any]]:
    return [{names.get(c.name, c.name): dict(c.arguments)} for c in calls]


class BfclRunner:
    """Runs BFCL items on one model in one mode; reuse it across items (the model stays loaded)."""

    def __init__(self, model: Model, mode: str = "keel") -> None:
        if mode not in ("raw", "keel"):
            raise ConfigError(f"unknown mode {mode!r}: use 'raw' or 'keel'")
        self.model = model
        self.mode = mode
        self._path_template: Any = None

    async def run_item(self, item: BfclItem) -> ItemResult:
        """Ask the model, grade the calls with BFCL's checker; errors become failed items."""
        started = time.perf_counter()
        try:
            if self.mode == "raw":
                calls, usage, trace, note = await self._raw(item)
            else:
                calls, usage, trace, note = await self._keel(item)
        except Exception as e:  # one odd item (a schema the grammar cannot express) must not end the run
            result = getattr(e, "result", None)
            trace = {"mode": self.mode, "events": events_json(result.events)} if result is not None else None
            why = f"error: {e}" if isinstance(e, KeelError) else f"error: {type(e).__name__}: {e}"
            return ItemResult(item.id, item.category, False, why=why[:400], latency_s=time.perf_counter() - started,
                              expected=item.ground_truth, trace=trace)  # fmt: skip
        latency = time.perf_counter() - started
        _, names = build_tools(item)
        decoded = _decode(calls, names)
        ok, why = check_calls(item.category, item.functions, decoded, item.ground_truth)
        if not ok and not decoded and note:
            why = f"{why} ({note})"
        return ItemResult(
            item.id, item.category, ok, why=why, latency_s=latency,
            input_tokens=usage[0], output_tokens=usage[1], output=decoded, expected=item.ground_truth,
            detail={"mode": self.mode, "note": note} if note else {"mode": self.mode}, trace=trace,
        )  # fmt: skip

    async def _raw(self, item: BfclItem) -> tuple[list[ToolCall], tuple[int, int], Any, str]:
        from keel.models.base import ModelSettings

        tools, _ = build_tools(item)
        messages = _messages(item.messages)
        settings = ModelSettings(tool_choice="auto", max_tokens=_MAX_TOKENS, temperature=0.0)
        resp = await self.model.request(messages, [t.spec() for t in tools], settings=settings)
        trace = {
            "mode": "raw",
            "messages": messages_json(messages),
            "tools": [t.spec().model_dump() for t in tools],
            "response": resp.model_dump(mode="json"),
        }
        note = "" if resp.message.tool_calls else f"answered in text: {resp.message.content[:160]!r}"
        return list(resp.message.tool_calls), (resp.usage.input_tokens, resp.usage.output_tokens), trace, note

    def _tool_path(self, tools: list[SchemaTool]) -> Any:
        from keel.tools.selection import BM25Scorer, EmbeddingScorer, ToolPath

        if self._path_template is None:
            self._path_template = ToolPath.default(tools)  # the path an Agent would pick by itself
        tpl = self._path_template
        # a fresh scorer per item: its embedding cache is keyed by tool names, which items reuse
        scorer = (
            EmbeddingScorer(tpl.scorer.embedder) if isinstance(tpl.scorer, EmbeddingScorer) else BM25Scorer()
        )
        return replace(tpl, scorer=scorer)

    async def _keel(self, item: BfclItem) -> tuple[list[ToolCall], tuple[int, int], Any, str]:
        from keel.agent import Agent
        from keel.models.base import ModelSettings

        tools, _ = build_tools(item)
        system = "\n\n".join(str(m.get("content") or "") for m in item.messages if m.get("role") == "system")
        convo = [m for m in item.messages if m.get("role") != "system"]
        message = str(convo[-1].get("content") or "") if convo else ""
        if len(convo) > 1:  # a few live items carry earlier turns: give them as a transcript
            earlier = "\n".join(f"{m.get('role')}: {m.get('content')}" for m in convo[:-1])
            message = f"Earlier in this conversation:\n{earlier}\n\n{message}"
        agent: Agent[str] = Agent(
            self.model, tools=tools, instructions=system, pattern=OneTurn(), name="bfcl",
            settings=ModelSettings(max_tokens=_MAX_TOKENS, temperature=0.0), tool_path=self._tool_path(tools),
        )  # fmt: skip
        result = await agent.run(message)
        calls = [ToolCall(id=c.id, name=c.name, arguments=c.arguments) for c in result.tool_calls]
        return calls, (result.usage.input_tokens, result.usage.output_tokens), {
            "mode": "keel", "events": events_json(result.events)}, _path_note(result.events)  # fmt: skip


def _path_note(events: Sequence[Any]) -> str:
    """Why the tool path made no call, from its ``tool_stage`` events."""
    for ev in events:
        if isinstance(ev, ToolStage):
            if ev.stage == "select" and not ev.detail.get("candidates"):
                top = next(iter(ev.detail.get("scores", {}).items()), ("-", 0.0))
                return f"router: no tool above min_score (best {top[0]}={top[1]})"
            if ev.stage == "fill" and ev.detail.get("error"):
                return f"fill of {ev.detail.get('tool')} failed: {ev.detail['error'][:160]}"
            if ev.stage == "check" and not ev.detail.get("ok"):
                return f"grounding check: {', '.join(ev.detail.get('missing', []))} not in the conversation"
    return ""


async def run_bfcl(
    model: Model,
    *,
    categories: Sequence[str] = CATEGORIES,
    mode: str = "keel",
    limit: int | None = None,
    offset: int = 0,
    progress: Progress | None = stderr_progress,
) -> list[ItemResult]:
    """Run ``limit`` items (after ``offset``) of each category; returns one result per item.

    >>> rows = await run_bfcl(get_model("local"), categories=["simple_python"], limit=5)  # doctest: +SKIP
    """
    runner = BfclRunner(model, mode)
    out: list[ItemResult] = []
    for cat in categories:
        for item in load_items(cat, limit=limit, offset=offset):
            res = await runner.run_item(item)
            out.append(res)
            if progress is not None:
                mark = "ok " if res.ok else "FAIL"
                progress(f"[bfcl {mode}] {mark} {res.id} {res.latency_s:.1f}s {res.why[:100]}")
    return out


def replay_gold_bfcl(
    *, categories: Sequence[str] = CATEGORIES, limit: int | None = None, offset: int = 0
) -> list[ItemResult]:
    """Check the checker: each item's gold answer must pass and a one-value corruption must fail.

    No model runs; this proves ``bfcl_eval``'s AST checker loads and agrees with BFCL's answer keys.
    For irrelevance items "gold" is making no call and the corruption is calling the first function.
    """
    from keel.bench.bfcl_check import corrupt, gold_calls

    out = []
    for cat in categories:
        for item in load_items(cat, limit=limit, offset=offset):
            started = time.perf_counter()
            if "irrelevance" in cat:
                gold: list[dict[str, Any]] = []
                bad: list[dict[str, Any]] = (
                    [{item.functions[0]["name"]: {}}] if item.functions else [{"f": {}}]
                )
            else:
                gold = gold_calls(item.ground_truth, item.functions)
                bad = corrupt(gold)
            ok_gold, why_gold = check_calls(cat, item.functions, gold, item.ground_truth)
            ok_bad, _ = check_calls(cat, item.functions, bad, item.ground_truth)
            problems = ([] if ok_gold else [f"gold answer rejected: {why_gold}"]) + (
                ["corrupted answer accepted"] if ok_bad else []
            )
            out.append(ItemResult(item.id, cat, not problems, why="; ".join(problems)[:400],
                                  latency_s=time.perf_counter() - started, output=gold, expected=item.ground_truth,
                                  detail={"corrupted": bad}))  # fmt: skip
    return out
