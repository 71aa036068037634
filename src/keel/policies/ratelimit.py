"""Token-bucket rate limits: in process by default (``TokenBucket``), shared via Redis in production."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from keel.loop.state import RunState
from keel.models.base import ModelResponse
from keel.policies.base import ModelCall, ModelNext, Policy

__all__ = ["RateLimit", "TokenBucket"]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucket:
    """Buckets of ``capacity`` tokens refilled at ``rate_per_s``, one bucket per key.

    ``take(key, n)`` returns 0.0 when granted, else the seconds to wait before ``n`` tokens exist.

    >>> b = TokenBucket(capacity=2, rate_per_s=1.0)
    >>> b.take("k"), b.take("k"), b.take("k") > 0
    (0.0, 0.0, True)
    """

    def __init__(
        self, capacity: float, rate_per_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = capacity
        self.rate = rate_per_s
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def charge(self, key: str, n: float) -> None:
        """Take ``n`` tokens whatever the balance (it may go negative): for costs known only after
        the fact, such as the tokens a model call used. A bucket in debt refuses ``take`` until refilled."""
        now = self.clock()
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = _Bucket(self.capacity, now)
        b.tokens = min(self.capacity, b.tokens + (now - b.updated) * self.rate) - n
        b.updated = now

    def take(self, key: str, n: float = 1.0) -> float:
        now = self.clock()
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = _Bucket(self.capacity, now)
        b.tokens = min(self.capacity, b.tokens + (now - b.updated) * self.rate)
        b.updated = now
        if n > self.capacity:
            return float("inf")
        if b.tokens >= n:
            b.tokens -= n
            return 0.0
        return (n - b.tokens) / self.rate


class RateLimit(Policy):
    """Client-side throttling of model calls: waits for the bucket rather than failing.

    ``key`` maps a run to its bucket (default: the run's tenant, else one shared bucket).
    """

    name = "rate_limit"

    def __init__(
        self,
        requests_per_minute: float,
        *,
        burst: float | None = None,
        key: Callable[[RunState], str] | None = None,
    ) -> None:
        self.bucket = TokenBucket(burst or max(1.0, requests_per_minute / 6), requests_per_minute / 60.0)
        self.key = key or (lambda st: str(st.metadata.get("tenant", "*")))

    async def around_model(self, call: ModelCall, next: ModelNext) -> ModelResponse:
        k = self.key(call.state)
        wait = self.bucket.take(k)
        while wait > 0:  # the bucket refills with time, so sleeping is the wait
            await asyncio.sleep(min(wait, 5.0))
            wait = self.bucket.take(k)
        return await next(call)
