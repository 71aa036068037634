"""Model providers and the model-string registry.

``get_model("local")`` → the embedded llama.cpp model; ``"local:large"``, ``"local:/path/m.gguf"``;
``"openai:gpt-4o-mini"`` → any OpenAI-compatible server; ``"anthropic:claude-..."`` → Anthropic.
Providers are imported only when asked for, so ``import keel`` stays light.
"""

from __future__ import annotations

from typing import Any

from keel.errors import ConfigError
from keel.models.base import (
    Model,
    ModelProfile,
    ModelResponse,
    ModelSettings,
    StreamItem,
    TextChunk,
    ToolSpec,
)

__all__ = [
    "Model",
    "ModelProfile",
    "ModelResponse",
    "ModelSettings",
    "StreamItem",
    "TextChunk",
    "ToolSpec",
    "get_model",
    "known_providers",
]

_PROVIDERS = ("local", "openai", "anthropic")


def known_providers() -> tuple[str, ...]:
    return _PROVIDERS


def get_model(spec: str | Model, **options: Any) -> Model:
    """Turn a model string into a provider instance (a ``Model`` passes through unchanged).

    >>> get_model("nonsense:x")
    Traceback (most recent call last):
    ...
    keel.errors.ConfigError: unknown model 'nonsense:x': use 'local', 'local:<path.gguf>', 'openai:<name>' or 'anthropic:<name>'
    """
    if not isinstance(spec, str):
        return spec
    provider, _, name = spec.partition(":")
    if provider == "local":
        from keel.models.local import LocalModel

        return LocalModel(name or "small", **options)
    if provider == "openai" and name:
        from keel.models.openai_compat import OpenAIModel

        return OpenAIModel(name, **options)
    if provider == "anthropic" and name:
        from keel.models.anthropic import AnthropicModel

        return AnthropicModel(name, **options)
    raise ConfigError(
        f"unknown model {spec!r}: use 'local', 'local:<path.gguf>', 'openai:<name>' or 'anthropic:<name>'"
    )
