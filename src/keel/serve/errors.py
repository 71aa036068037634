"""Every failure answers ``{"error": {"code": "<stable_code>", "message": "..."}}``.

Codes are part of the API contract (``docs/api.md`` lists them). A 500 never carries a stack trace
or an exception's text: it carries an ``incident`` id that the server logged with the traceback.

>>> ApiError(404, "run_not_found", "no run 'x'").body()
{'error': {'code': 'run_not_found', 'message': "no run 'x'"}}
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from keel.errors import ApprovalError, KeelError, StoreError, redact

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from starlette.responses import Response

__all__ = ["ApiError", "install_error_handlers", "not_found"]

log = logging.getLogger("keel.serve")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


class ApiError(Exception):
    """An error answer with an HTTP status, a stable code and a message saying what to do next."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.details = details

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            err["details"] = self.details
        return {"error": err}


def not_found(kind: str, ident: str) -> ApiError:
    """404 for an unknown object, and for another tenant's object: existence never leaks."""
    return ApiError(404, f"{kind}_not_found", f"no {kind} {redact(ident, 100)!r}: check the id")


def error_response(err: ApiError) -> Response:
    from starlette.responses import JSONResponse

    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


def _validation_details(errors: Any) -> list[dict[str, Any]]:
    out = []
    for e in list(errors)[:20]:
        out.append(
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": e.get("type")}
        )
    return out


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception the app can raise to the JSON error body."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404:
            message = f"no route {request.method} {redact(request.url.path, 100)}: see /openapi.json"
        return error_response(ApiError(exc.status_code, code, message, headers=dict(exc.headers or {})))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        details = _validation_details(exc.errors())
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(p for p in first["loc"] if p != "body") or "request"
        message = f"invalid {where}: {first['msg']}"
        return error_response(ApiError(422, "validation_error", message, details=details))

    async def keel_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, ApprovalError):
            return error_response(ApiError(409, "no_pending_approval", redact(str(exc))))
        if isinstance(exc, StoreError):
            log.warning("store error on %s %s: %s", request.method, request.url.path, redact(str(exc)))
            return error_response(
                ApiError(503, "store_unavailable", "the run store is unavailable; try again shortly")
            )
        return await internal_error(request, exc)

    async def internal_error(request: Request, exc: Exception) -> Response:
        incident = uuid.uuid4().hex[:12]
        log.error("internal error %s on %s %s", incident, request.method, request.url.path, exc_info=exc)
        return error_response(
            ApiError(500, "internal_error", f"internal error; the server logged it as incident {incident}")
        )

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(KeelError, keel_error)


def internal(method: str, path: str, exc: BaseException) -> ApiError:
    """Log ``exc`` with its traceback under a fresh incident id; the answer carries only the id."""
    incident = uuid.uuid4().hex[:12]
    log.error("internal error %s on %s %s", incident, method, redact(path, 200), exc_info=exc)
    return ApiError(500, "internal_error", f"internal error; the server logged it as incident {incident}")


class CatchAll:
    """ASGI middleware: any other exception becomes a 500 error body (Starlette's own handler would
    answer too, but then re-raise, and the server would log the traceback a second time)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise  # too late for an error body; the server closes the connection
            err = internal(scope.get("method", ""), scope.get("path", ""), exc)
            await error_response(err)(scope, receive, send)


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with 413 (declared or streamed)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = ApiError(
            413, "body_too_large", f"request body over {self.limit} bytes; send less (e.g. shorter message)"
        )
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.limit:
                    await error_response(too_large)(scope, receive, send)
                    return
        seen = 0

        async def limited_receive() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    from starlette.exceptions import HTTPException

                    # FastAPI re-raises HTTPException from body parsing; the handler renders it
                    raise HTTPException(413, too_large.message)
            return message

        await self.app(scope, limited_receive, send)
