"""The support app's web faces: a customer chat and a staff desk, served by ``keel serve``.

Mount it next to the API in ``keel.toml`` (see ``apps/support/keel.toml``)::

    [serve]
    routers = ["apps.support.webapp:router"]

    [agents.support]
    target = "apps.support.agent:build_agent"

Pages: ``/support/`` (customer chat), ``/support/agent`` (staff: the human queue) and
``/support/kb/{slug}`` (a help-centre article). The JSON and SSE endpoints live under
``/support/api/``.

**The customer login is a demo login**: the page asks for a customer id and the server believes
it, then keeps it in an HMAC-signed, HttpOnly cookie. A real deployment puts the shop's own sign-in
in front of it. The cookie key comes from ``KEEL_SUPPORT_SECRET`` (or is random per process, so a
restart signs everyone out). Staff endpoints use Keel's API keys: the ``approve`` scope, or no key
while ``keel serve`` runs with authentication off (loopback, no keys yet).

Everything the model wrote reaches the browser either as text (``textContent``, while it streams)
or as HTML built by :func:`keel.security.output.render_markdown_safe`; citations become links
only for slugs of real articles.

>>> out = render_answer("**Yes** [accepted-payment-methods] <img src=x onerror=alert(1)>")
>>> 'href="/support/kb/accepted-payment-methods"' in out, out.endswith("&lt;img src=x onerror=alert(1)&gt;</p>")
(True, True)
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import json
import logging
import os
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse

from apps.support.agent import KB_DIR, SupportAgent, template_answer_from_state
from keel.errors import KeelError
from keel.events import RunStarted, TextDelta, ToolCallStarted
from keel.loop.state import RunState
from keel.security.output import render_markdown_safe
from keel.serve.auth import Principal, require, service
from keel.serve.errors import ApiError
from keel.serve.schemas import scope_session, unscope_session
from keel.serve.sse import SSE_HEADERS

__all__ = ["Login", "link_citations", "render_answer", "router", "sign_login", "verify_login"]

log = logging.getLogger("keel.support.web")

WEB_DIR = Path(__file__).parent / "web"
AGENT_NAME = os.environ.get("KEEL_SUPPORT_AGENT", "support")
"""The name the support agent is served under (``[agents.support]``)."""
TENANT = os.environ.get("KEEL_SUPPORT_TENANT", "default")
"""The tenant that owns web conversations; staff keys must belong to it."""
COOKIE = "keel_support"
LOGIN_MAX_AGE_S = 12 * 3600
_SECRET = os.environ.get("KEEL_SUPPORT_SECRET", "").encode() or secrets.token_bytes(32)

# No inline script or style anywhere, so even markup that slipped through could not run.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_STATIC = {"app.css": "text/css", "chat.js": "text/javascript", "staff.js": "text/javascript",
           "common.js": "text/javascript", "logo.svg": "image/svg+xml"}  # fmt: skip
_TOOL_LABELS = {
    "search_knowledge_base": "Searching the help centre",
    "get_order_status": "Looking up your order",
    "list_my_orders": "Checking your orders",
    "process_refund": "Preparing your refund",
    "cancel_order": "Cancelling the order",
    "create_ticket": "Opening a ticket",
    "update_ticket": "Updating your ticket",
    "escalate": "Bringing in a colleague",
    "get_customer": "Checking your account",
    "remember_preference": "Saving your preference",
}
_FAILED_ANSWER = "Sorry, something went wrong on our side. Please try again, or ask for a human colleague."

router = APIRouter(tags=["support"])


# -- demo login: a signed cookie -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Login:
    customer_id: str
    session: str


def _mac(payload: str) -> str:
    return hmac.new(_SECRET, payload.encode(), hashlib.sha256).hexdigest()


def sign_login(customer_id: str, session: str, *, now: float | None = None) -> str:
    """A cookie value naming the customer and conversation, signed so that it cannot be edited.

    >>> verify_login(sign_login("C-1001", "abc")) == Login("C-1001", "abc")
    True
    """
    body = json.dumps({"c": customer_id, "s": session, "t": int(now if now is not None else time.time())})
    payload = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    return f"{payload}.{_mac(payload)}"


def verify_login(token: str | None, *, now: float | None = None) -> Login | None:
    """The login in a cookie value, or ``None`` if it is missing, forged, malformed or expired.

    >>> verify_login(sign_login("C-1001", "abc")[:-1] + "0") is None
    True
    """
    if not token or token.count(".") != 1:
        return None
    payload, mac = token.split(".")
    if not hmac.compare_digest(mac, _mac(payload)):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        customer, session, issued = str(data["c"]), str(data["s"]), float(data["t"])
    except (ValueError, KeyError, TypeError):
        return None
    if (now if now is not None else time.time()) - issued > LOGIN_MAX_AGE_S:
        return None
    return Login(customer, session)


def _customer(request: Request) -> Login:
    login = verify_login(request.cookies.get(COOKIE))
    if login is None:
        raise ApiError(401, "not_signed_in", "sign in with your customer id first (POST /support/api/login)")
    return login


def _agent(request: Request) -> SupportAgent:
    agent = service(request).registry.get(AGENT_NAME)
    if not isinstance(agent, SupportAgent):
        raise ApiError(
            503,
            "support_agent_missing",
            f"no support agent is served as {AGENT_NAME!r}: add [agents.{AGENT_NAME}] "
            'target = "apps.support.agent:build_agent" to keel.toml',
        )
    if not agent.shop.is_loaded():
        raise ApiError(503, "shop_empty", "the shop has no data yet: run `keel support init` and restart")
    return agent


def _staff(principal: Principal = Depends(require("approve"))) -> Principal:
    if principal.tenant != TENANT:
        raise ApiError(403, "wrong_tenant", f"the support desk belongs to tenant {TENANT!r}: use a key of it")
    return principal


def _session_key(login: Login) -> str:
    return scope_session(TENANT, f"web-{login.session}") or ""


# -- rendering ------------------------------------------------------------------------------------

_CITE = re.compile(r"\[([a-z0-9][a-z0-9-]{0,80})\]")
_TAG_SPLIT = re.compile(r"(<[^>]*>)")


@lru_cache(maxsize=1)
def _articles() -> dict[str, Path]:
    return {p.stem: p for p in KB_DIR.glob("*.md")}


def link_citations(safe_html: str, base: str = "/support") -> str:
    """Turn ``[slug]`` in the text of sanitised HTML into links to the article, for known slugs only.

    Only text between tags is touched (never attributes), and never inside an existing link, so
    the result stays as safe as its input.

    >>> link_citations("<p>See [accepted-payment-methods] and [nope]</p>")
    '<p>See <a class="cite" href="/support/kb/accepted-payment-methods" target="_blank" rel="noopener">accepted-payment-methods</a> and [nope]</p>'
    """
    known = _articles()

    def link(m: re.Match[str]) -> str:
        slug = m.group(1)
        if slug not in known:
            return m.group(0)
        return f'<a class="cite" href="{base}/kb/{slug}" target="_blank" rel="noopener">{slug}</a>'

    parts = _TAG_SPLIT.split(safe_html)
    in_link = 0
    for i, part in enumerate(parts):
        if part.startswith("<"):
            in_link += 1 if part.startswith("<a") else -1 if part == "</a>" else 0
        elif not in_link:
            parts[i] = _CITE.sub(link, part)
    return "".join(parts)


_SOURCES = re.compile(r"\n*Sources: ((?:\[[a-z0-9-]+\] [^;\n]+(?:; )?)+)\s*$")


def render_answer(text: str, base: str = "/support") -> str:
    """An answer as safe HTML: escaped Markdown subset, citations linked to the help centre, and
    the agent's closing ``Sources: [slug] Title; ...`` line as a list of article links."""
    sources: list[tuple[str, str]] = []
    if m := _SOURCES.search(text):
        text, sources = text[: m.start()], re.findall(r"\[([a-z0-9-]+)\] ([^;\n]+)", m.group(1))
    out = link_citations(render_markdown_safe(text), base)
    if sources:
        known = _articles()
        links = [
            f'<a class="source" href="{base}/kb/{slug}" target="_blank" rel="noopener">{html.escape(title.strip())}</a>'
            if slug in known
            else html.escape(f"[{slug}] {title.strip()}")
            for slug, title in sources
        ]
        out += '<p class="sources"><span>Sources</span> ' + " ".join(links) + "</p>"
    return out


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    meta: dict[str, str] = {}
    if text.startswith("---"):
        _, head, text = text.split("---", 2)
        for line in head.strip().splitlines():
            key, _, value = line.partition(":")
            meta[key.strip()] = value.strip().strip('"')
    return meta, text.strip()


