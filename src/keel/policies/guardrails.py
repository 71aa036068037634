"""Guardrails as policies: prompt-injection defence and PII masking.

- ``InjectionGuard`` scans the user's input (blocking or flagging) and every tool result (indirect
  injection: a web page or document telling the model what to do). A flagged tool result is wrapped
  as clearly delimited data (``spotlight``) before the model sees it.
- ``PIIGuard`` masks personal data in the final answer and, optionally, in tool results, so it never
  reaches the model, the log or the user.
Every trip is a ``guardrail_tripped`` event in the run's log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from keel.errors import GuardrailError
from keel.events import Event, GuardrailTripped, ToolResult
from keel.loop.state import RunState
from keel.policies.base import Policy, ToolInvocation, ToolNext

__all__ = ["InjectionGuard", "PIIGuard"]


class InjectionGuard(Policy):
    """Block (``block=True``) or flag hostile input; spotlight hostile tool results."""

    name = "injection_guard"

    def __init__(self, *, block: bool = True, threshold: float = 0.5, scan_tool_results: bool = True) -> None:
        self.block = block
        self.threshold = threshold
        self.scan_tool_results = scan_tool_results

    async def on_input(self, text: str, state: RunState, emit: Callable[[Event], None]) -> None:
        from keel.security.injection import scan_injection

        verdict = scan_injection(text, threshold=self.threshold)
        if not verdict.flagged:
            return
        reason = f"score {verdict.score:.2f}: {', '.join(verdict.reasons)}"
        emit(
            GuardrailTripped(
                run_id=state.run_id, guardrail=self.name, where="input", reason=reason, blocked=self.block
            )
        )
        if self.block:
            raise GuardrailError(f"the message looks like a prompt injection ({reason})", guardrail=self.name)

    async def around_tool(self, inv: ToolInvocation, next: ToolNext) -> ToolResult:
        result = await next(inv)
        if not self.scan_tool_results or result.is_error:
            return result
        from keel.security.injection import scan_injection, spotlight

        text = result.content if isinstance(result.content, str) else str(result.content)
        verdict = scan_injection(text, threshold=self.threshold, tool_names=[inv.tool.name])
        if not verdict.flagged:
            return result
        inv.emit(
            GuardrailTripped(
                run_id=inv.state.run_id,
                guardrail=self.name,
                where="tool_result",
                reason=f"{inv.tool.name}: {', '.join(verdict.reasons)}",
                blocked=False,
            )
        )
        return result.model_copy(update={"content": spotlight(text, source=inv.tool.name)})


class PIIGuard(Policy):
    """Mask PII (emails, phones, cards, SSNs, IBANs, IPs, crypto addresses) in answers and tool results."""

    name = "pii_guard"

    def __init__(
        self,
        *,
        entities: Iterable[str] | None = None,
        mask_output: bool = True,
        mask_tool_results: bool = False,
    ) -> None:
        self.entities = list(entities) if entities is not None else None
        self.mask_output = mask_output
        self.mask_tool_results = mask_tool_results

    def _mask(self, value: Any) -> tuple[Any, bool]:
        from keel.security.pii import mask_pii

        if isinstance(value, str):
            masked = mask_pii(value, self.entities)
            return masked, masked != value
        return value, False

    async def on_output(self, output: Any, state: RunState, emit: Callable[[Event], None]) -> Any:
        if not self.mask_output:
            return output
        masked, changed = self._mask(output)
        if changed:
            emit(
                GuardrailTripped(
                    run_id=state.run_id,
                    guardrail=self.name,
                    where="output",
                    reason="PII masked",
                    blocked=False,
                )
            )
        return masked

    async def around_tool(self, inv: ToolInvocation, next: ToolNext) -> ToolResult:
        result = await next(inv)
        if not self.mask_tool_results:
            return result
        from keel.security.secrets import scrub

        masked = scrub(result.content)
        if masked != result.content:
            inv.emit(
                GuardrailTripped(
                    run_id=inv.state.run_id,
                    guardrail=self.name,
                    where="tool_result",
                    reason="PII masked",
                    blocked=False,
                )
            )
        return result.model_copy(update={"content": masked})
