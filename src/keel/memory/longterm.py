"""Long-term memory: facts, preferences and past tickets per user, recalled by meaning and recency.

Memories live in a ``keel.rag`` vector index: a SQLite file by default, PostgreSQL + pgvector in
production. Every memory belongs to one scope, a (tenant, user) pair, and every read, write and
delete is filtered by it in the index itself (tenant and scope columns) and checked again on the
way out, so one user's memory is never returned for another. Ids are derived from the scope and the
text: the same sentence remembered for two users is two memories; remembered twice for one user it
is one memory, refreshed.

>>> import asyncio
>>> from keel.rag import HashingEmbedder
>>> async def demo():
...     memory = LongTermMemory(":memory:", embedder=HashingEmbedder())
...     await memory.remember("Prefers to be contacted by email", user_id="u1", kind="preference")
...     await memory.remember("Prefers to be contacted by email", user_id="u2", kind="preference")
...     hits = await memory.recall("how should we contact them?", user_id="u1")
...     return [(h.user_id, h.kind) for h in hits]
>>> asyncio.run(demo())
[('u1', 'preference')]
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.errors import ConfigError

if TYPE_CHECKING:
    from keel.events import Message
    from keel.loop.state import RunState
    from keel.rag import Embedder, Hit, VectorIndex

__all__ = ["DEFAULT_KINDS", "LongTermMemory", "MemoryItem", "MemoryProvider", "MemoryScope"]

DEFAULT_KINDS = ("fact", "preference", "ticket", "outcome")
_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class MemoryScope:
    """Whose memory: a user within a tenant (``""`` when the application has no tenants).

    >>> MemoryScope.from_metadata({"user_id": "u1", "tenant": "acme"})
    MemoryScope(user_id='u1', tenant='acme')
    >>> MemoryScope.from_metadata({}) is None
    True
    """

    user_id: str
    tenant: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.user_id, str) or not self.user_id:
            raise ConfigError("a memory scope needs a non-empty user_id string")
        if not isinstance(self.tenant, str):
            raise ConfigError(f"a memory scope's tenant must be a string, got {self.tenant!r}")

    @property
    def key(self) -> str:
        """An unambiguous key for (tenant, user): stored in the index's ``source`` column."""
        return json.dumps([self.tenant, self.user_id], ensure_ascii=False)

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any] | None, deps: Any = None) -> MemoryScope | None:
        """The scope named by a run's metadata (``user_id``, ``tenant``) or, failing that, its deps
        (attributes or keys ``user_id``/``tenant``). ``None`` when neither names a user."""
        for source in (metadata or {}, deps):
            user = _lookup(source, "user_id")
            if user:
                return cls(str(user), str(_lookup(source, "tenant") or ""))
        return None


def _lookup(source: Any, key: str) -> Any:
    if source is None:
        return None
    return source.get(key) if isinstance(source, Mapping) else getattr(source, key, None)


@dataclass(slots=True)
class MemoryItem:
    """One memory. ``score`` (similarity blended with recency) and ``similarity`` are set by recall."""

    id: str
    text: str
    user_id: str
    tenant: str
    kind: str
    created: float
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    score: float = 0.0
    similarity: float = 0.0


def memory_id(scope: MemoryScope, text: str) -> str:
    """The id of ``text`` in ``scope``: stable, and different for the same text in another scope."""
    norm = " ".join(text.split()).lower()
    return "mem_" + hashlib.sha256(f"{scope.key}\n{norm}".encode()).hexdigest()[:28]


