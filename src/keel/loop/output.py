"""Finishing a run with a final answer: validate it against the output type, or ask again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keel.errors import OutputValidationError
from keel.events import OutputRejected

if TYPE_CHECKING:
    from keel.loop.run import Run

__all__ = ["finish_with_answer"]


async def finish_with_answer(run: Run, text: str) -> None:
    """Validate ``text`` (when the agent has an output type) and finish, or reject it for a retry.

    After ``output_retries`` rejections the run fails with ``OutputValidationError``.
    """
    validate = run.config.validate_output
    if validate is None:
        run.finish(await _guard_output(run, text))
        return
    try:
        value = validate(text)
    except Exception as e:  # the validator's message is what the model needs to fix its answer
        rejected = run.state.output_rejections
        if rejected >= run.config.output_retries:
            raise OutputValidationError(
                f"final answer did not validate after {rejected + 1} attempts: {e}", last_output=text
            ) from None
        run.emit(OutputRejected(run_id=run.run_id, step=run.state.step, error=str(e)[:2000]))
        return
    run.finish(await _guard_output(run, value))


async def _guard_output(run: Run, value: Any) -> Any:
    """Output policies (guardrails, PII masking) see and may rewrite the answer before it is logged."""
    for p in run.config.policies:
        value = await p.on_output(value, run.state, run.emit)
    return value
