"""ReAct: think, act, observe. The model answers or calls tools; tool results go back to it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel.events import Thought
from keel.loop.output import finish_with_answer

if TYPE_CHECKING:
    from keel.loop.run import Run

__all__ = ["ReAct"]


class ReAct:
    """The default pattern. Each step is either one model turn or one round of tool calls.

    Text the model writes beside its tool calls is recorded as a visible ``thought`` event.
    """

    name = "react"

    async def step(self, run: Run) -> None:
        pending = run.state.pending_calls
        if pending:
            await run.execute_tools(pending)
            return
        msg = await run.model_turn()
        if msg.tool_calls:
            if msg.content.strip():
                run.emit(Thought(run_id=run.run_id, step=run.state.step - 1, text=msg.content.strip()))
            return
        await finish_with_answer(run, msg.content)
