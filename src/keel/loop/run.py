"""``Run``: one run in progress. Emits events, calls the model and tools through the policies, and
drives a pattern's step function until the run finishes, fails or suspends.

The loop in :func:`drive` is deliberately short: every behaviour beyond "take a step, persist it" is a
pattern, a policy or the tool executor.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from keel.errors import KeelError, RunError
from keel.events import (
    AssistantMessage,
    Event,
    Message,
    ModelRequested,
    ModelResponded,
    RunFailed,
    RunFinished,
    SystemMessage,
    TextDelta,
    ToolCall,
)
from keel.loop.state import RunState
from keel.models.base import Model, ModelResponse, ModelSettings, TextChunk, ToolSpec
from keel.policies.base import ModelCall, Policy, chain_model

if TYPE_CHECKING:
    from keel.memory.context import ContextBuilder
    from keel.store.base import RunStore
    from keel.tools._tool import Tool
    from keel.tools.selection import ToolPath

__all__ = ["Budget", "Pattern", "Run", "RunConfig", "drive"]

_log = logging.getLogger("keel.run")


@dataclass(frozen=True, slots=True)
class Budget:
    """Per-run limits. ``None`` means unlimited."""

    max_tokens: int | None = None
    max_cost_usd: float | None = None


class Pattern(Protocol):
    """A step function over the run state. ``step`` does one durable unit of work via ``run``."""

    name: str

    async def step(self, run: Run) -> None: ...


@dataclass
class RunConfig:
    """What a run needs from its agent (the agent is a thin public face over this)."""

    name: str
    model: Model
    instructions: str
    tools: dict[str, Tool]
    pattern: Pattern
    policies: Sequence[Policy] = ()
    settings: ModelSettings = field(default_factory=ModelSettings)
    output_schema: dict[str, Any] | None = None
    validate_output: Callable[[str], Any] | None = None
    output_retries: int = 2
    max_steps: int = 12
    timeout_s: float | None = None
    budget: Budget = field(default_factory=Budget)
    max_tool_concurrency: int = 8
    context: ContextBuilder | None = None
    tool_path: ToolPath | None = None
    deps: Any = None
    scopes: frozenset[str] | None = None
    observers: Sequence[Callable[[Event], None]] = ()
    """Called with every persisted event (metrics, tracing, audit); failures are logged, never raised."""


class Run:
    """A run in progress: its state, its pending events and the means to act."""

    def __init__(
        self,
        config: RunConfig,
        state: RunState,
        store: RunStore,
        *,
        history: Sequence[Message] = (),
        listener: Callable[[Event], None] | None = None,
    ) -> None:
        self.config = config
        self.state = state
        self.store = store
        self.history = list(history)
        self.listener = listener
        self._buffer: list[Event] = []
        self.error: BaseException | None = None
        """The exception that ended the run, if any (kept so callers can re-raise its type)."""
        self._call_model = chain_model(config.policies, self._model_core)

    # -- events ------------------------------------------------------------------------------------

    @property
    def run_id(self) -> str:
        return self.state.run_id

    def emit(self, ev: Event) -> None:
        """Append ``ev`` to the run's log (buffered until ``flush``) and fold it into the state."""
        if isinstance(ev, TextDelta):
            # deltas are not persisted: they carry the seq of the last persisted event, for ordering
            ev.seq = self.state.last_seq
            if self.listener is not None:
                self.listener(ev)
            return
        ev.seq = self.state.last_seq + 1
        self.state.apply(ev)
        self._buffer.append(ev)
        if self.listener is not None:
            self.listener(ev)
        for observe in self.config.observers:
            try:
                observe(ev)
            except Exception:  # an observer's bug must never break a run
                _log.exception("observer %r failed on %s", observe, ev.type)

    async def flush(self) -> None:
        """Persist buffered events. Called after every step and before side effects."""
        if self._buffer:
            batch, self._buffer = self._buffer, []
            await self.store.append(self.run_id, batch)

    # -- model -------------------------------------------------------------------------------------

    def system_prompt(self) -> str:
        return self.config.instructions

    def build_messages(self, extra_system: str = "") -> list[Message]:
        """The prompt: system instructions first (a stable, cacheable prefix), then history and the run."""
        system = self.system_prompt() + (("\n\n" + extra_system) if extra_system else "")
        head: list[Message] = [SystemMessage(content=system)] if system else []
        if self.config.context is not None:
            return self.config.context.build(head, self.history, self.state, self.config.model)
        return [*head, *self.history, *self.state.messages]

    async def request_model(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        *,
        output_schema: dict[str, Any] | None = None,
        settings: ModelSettings | None = None,
    ) -> ModelResponse:
        """Call the model through the policies, recording the request (not the response)."""
        cfg = self.config
        self.emit(
            ModelRequested(
                run_id=self.run_id,
                step=self.state.step,
                model=cfg.model.name,
                n_messages=len(messages),
                n_tools=len(tools),
            )
        )
        call = ModelCall(
            model=cfg.model,
            messages=messages,
            tools=tools,
            output_schema=output_schema,
            settings=cfg.settings.merged(settings),
            state=self.state,
            emit=self.emit,
            stream=self._stream_text if self.listener is not None else None,
        )
        return await self._call_model(call)

    def record_response(self, response: ModelResponse, latency_ms: float = 0.0) -> None:
        """Append a model response to the run (it becomes part of the conversation)."""
        message = response.message
        if message.tool_calls and any(c.id in self.state.call_origin for c in message.tool_calls):
            # some providers reuse ids across turns; ids must be unique within a run
            step = self.state.step
            message = message.model_copy(
                update={
                    "tool_calls": [
                        c.model_copy(update={"id": f"{c.id}-{step}-{i}"})
                        for i, c in enumerate(message.tool_calls)
                    ]
                }
            )
        self.emit(
            ModelResponded(
                run_id=self.run_id,
                step=self.state.step,
                model=response.model or self.config.model.name,
                message=message,
                usage=response.usage,
                finish_reason=response.finish_reason,
                latency_ms=latency_ms,
            )
        )

    async def call_model(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        *,
        output_schema: dict[str, Any] | None = None,
        settings: ModelSettings | None = None,
    ) -> AssistantMessage:
        """Call the model through the policies; record the request and response as events."""
        started = time.perf_counter()
        response = await self.request_model(messages, tools, output_schema=output_schema, settings=settings)
        self.record_response(response, (time.perf_counter() - started) * 1000)
        return response.message

    def _stream_text(self, text: str) -> None:
        self.emit(TextDelta(run_id=self.run_id, text=text))

    async def _model_core(self, call: ModelCall) -> ModelResponse:
        timeout = call.settings.timeout_s
        coro = (
            self._stream_core(call)
            if call.stream is not None
            else call.model.request(call.messages, call.tools, call.output_schema, call.settings)
        )
        if timeout is None:
            return await coro
        try:
            async with asyncio.timeout(timeout):
                return await coro
        except TimeoutError:
            from keel.errors import Timeout

            raise Timeout(
                f"model {call.model.name} did not answer within {timeout}s", provider=call.model.name
            ) from None

    async def _stream_core(self, call: ModelCall) -> ModelResponse:
        final: ModelResponse | None = None
        async for item in call.model.stream(call.messages, call.tools, call.output_schema, call.settings):
            if isinstance(item, TextChunk):
                assert call.stream is not None
                call.stream(item.text)
            else:
                final = item
        if final is None:
            from keel.errors import MalformedResponse

            raise MalformedResponse("stream ended without a final response", provider=call.model.name)
        return final

    async def model_turn(self) -> AssistantMessage:
        """One ReAct-style model turn: the native path, or the small-model tool path."""
        cfg = self.config
        if cfg.tools and cfg.tool_path is not None and not cfg.model.profile.native_tools:
            return await cfg.tool_path.turn(self)
        specs = [t.spec() for t in cfg.tools.values()]
        schema = cfg.output_schema if not specs else None
        return await self.call_model(self.build_messages(), specs, output_schema=schema)

    # -- tools -------------------------------------------------------------------------------------

    async def execute_tools(self, calls: Sequence[ToolCall]) -> None:
        from keel.tools.executor import execute_calls

        await execute_calls(self, list(calls))

    # -- ending ------------------------------------------------------------------------------------

    def finish(self, output: Any) -> None:
        self.emit(RunFinished(run_id=self.run_id, output=output, usage=self.state.usage))

    def fail(self, reason: str, error: BaseException | None = None, message: str = "") -> None:
        self.emit(
            RunFailed(
                run_id=self.run_id,
                reason=reason,
                error_type=type(error).__name__ if error else "",
                message=message or (str(error) if error else reason),
            )
        )


