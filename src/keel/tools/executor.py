"""Running a model turn's tool calls: approval, permissions, idempotency keys, concurrency, timeouts,
retries and result caps. Every failure becomes an error result the model sees; the run continues.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import TYPE_CHECKING, Any

from keel.errors import ToolError, redact
from keel.events import ApprovalRequested, ToolCall, ToolCallFinished, ToolCallStarted, ToolResult
from keel.policies.base import ToolInvocation, chain_tool
from keel.tools._tool import Tool, ToolContext, ToolValidationError

if TYPE_CHECKING:
    from keel.loop.run import Run

__all__ = ["execute_calls", "idempotency_key"]


def idempotency_key(run_id: str, step: int, index: int) -> str:
    """Stable key of one tool call: the same on retries and after a resume."""
    return hashlib.sha256(f"{run_id}:{step}:{index}".encode()).hexdigest()[:32]


def _error(call: ToolCall, message: str) -> ToolResult:
    return ToolResult(call_id=call.id, name=call.name, content=message, is_error=True)


def _cap(result: ToolResult, limit: int) -> ToolResult:
    content = result.content
    if content is None or isinstance(content, bool | int | float):
        return result
    text = content if isinstance(content, str) else None
    if text is None:
        import json

        try:
            text = json.dumps(content, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            text = str(content)
        if len(text) <= limit:
            return result
    if len(text) <= limit:
        return result
    marker = f"\n…[truncated: {len(text) - limit} of {len(text)} characters removed]"
    return ToolResult(
        call_id=result.call_id,
        name=result.name,
        content=text[:limit] + marker,
        is_error=result.is_error,
        truncated=True,
    )


async def _invoke_core(inv: ToolInvocation) -> ToolResult:
    """Validate, run with timeout and retries; turn every failure into an error result."""
    tool, call = inv.tool, inv.call
    attempts = 1 + max(tool.retries, 0)
    last = ""
    for attempt in range(attempts):
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for creates a Task for every call
            if tool.timeout_s:
                async with asyncio.timeout(tool.timeout_s):
                    value: Any = await tool.invoke(call.arguments, inv.ctx)
            else:
                value = await tool.invoke(call.arguments, inv.ctx)
            if tool.result_schema is not None:
                value = tool.result_schema.model_validate(value).model_dump(mode="json")
            elif hasattr(value, "model_dump"):
                value = value.model_dump(mode="json")
            return _cap(ToolResult(call_id=call.id, name=call.name, content=value), tool.max_result_chars)
        except ToolValidationError as e:
            return _error(call, str(e))
        except ToolError as e:
            return _error(call, redact(str(e)))
        except TimeoutError:
            last = f"tool {tool.name} timed out after {tool.timeout_s}s"
        except Exception as e:  # a tool's bug must not kill the run: the model sees the error
            last = f"tool {tool.name} failed: {type(e).__name__}: {redact(str(e))}"
        if attempt + 1 < attempts:
            await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
    return _error(call, last)


def _gate(run: Run, call: ToolCall, tool: Tool | None) -> ToolResult | None:
    """Checks before a call may run: known tool, permissions, approval. None means go ahead."""
    cfg, st = run.config, run.state
    if tool is None:
        names = ", ".join(sorted(cfg.tools)) or "none"
        return _error(call, f"unknown tool {call.name!r}; available tools: {names}")
    if cfg.scopes is not None and not tool.scopes <= cfg.scopes:
        missing = ", ".join(sorted(tool.scopes - cfg.scopes))
        return _error(call, f"permission denied: tool {tool.name} needs scope(s) {missing}")
    if tool.needs_approval(call.arguments):
        decision = st.approvals.get(call.id)
        if decision is None:
            if call.id not in st.approvals_pending:
                run.emit(
                    ApprovalRequested(
                        run_id=run.run_id, step=st.step, call=call, reason="tool requires approval"
                    )
                )
            return None
        if not decision.approved:
            why = f": {decision.reason}" if decision.reason else ""
            return _error(call, f"a human denied this call{why}. Do not retry it; tell the user.")
    return None


async def execute_calls(run: Run, calls: list[ToolCall]) -> None:
    """Run ``calls`` (one model turn's) concurrently; record start and result events.

    A call that needs approval suspends the run until a decision arrives (``Agent.resume``); calls in
    the same turn that need none still run. A call started before a crash keeps its idempotency key.
    """
    cfg, st = run.config, run.state
    runnable: list[tuple[int, int, Tool, ToolCall, str]] = []
    for call in calls:
        step, index = st.call_origin.get(call.id, (max(st.step - 1, 0), 0))
        tool = cfg.tools.get(call.name)
        gated = _gate(run, call, tool)
        if gated is not None:
            run.emit(ToolCallFinished(run_id=run.run_id, step=step, result=gated))
            continue
        if tool is None or call.id in st.approvals_pending:
            continue
        started = st.started.get(call.id)
        key = (
            started.idempotency_key
            if started and started.idempotency_key
            else idempotency_key(run.run_id, step, index)
        )
        if started is None:
            run.emit(ToolCallStarted(run_id=run.run_id, step=step, call=call, idempotency_key=key))
        runnable.append((step, index, tool, call, key))
    if not runnable:
        return
    await run.flush()  # the start of a side effect is durable before the side effect happens
    invoke = chain_tool(cfg.policies, _invoke_core)
    sem = asyncio.Semaphore(cfg.max_tool_concurrency)

    async def one(step: int, index: int, tool: Tool, call: ToolCall, key: str) -> None:
        ctx = ToolContext(
            run_id=run.run_id,
            step=step,
            call_index=index,
            call_id=call.id,
            idempotency_key=key,
            session_id=st.session_id,
            deps=cfg.deps,
            scopes=cfg.scopes or frozenset(),
            metadata=st.metadata,
        )
        async with sem:
            t0 = time.perf_counter()
            result = await invoke(ToolInvocation(tool=tool, call=call, ctx=ctx, state=st, emit=run.emit))
        run.emit(
            ToolCallFinished(
                run_id=run.run_id, step=step, result=result, duration_ms=(time.perf_counter() - t0) * 1000
            )
        )

    if len(runnable) == 1:
        await one(*runnable[0])
    else:
        await asyncio.gather(*(one(*r) for r in runnable))
