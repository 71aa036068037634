"""Agents, liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from starlette.responses import JSONResponse

from keel.serve.auth import Principal, require, service
from keel.serve.errors import ApiError
from keel.serve.schemas import AgentInfo, AgentsList
from keel.serve.service import Service

__all__ = ["router"]

router = APIRouter()


@router.get("/v1/agents", response_model=AgentsList, tags=["agents"], summary="List the served agents")
async def list_agents(
    principal: Principal = Depends(require("read")), svc: Service = Depends(service)
) -> AgentsList:
    reg = svc.registry
    return AgentsList(agents=[AgentInfo(**reg.describe(n)) for n in reg.names()])


@router.get("/healthz", tags=["health"], summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _check(probe: Any) -> str:
    try:
        await probe()
    except Exception as e:  # readiness reports any failure as data, it never raises
        return f"{type(e).__name__}: {str(e)[:200]}"
    return "ok"


@router.get(
    "/readyz",
    tags=["health"],
    summary="Readiness: store, key database, queue and agents' models are usable",
    responses={503: {"description": "Not ready; `error.details` says which check failed"}},
)
async def readyz(svc: Service = Depends(service)) -> JSONResponse:
    """Models are constructed, never loaded: the check is cheap enough for a probe every second."""
    checks: dict[str, Any] = {
        "store": await _check(lambda: svc.store.get_run("readyz-probe")),
        "keys": await _check(svc.keys.ping),
    }
    ping = getattr(svc.queue, "ping", None)
    checks["queue"] = await _check(ping) if ping is not None else "ok"
    models = await svc.registry.check_models()
    checks["agents"] = models
    ok = all(v == "ok" for k, v in checks.items() if k != "agents") and all(
        v == "ok" for v in models.values()
    )
    if not ok:
        err = ApiError(503, "not_ready", "the service is not ready; see details", details=checks)
        return JSONResponse(err.body(), status_code=503)
    return JSONResponse({"status": "ready", "checks": checks})
