"""Response caching for deterministic model calls."""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict

from keel.models.base import ModelResponse
from keel.policies.base import ModelCall, ModelNext, Policy

__all__ = ["ResponseCache"]


def request_key(call: ModelCall) -> str:
    """A hash of everything that determines a deterministic model's answer."""
    payload = {
        "model": call.model.name,
        "messages": [m.model_dump(mode="json") for m in call.messages],
        "tools": [t.model_dump(mode="json") for t in call.tools],
        "schema": call.output_schema,
        "settings": call.settings.model_dump(mode="json", exclude={"timeout_s"}),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class ResponseCache(Policy):
    """An in-process LRU cache with a TTL for model responses.

    Only requests at temperature 0 (or unset) are cached: sampling at a higher temperature asks for
    variety, which a cache would remove. Hits report zero new tokens (``usage.cached_tokens`` holds
    the prompt) and cost nothing.
    """

    name = "cache"

    def __init__(self, max_entries: int = 1024, ttl_s: float = 3600.0) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._data: OrderedDict[str, tuple[float, ModelResponse]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def around_model(self, call: ModelCall, next: ModelNext) -> ModelResponse:
        if call.settings.temperature not in (None, 0, 0.0):
            return await next(call)
        key = request_key(call)
        hit = self._data.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self.ttl_s:
            self._data.move_to_end(key)
            self.hits += 1
            resp = hit[1]
            usage = resp.usage.model_copy(
                update={
                    "cached_tokens": resp.usage.input_tokens,
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "cost_usd": 0.0,
                }
            )
            return resp.model_copy(update={"usage": usage})
        self.misses += 1
        resp = await next(call)
        self._data[key] = (now, resp)
        if len(self._data) > self.max_entries:
            self._data.popitem(last=False)
        return resp
