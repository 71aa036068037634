"""Embedders: the local ONNX model, the OpenAI-compatible client (real HTTP server) and the cache."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from rag_http import embeddings_handler, fake_vector, reply, serve

from keel.errors import AuthError, MalformedResponse, ProviderUnavailable, RateLimited
from keel.rag import CachedEmbedder, Embedder, HashingEmbedder, LocalEmbedder, OpenAIEmbedder
from keel.rag.errors import EmbeddingError


class CountingEmbedder:
    """Counts the texts it is asked to embed; vectors from HashingEmbedder."""

    def __init__(self, name: str = "counting") -> None:
        self._inner = HashingEmbedder(dim=16)
        self._name = name
        self.calls: list[list[str]] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return 16

    async def embed(self, texts: Sequence[str]) -> Any:
        self.calls.append(list(texts))
        return await self._inner.embed(texts)


async def test_hashing_embedder_is_deterministic_and_unit_length() -> None:
    e = HashingEmbedder(dim=32)
    a = await e.embed(["refund my order", "weather"])
    b = await HashingEmbedder(dim=32).embed(["refund my order"])
    assert isinstance(e, Embedder)
    assert a.shape == (2, 32) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.allclose(a[0], b[0])


async def test_cache_never_embeds_a_text_twice(tmp_path: Any) -> None:
    inner = CountingEmbedder()
    cache = CachedEmbedder(inner, tmp_path / "cache.db")
    first = await cache.embed(["alpha", "beta", "alpha"])
    assert inner.calls == [["alpha", "beta"]]  # duplicates within a call are embedded once
    second = await cache.embed(["beta", "gamma", "alpha"])
    assert inner.calls[1] == ["gamma"]
    assert np.allclose(second[0], first[1]) and np.allclose(second[2], first[0])
    assert (cache.hits, cache.misses) == (2, 3)
    assert await cache.embed(["alpha", "beta"]) is not None and len(inner.calls) == 2
    cache.close()
    # a new process (new instance, same file) reuses the stored vectors
    again = CachedEmbedder(inner, tmp_path / "cache.db")
    third = await again.embed(["gamma", "alpha"])
    assert len(inner.calls) == 2 and np.allclose(third[1], first[0])
    again.close()


async def test_cache_is_keyed_by_model_name(tmp_path: Any) -> None:
    a, b = CountingEmbedder("model-a"), CountingEmbedder("model-b")
    await CachedEmbedder(a, tmp_path / "c.db").embed(["same text"])
    await CachedEmbedder(b, tmp_path / "c.db").embed(["same text"])
    assert a.calls == [["same text"]] and b.calls == [["same text"]]


@pytest.mark.integration
async def test_local_embedder_ranks_paraphrases_above_unrelated() -> None:
    e = LocalEmbedder()
    triples = [
        ("How do I get my money back?", "I would like a refund for my purchase", "The store opens at nine"),
        (
            "my parcel never arrived",
            "the package I ordered has not been delivered",
            "change my password please",
        ),
        ("cancel my subscription", "I want to stop my membership", "what colours does the lamp come in"),
    ]
    for query, para, other in triples:
        v = await e.embed([query, para, other])
        assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    assert e.dim == 384 and "MiniLM" in e.name


@pytest.mark.integration
async def test_local_embedder_batching_padding_and_truncation() -> None:
    e = LocalEmbedder(batch_size=2)
    texts = [
        "short",
        "a somewhat longer sentence about refunds and returns",
        "mid length text here",
        "word " * 2000,
    ]
    together = await e.embed(texts)
    alone = np.vstack([await e.embed([t]) for t in texts])
    assert together.shape == (4, 384)
    assert np.allclose(together, alone, atol=1e-4)  # padding inside a batch does not change a vector
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-4)
    assert e.count_tokens("Refunds take five days.") == 6
    assert e.count_tokens("word " * 2000) == 2000  # counting is never truncated
    assert (await e.embed([])).shape == (0, 384)


@pytest.mark.integration
async def test_local_embedder_reports_missing_model_files(tmp_path: Any) -> None:
    with pytest.raises(EmbeddingError, match="missing"):
        await LocalEmbedder(model_path=tmp_path / "nope.onnx").embed(["x"])


@pytest.mark.integration
async def test_cached_local_embedder_skips_the_model_on_known_text(tmp_path: Any) -> None:
    calls: list[int] = []

    class Spy(LocalEmbedder):
        def embed_sync(self, texts: Sequence[str]) -> Any:
            calls.append(len(texts))
            return super().embed_sync(texts)

    cache = CachedEmbedder(Spy(), tmp_path / "c.db")
    first = await cache.embed(["refund policy", "opening hours"])
    second = await cache.embed(["opening hours", "refund policy"])
    assert calls == [2]
    assert np.allclose(first[0], second[1])


@pytest.mark.integration
async def test_openai_embedder_against_a_real_http_server() -> None:
    with serve({"/v1/embeddings": embeddings_handler(8)}) as (base, log):
        e = OpenAIEmbedder("test-embed", base_url=f"{base}/v1", api_key="sk-test-123456789", batch_size=2)
        texts = ["one", "two", "three", "four", "five"]
        v = await e.embed(texts)
    assert v.shape == (5, 8) and e.dim == 8
    expected = np.array([fake_vector(t, 8) for t in texts], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(v, expected, atol=1e-6)  # reordered by "index", normalised
    assert [json.loads(r["body"])["input"] for r in log] == [["one", "two"], ["three", "four"], ["five"]]
    assert log[0]["headers"]["Authorization"] == "Bearer sk-test-123456789"
    assert json.loads(log[0]["body"])["model"] == "test-embed"


@pytest.mark.integration
async def test_openai_embedder_maps_http_errors() -> None:
    routes = {
        "/auth/embeddings": lambda h: reply(h, 401, b'{"error": "bad key sk-abcdefghijkl"}'),
        "/limit/embeddings": lambda h: reply(h, 429, b"slow down", headers={"retry-after": "3"}),
        "/down/embeddings": lambda h: reply(h, 503, b"overloaded"),
        "/junk/embeddings": lambda h: reply(h, 200, b'{"nope": 1}', "application/json"),
        "/short/embeddings": lambda h: reply(
            h, 200, json.dumps({"data": [{"index": 0, "embedding": [1, 0]}]}).encode()
        ),
    }
    with serve(routes) as (base, _):
        with pytest.raises(AuthError) as auth:
            await OpenAIEmbedder("m", base_url=f"{base}/auth", api_key="k").embed(["x"])
        assert "sk-abcdefghijkl" not in str(auth.value)
        with pytest.raises(RateLimited) as limited:
            await OpenAIEmbedder("m", base_url=f"{base}/limit").embed(["x"])
        assert limited.value.retry_after == 3.0
        with pytest.raises(ProviderUnavailable):
            await OpenAIEmbedder("m", base_url=f"{base}/down").embed(["x"])
        with pytest.raises(MalformedResponse):
            await OpenAIEmbedder("m", base_url=f"{base}/junk").embed(["x"])
        with pytest.raises(MalformedResponse):
            await OpenAIEmbedder("m", base_url=f"{base}/short").embed(["x", "y"])
    # the server is gone now: connection refused
    with pytest.raises(ProviderUnavailable):
        await OpenAIEmbedder("m", base_url=f"{base}/auth", timeout_s=2).embed(["x"])


async def test_openai_embedder_dim_is_known_or_explained() -> None:
    assert OpenAIEmbedder("text-embedding-3-small").dim == 1536
    assert OpenAIEmbedder("x", dimensions=256).dim == 256
    with pytest.raises(EmbeddingError, match="pass dim"):
        _ = OpenAIEmbedder("my-own-model").dim
