"""Retry with backoff, circuit breaker, and fallback chains for model calls."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from keel.errors import ModelError, ProviderUnavailable, RateLimited, Timeout
from keel.events import BreakerChanged, RetryScheduled
from keel.models.base import Model, ModelResponse
from keel.policies.base import ModelCall, ModelNext, Policy

__all__ = ["CircuitBreaker", "CircuitOpen", "Fallback", "Retry"]


class CircuitOpen(ProviderUnavailable):
    """The circuit breaker for this model is open: calls fail fast until its cool-down ends."""


class Retry(Policy):
    """Retry retryable model errors with exponential backoff and full jitter, honouring ``retry_after``.

    >>> Retry(attempts=4, base_delay_s=0.5).delay(2, None) <= 2.0
    True
    """

    name = "retry"

    def __init__(
        self, attempts: int = 3, base_delay_s: float = 0.5, max_delay_s: float = 20.0, seed: int | None = None
    ) -> None:
        self.attempts = max(1, attempts)
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self._random = random.Random(seed)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter: uniform in [0, min(max, base·2^attempt)], but never less than ``retry_after``."""
        d = self._random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2**attempt))
        if retry_after is not None:
            d = max(d, min(retry_after, self.max_delay_s))
        return d

    async def around_model(self, call: ModelCall, next: ModelNext) -> ModelResponse:
        for attempt in range(self.attempts):
            try:
                return await next(call)
            except ModelError as e:
                if not e.retryable or isinstance(e, CircuitOpen) or attempt + 1 >= self.attempts:
                    raise
                d = self.delay(attempt, e.retry_after if isinstance(e, RateLimited) else None)
                call.emit(
                    RetryScheduled(
                        run_id=call.state.run_id,
                        target=call.model.name,
                        attempt=attempt + 1,
                        delay_s=round(d, 3),
                        error=f"{type(e).__name__}: {e}"[:300],
                    )
                )
                await asyncio.sleep(d)
        raise AssertionError("unreachable")  # pragma: no cover


BreakerState = Literal["closed", "open", "half_open"]


@dataclass
class _Circuit:
    state: BreakerState = "closed"
    opened_at: float = 0.0
    results: deque[bool] = field(default_factory=deque)
    probing: bool = False


class CircuitBreaker(Policy):
    """One circuit per model: opens when the failure rate over the last ``window`` calls reaches
    ``failure_rate`` (after ``min_calls``), fails fast while open, lets one probe through after
    ``cooldown_s`` (half-open) and closes again when it succeeds. Only retryable errors count.

    State changes are ``breaker_changed`` events; ``state(model_name)`` reads the current state.
    """

    name = "circuit_breaker"

    def __init__(
        self, failure_rate: float = 0.5, window: int = 20, min_calls: int = 5, cooldown_s: float = 30.0
    ) -> None:
        self.failure_rate = failure_rate
        self.window = window
        self.min_calls = min_calls
        self.cooldown_s = cooldown_s
        self._circuits: dict[str, _Circuit] = {}

    def state(self, key: str) -> BreakerState:
        c = self._circuits.get(key)
        if c is None:
            return "closed"
        if c.state == "open" and time.monotonic() - c.opened_at >= self.cooldown_s:
            return "half_open"
        return c.state

    def _set(self, call: ModelCall, key: str, c: _Circuit, state: BreakerState) -> None:
        if c.state != state:
            c.state = state
            call.emit(BreakerChanged(run_id=call.state.run_id, breaker=key, state=state))

    async def around_model(self, call: ModelCall, next: ModelNext) -> ModelResponse:
        key = call.model.name
        c = self._circuits.setdefault(key, _Circuit(results=deque(maxlen=self.window)))
        if c.state == "open":
            if time.monotonic() - c.opened_at < self.cooldown_s or c.probing:
                raise CircuitOpen(f"circuit for {key} is open; failing fast", provider=key)
            self._set(call, key, c, "half_open")
        if c.state == "half_open":
            if c.probing:
                raise CircuitOpen(f"circuit for {key} is half-open and probing; failing fast", provider=key)
            c.probing = True
        try:
            response = await next(call)
        except ModelError as e:
            c.probing = False
            if e.retryable:
                self._failure(call, key, c)
            raise
        except BaseException:
            c.probing = False
            raise
        c.probing = False
        c.results.append(True)
        if c.state == "half_open":
            c.results.clear()
            self._set(call, key, c, "closed")
        return response

    def _failure(self, call: ModelCall, key: str, c: _Circuit) -> None:
        c.results.append(False)
        failures = c.results.count(False)
        if c.state == "half_open" or (
            len(c.results) >= self.min_calls and failures / len(c.results) >= self.failure_rate
        ):
            c.opened_at = time.monotonic()
            self._set(call, key, c, "open")


class Fallback(Policy):
    """Try the agent's model, then each fallback in order, on unavailability, rate limits, timeouts
    or an open circuit. Put it first in the policy list so retries and breakers apply per model.

    >>> Fallback("openai:gpt-4o-mini", "local")  # doctest: +ELLIPSIS
    <keel.policies.reliability.Fallback object at ...>
    """

    name = "fallback"

    def __init__(
        self,
        *models: str | Model,
        on: Sequence[type[ModelError]] = (ProviderUnavailable, RateLimited, Timeout),
    ) -> None:
        self._specs = list(models)
        self._models: list[Model] | None = None
        self.on = tuple(on)

    def models(self) -> list[Model]:
        if self._models is None:
            from keel.models import get_model

            self._models = [get_model(m) for m in self._specs]
        return self._models

    async def around_model(self, call: ModelCall, next: ModelNext) -> ModelResponse:
        try:
            return await next(call)
        except self.on as first:
            last: ModelError = first
        for model in self.models():
            call.model = model
            try:
                return await next(call)
            except self.on as e:
                last = e
        raise last