def _page(name: str, **fields: str) -> HTMLResponse:
    """A page of ``web/`` with ``{{field}}`` replaced by already-escaped values."""
    text = (WEB_DIR / name).read_text(encoding="utf-8")
    for key, value in fields.items():
        text = text.replace("{{" + key + "}}", value)
    return HTMLResponse(text, headers=_PAGE_HEADERS)


# -- conversation views ---------------------------------------------------------------------------


def _turn(state: RunState, at: float) -> dict[str, Any]:
    """One question and its answer, as the pages show them."""
    if state.status == "finished":
        answer = str(state.output or "")
    elif state.status == "suspended":
        answer = template_answer_from_state(state)
    elif state.status == "failed":
        answer = _FAILED_ANSWER
    else:
        answer = ""
    decisions = [d.approved for d in state.approvals.values()]
    return {
        "run_id": state.run_id,
        "status": state.status,
        "message": state.input,
        "html": render_answer(answer) if answer else "",
        "escalated": SupportAgent.escalated(state),
        "intent": state.annotations.get("intent", {}).get("label"),
        "waiting_approval": bool(state.approvals_pending),
        "approved": decisions[-1] if decisions else None,
        "at": at,
    }


async def _turns(
    agent: SupportAgent, session_key: str, customer_id: str | None = None
) -> list[dict[str, Any]]:
    out = []
    for rec in await agent.store.list_runs(session_id=session_key, tenant=TENANT, limit=500):
        if rec.parent_run_id is not None:
            continue
        state = RunState.from_events(rec.run_id, await agent.store.events(rec.run_id))
        if customer_id is not None and state.metadata.get("customer_id") != customer_id:
            continue
        out.append(_turn(state, rec.created))
    return out


