"""Keel's HTTP API service (``keel serve``): runs, streams, approvals, an OpenAI-compatible face.

This package stays import-light: FastAPI is imported when an app is built, not before.

>>> from keel.serve import ServeConfig
>>> ServeConfig().mode
'embedded'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keel.serve.config import RateLimits, ServeConfig, load_config

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["RateLimits", "ServeConfig", "create_app", "load_config"]


def create_app(config: ServeConfig | None = None, **kwargs: Any) -> FastAPI:
    """Build the FastAPI app (see :func:`keel.serve.app.create_app`)."""
    from keel.serve.app import create_app as build

    return build(config, **kwargs)
