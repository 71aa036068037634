"""``Agent``: the public entry point. It reads like a table of contents; the loop lives in ``keel.loop``.

>>> from keel import Agent, tool
>>> from keel.testing import ScriptedModel, call
>>> @tool
... async def add(a: int, b: int) -> int:
...     "Add two numbers."
...     return a + b
>>> agent = Agent(ScriptedModel([call("add", a=2, b=3), "5"]), tools=[add])
>>> result = agent.run_sync("What is 2 + 3?")
>>> result.output, result.tool_calls[0].result
('5', 5)
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from keel.errors import ApprovalError, ConfigError, GuardrailError, OutputValidationError, RunError
from keel.events import ApprovalDecided, Event, Message, RunResumed, RunStarted, ToolCall, Usage
from keel.loop.run import Budget, Pattern, Run, RunConfig, drive
from keel.loop.state import RunState
from keel.models import Model, ModelSettings, get_model
from keel.policies.base import Policy
from keel.store.base import RunStore
from keel.store.memory import MemoryStore
from keel.tools._tool import Tool

__all__ = ["Agent", "RunResult", "ToolCallRecord"]

T = TypeVar("T")


@dataclass(slots=True)
class ToolCallRecord:
    """A tool call of a run with its outcome. ``pending_approval`` while a human has not decided."""

    id: str
    name: str
    arguments: dict[str, Any]
    result: Any = None
    is_error: bool = False
    pending_approval: bool = False

    @classmethod
    def all_of(cls, state: RunState) -> list[ToolCallRecord]:
        """Every tool call of a run, in call order, with its result so far (``None`` until it ran).

        The HTTP API's ``RunView`` shows the same records.
        """
        records = []
        for c in state.calls:
            r = state.results.get(c.id)
            records.append(
                cls(
                    id=c.id,
                    name=c.name,
                    arguments=c.arguments,
                    result=r.content if r else None,
                    is_error=r.is_error if r else False,
                    pending_approval=c.id in state.approvals_pending,
                )
            )
        return records


@dataclass
class RunResult(Generic[T]):
    """What a run produced. ``status`` is ``finished`` or ``suspended`` (waiting for an approval)."""

    run_id: str
    output: T | None
    status: str
    events: list[Event]
    usage: Usage
    tool_calls: list[ToolCallRecord]
    session_id: str | None = None
    pending_approvals: list[ToolCall] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    """Application fields (an app's agent adds e.g. ``escalated``); ``keel run --json`` includes them."""

    @classmethod
    def from_state(cls, state: RunState, events: list[Event]) -> RunResult[Any]:
        return cls(
            run_id=state.run_id,
            output=state.output,
            status=state.status,
            events=events,
            usage=state.usage,
            tool_calls=ToolCallRecord.all_of(state),
            session_id=state.session_id,
            pending_approvals=[a.call for a in state.approvals_pending.values()],
        )


_local = threading.local()


def _thread_loop() -> asyncio.AbstractEventLoop:
    """This thread's event loop for the sync API: creating a loop per call costs ~0.3 ms."""
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = _local.loop = asyncio.new_event_loop()
    return loop


def _resolve_pattern(pattern: str | Pattern) -> Pattern:
    if not isinstance(pattern, str):
        return pattern
    if pattern == "react":
        from keel.loop.react import ReAct

        return ReAct()
    if pattern in ("plan_execute", "plan-and-execute"):
        from keel.loop.plan_execute import PlanExecute

        return PlanExecute()
    raise ConfigError(f"unknown pattern {pattern!r}: use 'react', 'plan_execute' or a Pattern instance")


def _output_hooks(output_type: Any) -> tuple[dict[str, Any] | None, Callable[[str], Any] | None]:
    if output_type is None or output_type is str:
        return None, None
    from pydantic import TypeAdapter

    adapter = TypeAdapter(output_type)

    def validate(text: str) -> Any:
        from keel.loop.jsontext import extract_json

        return adapter.validate_json(extract_json(text))

    return adapter.json_schema(), validate


class Agent(Generic[T]):
    """An LLM agent: a model, tools, instructions and a pattern, run as a durable event log.

    ``model`` is a model string (``"local"``, ``"openai:gpt-4o-mini"``, ``"anthropic:…"``) or a
    ``Model``; it is resolved on the first run, so building an agent is cheap.
    """

    def __init__(
        self,
        model: str | Model = "local",
        *,
        tools: Sequence[Tool] = (),
        instructions: str = "",
        pattern: str | Pattern = "react",
        name: str = "agent",
        output_type: type[T] | None = None,
        output_retries: int = 2,
        policies: Sequence[Policy] = (),
        store: RunStore | None = None,
        max_steps: int = 12,
        timeout_s: float | None = None,
        budget: Budget | None = None,
        settings: ModelSettings | None = None,
        context: Any = None,
        tool_path: Any = "auto",
        max_tool_concurrency: int = 8,
        deps: Any = None,
        observers: Sequence[Callable[[Event], None]] = (),
    ) -> None:
        self.name = name
        self._model_spec = model
        self._model: Model | None = model if not isinstance(model, str) else None
        for t in tools:
            if not isinstance(t, Tool):
                raise ConfigError(f"tools must be keel Tools (decorate {t!r} with @tool)")
        self.tools = {t.name: t for t in tools}
        self.instructions = instructions
        self.pattern = _resolve_pattern(pattern)
        self.output_type = output_type
        self.output_retries = output_retries
        self.policies = list(policies)
        self._owns_store = store is None
        self.store: RunStore = store if store is not None else MemoryStore()
        self.max_steps = max_steps
        self.timeout_s = timeout_s
        self.budget = budget or Budget()
        self.settings = settings or ModelSettings()
        self.context = context
        self._tool_path_spec = tool_path
        self.max_tool_concurrency = max_tool_concurrency
        self.deps = deps
        self.observers = list(observers)
        self._output_schema, self._validate = _output_hooks(output_type)
        self._config: RunConfig | None = None

    @property
    def model_spec(self) -> str:
        """The model as configured (a model string, or the model's name), without building it."""
        spec = self._model_spec
        return spec if isinstance(spec, str) else spec.name

    @property
    def model(self) -> Model:
        if self._model is None:
            self._model = get_model(self._model_spec)
        return self._model

    def config(self, *, deps: Any = None, scopes: Sequence[str] | None = None) -> RunConfig:
        """The run configuration (built once; per-run ``deps``/``scopes`` make a copy)."""
        if self._config is None:
            self._config = RunConfig(
                name=self.name,
                model=self.model,
                instructions=self.instructions,
                tools=self.tools,
                pattern=self.pattern,
                policies=self.policies,
                settings=self.settings,
                output_schema=self._output_schema,
                validate_output=self._validate,
                output_retries=self.output_retries,
                max_steps=self.max_steps,
                timeout_s=self.timeout_s,
                budget=self.budget,
                max_tool_concurrency=self.max_tool_concurrency,
                context=self.context,
                tool_path=self._make_tool_path(),
                deps=self.deps,
                observers=self.observers,
            )
        if deps is None and scopes is None:
            return self._config
        from dataclasses import replace

        return replace(
            self._config,
            deps=deps if deps is not None else self._config.deps,
            scopes=frozenset(scopes) if scopes is not None else None,
        )

    def _make_tool_path(self) -> Any:
        spec = self._tool_path_spec
        if spec is None or not self.tools:
            return None
        if spec == "auto":
            if self.model.profile.native_tools:
                return None
            from keel.tools.selection import ToolPath

            return ToolPath.default(list(self.tools.values()))
        return spec

    # -- running -----------------------------------------------------------------------------------

    async def _history(self, session_id: str | None) -> list[Message]:
        if session_id is None:
            return []
        msgs: list[Message] = []
        for rec in await self.store.list_runs(session_id=session_id, limit=1000):
            if rec.status != "finished" or rec.parent_run_id is not None:
                continue
            st = RunState.from_events(rec.run_id, await self.store.events(rec.run_id))
            msgs.extend(st.messages)
        return msgs

    async def _start(
        self,
        message: str,
        session_id: str | None,
        deps: Any,
        metadata: dict[str, Any] | None,
        parent_run_id: str | None,
        scopes: Sequence[str] | None,
        listener: Callable[[Event], None] | None,
        run_id: str | None = None,
    ) -> Run:
        config = self.config(deps=deps, scopes=scopes)
        rid = run_id or os.urandom(16).hex()
        run = Run(
            config,
            RunState(run_id=rid),
            self.store,
            history=await self._history(session_id),
            listener=listener,
        )
        run.emit(
            RunStarted(
                run_id=rid,
                agent=self.name,
                input=message,
                session_id=session_id,
                parent_run_id=parent_run_id,
                pattern=self.pattern.name,
                model=config.model.name,
                metadata=metadata or {},
            )
        )
        await run.flush()  # once accepted, a run exists durably, even if the process dies next
        try:
            for p in config.policies:
                await p.on_input(message, run.state, run.emit)
        except GuardrailError as e:
            run.error = e
            run.fail("guardrail", e)
            await run.flush()
        return run

    async def _finish(self, run: Run) -> RunResult[T]:
        state = await drive(run)
        events = await self.store.events(state.run_id)
        if (
            self._owns_store
            and state.session_id is None
            and state.done
            and isinstance(self.store, MemoryStore)
        ):
            self.store.forget(state.run_id)
        result: RunResult[T] = RunResult.from_state(state, events)
        if state.status == "failed" and state.failure is not None:
            if isinstance(run.error, OutputValidationError):
                run.error.result = result
                raise run.error
            raise RunError(
                state.failure.message, reason=state.failure.reason, run_id=state.run_id, result=result
            )
        return result

    async def run(
        self,
        message: str,
        *,
        session_id: str | None = None,
        deps: Any = None,
        metadata: dict[str, Any] | None = None,
        parent_run_id: str | None = None,
        scopes: Sequence[str] | None = None,
        run_id: str | None = None,
    ) -> RunResult[T]:
        """Run the agent on ``message`` until it answers or suspends for an approval.

        Raises ``RunError`` (with ``reason``: max_steps, budget, timeout, error) when it cannot answer.
        """
        run = await self._start(message, session_id, deps, metadata, parent_run_id, scopes, None, run_id)
        return await self._finish(run)

    def run_sync(self, message: str, **kwargs: Any) -> RunResult[T]:
        """``run`` for code without an event loop (one loop per thread is kept and reused)."""
        return _thread_loop().run_until_complete(self.run(message, **kwargs))

    async def run_stream(
        self,
        message: str,
        *,
        session_id: str | None = None,
        deps: Any = None,
        metadata: dict[str, Any] | None = None,
        parent_run_id: str | None = None,
        run_id: str | None = None,
    ) -> AsyncIterator[Event]:
        """Yield the run's events as they happen, streamed text (``TextDelta``) included.

        A failed run raises ``RunError`` after its ``run_failed`` event has been yielded.
        """
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        run = await self._start(
            message, session_id, deps, metadata, parent_run_id, None, queue.put_nowait, run_id
        )

        async def go() -> None:
            try:
                await self._finish(run)
            finally:
                queue.put_nowait(None)

        task = asyncio.create_task(go())
        while (ev := await queue.get()) is not None:
            yield ev
        await task

    async def resume(
        self,
        run_id: str,
        decision: bool | None = None,
        *,
        call_id: str | None = None,
        reason: str = "",
        by: str = "",
        deps: Any = None,
    ) -> RunResult[T]:
        """Continue a suspended or interrupted run from its log, in this process or any other.

        With ``decision`` (True approves, False denies) it answers the pending approval (``call_id``
        picks one when several wait). Completed steps are not repeated; a side-effecting call that
        started but never recorded a result runs again with the same idempotency key.
        """
        events = await self.store.events(run_id)
        if not events:
            raise RunError(f"no run {run_id!r} in this store", reason="not_found", run_id=run_id)
        state = RunState.from_events(run_id, events)
        if decision is not None and not state.approvals_pending:
            raise ApprovalError(f"run {run_id} has no pending approval (status: {state.status})")
        if state.done:
            return RunResult.from_state(state, events)
        history = await self._history(state.session_id)
        run = Run(self.config(deps=deps), state, self.store, history=history)
        if decision is not None:
            pending = list(state.approvals_pending)
            if not pending:
                raise ApprovalError(f"run {run_id} has no pending approval")
            target = call_id or pending[0]
            if target not in state.approvals_pending:
                raise ApprovalError(f"run {run_id} has no pending approval for call {target!r}")
            run.emit(ApprovalDecided(run_id=run_id, call_id=target, approved=decision, reason=reason, by=by))
        elif state.status == "suspended":
            return RunResult.from_state(state, events)
        run.emit(RunResumed(run_id=run_id))
        return await self._finish(run)

    async def start(
        self,
        message: str,
        *,
        session_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> str:
        """Record a new run without running it (a worker ``advance``s it); returns its id."""
        run = await self._start(message, session_id, None, metadata, None, None, None, run_id)
        return run.run_id

    async def advance(
        self,
        run_id: str,
        *,
        steps: int | None = 1,
        deps: Any = None,
        listener: Callable[[Event], None] | None = None,
    ) -> RunState:
        """Take up to ``steps`` steps of a stored run (all of them with ``None``) and return its state.

        This is what a stateless worker calls: everything it needs is read from the store, and after
        each step the run can move to any other worker. A finished or suspended run is returned as is.
        """
        return await self._advance(run_id, steps=steps, deps=deps, listener=listener)

    async def _advance(
        self,
        run_id: str,
        *,
        steps: int | None = 1,
        deps: Any = None,
        listener: Callable[[Event], None] | None = None,
        wrap_store: Callable[[RunStore, RunState], RunStore] | None = None,
    ) -> RunState:
        # ``wrap_store``: what the step writes through, given the loaded state (a worker's marking
        # store, keel.runtime.worker.advance_live)
        events = await self.store.events(run_id)
        if not events:
            raise RunError(f"no run {run_id!r} in this store", reason="not_found", run_id=run_id)
        state = RunState.from_events(run_id, events)
        if state.done or state.status == "suspended":
            return state
        store = wrap_store(self.store, state) if wrap_store is not None else self.store
        history = await self._history(state.session_id)
        run = Run(self.config(deps=deps), state, store, history=history, listener=listener)
        return await drive(run, steps)

    async def decide(
        self, run_id: str, approved: bool, *, call_id: str | None = None, reason: str = "", by: str = ""
    ) -> RunState:
        """Record a human's decision on a pending approval without running anything (a worker then
        ``advance``s the run). Retries when another writer appended first."""
        from keel.store.base import SeqConflict

        for _ in range(5):
            events = await self.store.events(run_id)
            if not events:
                raise RunError(f"no run {run_id!r} in this store", reason="not_found", run_id=run_id)
            state = RunState.from_events(run_id, events)
            pending = list(state.approvals_pending)
            target = call_id or (pending[0] if pending else None)
            if target is None or target not in state.approvals_pending:
                raise ApprovalError(
                    f"run {run_id} has no pending approval" + (f" for call {call_id!r}" if call_id else "")
                )
            run = Run(self.config(), state, self.store)
            run.emit(ApprovalDecided(run_id=run_id, call_id=target, approved=approved, reason=reason, by=by))
            if not state.approvals_pending:
                run.emit(RunResumed(run_id=run_id))
            try:
                await run.flush()
                return state
            except SeqConflict:
                continue
        raise ApprovalError(f"run {run_id} kept changing while recording the decision; try again")

    def resume_sync(self, run_id: str, decision: bool | None = None, **kwargs: Any) -> RunResult[T]:
        return _thread_loop().run_until_complete(self.resume(run_id, decision, **kwargs))
