"""Keel's exception hierarchy.

Every error Keel raises derives from :class:`KeelError`. The tree is small on purpose, so that
policies (retry, fallback, circuit breaker) can act on a handful of types::

    KeelError
    ├── ConfigError                      bad model string, missing key, unreadable file
    ├── ModelError                       anything a model provider did wrong
    │   ├── RateLimited(retry_after)     retryable
    │   ├── ProviderUnavailable          retryable (5xx, overloaded, connection refused)
    │   ├── Timeout                      retryable
    │   ├── BadRequest                   not retryable
    │   ├── ContextTooLong               not retryable; shrink the prompt
    │   ├── AuthError                    not retryable; fix the key
    │   └── MalformedResponse(snippet)   the provider answered something Keel cannot parse
    ├── ToolError                        raised by tools; reaches the model as an error result
    ├── OutputValidationError            the final output never matched ``output_type``
    ├── RunError(reason)                 a run ended without an answer (max steps, budget, timeout)
    ├── ApprovalError                    resuming a run with an unknown or already-decided approval
    ├── GuardrailError                   a guardrail blocked input or output
    └── StoreError                       the run store could not read or write

Messages say what to do next, and never carry secrets: :func:`redact` scrubs API keys and bearer
tokens from any snippet attached to an error.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "ApprovalError",
    "AuthError",
    "BadRequest",
    "ConfigError",
    "ContextTooLong",
    "GuardrailError",
    "KeelError",
    "MalformedResponse",
    "ModelError",
    "OutputValidationError",
    "ProviderUnavailable",
    "RateLimited",
    "RunError",
    "StoreError",
    "Timeout",
    "ToolError",
    "redact",
]

_SECRET_PATTERNS = [
    re.compile(r"(sk-[A-Za-z0-9_\-]{8,})"),
    re.compile(r"(sk-ant-[A-Za-z0-9_\-]{8,})"),
    re.compile(r"((?:Bearer|bearer)\s+)[A-Za-z0-9._\-]{8,}"),
    re.compile(
        r"((?:api[_-]?key|x-api-key|authorization|password|secret|token)\"?\s*[:=]\s*\"?)[^\s\",}]{4,}", re.I
    ),
    re.compile(r"(keel_[A-Za-z0-9]{6,}_)[A-Za-z0-9_\-]{8,}"),
]


def redact(text: str, limit: int = 500) -> str:
    """Remove API keys, bearer tokens and password-like values from ``text`` and cap its length.

    >>> redact('{"api_key": "sk-abcdef123456789"}')
    '{"api_key": "[REDACTED]"}'
    """
    for pat in _SECRET_PATTERNS:
        if pat.groups >= 1 and pat.pattern.startswith("(sk-"):
            text = pat.sub("[REDACTED]", text)
        else:
            text = pat.sub(lambda m: m.group(1) + "[REDACTED]", text)
    if len(text) > limit:
        text = text[:limit] + f"… [{len(text) - limit} more chars]"
    return text


class KeelError(Exception):
    """Base class of every error raised by Keel."""


class ConfigError(KeelError):
    """The configuration is wrong: an unknown model string, a missing API key, an unreadable file."""


class StoreError(KeelError):
    """The run store could not read or write."""


class ModelError(KeelError):
    """A model provider failed. ``retryable`` tells policies whether trying again can help."""

    retryable: bool = False

    def __init__(self, message: str, *, provider: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status


class RateLimited(ModelError):
    """The provider asked us to slow down; ``retry_after`` is in seconds when it said so."""

    retryable = True

    def __init__(
        self, message: str, *, retry_after: float | None = None, provider: str = "", status: int | None = 429
    ) -> None:
        super().__init__(message, provider=provider, status=status)
        self.retry_after = retry_after


class ProviderUnavailable(ModelError):
    """The provider is down, overloaded or unreachable. Try again later or fall back."""

    retryable = True


class Timeout(ModelError):
    """The call took longer than its timeout."""

    retryable = True


class BadRequest(ModelError):
    """The provider rejected the request as malformed. Retrying the same request will not help."""


class ContextTooLong(BadRequest):
    """The prompt does not fit the model's context window. Shorten the history or pick a larger model."""


class AuthError(ModelError):
    """The API key is missing, wrong or lacks permission."""


class MalformedResponse(ModelError):
    """The provider answered with something Keel could not parse. ``snippet`` holds the redacted raw text."""

    retryable = True

    def __init__(self, message: str, *, snippet: str = "", provider: str = "") -> None:
        super().__init__(f"{message}: {redact(snippet, 300)!r}" if snippet else message, provider=provider)
        self.snippet = redact(snippet)


class ToolError(KeelError):
    """Raise from a tool to report a failure to the model as an error result (the run continues)."""


class OutputValidationError(KeelError):
    """The model's final answer did not validate against ``output_type`` after all retries."""

    def __init__(self, message: str, *, last_output: str = "") -> None:
        super().__init__(message)
        self.last_output = last_output
        self.result: Any = None
        """The ``RunResult`` of the failed run (events included), when raised by ``Agent.run``."""


class RunError(KeelError):
    """A run ended without an answer. ``reason`` is one of ``max_steps``, ``budget``, ``timeout``,
    ``cancelled``, ``denied``, ``error``."""

    def __init__(self, message: str, *, reason: str, run_id: str = "", result: Any = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.run_id = run_id
        self.result = result
        """The ``RunResult`` of the failed run (events included), when raised by ``Agent.run``."""


class ApprovalError(KeelError):
    """An approval decision names a run or call that is not waiting for one."""


class GuardrailError(KeelError):
    """A guardrail blocked the input or the output."""

    def __init__(self, message: str, *, guardrail: str) -> None:
        super().__init__(message)
        self.guardrail = guardrail