def _check_limits(run: Run) -> RunError | None:
    cfg, st = run.config, run.state
    if st.step >= cfg.max_steps:
        return RunError(f"run stopped after max_steps={cfg.max_steps} model calls", reason="max_steps")
    b = cfg.budget
    if b.max_tokens is not None and st.usage.total_tokens >= b.max_tokens:
        return RunError(f"token budget of {b.max_tokens} spent ({st.usage.total_tokens})", reason="budget")
    if b.max_cost_usd is not None and st.usage.cost_usd >= b.max_cost_usd:
        return RunError(f"cost budget of ${b.max_cost_usd} spent (${st.usage.cost_usd:.4f})", reason="budget")
    return None


async def _steps(run: Run, budget: int | None) -> None:
    taken = 0
    while run.state.status == "running" and (budget is None or taken < budget):
        limit = _check_limits(run)
        if limit is not None:
            run.fail(limit.reason, message=str(limit))
            break
        prepare = getattr(run.config.context, "prepare", None)
        if prepare is not None:  # async context work (summaries, recalled memories) before the step
            await prepare(run)
        await run.config.pattern.step(run)
        await run.flush()
        taken += 1


async def drive(run: Run, steps: int | None = None) -> RunState:
    """Step ``run`` until it finishes, fails or suspends (or ``steps`` steps were taken: a worker
    advancing runs step by step). Errors end the run with a typed reason."""
    try:
        if run.config.timeout_s is None:
            await _steps(run, steps)
        else:
            async with asyncio.timeout(run.config.timeout_s):
                await _steps(run, steps)
    except TimeoutError:
        run.fail("timeout", message=f"run exceeded its timeout of {run.config.timeout_s}s")
    except asyncio.CancelledError:
        run.fail("cancelled", message="run was cancelled")
        await run.flush()
        raise
    except RunError as e:
        run.error = e
        run.fail(e.reason, e)
    except KeelError as e:
        run.error = e
        run.fail("error", e)
    await run.flush()
    return run.state
