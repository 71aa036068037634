"""An OpenAI-compatible face: ``POST /v1/chat/completions`` with ``model="agent:<name>"``.

The agent runs on the last user message. Conversation memory is the agent's session, not the
messages the client resends: the session id is the ``X-Session-Id`` header, else one derived from
the ``user`` field (stable per agent and user); without either, each request is a fresh
conversation. Any OpenAI client works::

    client = OpenAI(base_url="http://127.0.0.1:8080/v1", api_key="keel_...")
    client.chat.completions.create(model="agent:support", messages=[{"role": "user", "content": "hi"}])
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response, StreamingResponse

from keel.events import RunFailed, RunFinished, TextDelta
from keel.loop.state import RunState
from keel.serve.auth import Principal, require, service
from keel.serve.errors import ApiError, not_found
from keel.serve.routes_runs import check_message
from keel.serve.schemas import SESSION_PATTERN
from keel.serve.service import Service
from keel.serve.sse import KEEPALIVE, SSE_HEADERS, sse_data

__all__ = ["router"]

router = APIRouter(tags=["openai"])


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ChatRequest(BaseModel):
    """The Chat Completions request; sampling fields are accepted and ignored (the agent decides)."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=200, description='"agent:<name>" (or just the name)')
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=1000)
    stream: bool = False
    user: str | None = Field(None, max_length=256)
    stream_options: StreamOptions | None = None


def _text(msg: ChatMessageIn) -> str:
    if msg.content is None or isinstance(msg.content, str):
        return msg.content or ""
    parts = []
    for part in msg.content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise ApiError(422, "unsupported_content", "only text content parts are supported")
        parts.append(part["text"])
    return "".join(parts)


def _session(agent: str, user: str | None, header: str | None) -> str | None:
    if header is not None:
        if not re.match(SESSION_PATTERN, header):
            raise ApiError(422, "validation_error", "X-Session-Id must be 1-128 of A-Z a-z 0-9 _ . : @ -")
        return header
    if user:
        return "chat-" + hashlib.sha256(f"{agent}\0{user}".encode()).hexdigest()[:32]
    return None


def _output_text(state: RunState) -> str:
    if state.status == "suspended":
        names = ", ".join(a.call.name for a in state.approvals_pending.values())
        return f"[waiting for approval: {names}] run {state.run_id}"
    out = state.output
    return out if isinstance(out, str) else json.dumps(out, default=str, ensure_ascii=False)


def _usage(state: RunState) -> dict[str, int]:
    u = state.usage
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.total_tokens,
    }


def _failed(state: RunState) -> ApiError:
    reason = state.failure.reason if state.failure else "error"
    return ApiError(
        502,
        "run_failed",
        f"the agent's run {state.run_id} failed ({reason}); see GET /v1/runs/{state.run_id}",
    )


@router.post(
    "/v1/chat/completions",
    responses={200: {"content": {"text/event-stream": {}}, "description": "chat.completion or chunks"}},
    summary="OpenAI-compatible chat completions served by an agent",
)
async def chat_completions(
    body: ChatRequest,
    x_session_id: str | None = Header(None, max_length=128),
    principal: Principal = Depends(require("run", uses_tokens=True)),
    svc: Service = Depends(service),
) -> Response:
    name = body.model.removeprefix("agent:")
    if svc.registry.get(name) is None:
        raise not_found("agent", body.model)
    last = body.messages[-1]
    if last.role != "user":
        raise ApiError(422, "no_user_message", "the last message must have role 'user'")
    text = _text(last)
    if not text:
        raise ApiError(422, "validation_error", "the last user message is empty")
    check_message(svc, text)
    session = _session(name, body.user, x_session_id)
    run_id = uuid.uuid4().hex
    deltas = svc.bus.subscribe(run_id) if body.stream else None
    try:
        await svc.start_run(
            name, text, tenant=principal.tenant, key_id=principal.key_id, session_id=session, run_id=run_id
        )
    except BaseException:
        if deltas is not None:
            svc.bus.unsubscribe(run_id, deltas)
        raise
    headers = {"X-Session-Id": session} if session else {}
    if deltas is not None:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        chunks = _chunks(svc, run_id, body.model, deltas, include_usage)
        return StreamingResponse(chunks, media_type="text/event-stream", headers={**SSE_HEADERS, **headers})
    state = await svc.wait(run_id)
    if state.status == "failed":
        raise _failed(state)
    if state.status == "running":
        raise ApiError(504, "run_timeout", f"run {run_id} is still running; follow it at /v1/runs/{run_id}")
    completion = {
        "id": f"chatcmpl-{run_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _output_text(state)},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(state),
        "keel": {"run_id": run_id, "status": state.status, "session_id": session},
    }
    return JSONResponse(completion, headers=headers)


async def _chunks(
    svc: Service, run_id: str, model: str, deltas: Any, include_usage: bool
) -> AsyncIterator[str]:
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        payload = {"id": f"chatcmpl-{run_id}", "object": "chat.completion.chunk", "created": created,
                   "model": model, "choices": [choice]}  # fmt: skip
        return sse_data(payload)

    yield chunk({"role": "assistant", "content": ""})
    streamed = False
    try:
        async for ev in svc.events(run_id, deltas=deltas):
            if ev is None:
                yield KEEPALIVE  # SSE comment: clients ignore it, proxies keep the connection
            elif isinstance(ev, TextDelta) and ev.text:
                streamed = True
                yield chunk({"content": ev.text})
            elif isinstance(ev, RunFailed):
                err = _failed(RunState.from_events(run_id, await svc.store.events(run_id)))
                yield sse_data(err.body())
                return
            elif isinstance(ev, RunFinished):
                break
    finally:
        svc.bus.unsubscribe(run_id, deltas)
    state = RunState.from_events(run_id, await svc.store.events(run_id))
    if not streamed or state.status == "suspended":  # no live tokens here (e.g. remote workers)
        yield chunk({"content": _output_text(state)})
    yield chunk({}, "stop")
    if include_usage:
        payload = {"id": f"chatcmpl-{run_id}", "object": "chat.completion.chunk", "created": created,
                   "model": model, "choices": [], "usage": _usage(state)}  # fmt: skip
        yield sse_data(payload)
    yield sse_data("[DONE]")


@router.get("/v1/models", summary="OpenAI-compatible model list: one `agent:<name>` per agent")
async def list_models(
    principal: Principal = Depends(require("run")), svc: Service = Depends(service)
) -> dict[str, Any]:
    data = [
        {"id": f"agent:{n}", "object": "model", "created": 0, "owned_by": "keel"}
        for n in svc.registry.names()
    ]
    return {"object": "list", "data": data}
