"""Rate limits per API key and per tenant: requests per minute and model tokens per minute.

Each limit is a token bucket holding a minute's allowance and refilling continuously. Requests
take one token before they run; model tokens are charged after the fact (a run's usage is known
only as it happens), so a tenant may go into debt and then waits until the bucket refills.
Buckets live in process (``MemoryBucket``, over :class:`keel.policies.ratelimit.TokenBucket`) or in
Redis (``RedisBucket``: one Lua script, atomic, on Redis's clock) when several replicas share them.

>>> import asyncio
>>> b = MemoryBucket(capacity=2, per_minute=2)
>>> [asyncio.run(b.take("k")) == 0 for _ in range(3)]
[True, True, False]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from keel.policies.ratelimit import TokenBucket
from keel.serve.errors import ApiError

if TYPE_CHECKING:
    from keel.serve.config import RateLimits

__all__ = ["Bucket", "MemoryBucket", "RateLimiter", "RedisBucket"]


class Bucket(Protocol):
    """A family of token buckets, one per key, all with the same capacity and refill rate."""

    async def take(self, key: str, n: float = 1.0) -> float:
        """Take ``n`` tokens: 0.0 when granted, else the seconds until they exist (nothing taken)."""
        ...

    async def charge(self, key: str, n: float) -> None:
        """Take ``n`` tokens unconditionally; the balance may go negative (debt)."""
        ...


class _DebtBucket(TokenBucket):
    def charge(self, key: str, n: float) -> None:
        self.take(key, 0.0)  # creates and refills the bucket
        self._buckets[key].tokens -= n


class MemoryBucket:
    """Buckets in this process (the default; each replica counts on its own)."""

    def __init__(self, capacity: float, per_minute: float, clock: Callable[[], float] | None = None) -> None:
        if clock is None:
            self._bucket = _DebtBucket(capacity, per_minute / 60.0)
        else:
            self._bucket = _DebtBucket(capacity, per_minute / 60.0, clock)

    async def take(self, key: str, n: float = 1.0) -> float:
        return self._bucket.take(key, n)

    async def charge(self, key: str, n: float) -> None:
        self._bucket.charge(key, n)


# Refill, then take or charge, in one atomic step on the server's clock (replicas' clocks differ).
# A missing key is a full bucket, so keys expire once they would have refilled anyway.
_LUA = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local data = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(data[1])
local ts = tonumber(data[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local wait = 0
if ARGV[4] == 'charge' then
  tokens = tokens - n
elseif n > capacity then
  wait = -1
elseif tokens >= n then
  tokens = tokens - n
else
  wait = (n - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisBucket:
    """Buckets in Redis, shared by every replica. ``client`` is a ``redis.asyncio.Redis``.

    >>> import redis.asyncio as redis                                   # doctest: +SKIP
    >>> b = RedisBucket(redis.from_url("redis://127.0.0.1:6379"), "key-rpm", 600, 600)  # doctest: +SKIP
    """

    def __init__(self, client: Any, name: str, capacity: float, per_minute: float) -> None:
        self.client = client
        self.prefix = f"keel:rl:{name}:"
        self.capacity = capacity
        self.rate = per_minute / 60.0
        self._script = client.register_script(_LUA)

    async def _call(self, key: str, n: float, mode: str) -> float:
        raw = await self._script(keys=[self.prefix + key], args=[self.capacity, self.rate, n, mode])
        wait = float(raw.decode() if isinstance(raw, bytes) else raw)
        return math.inf if wait < 0 else wait

    async def take(self, key: str, n: float = 1.0) -> float:
        return await self._call(key, n, "take")

    async def charge(self, key: str, n: float) -> None:
        await self._call(key, n, "charge")


BucketFactory = Callable[[str, float], Bucket]
"""(name, per_minute) -> Bucket."""


def memory_buckets(name: str, per_minute: float) -> Bucket:
    return MemoryBucket(per_minute, per_minute)


def redis_buckets(client: Any) -> BucketFactory:
    def make(name: str, per_minute: float) -> Bucket:
        return RedisBucket(client, name, per_minute, per_minute)

    return make


class RateLimiter:
    """Applies ``RateLimits`` to requests (``admit``) and to model tokens (``charge_tokens``)."""

    def __init__(self, limits: RateLimits, buckets: BucketFactory = memory_buckets) -> None:
        def make(name: str, per_minute: float | None) -> Bucket | None:
            return buckets(name, per_minute) if per_minute else None

        self._key_rpm = make("key-rpm", limits.key_requests_per_minute)
        self._tenant_rpm = make("tenant-rpm", limits.tenant_requests_per_minute)
        self._key_tpm = make("key-tpm", limits.key_tokens_per_minute)
        self._tenant_tpm = make("tenant-tpm", limits.tenant_tokens_per_minute)

    @property
    def meters_tokens(self) -> bool:
        return self._key_tpm is not None or self._tenant_tpm is not None

    async def admit(self, key_id: str, tenant: str, *, uses_tokens: bool = False) -> None:
        """Count one request; raise 429 (with ``Retry-After``) when a bucket is empty.

        ``uses_tokens`` requests (runs) are refused too while a token bucket is in debt.
        """
        checks: list[tuple[Bucket | None, str, str, float]] = [
            (self._key_rpm, key_id, "requests per minute for this API key", 1.0),
            (self._tenant_rpm, tenant, "requests per minute for this tenant", 1.0),
        ]
        if uses_tokens:
            # taking 0 tokens is granted unless the bucket is in debt; it then says how long to wait
            checks += [
                (self._key_tpm, key_id, "model tokens per minute for this API key", 0.0),
                (self._tenant_tpm, tenant, "model tokens per minute for this tenant", 0.0),
            ]
        for bucket, who, what, n in checks:
            if bucket is None:
                continue
            wait = await bucket.take(who, n)
            if wait > 0:
                retry = 3600 if math.isinf(wait) else max(1, math.ceil(wait))
                raise ApiError(
                    429,
                    "rate_limited",
                    f"rate limit reached ({what}); retry after {retry} s",
                    headers={"Retry-After": str(retry)},
                )

    async def charge_tokens(self, key_id: str, tenant: str, tokens: int) -> None:
        if tokens <= 0:
            return
        for bucket, who in ((self._key_tpm, key_id), (self._tenant_tpm, tenant)):
            if bucket is not None:
                await bucket.charge(who, float(tokens))
