"""Who is calling: ``Authorization: Bearer <API key>`` → a ``Principal`` (key id, tenant, scopes).

Routes declare what they need with ``Depends(require("read"))``; the dependency authenticates,
checks the scope (403 ``missing_scope``) and counts the request against the rate limits (429).
With auth switched off (local development) every caller is ``Principal.local()``: tenant
``default``, every scope.

>>> Principal.local().can("admin")
True
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from keel.serve.errors import ApiError
from keel.serve.keys import SCOPES

if TYPE_CHECKING:
    from keel.serve.service import Service

__all__ = ["Principal", "require", "service"]

_bearer = HTTPBearer(auto_error=False, description="An API key from `keel keys create`.")


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    tenant: str
    scopes: frozenset[str]

    @classmethod
    def local(cls) -> Principal:
        return cls("local", "default", frozenset(SCOPES))

    def can(self, scope: str) -> bool:
        return scope in self.scopes


def service(request: Request) -> Service:
    svc: Service = request.app.state.keel
    return svc


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    svc = service(request)
    if not svc.config.auth:
        return Principal.local()
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise _unauthorized(
            "missing API key: send 'Authorization: Bearer <key>' (create one with `keel keys create`)"
        )
    key = await svc.keys.verify(credentials.credentials.strip())
    if key is None:
        raise _unauthorized("invalid or revoked API key: check the key or create a new one")
    return Principal(key.key_id, key.tenant, key.scopes)


def require(scope: str, *, uses_tokens: bool = False) -> Callable[..., Awaitable[Principal]]:
    """A dependency: an authenticated caller holding ``scope``, within its rate limits."""

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> Principal:
        principal = await authenticate(request, credentials)
        if not principal.can(scope):
            raise ApiError(
                403, "missing_scope", f"this API key lacks the {scope!r} scope; create a key with it"
            )
        await service(request).limiter.admit(principal.key_id, principal.tenant, uses_tokens=uses_tokens)
        return principal

    return dependency
