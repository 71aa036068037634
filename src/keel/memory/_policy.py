"""``ContextPolicy``: runs a ``ContextWindow``'s async preparation around model calls.

The loop's synchronous ``build_messages`` cannot await the model; this policy does the awaiting
(recall memories, refresh the summary) just before the request and, when that changed the context,
rebuilds the messages the window itself built. Messages another stage assembled are left as they
are: the refreshed context reaches them on the next call.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from keel.policies.base import ModelCall, ModelNext, Policy

if TYPE_CHECKING:
    from keel.memory.context import ContextWindow
    from keel.models.base import ModelResponse

__all__ = ["ContextPolicy"]


class ContextPolicy(Policy):
    """Awaits :meth:`ContextWindow.refresh` before each model call of a run the window built for.

    >>> from keel.memory import ContextWindow
    >>> ContextPolicy(ContextWindow(1000)).name
    'context_window'
    """

    name = "context_window"

    def __init__(self, window: ContextWindow) -> None:
        self.window = window

    async def around_model(self, call: ModelCall, next: ModelNext) -> ModelResponse:
        last = self.window.last_build(call.state.run_id)
        if last is None:  # the window is not this agent's context builder
            return await next(call)
        head, history, built = last
        changed = await self.window.refresh(call.state, history, call.model, call.emit, head=head)
        if changed and call.messages is built:
            call = replace(call, messages=self.window.build(head, history, call.state, call.model))
        return await next(call)
