"""``create_app(config)``: the FastAPI application behind ``keel serve``.

>>> from keel import Agent
>>> from keel.testing import ScriptedModel
>>> app = create_app(ServeConfig(agents={"echo": Agent(ScriptedModel(["hi"]))}, store=":memory:",
...                              entry_points=False, auth=False))
>>> app.openapi()["paths"]["/v1/agents/{agent}/runs"]["post"]["summary"]
'Start a run of an agent'
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI

from keel import __version__
from keel.errors import ConfigError
from keel.serve.config import ServeConfig
from keel.serve.errors import BodyLimit, CatchAll, install_error_handlers
from keel.serve.registry import AgentRegistry

__all__ = ["create_app", "load_router"]

_DESCRIPTION = """Keel's HTTP API: run agents, stream their events, answer approvals.

Authenticate with `Authorization: Bearer <API key>` (`keel keys create`). Every failure answers
`{"error": {"code": "...", "message": "..."}}`; see docs/api.md for the codes."""


def create_app(config: ServeConfig | None = None, *, registry: AgentRegistry | None = None) -> FastAPI:
    """Build the app. The store, keys, queue and workers open when the app starts (its lifespan).

    ``registry`` overrides the agents of ``config`` (already built agents, e.g. in tests).
    """
    from keel.serve import routes_agents, routes_approvals, routes_keys, routes_openai, routes_runs
    from keel.serve.service import Service

    cfg = config or ServeConfig()
    # agents are built now, so a broken target fails at start-up rather than on a request
    agents = registry or AgentRegistry.from_sources(cfg.agents, entry_points=cfg.entry_points)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = await Service.open(cfg, agents)
        app.state.keel = svc
        try:
            yield
        finally:
            await svc.close()

    app = FastAPI(title=cfg.title, version=__version__, description=_DESCRIPTION, lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=cfg.max_body_bytes)
    app.add_middleware(CatchAll)  # added last: the outermost of ours
    for module in (routes_runs, routes_approvals, routes_agents, routes_openai, routes_keys):
        app.include_router(module.router)
    for spec in cfg.routers:
        app.include_router(load_router(spec))
    return app


def load_router(spec: Any) -> APIRouter:
    """An app's router: an ``APIRouter``, or ``"module:attr"`` naming one (``[serve] routers``).

    >>> load_router(APIRouter()).routes
    []
    """
    obj = spec
    if isinstance(spec, str):
        from keel.cli import load_object

        obj = load_object(spec)
    if not isinstance(obj, APIRouter):
        raise ConfigError(f"router {spec!r} is not a FastAPI APIRouter; name one as 'module:attribute'")
    return obj
