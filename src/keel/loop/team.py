"""Multi-agent teams: a coordinator delegates sub-tasks to role agents by handoff, members talk on a
shared board (``agent_message`` events), a critic can send work back, and an event bus lets any code
react to what the team does.

Each delegation is a child run with its own log, linked to the coordinator's run by
``parent_run_id`` and a ``handoff`` event::

    researcher = Agent(model, name="researcher", instructions="Find facts.", tools=[search])
    writer = Agent(model, name="writer", instructions="Write the answer.")
    critic = Agent(model, name="critic", instructions="Check the answer against the facts.")
    lead = Agent(model, name="coordinator", pattern=Team([researcher, writer], critic=critic))
    result = await lead.run("Summarise our refund policy for a customer")
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

from keel.events import AgentMessage, Event, Handoff, Message, RunFinished, SystemMessage, UserMessage
from keel.loop.jsontext import extract_json
from keel.loop.output import finish_with_answer
from keel.models.base import ModelSettings

if TYPE_CHECKING:
    from keel.agent import Agent
    from keel.loop.run import Run

__all__ = ["EventBus", "Team"]

Handler = Callable[[Event], Awaitable[None] | None]


class EventBus:
    """Publish/subscribe over run events: ``bus.subscribe("tool_call_finished", handler)``; ``"*"`` gets all."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, event_type: str, handler: Handler) -> None:
        self._handlers[event_type].append(handler)

    async def publish(self, event: Event) -> None:
        for h in (*self._handlers.get(event.type, ()), *self._handlers.get("*", ())):
            out = h(event)
            if out is not None:
                await out


class Decision(BaseModel):
    action: Literal["delegate", "finish"]
    to: str = ""
    task: str = ""
    answer: str = ""


class Verdict(BaseModel):
    approve: bool
    reasons: str = ""


_COORDINATOR = (
    "You coordinate a team. Members:\n{members}\n\nEach turn, either delegate one sub-task to one member "
    '(JSON {{"action": "delegate", "to": <member>, "task": <instructions>}}) or, when the board holds '
    'what the request needs, finish (JSON {{"action": "finish", "answer": <final answer>}}). Answer with JSON only.'
)


class Team:
    """A pattern for a coordinator agent. ``critic`` reviews each member's output; ``max_rounds``
    bounds delegations (the critic sending work back counts as a round)."""

    name = "team"

    def __init__(
        self,
        members: Sequence[Agent[Any]],
        *,
        critic: Agent[Any] | None = None,
        max_rounds: int = 6,
        bus: EventBus | None = None,
    ) -> None:
        self.members = {m.name: m for m in members}
        self.critic = critic
        self.max_rounds = max_rounds
        self.bus = bus or EventBus()

    def _adopt(self, member: Agent[Any], run: Run) -> None:
        # children log into the coordinator's store so the parent/child link can be followed
        if member._owns_store:
            member.store = run.store
            member._owns_store = False

    async def step(self, run: Run) -> None:
        st = run.state
        if len(st.handoffs) >= self.max_rounds:
            last = next((m.content for m in reversed(st.board) if m.sender in self.members), "")
            await finish_with_answer(run, last or "The team could not complete the request.")
            return
        decision = await self._decide(run)
        if decision.action == "finish" or decision.to not in self.members:
            if decision.action == "finish" and decision.answer:
                await finish_with_answer(run, decision.answer)
                return
            fallback = next(iter(self.members))
            decision = Decision(action="delegate", to=fallback, task=decision.task or st.input)
        output = await self._delegate(run, self.members[decision.to], decision.task or st.input)
        if self.critic is not None and output is not None:
            await self._review(run, decision.to, output)

    def _board(self, run: Run) -> str:
        return (
            "\n".join(f"{m.sender} -> {m.recipient or 'all'}: {m.content}" for m in run.state.board)
            or "(empty)"
        )

    async def _decide(self, run: Run) -> Decision:
        members = "\n".join(
            f"- {n}: {a.instructions.splitlines()[0] if a.instructions else n}"
            for n, a in self.members.items()
        )
        messages: list[Message] = [
            SystemMessage(content=_COORDINATOR.format(members=members)),
            UserMessage(content=f"Request: {run.state.input}\n\nBoard:\n{self._board(run)}"),
        ]
        msg = await run.call_model(
            messages,
            (),
            output_schema=Decision.model_json_schema(),
            settings=ModelSettings(tool_choice="none"),
        )
        try:
            return Decision.model_validate_json(extract_json(msg.content))
        except ValidationError:
            return Decision(action="delegate", to=next(iter(self.members)), task=run.state.input)

    async def _delegate(self, run: Run, member: Agent[Any], task: str) -> str | None:
        self._adopt(member, run)
        child = uuid.uuid4().hex
        for ev in (
            Handoff(
                run_id=run.run_id,
                from_agent=run.config.name,
                to_agent=member.name,
                task=task,
                child_run_id=child,
            ),
            AgentMessage(run_id=run.run_id, sender=run.config.name, recipient=member.name, content=task),
        ):
            run.emit(ev)
            await self.bus.publish(ev)
        await run.flush()
        context = f"{task}\n\nTeam board so far:\n{self._board(run)}"
        output: Any = None
        async for child_ev in member.run_stream(context, parent_run_id=run.run_id, run_id=child):
            await self.bus.publish(child_ev)
            if isinstance(child_ev, RunFinished):
                output = child_ev.output
        if output is None:
            return None
        text = output if isinstance(output, str) else str(output)
        reply = AgentMessage(run_id=run.run_id, sender=member.name, recipient=run.config.name, content=text)
        run.emit(reply)
        await self.bus.publish(reply)
        return text

    async def _review(self, run: Run, author: str, output: str) -> None:
        assert self.critic is not None
        self._adopt(self.critic, run)
        prompt = (
            f"Request: {run.state.input}\n\n{author} produced:\n{output}\n\n"
            'Review it. Answer with JSON {"approve": true|false, "reasons": "..."}.'
        )
        result = await self.critic.run(prompt, parent_run_id=run.run_id)
        try:
            verdict = Verdict.model_validate_json(extract_json(str(result.output)))
        except ValidationError:
            verdict = Verdict(approve=True, reasons=str(result.output))
        text = ("APPROVED" if verdict.approve else "REVISE") + (
            f": {verdict.reasons}" if verdict.reasons else ""
        )
        msg = AgentMessage(run_id=run.run_id, sender=self.critic.name, recipient=author, content=text)
        run.emit(msg)
        await self.bus.publish(msg)
