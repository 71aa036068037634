"""A simulated user for goal-driven scenarios, played by any keel ``Model``.

The model plays the customer: it gets the scenario's ``goal`` and the facts it knows
(``context``), sees the agent's answers as the other side of the chat, and writes the next message,
or ``DONE`` once the goal is met or can't be met::

    from keel.evals import SimulatedUser
    from keel.testing import ScriptedModel

    user = SimulatedUser(ScriptedModel(["Where is my order?", "It's A-10023.", "DONE"]))
    text = await user.next_message(scenario, transcript=[])   # "Where is my order?"
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from keel.evals.scenarios import Scenario
from keel.events import AssistantMessage, Message, SystemMessage, UserMessage

if TYPE_CHECKING:
    from keel.models import Model

__all__ = ["SimulatedUser"]

PROMPT = """You are role-playing a customer who is chatting with an online shop's support assistant.
Your goal: {goal}
Facts you know (share them only when they help or when asked): {facts}
Write ONLY your next chat message as the customer: one or two short sentences, plain text, no quotes,
no role labels. Never play the assistant. When your goal has been met, or the assistant has clearly
said it cannot help or has passed you to a human, reply with exactly: DONE"""

_DONE = re.compile(r"^\W*done\W*$", re.I)
_LABEL = re.compile(r"^\s*(customer|user|me)\s*:\s*", re.I)


class SimulatedUser:
    """Plays the user of goal-driven scenarios; ``max_tokens`` keeps each message short."""

    def __init__(self, model: str | Model, *, max_tokens: int = 80, temperature: float = 0.0) -> None:
        self._spec = model
        self._model: Model | None = None if isinstance(model, str) else model
        self.max_tokens = max_tokens
        self.temperature = temperature

    @property
    def name(self) -> str:
        return self._spec if isinstance(self._spec, str) else self._spec.name

    @property
    def model(self) -> Model:
        if self._model is None:
            from keel.models import get_model

            self._model = get_model(self._spec)
        return self._model

    def messages(self, scenario: Scenario, transcript: Sequence[tuple[str, str]]) -> list[Message]:
        """The simulated user's prompt: its own past messages are the assistant side (roles flipped)."""
        facts = ", ".join(f"{k}: {v}" for k, v in scenario.context.items()) or "none beyond your goal"
        msgs: list[Message] = [SystemMessage(content=PROMPT.format(goal=scenario.goal or "", facts=facts))]
        msgs.append(UserMessage(content="(The support chat has opened. Write your first message.)"))
        for user_text, agent_text in transcript:
            msgs.append(AssistantMessage(content=user_text))
            msgs.append(UserMessage(content=agent_text or "(no answer)"))
        return msgs

    async def next_message(self, scenario: Scenario, transcript: Sequence[tuple[str, str]]) -> str | None:
        """The user's next message, or ``None`` when the user is done."""
        from keel.models.base import ModelSettings

        settings = ModelSettings(temperature=self.temperature, max_tokens=self.max_tokens, tool_choice="none")
        response = await self.model.request(self.messages(scenario, transcript), (), settings=settings)
        text = response.message.content.strip()
        text = _LABEL.sub("", text.splitlines()[0] if text else "").strip().strip('"').strip()
        if not text or _DONE.match(text) or text.upper().endswith(" DONE"):
            return None
        return text
