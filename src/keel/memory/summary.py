"""Rolling conversation summaries: the model folds old turns into a summary it keeps refreshing.

A summary is a ``SummaryCreated`` event in the log of the run that wrote it. ``covers_seq`` counts
the messages of the session's conversation it stands for: the conversation is every earlier
finished run's messages in order (what ``Agent`` loads as history), then the current run's. A
``memory.summary`` annotation written beside it records a digest of those messages (so a summary is
never applied to a conversation that changed underneath it) and what the refresh cost.

Refreshes are incremental: the model gets the previous summary and only the messages after its
``covers_seq``.

>>> from keel.events import UserMessage, AssistantMessage
>>> print(transcript([UserMessage(content="Where is A-1001?"), AssistantMessage(content="Shipped.")]))
User: Where is A-1001?
Assistant: Shipped.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keel.events import (
    Annotation,
    AssistantMessage,
    Message,
    SummaryCreated,
    SystemMessage,
    ToolMessage,
    Usage,
    UserMessage,
)
from keel.models.base import ModelSettings

if TYPE_CHECKING:
    from keel.models.base import Model
    from keel.store.base import RunStore

__all__ = [
    "SUMMARY_ANNOTATION",
    "SessionSummary",
    "Summarizer",
    "digest",
    "load_session_summary",
    "transcript",
]

SUMMARY_ANNOTATION = "memory.summary"
EARLIER = "Earlier (summary): "
"""The ``Annotation.kind`` written beside each ``SummaryCreated``."""

DEFAULT_INSTRUCTIONS = (
    "You keep a running summary of a conversation between a user and an assistant, so that the "
    "assistant can carry on after the older messages are removed. Keep: what the user wants, facts "
    "about the user, identifiers (order numbers, ticket ids, emails, dates, amounts), what was done "
    "(tools called and what they returned), decisions and promises, and open questions. Leave out "
    "greetings and filler. Write plain sentences, no preamble, at most {words} words."
)


def digest(messages: Sequence[Message]) -> str:
    """A short fingerprint of ``messages`` (their JSON), to check a summary still fits its history.

    >>> digest([]) == digest([])
    True
    """
    h = hashlib.sha256()
    for m in messages:
        h.update(m.model_dump_json().encode())
        h.update(b"\n")
    return h.hexdigest()[:32]


def transcript(messages: Sequence[Message], max_chars: int = 4000) -> str:
    """Messages as plain text for a summarising or extracting model (long ones cut in the middle)."""

    def cut(text: str) -> str:
        if len(text) <= max_chars:
            return text
        half = max_chars // 2
        return f"{text[:half]} […] {text[-half:]}"

    lines: list[str] = []
    for m in messages:
        if isinstance(m, UserMessage):
            lines.append(f"User: {cut(m.content)}")
        elif isinstance(m, AssistantMessage):
            if m.content.strip():
                lines.append(f"Assistant: {cut(m.content)}")
            for c in m.tool_calls:
                args = json.dumps(c.arguments, ensure_ascii=False, default=str)
                lines.append(f"Assistant called {c.name}({cut(args)})")
        elif isinstance(m, ToolMessage):
            lines.append(f"Tool {m.name} returned: {cut(m.content)}")
        elif isinstance(m, SystemMessage):
            lines.append(f"System: {cut(m.content)}")
    return "\n".join(lines)


def drop_repeats(text: str) -> str:
    """``text`` without sentences it already said: small models fall into loops near their limit.

    >>> drop_repeats("Dana wants a refund. Dana prefers email. Dana wants a refund. Dana pre")
    'Dana wants a refund. Dana prefers email.'
    """
    parts = [p.strip() for p in re.split(r"(?<=[.!?])\s+", text.strip()) if p.strip()]
    seen: set[str] = set()
    out: list[str] = []
    for i, p in enumerate(parts):
        key = p.lower().rstrip(".!?")
        if key in seen:
            continue
        if (
            i == len(parts) - 1
            and len(parts) > 1
            and p[-1] not in ".!?"
            and any(k.startswith(key) for k in seen)
        ):
            continue  # a cut-off repeat at the end
        seen.add(key)
        out.append(p)
    return " ".join(out)


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """A summary in force: its text, how many conversation messages it covers, their digest."""

    text: str
    covers: int
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class SummaryResult:
    text: str
    usage: Usage
    latency_ms: float


class Summarizer:
    """Asks a model to fold new messages into the previous summary.

    ``model`` defaults to the agent's model; a cheaper one can be given. ``max_tokens`` bounds the
    summary (the context window reserves that much room for it).

    >>> import asyncio
    >>> from keel.testing import ScriptedModel
    >>> s = Summarizer(max_tokens=64)
    >>> r = asyncio.run(s.summarize("", [UserMessage(content="My order is A-1")], ScriptedModel(["User asked about A-1."])))
    >>> r.text
    'User asked about A-1.'
    """

    def __init__(
        self, model: Model | None = None, *, max_tokens: int = 256, instructions: str | None = None
    ) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self.words = max(20, int(max_tokens * 0.6))
        self.instructions = (instructions or DEFAULT_INSTRUCTIONS).replace("{words}", str(self.words))

    def prompt(self, previous: str, messages: Sequence[Message]) -> list[Message]:
        """The messages the summarising model is sent.

        The previous summary opens the conversation block as its first line, and the request comes
        last: small local models asked for "an updated summary" beside a separate "summary so far"
        tended to copy their input back; this shape they condense.
        """
        earlier = f"{EARLIER}{previous.strip()}\n" if previous.strip() else ""
        body = (
            f"<conversation>\n{earlier}{transcript(messages)}\n</conversation>\n\n"
            f"Summarise the conversation above in at most {self.words} words, as plain sentences in the "
            "third person."
        )
        return [SystemMessage(content=self.instructions), UserMessage(content=body)]

    async def summarize(self, previous: str, messages: Sequence[Message], model: Model) -> SummaryResult:
        """The previous summary with ``messages`` folded in (``self.model`` wins over ``model``)."""
        use = self.model or model
        started = time.perf_counter()
        settings = ModelSettings(max_tokens=self.max_tokens, temperature=0.0, tool_choice="none")
        response = await use.request(self.prompt(previous, messages), (), None, settings)
        return SummaryResult(
            text=drop_repeats(response.message.content),
            usage=response.usage,
            latency_ms=(time.perf_counter() - started) * 1000,
        )


def summary_events(
    run_id: str, covers: int, text: str, prefix_digest: str, result: SummaryResult, model: str, new: int
) -> tuple[SummaryCreated, Annotation]:
    """The two events that record a refresh: the summary, and its digest and cost."""
    data: dict[str, Any] = {
        "covers_seq": covers,
        "digest": prefix_digest,
        "new_messages": new,
        "model": model,
        "input_tokens": result.usage.input_tokens,
        "output_tokens": result.usage.output_tokens,
        "cost_usd": result.usage.cost_usd,
        "latency_ms": round(result.latency_ms, 2),
    }
    return (
        SummaryCreated(run_id=run_id, covers_seq=covers, text=text),
        Annotation(run_id=run_id, kind=SUMMARY_ANNOTATION, data=data),
    )


def summary_from_events(events: Sequence[Any]) -> SessionSummary | None:
    """The last summary in a run's events, with the digest its annotation recorded."""
    found: SessionSummary | None = None
    for ev in events:
        if isinstance(ev, SummaryCreated):
            found = SessionSummary(ev.text, ev.covers_seq)
        elif (
            isinstance(ev, Annotation)
            and ev.kind == SUMMARY_ANNOTATION
            and found is not None
            and ev.data.get("covers_seq") == found.covers
        ):
            found = SessionSummary(found.text, found.covers, ev.data.get("digest"))
    return found


async def load_session_summary(
    store: RunStore, session_id: str, *, exclude_run: str | None = None
) -> SessionSummary | None:
    """The newest summary written by a finished top-level run of the session (the runs that make up
    the history an ``Agent`` loads), or ``None``."""
    runs = await store.list_runs(session_id=session_id, limit=1000)
    for rec in reversed(runs):
        if rec.status != "finished" or rec.parent_run_id is not None or rec.run_id == exclude_run:
            continue
        found = summary_from_events(await store.events(rec.run_id))
        if found is not None:
            return found
    return None
