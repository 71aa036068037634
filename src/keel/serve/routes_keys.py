"""API keys of the caller's tenant (``admin`` scope); ``keel keys`` manages every tenant's."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path

from keel.serve.auth import Principal, require, service
from keel.serve.errors import not_found
from keel.serve.schemas import KeyCreate, KeyCreated, KeyInfo, KeysList
from keel.serve.service import Service

__all__ = ["router"]

router = APIRouter(tags=["keys"])


@router.get("/v1/keys", response_model=KeysList, summary="List the tenant's API keys")
async def list_keys(
    principal: Principal = Depends(require("admin")), svc: Service = Depends(service)
) -> KeysList:
    keys = await svc.keys.list(tenant=principal.tenant)
    return KeysList(keys=[KeyInfo(**k.as_dict()) for k in keys])


@router.post("/v1/keys", response_model=KeyCreated, status_code=201, summary="Create an API key")
async def create_key(
    body: KeyCreate, principal: Principal = Depends(require("admin")), svc: Service = Depends(service)
) -> KeyCreated:
    """The key is for the caller's own tenant; its secret is in this response only."""
    record, secret = await svc.keys.create(principal.tenant, body.scopes, body.name)
    return KeyCreated(**record.as_dict(), key=secret)


@router.delete("/v1/keys/{key_id}", response_model=KeyInfo, summary="Revoke an API key")
async def revoke_key(
    key_id: str = Path(max_length=64),
    principal: Principal = Depends(require("admin")),
    svc: Service = Depends(service),
) -> KeyInfo:
    if not await svc.keys.revoke(key_id, tenant=principal.tenant):
        raise not_found("key", key_id)
    for k in await svc.keys.list(tenant=principal.tenant):
        if k.key_id == key_id:
            return KeyInfo(**k.as_dict())
    raise not_found("key", key_id)
