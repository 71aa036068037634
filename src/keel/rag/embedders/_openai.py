"""Embeddings from any OpenAI-compatible ``/v1/embeddings`` endpoint (OpenAI, vLLM, Ollama, llama.cpp)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx

from keel.errors import (
    AuthError,
    BadRequest,
    MalformedResponse,
    ProviderUnavailable,
    RateLimited,
    Timeout,
)
from keel.rag.errors import EmbeddingError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["OpenAIEmbedder"]

_KNOWN_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


class OpenAIEmbedder:
    """Batched calls to ``POST {base_url}/embeddings``; vectors come back L2-normalised.

    ``dim`` is taken from ``dimensions``, a known model, or learned from the first reply.
    Errors map onto Keel's model errors (``RateLimited``, ``ProviderUnavailable``, ``AuthError`` ...)
    so retry and fallback policies treat them like chat-model failures.

    >>> e = OpenAIEmbedder("nomic-embed-text", base_url="http://127.0.0.1:11434/v1", dim=768)
    >>> e.name
    'openai:nomic-embed-text'
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        dim: int | None = None,
        dimensions: int | None = None,
        batch_size: int = 128,
        timeout_s: float = 60.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip(
            "/"
        )
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.dimensions = dimensions
        self._dim = dimensions or dim or _KNOWN_DIMS.get(model)
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self._client = client
        self.requests = 0

    @property
    def name(self) -> str:
        return f"openai:{self.model}" + (f":{self.dimensions}" if self.dimensions else "")

    @property
    def dim(self) -> int:
        if self._dim is None:
            raise EmbeddingError(
                f"the vector size of {self.model!r} is not known yet: pass dim=... or call embed() once"
            )
        return self._dim

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts`` in batches of ``batch_size``; one request per batch."""
        import numpy as np

        from keel.rag.embedders._base import normalise_rows

        rows: list[list[float]] = []
        client = self._client or httpx.AsyncClient(timeout=self.timeout_s)
        try:
            for start in range(0, len(texts), self.batch_size):
                rows.extend(await self._request(client, list(texts[start : start + self.batch_size])))
        finally:
            if self._client is None:
                await client.aclose()
        if not rows:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        matrix = normalise_rows(rows)
        if self._dim is None:
            self._dim = int(matrix.shape[1])
        elif matrix.shape[1] != self._dim:
            raise EmbeddingError(f"{self.model!r} returned {matrix.shape[1]}-d vectors, expected {self._dim}")
        return matrix

    async def _request(self, client: httpx.AsyncClient, batch: list[str]) -> list[list[float]]:
        body: dict[str, Any] = {"model": self.model, "input": batch, "encoding_format": "float"}
        if self.dimensions:
            body["dimensions"] = self.dimensions
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        url = f"{self.base_url}/embeddings"
        self.requests += 1
        try:
            resp = await client.post(url, json=body, headers=headers, timeout=self.timeout_s)
        except httpx.TimeoutException:
            raise Timeout(
                f"embedding request to {url} timed out after {self.timeout_s}s", provider="openai"
            ) from None
        except httpx.TransportError as e:
            raise ProviderUnavailable(
                f"cannot reach {url}: {type(e).__name__}; is the server running?", provider="openai"
            ) from None
        self._raise_for_status(resp, url)
        return self._parse(resp, len(batch))

    def _raise_for_status(self, resp: httpx.Response, url: str) -> None:
        status = resp.status_code
        if status < 400:
            return
        from keel.errors import redact

        detail = redact(resp.text, 300)
        if status in (401, 403):
            raise AuthError(
                f"{url} refused the API key ({status}); check OPENAI_API_KEY",
                provider="openai",
                status=status,
            )
        if status == 429:
            after = resp.headers.get("retry-after")
            raise RateLimited(
                f"{url} is rate limiting embeddings: {detail}",
                provider="openai",
                retry_after=float(after) if after and after.replace(".", "", 1).isdigit() else None,
            )
        if status >= 500:
            raise ProviderUnavailable(
                f"{url} failed with {status}: {detail}", provider="openai", status=status
            )
        raise BadRequest(f"{url} rejected the request ({status}): {detail}", provider="openai", status=status)

    def _parse(self, resp: httpx.Response, expected: int) -> list[list[float]]:
        try:
            data = resp.json()["data"]
            ordered = sorted(data, key=lambda d: d.get("index", 0))
            vectors = [list(map(float, d["embedding"])) for d in ordered]
        except (ValueError, KeyError, TypeError):
            raise MalformedResponse(
                "embedding reply has no data[].embedding", snippet=resp.text, provider="openai"
            ) from None
        if len(vectors) != expected:
            raise MalformedResponse(
                f"asked for {expected} embeddings, got {len(vectors)}",
                snippet=resp.text[:200],
                provider="openai",
            )
        return vectors
