"""Fault injection against real HTTP servers: retries, fallback and the breaker keep runs finishing."""

from __future__ import annotations

import asyncio

import pytest

from flaky_provider import FlakyServer
from keel import Agent, RunError, tool
from keel.models.openai_compat import OpenAIModel
from keel.policies import CircuitBreaker, Fallback, Retry


@tool
async def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def model(server: FlakyServer, name: str) -> OpenAIModel:
    return OpenAIModel(name, base_url=server.base_url, api_key="sk-test-not-a-real-key-1234", timeout_s=0.3)


async def run_many(agent: Agent, n: int, batch: int = 25) -> tuple[int, int]:
    ok = failed = 0
    for start in range(0, n, batch):
        results = await asyncio.gather(
            *(agent.run("2+3?") for _ in range(min(batch, n - start))), return_exceptions=True
        )
        for r in results:
            if isinstance(r, RunError):
                failed += 1
            elif isinstance(r, BaseException):
                raise r
            else:
                assert r.output == "The sum is 5."
                ok += 1
    return ok, failed


@pytest.mark.integration
async def test_200_runs_against_a_provider_failing_30_percent() -> None:
    primary = FlakyServer(failure_rate=0.3, seed=42, slow_s=0.6).start()
    backup = FlakyServer(failure_rate=0.0).start()
    try:
        agent = Agent(
            model(primary, "primary"),
            tools=[add],
            policies=[Fallback(model(backup, "backup")), Retry(attempts=3, base_delay_s=0.01, seed=1)],
        )
        ok, failed = await run_many(agent, 200)
        assert ok / 200 >= 0.99, (ok, failed)
        assert primary.counts["429"] > 0 and primary.counts["500"] > 0 and primary.counts["slow"] > 0
        injected = primary.counts["429"] + primary.counts["500"] + primary.counts["slow"]
        assert 0.2 < injected / sum(primary.counts.values()) < 0.4  # the fault rate really was ~30%
    finally:
        primary.stop()
        backup.stop()


@pytest.mark.integration
async def test_outage_fails_over_opens_the_breaker_and_recovers() -> None:
    primary = FlakyServer(failure_rate=0.0).start()
    backup = FlakyServer(failure_rate=0.0).start()
    breaker = CircuitBreaker(failure_rate=0.5, window=10, min_calls=4, cooldown_s=0.5)
    agent = Agent(
        model(primary, "primary"),
        tools=[add],
        policies=[Fallback(model(backup, "backup")), breaker, Retry(attempts=2, base_delay_s=0.01)],
    )
    try:
        assert (await run_many(agent, 10)) == (10, 0)
        served_before = primary.counts["ok"]
        primary.down = True  # the endpoint goes down mid-load
        assert (await run_many(agent, 20)) == (20, 0)  # every run failed over
        assert breaker.state("openai:primary") == "open"
        calls_while_open = primary.counts["ok"]
        assert calls_while_open == served_before
        primary.down = False  # the endpoint returns
        await asyncio.sleep(0.6)
        assert breaker.state("openai:primary") == "half_open"
        result = await agent.run("2+3?")
        assert result.output == "The sum is 5."
        assert breaker.state("openai:primary") == "closed"
        assert [e.model for e in result.events if e.type == "model_responded"] == ["openai:primary"] * 2
    finally:
        primary.stop()
        backup.stop()
