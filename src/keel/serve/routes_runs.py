"""Runs and sessions: start a run (JSON or SSE), read it, page or follow its events, cancel it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header, Path, Query
from starlette.responses import JSONResponse, Response, StreamingResponse

from keel.events import TextDelta
from keel.serve.auth import Principal, require, service
from keel.serve.errors import ApiError
from keel.serve.schemas import (
    SESSION_PATTERN,
    EventsPage,
    RunRequest,
    RunsList,
    RunView,
    SessionView,
    present,
)
from keel.serve.service import Service, summary
from keel.serve.sse import KEEPALIVE, SSE_HEADERS, sse_event

__all__ = ["router"]

log = logging.getLogger("keel.serve")
router = APIRouter(tags=["runs"])

RunId = Path(max_length=200, description="A run id, as returned when the run started.")
_SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "JSON, or server-sent events"}
}


def check_message(svc: Service, text: str) -> None:
    limit = svc.config.max_message_chars
    if len(text) > limit:
        raise ApiError(422, "message_too_long", f"message has {len(text)} characters; the limit is {limit}")


async def sse_stream(
    svc: Service,
    run_id: str,
    *,
    after: int = -1,
    deltas: asyncio.Queue[TextDelta] | None = None,
    follow: bool = False,
) -> AsyncIterator[str]:
    """Encode a run's merged events as SSE; errors become a final ``error`` event, never a trace."""
    try:
        async for ev in svc.events(run_id, after=after, deltas=deltas, stop_on_suspend=not follow):
            yield KEEPALIVE if ev is None else sse_event(ev)
    except Exception:  # the response has started: the only way left to report is in-band
        log.exception("stream of run %s failed", run_id)
        yield 'event: error\ndata: {"error": {"code": "stream_failed", "message": "the stream broke; reconnect"}}\n\n'
    finally:
        if deltas is not None:
            svc.bus.unsubscribe(run_id, deltas)


@router.post(
    "/v1/agents/{agent}/runs",
    response_model=RunView,
    responses={**_SSE, 202: {"model": RunView, "description": "Still running after the wait timeout"}},
    summary="Start a run of an agent",
)
async def start_run(
    body: RunRequest,
    agent: str = Path(max_length=200),
    principal: Principal = Depends(require("run", uses_tokens=True)),
    svc: Service = Depends(service),
) -> Response:
    """Without ``stream`` the answer comes when the run finishes, fails or waits for an approval.
    With ``stream: true`` it is a stream of server-sent events, one per run event (text deltas too)."""
    check_message(svc, body.message)
    run_id = uuid.uuid4().hex
    deltas = svc.bus.subscribe(run_id) if body.stream else None
    try:
        await svc.start_run(
            agent,
            body.message,
            tenant=principal.tenant,
            key_id=principal.key_id,
            session_id=body.session_id,
            metadata=body.metadata,
            priority=body.priority,
            run_id=run_id,
        )
    except BaseException:
        if deltas is not None:
            svc.bus.unsubscribe(run_id, deltas)
        raise
    if deltas is not None:
        return StreamingResponse(
            sse_stream(svc, run_id, deltas=deltas), media_type="text/event-stream", headers=SSE_HEADERS
        )
    state = await svc.wait(run_id)
    view = RunView.of(state)
    return JSONResponse(view.model_dump(mode="json"), status_code=202 if state.status == "running" else 200)


@router.get("/v1/runs", response_model=RunsList, summary="List runs")
async def list_runs(
    status: str | None = Query(None, pattern="^(running|suspended|finished|failed)$"),
    session_id: str | None = Query(None, pattern=SESSION_PATTERN),
    limit: int = Query(100, ge=1, le=1000),
    principal: Principal = Depends(require("read")),
    svc: Service = Depends(service),
) -> RunsList:
    from keel.serve.schemas import scope_session

    recs = await svc.store.list_runs(
        session_id=scope_session(principal.tenant, session_id),
        status=status,
        tenant=principal.tenant,
        limit=limit,
    )
    return RunsList(runs=[summary(r) for r in recs])


@router.get("/v1/runs/{run_id}", response_model=RunView, summary="Get a run")
async def get_run(
    run_id: str = RunId, principal: Principal = Depends(require("read")), svc: Service = Depends(service)
) -> RunView:
    return RunView.of(await svc.state(run_id, principal.tenant))


@router.get(
    "/v1/runs/{run_id}/events",
    response_model=EventsPage,
    responses=_SSE,
    summary="Page through a run's events, or follow them live",
)
async def run_events(
    run_id: str = RunId,
    after: int = Query(-1, ge=-1, description="Events with a sequence number above this."),
    limit: int = Query(100, ge=1, le=1000),
    follow: bool = Query(False, description="Server-sent events until the run ends."),
    last_event_id: int | None = Header(None, ge=-1, description="SSE reconnection: resume after this id."),
    principal: Principal = Depends(require("read")),
    svc: Service = Depends(service),
) -> Any:
    await svc.record(run_id, principal.tenant)
    if follow:
        start = last_event_id if last_event_id is not None else after
        return StreamingResponse(
            sse_stream(svc, run_id, after=start, deltas=svc.bus.subscribe(run_id), follow=True),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )
    events = await svc.store.events(run_id, after_seq=after, limit=limit + 1)
    more = len(events) > limit
    events = events[:limit]
    return EventsPage(events=[present(e) for e in events], next_after=events[-1].seq if more else None)


@router.post("/v1/runs/{run_id}/cancel", response_model=RunView, summary="Cancel a run")
async def cancel_run(
    run_id: str = RunId, principal: Principal = Depends(require("run")), svc: Service = Depends(service)
) -> RunView:
    """Ends a run that has not ended with ``run_failed`` (reason ``cancelled``); a step in flight on
    an in-process worker is cancelled. A finished run is returned unchanged."""
    await svc.record(run_id, principal.tenant)
    return RunView.of(await svc.cancel(run_id, by=principal.key_id))


@router.get("/v1/sessions/{session_id}", response_model=SessionView, summary="A session's runs and messages")
async def get_session(
    session_id: str = Path(pattern=SESSION_PATTERN),
    principal: Principal = Depends(require("read")),
    svc: Service = Depends(service),
) -> SessionView:
    runs, messages = await svc.session(principal.tenant, session_id)
    return SessionView(session_id=session_id, runs=runs, messages=messages)
