"""Context building: fit the system prompt, the session history and the run into a token budget.

Two builders implement :class:`ContextBuilder` (``Agent(context=...)``):

- :class:`TokenWindow`: the newest history turns that fit, nothing else.
- :class:`ContextWindow`: the same budget, plus pinned facts, sections from context providers
  (long-term memories), a rolling summary of the turns that no longer fit, and pruning of large
  tool results in old turns.

``build`` is synchronous (it runs right before each model call); the work that needs the model or a
database (summarising, recalling memories) happens in :meth:`ContextWindow.prepare`, awaited by the
loop before each step, or, until the loop has that hook, in the policy from
:meth:`ContextWindow.policy`. Token counts come from ``model.count_tokens``: exact for the local
model (its tokenizer and chat template), estimated for the others.

>>> from keel.events import SystemMessage, UserMessage
>>> from keel.loop.state import RunState
>>> from keel.testing import ScriptedModel
>>> history = [UserMessage(content=f"question {i} " * 20) for i in range(10)]
>>> state = RunState(run_id="r1", messages=[UserMessage(content="latest")])
>>> model = ScriptedModel([])
>>> msgs = ContextWindow(200, pinned=["Customer id: C-42"]).build([SystemMessage(content="Be brief.")], history, state, model)
>>> model.count_tokens(msgs) <= 200, "C-42" in msgs[1].content, msgs[-1].content
(True, True, 'latest')
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from keel.errors import ContextTooLong
from keel.events import Event, Message, SystemMessage, UserMessage
from keel.memory._counting import LRU, TokenCounter
from keel.memory.prune import head_tail, prune_messages
from keel.memory.summary import SessionSummary, Summarizer, digest, load_session_summary, summary_events

if TYPE_CHECKING:
    from keel.loop.run import Run
    from keel.loop.state import RunState
    from keel.models.base import Model
    from keel.policies.base import Policy
    from keel.store.base import RunStore

__all__ = ["ContextBuilder", "ContextProvider", "ContextWindow", "TokenWindow", "group_turns"]

_log = logging.getLogger("keel.memory")
Emit = Callable[[Event], None]


class ContextBuilder(Protocol):
    def build(
        self, head: list[Message], history: Sequence[Message], state: RunState, model: Model
    ) -> list[Message]:
        """Return the messages to send: ``head`` (system) first, then as much history as fits."""
        ...


@runtime_checkable
class ContextProvider(Protocol):
    """Adds a section to the system prompt of a run (long-term memories, a customer profile).

    Called once per run, before its first model call; an empty string adds nothing.
    """

    async def provide(self, state: RunState, conversation: Sequence[Message]) -> str: ...


def group_turns(messages: Sequence[Message]) -> list[tuple[int, int]]:
    """``(start, end)`` spans of user turns, so a tool call always stays with its result.

    >>> from keel.events import AssistantMessage
    >>> group_turns([UserMessage(content="a"), AssistantMessage(content="b"), UserMessage(content="c")])
    [(0, 2), (2, 3)]
    """
    starts = [i for i, m in enumerate(messages) if isinstance(m, UserMessage) or i == 0]
    return list(zip(starts, [*starts[1:], len(messages)], strict=False))


class TokenWindow:
    """Keep the system prompt, the current run and the newest history turns that fit ``max_tokens``.

    History is dropped oldest first and never splits a tool call from its result. Token counts come
    from ``model.count_tokens`` (exact for the local model, estimated elsewhere).

    >>> TokenWindow(3000).max_tokens
    3000
    """

    def __init__(self, max_tokens: int = 3000) -> None:
        self.max_tokens = max_tokens

    def build(
        self, head: list[Message], history: Sequence[Message], state: RunState, model: Model
    ) -> list[Message]:
        kept = _fit_turns(head, list(history), state.messages, self.max_tokens, model)
        return [*head, *kept, *state.messages]


def _fit_turns(
    head: list[Message],
    older: list[Message],
    current: Sequence[Message],
    budget: int,
    model: Model,
    counter: TokenCounter | None = None,
) -> list[Message]:
    """The newest whole turns of ``older`` such that head + turns + current fit ``budget`` exactly."""
    counter = counter or TokenCounter(model)
    base = counter.messages(head)
    used = counter.messages([*head, *current])
    start = len(older)
    for s, e in reversed(group_turns(older)):
        cost = counter.turn(head, base, older[s:e])
        if used + cost > budget:
            break
        used += cost
        start = s
    # chat templates do not add up exactly turn by turn: check the whole and drop more if needed
    spans = [s for s, _ in group_turns(older) if s >= start]
    while spans and counter.messages([*head, *older[spans[0] :], *current]) > budget:
        spans.pop(0)
    return older[spans[0] :] if spans else []


@dataclass
class _RunMemo:
    """What ``prepare`` learnt for one run, read by the synchronous ``build``."""

    loaded: bool = False
    summary: SessionSummary | None = None
    sections: list[str] = field(default_factory=list)
    head: list[Message] | None = None
    history: list[Message] | None = None
    built: list[Message] | None = None
    checked: dict[tuple[int, str | None, int], bool] = field(default_factory=dict)


def _fits(summary: SessionSummary, history: Sequence[Message]) -> bool:
    """Whether ``summary`` still stands for the start of ``history`` (its digest, when known, matches:
    runs deleted or reordered under it make it stale)."""
    if summary.covers > len(history):
        return False
    return summary.digest is None or summary.digest == digest(history[: summary.covers])


class ContextWindow:
    """The prompt under a token budget: the instructions, a context message (pinned facts, memories,
    a rolling summary of old turns), the newest turns verbatim (old tool results pruned), the run.

    Args:
        max_tokens: prompt budget; ``None`` uses the model's context window minus ``reserve_tokens``.
        reserve_tokens: room left for the answer and the tool schemas when ``max_tokens`` is None.
        summarizer: a :class:`~keel.memory.summary.Summarizer` (``None``: old turns are dropped).
        pinned: facts always kept, or a function of the run state giving them.
        providers: context providers (e.g. :class:`~keel.memory.longterm.MemoryProvider`).
        prune_tool_tokens: tool results in past turns longer than this are pruned (``None``: never).
        recent_share: after a refresh, verbatim turns fill at most this share of the room left, so
            the next refresh is several turns away.
        store: where to find summaries of earlier runs when no ``Run`` is at hand (the policy route).

    >>> window = ContextWindow(3000, summarizer=Summarizer(max_tokens=200), pinned=["Plan: gold"])
    >>> window.budget(None)
    3000
    """

    def __init__(
        self,
        max_tokens: int | None = None,
        *,
        reserve_tokens: int = 1024,
        summarizer: Summarizer | None = None,
        pinned: Sequence[str] | Callable[[RunState], Sequence[str]] = (),
        providers: Sequence[ContextProvider] = (),
        prune_tool_tokens: int | None = 256,
        recent_share: float = 0.5,
        store: RunStore | None = None,
        pinned_heading: str = "Facts to keep in mind",
        summary_heading: str = "Summary of the earlier conversation",
    ) -> None:
        self.max_tokens = max_tokens
        self.reserve_tokens = reserve_tokens
        self.summarizer = summarizer
        self.pinned = pinned
        self.providers = list(providers)
        self.prune_tool_tokens = prune_tool_tokens
        self.recent_share = min(1.0, max(0.0, recent_share))
        self.store = store
        self.pinned_heading = pinned_heading
        self.summary_heading = summary_heading
        self._memos: OrderedDict[str, _RunMemo] = OrderedDict()
        self._sessions: dict[str, SessionSummary] = {}
        self._counts: LRU[int] = LRU(8192)
        self._pruned: LRU[str] = LRU(1024)

    # -- budget and layout -------------------------------------------------------------------------

    def budget(self, model: Model | None) -> int:
        """The prompt token budget for ``model``."""
        if self.max_tokens is not None:
            return self.max_tokens
        if model is None:
            raise ValueError("ContextWindow without max_tokens needs a model to size its budget")
        return max(256, model.profile.context_window - self.reserve_tokens)

    def _counter(self, model: Model) -> TokenCounter:
        return TokenCounter(model, self._counts)

    def _prune(self, messages: list[Message], counter: TokenCounter) -> list[Message]:
        if self.prune_tool_tokens is None:
            return messages
        return prune_messages(messages, self.prune_tool_tokens, counter.text, cache=self._pruned)

    def _memo(self, run_id: str) -> _RunMemo:
        memo = self._memos.get(run_id)
        if memo is None:
            memo = self._memos[run_id] = _RunMemo()
            while len(self._memos) > 512:  # bounded: a long-lived agent runs millions of runs
                self._memos.popitem(last=False)
        else:
            self._memos.move_to_end(run_id)
        return memo

    def _pinned(self, state: RunState) -> list[str]:
        facts = self.pinned(state) if callable(self.pinned) else self.pinned
        return [f for f in facts if f.strip()]

    def _system(
        self, head: list[Message], state: RunState, memo: _RunMemo, summary: SessionSummary | None
    ) -> list[Message]:
        """``head``, then one system message with pinned facts, provider sections and the summary.

        A message of its own, never edits to ``head``: the instructions (and the tool list a chat
        template renders into the first system turn) stay a byte-identical prefix that the runtime
        reuses across the whole session while the summary and memories change.
        """
        parts: list[str] = []
        if facts := self._pinned(state):
            parts.append(f"## {self.pinned_heading}\n" + "\n".join(f"- {f}" for f in facts))
        parts.extend(s for s in memo.sections if s.strip())
        if summary is not None and summary.text.strip():
            parts.append(f"## {self.summary_heading}\n{summary.text.strip()}")
        if not parts:
            return list(head)
        return [*head, SystemMessage(content="\n\n".join(parts))]

    def _valid_summary(
        self, memo: _RunMemo, state: RunState, history: Sequence[Message]
    ) -> SessionSummary | None:
        s = memo.summary
        if s is None and state.summary is not None:
            s = SessionSummary(state.summary.text, state.summary.covers_seq)
        if s is None:
            return None
        key = (s.covers, s.digest, len(history))
        if key not in memo.checked:
            memo.checked[key] = _fits(s, history)
        return s if memo.checked[key] else None

    # -- build (synchronous, before every model call) ----------------------------------------------

    def build(
        self, head: list[Message], history: Sequence[Message], state: RunState, model: Model
    ) -> list[Message]:
        """The messages to send, within :meth:`budget` tokens by ``model.count_tokens``.

        Raises ``ContextTooLong`` when the instructions, pinned facts, summary and current run alone
        exceed the budget.
        """
        memo = self._memo(state.run_id)
        history = list(history)
        memo.head, memo.history = list(head), history
        budget = self.budget(model)
        summary = self._valid_summary(memo, state, history)
        system = self._system(head, state, memo, summary)
        counter = self._counter(model)
        older = self._prune(history[summary.covers :] if summary else history, counter)
        current = self._fit_current(system, list(state.messages), budget, counter)
        kept = _fit_turns(system, older, current, budget, model, counter)
        memo.built = [*system, *kept, *current]
        return memo.built

    def _fit_current(
        self, system: list[Message], current: list[Message], budget: int, counter: TokenCounter
    ) -> list[Message]:
        """The current run, its already-answered tool results pruned when it does not fit."""
        if counter.messages([*system, *current]) <= budget:
            return current
        for limit in (self.prune_tool_tokens or 256, 64):
            current = prune_messages(current, limit, counter.text, answered_only=True, cache=self._pruned)
            if counter.messages([*system, *current]) <= budget:
                return current
        if len(current) > 1:  # the newest result is still too big: keep its head and tail
            room = budget - counter.messages([*system, *current[:-1]])
            last = current[-1]
            if room > 32:
                trimmed = head_tail(last.content, room - 16, counter.text)
                current = [*current[:-1], last.model_copy(update={"content": trimmed})]
                if counter.messages([*system, *current]) <= budget:
                    return current
        used = counter.messages([*system, *current])
        raise ContextTooLong(
            f"the instructions, pinned facts, summary and current run need {used} tokens, over the "
            f"context budget of {budget}: raise ContextWindow(max_tokens=...), shorten the instructions "
            "or lower the summarizer's max_tokens"
        )

    # -- prepare (async, before each step) ---------------------------------------------------------

    async def prepare(self, run: Run) -> None:
        """Recall provider sections and refresh the summary for ``run``'s next model call.

        The loop awaits this before each step; it does nothing while tool calls are pending.
        """
        system = run.system_prompt()
        head: list[Message] = [SystemMessage(content=system)] if system else []
        await self.refresh(run.state, run.history, run.config.model, run.emit, head=head, store=run.store)

    async def refresh(
        self,
        state: RunState,
        history: Sequence[Message],
        model: Model,
        emit: Emit,
        *,
        head: Sequence[Message] = (),
        store: RunStore | None = None,
    ) -> bool:
        """Load what ``build`` needs and summarise turns that no longer fit; True if it changed.

        ``head`` is the system turn the prompt will start with (to size what is left for turns).
        """
        memo = self._memo(state.run_id)
        history = list(history)
        changed = False
        if not memo.loaded:
            memo.loaded = True
            memo.summary = await self._find_summary(state, history, store or self.store)
            memo.sections = await self._sections(state, [*history, *state.messages])
            changed = bool(memo.summary or memo.sections)
        if self.summarizer is not None and not state.pending_calls:
            system = list(head) or memo.head or []
            changed = await self._maybe_summarize(state, history, model, emit, memo, system) or changed
        return changed

    async def _find_summary(
        self, state: RunState, history: list[Message], store: RunStore | None
    ) -> SessionSummary | None:
        found: list[SessionSummary] = []
        if state.summary is not None:  # a resumed run that already summarised
            note = state.annotations.get("memory.summary", {})
            dig = note.get("digest") if note.get("covers_seq") == state.summary.covers_seq else None
            found.append(SessionSummary(state.summary.text, state.summary.covers_seq, dig))
        if state.session_id is not None:
            if state.session_id in self._sessions:
                found.append(self._sessions[state.session_id])
            elif store is not None:
                loaded = await load_session_summary(store, state.session_id, exclude_run=state.run_id)
                if loaded is not None:
                    found.append(loaded)
        valid = [s for s in found if _fits(s, history)]
        return max(valid, key=lambda s: s.covers) if valid else None

    async def _sections(self, state: RunState, conversation: list[Message]) -> list[str]:
        out: list[str] = []
        for p in self.providers:
            try:
                text = await p.provide(state, conversation)
            except Exception:  # a memory backend's outage must not stop the conversation
                _log.exception("context provider %r failed; continuing without it", p)
                continue
            if text.strip():
                out.append(text.strip())
        return out

    def _plan_cut(
        self,
        state: RunState,
        history: list[Message],
        model: Model,
        memo: _RunMemo,
        head: list[Message],
        summary: SessionSummary | None,
    ) -> int | None:
        """Where a new summary should end (a turn start in ``history``), or None if all still fits."""
        assert self.summarizer is not None
        budget = self.budget(model)
        covers = summary.covers if summary else 0
        system = self._system(head, state, memo, summary)
        counter = self._counter(model)
        older = self._prune(history[covers:], counter)
        try:  # size the current run as build will send it (answered tool results pruned)
            current = self._fit_current(system, list(state.messages), budget, counter)
        except ContextTooLong:
            current = list(state.messages)
        have = counter.text(summary.text) if summary else 0
        growth = max(0, self.summarizer.max_tokens - have)
        room = budget - counter.messages([*system, *current]) - growth
        base = counter.messages(system)
        spans = group_turns(older)
        costs = [counter.turn(system, base, older[s:e]) for s, e in spans]
        if sum(costs) <= room:
            return None
        target, total, cut = room * self.recent_share, 0, len(older)
        for (s, _), cost in zip(reversed(spans), reversed(costs), strict=True):
            if total + cost > target:
                break
            total += cost
            cut = s
        return covers + cut if cut > 0 else None

    async def _maybe_summarize(
        self,
        state: RunState,
        history: list[Message],
        model: Model,
        emit: Emit,
        memo: _RunMemo,
        head: list[Message],
    ) -> bool:
        assert self.summarizer is not None
        summary = self._valid_summary(memo, state, history)
        cut = self._plan_cut(state, history, model, memo, head, summary)
        if cut is None:
            return False
        covers = summary.covers if summary else 0
        counter = self._counter(model)
        new = self._prune(history[covers:cut], counter)
        try:
            result = await self.summarizer.summarize(summary.text if summary else "", new, model)
        except Exception:  # a summary is an optimisation: without it the oldest turns are dropped
            _log.exception("summarising %d messages failed; dropping old turns instead", len(new))
            return False
        text = head_tail(result.text, self.summarizer.max_tokens, counter.text)
        dig = digest(history[:cut])
        used = self.summarizer.model or model
        for ev in summary_events(state.run_id, cut, text, dig, result, used.name, len(new)):
            emit(ev)
        memo.summary = SessionSummary(text, cut, dig)
        if state.session_id is not None:
            self._sessions[state.session_id] = memo.summary
        return True

    # -- the policy route --------------------------------------------------------------------------

    def policy(self) -> Policy:
        """A policy that runs :meth:`refresh` around model calls, for loops without the prepare hook.

        >>> from keel import Agent
        >>> from keel.testing import ScriptedModel
        >>> window = ContextWindow(2000, summarizer=Summarizer())
        >>> agent = Agent(ScriptedModel(["hi"]), context=window, policies=[window.policy()])
        """
        from keel.memory._policy import ContextPolicy

        return ContextPolicy(self)

    def last_build(self, run_id: str) -> tuple[list[Message], list[Message], list[Message]] | None:
        """(head, history, messages) of the latest ``build`` for ``run_id``, if it is remembered."""
        memo = self._memos.get(run_id)
        if memo is None or memo.head is None or memo.history is None or memo.built is None:
            return None
        return memo.head, memo.history, memo.built
