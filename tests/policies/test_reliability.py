"""Retry, circuit breaker, fallback, cache and rate limits on scripted failures."""

from __future__ import annotations

import pytest

from keel import Agent, RunError
from keel.errors import AuthError, ProviderUnavailable, RateLimited
from keel.policies import CircuitBreaker, Fallback, RateLimit, ResponseCache, Retry, TokenBucket
from keel.testing import ScriptedModel


async def test_retry_recovers_and_records_each_attempt() -> None:
    model = ScriptedModel([ProviderUnavailable("500"), RateLimited("429", retry_after=0.01), "ok"])
    result = await Agent(model, policies=[Retry(attempts=3, base_delay_s=0.001)]).run("hi")
    assert result.output == "ok"
    retries = [e for e in result.events if e.type == "retry_scheduled"]
    assert [r.attempt for r in retries] == [1, 2]
    assert retries[1].delay_s >= 0.01  # honours retry_after


async def test_retry_does_not_retry_what_cannot_succeed() -> None:
    model = ScriptedModel([AuthError("bad key"), "never reached"])
    with pytest.raises(RunError):
        await Agent(model, policies=[Retry(attempts=5, base_delay_s=0.001)]).run("hi")
    assert len(model.calls) == 1


def test_full_jitter_stays_in_its_envelope() -> None:
    r = Retry(base_delay_s=1.0, max_delay_s=8.0, seed=7)
    delays = [r.delay(a, None) for a in range(6) for _ in range(50)]
    assert all(0 <= d <= 8.0 for d in delays)
    assert max(r.delay(0, None) for _ in range(200)) <= 1.0
    assert r.delay(0, retry_after=5.0) >= 5.0


async def test_breaker_opens_fails_fast_and_recovers(monkeypatch) -> None:
    import keel.policies.reliability as rel

    now = [1000.0]
    monkeypatch.setattr(rel.time, "monotonic", lambda: now[0])
    healthy = [False]
    model = ScriptedModel(lambda m, t: "ok" if healthy[0] else ProviderUnavailable("down"))
    model.name = "primary"
    breaker = CircuitBreaker(failure_rate=0.5, window=4, min_calls=4, cooldown_s=10)
    agent = Agent(model, policies=[breaker])
    for _ in range(4):
        with pytest.raises(RunError):
            await agent.run("x")
    assert breaker.state("primary") == "open"
    calls_before = len(model.calls)
    with pytest.raises(RunError, match="open"):
        await agent.run("x")
    assert len(model.calls) == calls_before  # failed fast, the model was not called
    now[0] += 11
    assert breaker.state("primary") == "half_open"
    healthy[0] = True
    result = await agent.run("x")
    assert breaker.state("primary") == "closed"
    assert [e.state for e in result.events if e.type == "breaker_changed"] == ["half_open", "closed"]


async def test_fallback_switches_model_on_outage() -> None:
    primary = ScriptedModel(lambda m, t: ProviderUnavailable("down"), name="primary")
    backup = ScriptedModel(lambda m, t: "from backup", name="backup")
    result = await Agent(primary, policies=[Fallback(backup), Retry(attempts=2, base_delay_s=0.001)]).run(
        "hi"
    )
    assert result.output == "from backup"
    responded = [e for e in result.events if e.type == "model_responded"]
    assert responded[-1].model == "backup"
    assert len(primary.calls) == 2  # retried on the primary before falling back


async def test_fallback_does_not_hide_bad_requests() -> None:
    from keel.errors import BadRequest

    primary = ScriptedModel(lambda m, t: BadRequest("invalid"), name="primary")
    backup = ScriptedModel(lambda m, t: "x", name="backup")
    with pytest.raises(RunError):
        await Agent(primary, policies=[Fallback(backup)]).run("hi")
    assert backup.calls == []


async def test_cache_serves_identical_deterministic_requests() -> None:
    model = ScriptedModel(lambda m, t: f"answer {len(model.calls)}")
    cache = ResponseCache()
    agent = Agent(model, policies=[cache])
    first = await agent.run("same question")
    second = await agent.run("same question")
    third = await agent.run("other question")
    assert first.output == second.output == "answer 1" and third.output == "answer 2"
    assert (cache.hits, cache.misses) == (1, 2)
    assert second.usage.input_tokens == 0 and second.usage.cached_tokens == first.usage.input_tokens


def test_token_bucket_refills_over_time() -> None:
    t = [0.0]
    b = TokenBucket(capacity=2, rate_per_s=1.0, clock=lambda: t[0])
    assert [b.take("a"), b.take("a")] == [0.0, 0.0]
    assert b.take("a") == pytest.approx(1.0)
    assert b.take("b") == 0.0  # buckets are per key
    t[0] = 1.0
    assert b.take("a") == 0.0
    assert b.take("a", n=5) == float("inf")


async def test_rate_limit_policy_throttles() -> None:
    import time

    agent = Agent(ScriptedModel(lambda m, t: "ok"), policies=[RateLimit(requests_per_minute=600, burst=1)])
    started = time.perf_counter()
    for _ in range(3):
        await agent.run("x")
    assert time.perf_counter() - started >= 0.18  # 10/s after a burst of 1: two waits of 0.1 s


def test_charge_can_put_a_bucket_in_debt() -> None:
    t = [0.0]
    b = TokenBucket(capacity=10, rate_per_s=5.0, clock=lambda: t[0])
    b.charge("k", 25)  # a model call used more tokens than the bucket held
    assert b.take("k") == pytest.approx((1 + 15) / 5.0)
    t[0] = 4.0  # 20 tokens refilled: the debt is paid and 5 remain
    assert b.take("k", 5) == 0.0
