"""Keel: a production runtime for LLM agents.

>>> from keel import Agent, tool
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The public API. Names resolve lazily so `import keel` stays light (no model runtime, no servers).
_EXPORTS: dict[str, str] = {
    "Agent": "keel.agent",
    "RunResult": "keel.agent",
    "ToolCallRecord": "keel.agent",
    "tool": "keel.tools._tool",
    "Tool": "keel.tools._tool",
    "ToolContext": "keel.tools._tool",
    "Budget": "keel.loop.run",
    "ModelSettings": "keel.models.base",
    "get_model": "keel.models",
    "Policy": "keel.policies.base",
    "KeelError": "keel.errors",
    "ConfigError": "keel.errors",
    "ModelError": "keel.errors",
    "ToolError": "keel.errors",
    "RunError": "keel.errors",
    "OutputValidationError": "keel.errors",
    "ApprovalError": "keel.errors",
}

__all__ = [
    "Agent",
    "ApprovalError",
    "Budget",
    "ConfigError",
    "KeelError",
    "ModelError",
    "ModelSettings",
    "OutputValidationError",
    "Policy",
    "RunError",
    "RunResult",
    "Tool",
    "ToolCallRecord",
    "ToolContext",
    "ToolError",
    "__version__",
    "get_model",
    "tool",
]

if TYPE_CHECKING:
    from keel.agent import Agent, RunResult, ToolCallRecord
    from keel.errors import (
        ApprovalError,
        ConfigError,
        KeelError,
        ModelError,
        OutputValidationError,
        RunError,
        ToolError,
    )
    from keel.loop.run import Budget
    from keel.models import get_model
    from keel.models.base import ModelSettings
    from keel.policies.base import Policy
    from keel.tools._tool import Tool, ToolContext, tool


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'keel' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