def _customer_card(agent: SupportAgent, customer_id: str) -> dict[str, Any]:
    c = agent.shop.customer(customer_id) or {}
    orders = [
        {"id": o["id"], "status": o["status"], "placed": o.get("placed"), "total": o.get("total"),
         "items": [it["name"] for it in o.get("items", [])][:3]}
        for o in agent.shop.orders(customer_id, limit=6)
    ]  # fmt: skip
    return {
        "customer_id": customer_id,
        "name": c.get("name", customer_id),
        "tier": c.get("tier"),
        "orders": orders,
    }


# -- pages ----------------------------------------------------------------------------------------


@router.get("/support", include_in_schema=False)
async def support_root() -> RedirectResponse:
    return RedirectResponse("/support/", status_code=307)


@router.get("/support/", response_class=HTMLResponse, summary="The customer chat page")
async def customer_page() -> HTMLResponse:
    return _page("index.html")


@router.get("/support/agent", response_class=HTMLResponse, summary="The staff page: the human queue")
async def staff_page() -> HTMLResponse:
    return _page("agent.html")


@router.get("/support/kb/{slug}", response_class=HTMLResponse, summary="A help-centre article")
async def kb_article(slug: str) -> HTMLResponse:
    path = _articles().get(slug)
    if path is None:
        raise ApiError(404, "article_not_found", f"no help-centre article {slug[:80]!r}")
    meta, body = _front_matter(path.read_text(encoding="utf-8"))
    title = meta.get("title") or slug
    if body.startswith("# "):
        body = body.split("\n", 1)[1] if "\n" in body else ""
    return _page(
        "kb.html",
        title=html.escape(title),
        category=html.escape(meta.get("category", "help centre").replace("-", " ")),
        updated=html.escape(meta.get("updated", "")),
        body=_article_html(body),
    )


def _article_html(markdown: str) -> str:
    """An article's body: ``##`` headings as escaped ``<h2>``, each section through the safe renderer."""
    out = []
    for i, section in enumerate(re.split(r"^#{2,6}\s+(.+?)\s*$", markdown, flags=re.M)):
        if i % 2:
            out.append(f"<h2>{html.escape(section)}</h2>")
        elif section.strip():
            out.append(render_markdown_safe(section))
    return "".join(out)


