"""Extraction: after a run, the model picks the durable facts worth remembering about the user.

The model reads the finished conversation and answers, under a JSON schema, with a list of short
memories (fact, preference, ticket, outcome). They are stored in the user's long-term memory with
the run id as their source. Run it explicitly (``await extractor.extract_run(store, run_id)``) or
as a policy that fires when a run produces its answer (:meth:`MemoryExtractor.policy`).

>>> import asyncio
>>> from keel.rag import HashingEmbedder
>>> from keel.testing import ScriptedModel
>>> from keel.events import UserMessage
>>> from keel.memory import LongTermMemory
>>> memory = LongTermMemory(":memory:", embedder=HashingEmbedder())
>>> model = ScriptedModel(['{"memories": [{"text": "Prefers email", "kind": "preference"}]}'])
>>> items = asyncio.run(MemoryExtractor(memory, model).extract([UserMessage(content="Email me, please")], user_id="u1"))
>>> [(i.text, i.kind) for i in items]
[('Prefers email', 'preference')]
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from keel.errors import MalformedResponse
from keel.events import Annotation, AssistantMessage, Event, Message, SystemMessage, UserMessage
from keel.memory.longterm import DEFAULT_KINDS, MemoryItem, MemoryScope
from keel.memory.summary import transcript
from keel.models.base import ModelSettings
from keel.policies.base import Policy

if TYPE_CHECKING:
    from keel.loop.state import RunState
    from keel.memory.longterm import LongTermMemory
    from keel.models.base import Model
    from keel.store.base import RunStore

__all__ = ["MemoryExtractor"]

_log = logging.getLogger("keel.memory")

DEFAULT_INSTRUCTIONS = (
    "You read a finished conversation between a user and an assistant and pick out what is worth "
    "remembering about the user in later conversations: stable facts about them (name, company, "
    "plan, city), their preferences (contact channel, language, tone), the problems they reported "
    "(with order or ticket ids) and how each was resolved. Write each memory as one short sentence "
    "about the user, in the third person. Only include what the user said or a tool confirmed; "
    "leave out greetings, small talk and anything that was only true for the moment. Answer with "
    'JSON {"memories": [{"text": "...", "kind": "..."}]}, an empty list when nothing is worth keeping.'
)


class MemoryExtractor:
    """Asks a model for the durable memories in a conversation and stores them for the user.

    Args:
        memory: where the memories go.
        model: the model that extracts (``None``: the model given to each call).
        kinds: allowed memory kinds (the JSON schema's enum).
        max_items: at most this many memories per conversation.
        dedupe_similarity: skip a memory this similar (cosine) to one the user already has.
    """

    def __init__(
        self,
        memory: LongTermMemory,
        model: Model | None = None,
        *,
        kinds: Sequence[str] = DEFAULT_KINDS,
        max_items: int = 5,
        dedupe_similarity: float = 0.95,
        instructions: str = DEFAULT_INSTRUCTIONS,
        max_tokens: int = 400,
    ) -> None:
        self.memory = memory
        self.model = model
        self.kinds = list(kinds)
        self.max_items = max_items
        self.dedupe_similarity = dedupe_similarity
        self.instructions = instructions
        self.max_tokens = max_tokens
        self._tasks: set[asyncio.Task[list[MemoryItem]]] = set()

    @property
    def schema(self) -> dict[str, Any]:
        """The output schema the model answers under."""
        item = {
            "type": "object",
            "properties": {"text": {"type": "string"}, "kind": {"type": "string", "enum": self.kinds}},
            "required": ["text", "kind"],
        }
        return {
            "type": "object",
            "properties": {"memories": {"type": "array", "items": item}},
            "required": ["memories"],
        }

    def prompt(self, messages: Sequence[Message]) -> list[Message]:
        """The messages the extracting model is sent."""
        convo = [m for m in messages if not isinstance(m, SystemMessage)]
        return [
            SystemMessage(content=self.instructions),
            UserMessage(
                content=f"Conversation:\n{transcript(convo, max_chars=1500)}\n\nWhat should be remembered?"
            ),
        ]

    def parse(self, text: str) -> list[tuple[str, str]]:
        """(text, kind) pairs from the model's answer: ``{"memories": [...]}`` or a bare list."""
        from keel.loop.jsontext import extract_json

        try:
            data = json.loads(extract_json(text))
        except ValueError:
            raise MalformedResponse(
                "memory extraction did not answer JSON", provider="memory", snippet=text[:200]
            ) from None
        rows = data.get("memories", []) if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise MalformedResponse(
                "memory extraction did not answer a list", provider="memory", snippet=text[:200]
            )
        out: list[tuple[str, str]] = []
        for row in rows:
            if isinstance(row, str):
                row = {"text": row}
            if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"].strip():
                continue
            kind = row.get("kind") if row.get("kind") in self.kinds else self.kinds[0]
            out.append((row["text"].strip(), str(kind)))
        return out[: self.max_items]

    async def extract(
        self,
        messages: Sequence[Message],
        *,
        user_id: str,
        tenant: str = "",
        source: str = "",
        model: Model | None = None,
    ) -> list[MemoryItem]:
        """Extract memories from ``messages`` and store the new ones for the user; returns them."""
        use = self.model or model
        if use is None:
            from keel.errors import ConfigError

            raise ConfigError(
                "MemoryExtractor needs a model: MemoryExtractor(memory, model) or extract(model=...)"
            )
        settings = ModelSettings(max_tokens=self.max_tokens, temperature=0.0, tool_choice="none")
        response = await use.request(self.prompt(messages), (), self.schema, settings)
        found = self.parse(response.message.content)
        fresh = []
        for text, kind in found:
            if self.dedupe_similarity < 1.0:
                near = await self.memory.recall(text, user_id=user_id, tenant=tenant, k=1)
                if near and near[0].similarity >= self.dedupe_similarity:
                    continue
            fresh.append((text, kind))
        if not fresh:
            return []
        return await self.memory.remember_many(
            [t for t, _ in fresh], user_id=user_id, tenant=tenant, kind=[k for _, k in fresh], source=source
        )

    async def extract_run(
        self, store: RunStore, run_id: str, *, model: Model | None = None, scope: MemoryScope | None = None
    ) -> list[MemoryItem]:
        """Extract from a finished run in ``store``; the user is the run's metadata ``user_id``."""
        from keel.loop.state import RunState

        state = RunState.from_events(run_id, await store.events(run_id))
        who = scope or MemoryScope.from_metadata(state.metadata)
        if who is None:
            return []
        return await self.extract(
            state.messages, user_id=who.user_id, tenant=who.tenant, source=run_id, model=model
        )

    def policy(self, model: Model | None = None, *, background: bool = True) -> Policy:
        """A policy that extracts when a run produces its answer.

        ``background`` (default) does not hold up the answer: await :meth:`drain` before exiting.
        In the foreground, an ``annotation`` event (``memory.extracted``) records the ids stored.
        """
        return _ExtractionPolicy(self, model, background)

    async def drain(self) -> None:
        """Wait for background extractions to finish."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[list[MemoryItem]] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _ExtractionPolicy(Policy):
    name = "memory_extraction"

    def __init__(self, extractor: MemoryExtractor, model: Model | None, background: bool) -> None:
        self.extractor = extractor
        self.model = model
        self.background = background

    async def on_output(self, output: Any, state: RunState, emit: Callable[[Event], None]) -> Any:
        who = MemoryScope.from_metadata(state.metadata)
        if who is None:
            return output
        answer = output if isinstance(output, str) else json.dumps(output, default=str)
        messages = [*state.messages, AssistantMessage(content=answer)]
        job = self._run(messages, who, state.run_id)
        if self.background:
            self.extractor._spawn(job)
            return output
        items = await job
        if items:
            emit(
                Annotation(run_id=state.run_id, kind="memory.extracted", data={"ids": [i.id for i in items]})
            )
        return output

    async def _run(self, messages: list[Message], who: MemoryScope, run_id: str) -> list[MemoryItem]:
        try:
            return await self.extractor.extract(
                messages, user_id=who.user_id, tenant=who.tenant, source=run_id, model=self.model
            )
        except Exception:  # remembering is best effort: the user already has their answer
            _log.exception("memory extraction for run %s failed", run_id)
            return []
