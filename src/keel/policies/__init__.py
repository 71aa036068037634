"""Policies: composable wrappers around model and tool calls (retry, breaker, fallback, cache, limits)."""

from keel.policies.base import ModelCall, Policy, ToolInvocation
from keel.policies.cache import ResponseCache
from keel.policies.ratelimit import RateLimit, TokenBucket
from keel.policies.reliability import CircuitBreaker, CircuitOpen, Fallback, Retry

__all__ = [
    "CircuitBreaker",
    "CircuitOpen",
    "Fallback",
    "ModelCall",
    "Policy",
    "RateLimit",
    "ResponseCache",
    "Retry",
    "TokenBucket",
    "ToolInvocation",
]