class LongTermMemory:
    """Per-user memories in a vector index, recalled by embedding similarity blended with recency.

    Args:
        location: a SQLite file (``":memory:"`` for a throwaway one) or a ``postgresql://`` URL.
        embedder: defaults to :class:`keel.rag.LocalEmbedder`.
        index: overrides the index chosen from ``location``.
        collection: the index's table (prefix).
        recency_weight: share of the score given to recency (0: similarity only).
        half_life_days: age at which a memory's recency counts half.
        clock: the time source (tests move it).
    """

    def __init__(
        self,
        location: str | Path = ".keel/memory.db",
        *,
        embedder: Embedder | None = None,
        index: VectorIndex | None = None,
        collection: str = "keel_memories",
        recency_weight: float = 0.2,
        half_life_days: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0.0 <= recency_weight <= 1.0:
            raise ConfigError(f"recency_weight must be between 0 and 1, got {recency_weight}")
        self.location = str(location)
        self._embedder = embedder
        self._index = index
        self.collection = collection
        self.recency_weight = recency_weight
        self.half_life_days = half_life_days
        self.clock = clock

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from keel.rag.embedders import LocalEmbedder

            self._embedder = LocalEmbedder()
        return self._embedder

    @property
    def index(self) -> VectorIndex:
        if self._index is None:
            if self.location.startswith(("postgresql://", "postgres://")):
                from keel.rag.indexes import PgVectorIndex

                self._index = PgVectorIndex(self.location, dim=self.embedder.dim, collection=self.collection)
            else:
                from keel.rag.indexes import SQLiteIndex

                self._index = SQLiteIndex(self.location, dim=self.embedder.dim, collection=self.collection)
        return self._index

    # -- writing -----------------------------------------------------------------------------------

    async def remember(
        self,
        text: str,
        *,
        user_id: str,
        tenant: str = "",
        kind: str = "fact",
        source: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> MemoryItem:
        """Store ``text`` for the user (the same text again refreshes it). ``source`` says where it
        came from (a run id, ``"tool"``)."""
        [item] = await self.remember_many([text], user_id=user_id, tenant=tenant, kind=kind, source=source,
                                          metadata=metadata)  # fmt: skip
        return item

    async def remember_many(
        self,
        texts: Sequence[str],
        *,
        user_id: str,
        tenant: str = "",
        kind: str | Sequence[str] = "fact",
        source: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> list[MemoryItem]:
        """Store several memories of one user in one embedding call and one transaction."""
        scope = MemoryScope(user_id, tenant)
        kinds = [kind] * len(texts) if isinstance(kind, str) else list(kind)
        if len(kinds) != len(texts):
            raise ConfigError(f"remember_many got {len(texts)} texts but {len(kinds)} kinds")
        items: dict[str, MemoryItem] = {}
        now = self.clock()
        for text, k in zip(texts, kinds, strict=True):
            clean = " ".join(text.split())
            if not clean:
                raise ConfigError("a memory needs some text")
            mid = memory_id(scope, clean)
            items[mid] = MemoryItem(
                mid, clean, scope.user_id, scope.tenant, k, now, source, dict(metadata or {})
            )
        if not items:
            return []
        batch = list(items.values())
        vectors = await self.embedder.embed([i.text for i in batch])
        await self.index.upsert(
            [i.id for i in batch],
            vectors,
            [_index_metadata(i, scope) for i in batch],
            [i.text for i in batch],
        )
        return batch

    # -- reading -----------------------------------------------------------------------------------

    async def recall(
        self,
        query: str,
        *,
        user_id: str,
        tenant: str = "",
        k: int = 5,
        kinds: Sequence[str] | None = None,
        min_similarity: float = 0.0,
    ) -> list[MemoryItem]:
        """The user's ``k`` memories that best match ``query``, by similarity blended with recency."""
        scope = MemoryScope(user_id, tenant)
        if k <= 0 or not query.strip():
            return []
        [vector] = await self.embedder.embed([query])
        hits = await self.index.search(vector, k=max(4 * k, 20), filter=_filter(scope))
        now = self.clock()
        items = []
        for hit in hits:
            item = _item(hit, scope)
            if item is None or (kinds is not None and item.kind not in kinds) or hit.score < min_similarity:
                continue
            item.similarity = hit.score
            item.score = self._blend(hit.score, now - item.created)
            items.append(item)
        items.sort(key=lambda i: (-i.score, -i.created, i.id))
        return items[:k]

    def _blend(self, similarity: float, age_s: float) -> float:
        recency = math.pow(0.5, max(0.0, age_s) / (self.half_life_days * _DAY))
        return (1.0 - self.recency_weight) * similarity + self.recency_weight * recency

    async def list(
        self, *, user_id: str, tenant: str = "", kinds: Sequence[str] | None = None
    ) -> list[MemoryItem]:
        """All the user's memories, newest first (what a data-access request returns)."""
        scope = MemoryScope(user_id, tenant)
        ids = await self.index.ids(filter=_filter(scope))
        items = [i for h in await self.index.get(ids) if (i := _item(h, scope)) is not None]
        if kinds is not None:
            items = [i for i in items if i.kind in kinds]
        return sorted(items, key=lambda i: (-i.created, i.id))

    async def get(self, memory_id: str, *, user_id: str, tenant: str = "") -> MemoryItem | None:
        """One memory by id, only if it belongs to the user."""
        scope = MemoryScope(user_id, tenant)
        hits = await self.index.get([memory_id])
        return _item(hits[0], scope) if hits else None

    # -- forgetting --------------------------------------------------------------------------------

    async def forget(self, memory_id: str, *, user_id: str, tenant: str = "") -> bool:
        """Delete one memory of the user; False when it does not exist or is someone else's."""
        if await self.get(memory_id, user_id=user_id, tenant=tenant) is None:
            return False
        return await self.index.delete([memory_id]) > 0

    async def forget_user(self, *, user_id: str, tenant: str = "") -> int:
        """Delete every memory of the user (a GDPR erasure request); returns how many."""
        return await self.index.delete(filter=_filter(MemoryScope(user_id, tenant)))

    async def forget_tenant(self, tenant: str) -> int:
        """Delete every memory of every user of ``tenant``; returns how many."""
        if not tenant:
            raise ConfigError("forget_tenant needs a tenant name; use forget_user for tenant-less users")
        return await self.index.delete(filter={"tenant": tenant})

    async def close(self) -> None:
        if self._index is not None:
            await self._index.close()


def _filter(scope: MemoryScope) -> dict[str, Any]:
    return {"tenant": scope.tenant, "source": scope.key}


def _index_metadata(item: MemoryItem, scope: MemoryScope) -> dict[str, Any]:
    return {
        **item.metadata,
        "tenant": scope.tenant,
        "source": scope.key,
        "tags": [f"kind:{item.kind}"],
        "user_id": scope.user_id,
        "kind": item.kind,
        "created": item.created,
        "origin": item.source,
    }


_RESERVED = frozenset({"tenant", "source", "tags", "user_id", "kind", "created", "origin"})


def _item(hit: Hit, scope: MemoryScope) -> MemoryItem | None:
    """The memory in ``hit``, or None unless it belongs to ``scope`` (checked again after the filter)."""
    m = hit.metadata
    if m.get("source") != scope.key or m.get("tenant") != scope.tenant or m.get("user_id") != scope.user_id:
        return None
    return MemoryItem(
        id=hit.id,
        text=hit.text,
        user_id=scope.user_id,
        tenant=scope.tenant,
        kind=str(m.get("kind", "fact")),
        created=float(m.get("created", 0.0)),
        source=str(m.get("origin", "")),
        metadata={k: v for k, v in m.items() if k not in _RESERVED},
    )


class MemoryProvider:
    """A context provider: the user's top memories for the run's input, as a system-prompt section.

    The user comes from the run's metadata (``user_id``, ``tenant``) unless ``scope`` says otherwise;
    a run without a user gets no memories.

    >>> from keel.memory import ContextWindow
    >>> window = ContextWindow(3000, providers=[MemoryProvider(LongTermMemory(":memory:"), k=3)])
    """

    def __init__(
        self,
        memory: LongTermMemory,
        *,
        k: int = 5,
        min_similarity: float = 0.2,
        heading: str = "What you remember about this user",
        scope: Callable[[RunState], MemoryScope | None] | None = None,
    ) -> None:
        self.memory = memory
        self.k = k
        self.min_similarity = min_similarity
        self.heading = heading
        self.scope = scope or (lambda state: MemoryScope.from_metadata(state.metadata))

    async def provide(self, state: RunState, conversation: Sequence[Message]) -> str:
        scope = self.scope(state)
        if scope is None:
            return ""
        items = await self.memory.recall(
            state.input,
            user_id=scope.user_id,
            tenant=scope.tenant,
            k=self.k,
            min_similarity=self.min_similarity,
        )
        if not items:
            return ""
        lines = [f"- {i.text} ({i.kind}, {time.strftime('%Y-%m-%d', time.gmtime(i.created))})" for i in items]
        return f"## {self.heading}\n" + "\n".join(lines)