@router.get("/support/static/{name}", include_in_schema=False)
async def static_file(name: str) -> Response:
    media = _STATIC.get(name)
    if media is None:
        raise ApiError(404, "not_found", f"no static file {name[:80]!r}")
    data = (WEB_DIR / name).read_bytes()
    return Response(
        data, media_type=media, headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    )


# -- customer API ---------------------------------------------------------------------------------


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: str = Field(min_length=1, max_length=40)


class ChatBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(min_length=1)


@router.post("/support/api/login", summary="Demo login: sign in as a customer id (not real authentication)")
async def login(body: LoginBody, request: Request) -> JSONResponse:
    """Starts a new conversation too: signing in again gives a fresh session."""
    agent = _agent(request)
    client = request.client.host if request.client else "unknown"
    await service(request).limiter.admit(f"web-login:{client}", TENANT)
    customer_id = body.customer_id.strip().upper()
    if agent.shop.customer(customer_id) is None:
        raise ApiError(404, "customer_not_found", f"no customer {customer_id!r}; demo ids look like C-1001")
    session = secrets.token_hex(8)
    response = JSONResponse(_customer_card(agent, customer_id) | {"session": session})
    response.set_cookie(
        COOKIE, sign_login(customer_id, session), max_age=LOGIN_MAX_AGE_S, path="/support",
        httponly=True, samesite="strict", secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


@router.post("/support/api/logout", summary="Sign out")
async def logout() -> JSONResponse:
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(COOKIE, path="/support")
    return response


@router.get("/support/api/me", summary="The signed-in customer, their recent orders and conversation")
async def me(request: Request) -> dict[str, Any]:
    who = _customer(request)
    agent = _agent(request)
    turns = await _turns(agent, _session_key(who), who.customer_id)
    return _customer_card(agent, who.customer_id) | {"session": who.session, "turns": turns}


@router.get("/support/api/history", summary="The signed-in customer's conversation")
async def history(request: Request) -> dict[str, Any]:
    who = _customer(request)
    return {"turns": await _turns(_agent(request), _session_key(who), who.customer_id)}


@router.post("/support/api/chat", summary="Ask the support agent; the answer streams as SSE")
async def chat(body: ChatBody, request: Request) -> StreamingResponse:
    """Events: ``start`` (run id), ``status`` (what the agent is doing), ``delta`` (answer text as
    the model writes it: show it as text), ``answer`` (the final turn, with sanitised HTML) or
    ``error``."""
    who = _customer(request)
    agent = _agent(request)
    svc = service(request)
    if len(body.message) > svc.config.max_message_chars:
        raise ApiError(
            422, "message_too_long", f"keep the message under {svc.config.max_message_chars} characters"
        )
    await svc.limiter.admit(f"web:{who.customer_id}", TENANT, uses_tokens=True)
    meta = {"tenant": TENANT, "agent": AGENT_NAME, "customer_id": who.customer_id, "channel": "web"}
    stream = _answer_stream(agent, body.message, _session_key(who), who.customer_id, meta)
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _answer_stream(
    agent: SupportAgent, message: str, session_key: str, customer_id: str, meta: dict[str, Any]
) -> AsyncIterator[str]:
    run_id = ""
    deps = agent.deps_for_customer(customer_id)
    try:
        async for ev in agent.run_stream(message, session_id=session_key, deps=deps, metadata=meta):
            if isinstance(ev, RunStarted):
                run_id = ev.run_id
                yield _sse("start", {"run_id": run_id})
            elif isinstance(ev, ToolCallStarted):
                yield _sse("status", {"text": _TOOL_LABELS.get(ev.call.name, "Working on it")})
            elif isinstance(ev, TextDelta):
                yield _sse("delta", {"text": ev.text})
    except KeelError as e:  # the run failed (recorded in its log); the customer gets an apology
        log.warning("support chat run %s failed: %s", run_id or "?", type(e).__name__)
        if not run_id:
            yield _sse("error", {"message": _FAILED_ANSWER})
            return
    except Exception:  # the response has started: an error event is the only way left to say so
        log.exception("support chat run %s broke", run_id or "?")
        yield _sse("error", {"message": _FAILED_ANSWER})
        return
    state = RunState.from_events(run_id, await agent.store.events(run_id))
    yield _sse("answer", _turn(state, time.time()))


# -- staff API ------------------------------------------------------------------------------------


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: bool
    call_id: str | None = Field(default=None, max_length=200)
    reason: str = Field(default="", max_length=500)


async def _approvals(agent: SupportAgent) -> list[dict[str, Any]]:
    out = []
    for rec in await agent.store.list_runs(status="suspended", tenant=TENANT, limit=500):
        state = RunState.from_events(rec.run_id, await agent.store.events(rec.run_id))
        customer_id = state.metadata.get("customer_id")
        if not customer_id:
            continue  # not a support conversation: nobody could resume it for a customer
        customer = agent.shop.customer(str(customer_id)) or {}
        for req in state.approvals_pending.values():
            out.append({
                "run_id": rec.run_id, "call_id": req.call.id, "tool": req.call.name,
                "arguments": req.call.arguments, "reason": req.reason, "message": state.input,
                "customer_id": customer_id, "customer_name": customer.get("name", customer_id),
                "tier": customer.get("tier"), "session_id": state.session_id, "requested": rec.updated,
            })  # fmt: skip
    return out


@router.get("/support/api/queue", summary="Staff: escalations and refunds waiting for approval")
async def queue(request: Request, principal: Principal = Depends(_staff)) -> dict[str, Any]:
    agent = _agent(request)
    escalations = []
    for e in agent.shop.escalations():
        customer = agent.shop.customer(e["customer_id"]) or {}
        escalations.append(
            e | {"customer_name": customer.get("name", e["customer_id"]), "tier": customer.get("tier")}
        )
    return {
        "approvals": await _approvals(agent),
        "escalations": escalations,
        "threshold": agent.shop.approval_threshold(),
    }


@router.get("/support/api/conversation", summary="Staff: a conversation's turns")
async def conversation(
    request: Request, session_id: str = Query(max_length=300), principal: Principal = Depends(_staff)
) -> dict[str, Any]:
    if not session_id.startswith(f"{TENANT}:"):
        raise ApiError(404, "session_not_found", "no web conversation with this id")
    turns = await _turns(_agent(request), session_id)
    if not turns:
        raise ApiError(404, "session_not_found", "no web conversation with this id")
    return {"session_id": unscope_session(session_id), "turns": turns}


_BACKGROUND: set[asyncio.Task[Any]] = set()


@router.post("/support/api/approvals/{run_id}", summary="Staff: approve or deny a refund; the run resumes")
async def decide(
    run_id: str, body: DecisionBody, request: Request, principal: Principal = Depends(_staff)
) -> dict[str, Any]:
    """Records the decision at once and resumes the run in the background (the customer's page
    picks the outcome up); answers 409 ``no_pending_approval`` if someone decided first."""
    agent = _agent(request)
    rec = await agent.store.get_run(run_id[:200])
    if rec is None or rec.tenant != TENANT:
        raise ApiError(404, "run_not_found", "no such conversation turn: refresh the queue")
    state = RunState.from_events(run_id, await agent.store.events(run_id))
    customer_id = state.metadata.get("customer_id")
    if not customer_id or agent.shop.customer(str(customer_id)) is None:
        raise ApiError(409, "not_a_support_run", "this run was not started by a support customer")
    by = "staff" if principal.key_id == "local" else f"staff:{principal.key_id}"
    await agent.decide(run_id, body.approve, call_id=body.call_id, reason=body.reason, by=by)
    task = asyncio.create_task(_resume(agent, run_id, str(customer_id)))
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    return {"run_id": run_id, "approved": body.approve, "status": "running"}


async def _resume(agent: SupportAgent, run_id: str, customer_id: str) -> None:
    try:
        await agent.advance(run_id, steps=None, deps=agent.deps_for_customer(customer_id))
    except Exception:  # the decision is recorded; the log shows why the run could not go on
        log.exception("support run %s could not resume after the staff decision", run_id)
