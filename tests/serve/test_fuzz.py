"""Fuzz every operation of the app's own OpenAPI schema with schemathesis: no input yields a 5xx,
and every failure is the JSON error body. Runs against a live uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from serve_helpers import ALL, approval_agent, bearer, config, echo_agent, live_server

from keel.serve import RateLimits
from keel.serve.keys import SQLiteKeyStore

pytestmark = pytest.mark.integration

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

MAX_EXAMPLES = 25


def _check(case, token: str, failures: list[str]) -> None:
    response = case.call(headers={**(case.headers or {}), **bearer(token)}, timeout=30)
    where = f"{case.method} {case.formatted_path} -> {response.status_code}"
    if response.status_code >= 500:
        failures.append(f"{where}: {response.text[:300]}")
    elif response.status_code >= 400:
        body = response.json()
        if set(body) != {"error"} or not {"code", "message"} <= set(body["error"]):
            failures.append(f"{where}: not the error body: {response.text[:300]}")


def _fuzz(strategy, token: str, failures: list[str]) -> None:
    from hypothesis import HealthCheck, given, settings

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    @given(case=strategy)
    def run(case) -> None:
        _check(case, token, failures)

    run()


def test_no_input_makes_the_api_fail_with_a_5xx() -> None:
    from schemathesis import GenerationMode

    keys = SQLiteKeyStore(":memory:")
    token = asyncio.run(keys.create("acme", ALL))[1]
    no_limits = RateLimits(None, None, None, None)
    cfg = config(
        {"echo": echo_agent(), "refunder": approval_agent()}, keys, limits=no_limits, wait_timeout_s=5
    )
    failures: list[str] = []
    with live_server(cfg) as url:
        # a finished run (a suspended one would keep ?follow=true open until the run ends)
        real = httpx.post(
            f"{url}/v1/agents/echo/runs", json={"message": "x", "session_id": "s1"}, headers=bearer(token)
        ).json()
        known = {"agent": "echo", "run_id": real["run_id"], "session_id": "s1"}
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 14
        for op in operations:
            _fuzz(op.as_strategy(generation_mode=GenerationMode.POSITIVE), token, failures)
            # an operation with nothing that can be invalid (GET /healthz) has no negative cases
            with contextlib.suppress(hypothesis.errors.Unsatisfiable):
                _fuzz(op.as_strategy(generation_mode=GenerationMode.NEGATIVE), token, failures)
            names = {p.name for p in op.iter_parameters() if p.location == "path"}
            if names and names <= set(known):  # the same operation on objects that exist
                fixed = {n: known[n] for n in names}
                _fuzz(op.as_strategy(path_parameters=fixed), token, failures)
    asyncio.run(keys.close())
    assert not failures, "\n".join(failures[:20])
