"""The support web pages in a real headless Chromium (Playwright) against a real uvicorn server.

The scripted tests use a support agent whose model is scripted and whose embedder hashes (the
planner picks every tool; the model only words the answer), so they are fast; one test runs the
real local model and embedder. Chromium is Debian's (``apt-get install chromium``); Playwright
only drives it and downloads nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from apps.support.agent import KB_DIR, SupportAgent, build_agent
from apps.support.shop import DATA_DIR, Shop
from apps.support.webapp import COOKIE, Login, link_citations, render_answer, sign_login, verify_login
from keel.events import Message, UserMessage
from keel.models.base import StreamItem, TextChunk
from keel.rag import HashingEmbedder, KnowledgeBase
from keel.serve import ServeConfig, create_app
from keel.serve.keys import SQLiteKeyStore
from keel.serve.registry import AgentRegistry
from keel.testing import ScriptedModel
from uvicorn_server import serve_app

XSS = "<img src=x onerror=alert(1)>"
ORDERS = json.loads((DATA_DIR / "orders.json").read_text())
SHOTS = Path("/tmp")
RETURN_ARTICLES = ("return-policy", "premier-extended-returns", "how-to-start-a-return", "returns-after-the-window",
                   "return-shipping-and-labels", "refund-timeline")  # fmt: skip


def order_where(pred: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    return next(o for o in ORDERS if pred(o))


def article_title(slug: str) -> str:
    return re.search(r'^title:\s*"?(.*?)"?\s*$', (KB_DIR / f"{slug}.md").read_text(), re.M).group(1)  # type: ignore[union-attr]


# -- the agent and the server ---------------------------------------------------------------------


def run_async(make: Callable[[], Any]) -> Any:
    """``asyncio.run`` on a thread of its own: Playwright's sync API keeps a loop on this one."""
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(asyncio.run(make())))
    thread.start()
    thread.join()
    return out[0]


def _seed(home: Path, embedder: Any, articles: Sequence[Path]) -> None:
    shop = Shop(home / "support.db")
    shop.load()
    shop.close()  # the last connection out folds the WAL into the file, which the tests copy

    async def ingest() -> None:
        kb = KnowledgeBase(home / "support-kb.db", embedder=embedder)
        await kb.ingest(list(articles))
        await kb.close()

    run_async(ingest)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("support-web")
    _seed(home, HashingEmbedder(), sorted(KB_DIR.glob("*.md")))
    return home


@pytest.fixture
def home(seeded: Path, tmp_path: Path) -> Path:
    for name in ("support.db", "support-kb.db"):
        shutil.copy(seeded / name, tmp_path / name)
    return tmp_path


def scripted_answer(messages: Sequence[Message], tools: Any) -> str:
    """Words an answer from the facts as a model would: cites the first help-centre article, and
    repeats markup from the customer's message (an answer the browser must show as text)."""
    last = next(m.content for m in reversed(messages) if isinstance(m, UserMessage))
    if "onerror" in last:
        return f"You wrote {XSS} and <script>alert(2)</script>; here it is, as text."
    slug = re.search(r"^\[([a-z0-9-]+)\] ", last, re.M)
    # "" fails the quality check, so the agent answers from its grounded template
    return f"Here is what our help centre says about that [{slug.group(1)}]." if slug else ""


class SlowStreamModel(ScriptedModel):
    """A scripted model that streams its answer in small chunks with a pause between them, so a
    test can see the text grow in the page before the answer is complete."""

    async def stream(
        self, messages, tools=(), output_schema=None, settings=None
    ) -> AsyncIterator[StreamItem]:  # type: ignore[no-untyped-def, override]
        response = self._response(await self._next(messages, tools), messages)
        text = response.message.content
        for i in range(0, len(text), 6):
            await asyncio.sleep(0.04)
            yield TextChunk(text[i : i + 6])
        yield response


def scripted_agent(home: Path) -> SupportAgent:
    return build_agent(SlowStreamModel(scripted_answer), home=home, embedder=HashingEmbedder())


def live(agent: SupportAgent, tmp: Path, **config: Any) -> contextlib.AbstractContextManager[str]:
    """``keel serve``'s app with the support router, on uvicorn at 127.0.0.1 (a free port)."""
    cfg = ServeConfig(store=str(tmp / "keel.db"), entry_points=False, routers=["apps.support.webapp:router"],
                      **{"auth": False, **config})  # fmt: skip
    return serve_app(create_app(cfg, registry=AgentRegistry({"support": agent})))


# -- the browser ----------------------------------------------------------------------------------


class Tab:
    """A page in its own browser context (own cookies) that records dialogs and page errors."""

    def __init__(self, browser: Any, base: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 860})
        self.page = self.context.new_page()
        self.base = base
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def sign_in(self, customer_id: str) -> None:
        self.page.goto(f"{self.base}/support/")
        self.page.fill("#customer-id", customer_id)
        self.page.click("#login-form button[type=submit]")
        self.page.wait_for_selector("#chat-layout:not([hidden])")

    def ask(self, text: str, timeout_ms: float = 15_000) -> Any:
        """Send a message; returns the answer's bubble once the final answer is rendered."""
        before = self.page.locator(".msg.bot:not(.intro)").count()
        self.page.fill("#message", text)
        self.page.click("#send")
        answer = self.page.locator(".msg.bot:not(.intro)").nth(before)
        answer.and_(self.page.locator("[data-run-id]")).wait_for(timeout=timeout_ms)
        return answer


@pytest.fixture
def tabs(browser: Any) -> Iterator[Callable[[str], Tab]]:
    opened: list[Tab] = []

    def open_tab(base: str) -> Tab:
        opened.append(Tab(browser, base))
        return opened[-1]

    yield open_tab
    for tab in opened:
        assert tab.errors == [], f"JavaScript errors on the page: {tab.errors}"
        tab.context.close()


# -- unit: login cookie and rendering --------------------------------------------------------------


def test_login_cookie_is_signed_and_expires() -> None:
    token = sign_login("C-1001", "s1", now=1000.0)
    assert verify_login(token, now=1001.0) == Login("C-1001", "s1")
    mac = token.split(".")[1]
    forged = sign_login("C-1002", "s1", now=1000.0).split(".")[0] + "." + mac
    assert verify_login(forged, now=1001.0) is None
    assert verify_login(token, now=1000.0 + 13 * 3600) is None
    assert verify_login("garbage", now=1001.0) is None and verify_login(None) is None


def test_citations_link_only_real_articles_and_never_inside_markup() -> None:
    out = link_citations(
        '<p>[return-policy] [not-an-article] <a href="https://x.example/[return-policy]">[return-policy]</a></p>'
    )
    assert out.count('href="/support/kb/return-policy"') == 1
    assert "[not-an-article]" in out and 'href="https://x.example/[return-policy]">[return-policy]</a>' in out
    html = render_answer(
        f'{XSS} <script>alert(1)</script> [x](javascript:alert(1)) "quoted" [return-policy]\n\n'
        f"Sources: [return-policy] Our <b>returns</b> policy; [nope] {XSS}"
    )
    assert "<img" not in html and "<script" not in html and "<b>" not in html and "javascript:" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and 'href="/support/kb/return-policy"' in html
    assert (
        '<p class="sources"><span>Sources</span> <a class="source" href="/support/kb/return-policy"' in html
    )
    assert "Our &lt;b&gt;returns&lt;/b&gt; policy</a> [nope] &lt;img" in html


def test_keel_toml_mounts_app_routers_and_refuses_anything_else(tmp_path: Path) -> None:
    from keel.errors import ConfigError
    from keel.serve.app import load_router
    from keel.serve.config import load_config

    cfg = load_config(Path(__file__).parents[2] / "apps" / "support" / "keel.toml")
    assert cfg.routers == ["apps.support.webapp:router"]
    assert cfg.agents == {"support": "apps.support.agent:build_agent"}
    assert any(getattr(r, "path", "") == "/support/api/chat" for r in load_router(cfg.routers[0]).routes)
    with pytest.raises(ConfigError, match="not a FastAPI APIRouter"):
        load_router("apps.support.webapp:render_answer")
    bad = tmp_path / "keel.toml"
    bad.write_text('[serve]\nrouters = "apps.support.webapp:router"\n')
    with pytest.raises(ConfigError, match="must be a list"):
        load_config(bad)


# -- integration: the endpoints over HTTP -----------------------------------------------------------


@pytest.mark.integration
def test_customer_endpoints_need_a_signed_login(home: Path, tmp_path: Path) -> None:
    with live(scripted_agent(home), tmp_path) as base, httpx.Client(base_url=base) as http:
        r = http.post("/support/api/chat", json={"message": "hi"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "not_signed_in"
        forged = sign_login("C-1001", "s").split(".")[0] + "." + "0" * 64
        http.cookies.set(COOKIE, forged)
        r = http.post("/support/api/chat", json={"message": "hi"})
        assert r.status_code == 401
        http.cookies.clear()
        assert http.post("/support/api/login", json={"customer_id": "C-9999"}).status_code == 404
        r = http.post("/support/api/login", json={"customer_id": "c-1001"})
        assert r.status_code == 200 and r.json()["name"] and r.json()["orders"]
        assert (
            "httponly" in r.headers["set-cookie"].lower()
            and "samesite=strict" in r.headers["set-cookie"].lower()
        )
        # the SSE answer: deltas (the model's text as it streams), then the rendered answer
        with http.stream(
            "POST", "/support/api/chat", json={"message": "How long do I have to return something?"}
        ) as s:
            events = [m.group(1) for m in re.finditer(r"^event: (\w+)$", s.read().decode(), re.M)]
        assert events[0] == "start" and events[-1] == "answer" and events.count("delta") >= 3
        assert http.get("/support/kb/..%2Fpolicy").status_code == 404
        # a cross-site form can only send text/plain: refused, so no CSRF while auth is off
        r = http.post(
            "/support/api/login", content=b'{"customer_id": "C-1001"}', headers={"content-type": "text/plain"}
        )
        assert r.status_code == 422
        page = http.get("/support/")
        assert "script-src 'self'" in page.headers["content-security-policy"]


@pytest.mark.integration
def test_staff_endpoints_need_an_approve_key_when_auth_is_on(home: Path, tmp_path: Path) -> None:
    async def make_keys() -> tuple[str, str]:
        store = SQLiteKeyStore(tmp_path / "keys.db")
        try:
            return (await store.create("default", ["approve"]))[1], (await store.create("default", ["read"]))[
                1
            ]
        finally:
            await store.close()

    approver, reader = run_async(make_keys)
    server = live(scripted_agent(home), tmp_path, auth=True, keys=str(tmp_path / "keys.db"))
    with server as base, httpx.Client(base_url=base) as http:
        assert http.get("/support/api/queue").status_code == 401
        assert (
            http.get("/support/api/queue", headers={"Authorization": f"Bearer {reader}"}).status_code == 403
        )
        ok = http.get("/support/api/queue", headers={"Authorization": f"Bearer {approver}"})
        assert ok.status_code == 200 and ok.json()["threshold"] == 100.0


# -- integration: the pages in Chromium ------------------------------------------------------------


@pytest.mark.integration
def test_customer_sees_a_streamed_answer_with_a_citation_that_opens_the_article(
    home: Path, tmp_path: Path, tabs: Callable[[str], Tab]
) -> None:
    with live(scripted_agent(home), tmp_path) as base:
        tab = tabs(base)
        tab.sign_in("C-1001")
        # record every text the answer bubble shows while it streams
        tab.page.evaluate("""() => { window.partials = [];
            new MutationObserver((records) => { for (const r of records) for (const n of r.addedNodes)
                if (n.nodeType === 3 && n.parentElement?.classList.contains('streaming')) window.partials.push(n.data); })
            .observe(document.getElementById('messages'), {subtree: true, childList: true}); }""")
        answer = tab.ask("How long do I have to return something?")
        partials = tab.page.evaluate("window.partials")
        final = answer.locator(".bubble").inner_text()
        assert len(partials) >= 3 and partials[0] != partials[-1]
        assert all(final.startswith(p.strip()[:20]) for p in partials), (partials, final)
        cite = answer.locator("a.cite").first
        slug = cite.get_attribute("href").rsplit("/", 1)[1]
        assert (KB_DIR / f"{slug}.md").is_file()
        # the agent's "Sources:" line becomes links named after the articles
        sources = answer.locator(".sources a.source")
        assert (
            article_title(sources.first.get_attribute("href").rsplit("/", 1)[1]) == sources.first.inner_text()
        )
        tab.page.screenshot(path=str(SHOTS / "support-customer.png"))
        with tab.page.expect_popup() as popup_info:
            cite.click()
        article = popup_info.value
        article.wait_for_load_state()
        assert article.locator("h1").inner_text() == article_title(slug)
        assert article.locator(".article-body li, .article-body p").count() > 2
        article.screenshot(path=str(SHOTS / "support-kb.png"))


@pytest.mark.integration
def test_markup_in_a_message_and_in_an_answer_is_shown_as_text(
    home: Path, tmp_path: Path, tabs: Callable[[str], Tab]
) -> None:
    with live(scripted_agent(home), tmp_path) as base:
        tab = tabs(base)
        tab.page.goto(f"{base}/support/")
        tab.page.wait_for_selector("#login:not([hidden])")
        tab.page.screenshot(path=str(SHOTS / "support-login.png"))
        tab.sign_in("C-1001")
        answer = tab.ask(f"{XSS} what is your return policy?")
        tab.page.wait_for_timeout(300)  # an injected onerror would fire as soon as the image fails
        assert tab.dialogs == []
        assert XSS in tab.page.locator(".msg.user .bubble").last.inner_text()
        shown = answer.locator(".bubble").inner_text()
        assert XSS in shown and "<script>alert(2)</script>" in shown
        assert tab.page.locator("#messages img, #messages script").count() == 0
        tab.page.screenshot(path=str(SHOTS / "support-customer-xss.png"))
        # reloading renders the stored conversation from the server: still text
        tab.page.reload()
        tab.page.wait_for_selector(".msg.bot[data-run-id]")
        assert XSS in tab.page.locator(".msg.bot[data-run-id] .bubble").last.inner_text()
        assert tab.page.locator("#messages img").count() == 0 and tab.dialogs == []


@pytest.mark.integration
def test_a_customer_asking_for_a_human_shows_up_in_the_staff_queue(
    home: Path, tmp_path: Path, tabs: Callable[[str], Tab]
) -> None:
    with live(scripted_agent(home), tmp_path) as base:
        customer = tabs(base)
        customer.sign_in("C-1002")
        answer = customer.ask("I want to talk to a human")
        assert "colleague" in answer.inner_text().lower()
        staff = tabs(base)
        staff.page.goto(f"{base}/support/agent")
        card = staff.page.locator(".escalation").filter(has_text="C-1002")
        card.wait_for()
        name = Shop(home / "support.db").customer("C-1002")["name"]  # type: ignore[index]
        assert name in card.inner_text() and "asked for a human" in card.inner_text()
        card.get_by_role("button", name="View conversation").click()
        card.locator(".transcript").get_by_text("I want to talk to a human").wait_for()
        staff.page.screenshot(path=str(SHOTS / "support-staff-escalation.png"))


@pytest.mark.integration
def test_a_refund_over_the_threshold_waits_for_staff_and_is_processed_on_approval(
    home: Path, tmp_path: Path, tabs: Callable[[str], Tab]
) -> None:
    o = order_where(lambda o: o["refund_eligible"] and o["refundable_amount"] > 100)
    amount = f"${o['refundable_amount']:.2f}"
    shop = Shop(home / "support.db")
    with live(scripted_agent(home), tmp_path) as base:
        customer = tabs(base)
        customer.sign_in(o["customer_id"])
        answer = customer.ask(f"Return everything from {o['id']}.")
        assert "approval" in answer.inner_text() and amount in answer.inner_text()
        assert answer.locator(".pill.waiting").count() == 1
        assert shop.refunds(o["customer_id"]) == []

        staff = tabs(base)
        staff.page.goto(f"{base}/support/agent")
        card = staff.page.locator(".approval").filter(has_text=o["id"])
        card.wait_for()
        assert amount in card.inner_text() and f"Return everything from {o['id']}." in card.inner_text()
        staff.page.screenshot(path=str(SHOTS / "support-staff.png"))
        card.get_by_role("button", name="Approve refund").click()
        card.wait_for(state="detached")
        staff.page.locator("#approvals-empty").wait_for()

        deadline = time.monotonic() + 10
        while not shop.refunds(o["customer_id"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [(r["order_id"], r["amount"]) for r in shop.refunds(o["customer_id"])] == [
            (o["id"], o["refundable_amount"])
        ]
        # the customer's page picks the decision up by itself
        answer.locator(".pill.approved").wait_for(timeout=10_000)
        assert "has been processed" in answer.inner_text()
        customer.page.screenshot(path=str(SHOTS / "support-customer-refund.png"))


@pytest.mark.integration
def test_a_denied_refund_releases_its_hold_and_cannot_be_decided_twice(home: Path, tmp_path: Path) -> None:
    o = order_where(lambda o: o["refund_eligible"] and o["refundable_amount"] > 100)
    shop = Shop(home / "support.db")
    with live(scripted_agent(home), tmp_path) as base, httpx.Client(base_url=base) as http:
        http.post("/support/api/login", json={"customer_id": o["customer_id"]})
        http.post("/support/api/chat", json={"message": f"Return everything from {o['id']}."}).read()
        (pending,) = http.get("/support/api/queue").json()["approvals"]
        assert pending["arguments"]["amount"] == o["refundable_amount"]
        r = http.post(
            f"/support/api/approvals/{pending['run_id']}", json={"approve": False, "reason": "used item"}
        )
        assert r.status_code == 200
        again = http.post(f"/support/api/approvals/{pending['run_id']}", json={"approve": True})
        assert again.status_code == 409 and again.json()["error"]["code"] == "no_pending_approval"
        deadline = time.monotonic() + 10
        while http.get("/support/api/history").json()["turns"][-1]["status"] != "finished":
            assert time.monotonic() < deadline, "the run did not finish after the denial"
            time.sleep(0.05)
        assert http.get("/support/api/history").json()["turns"][-1]["approved"] is False
        assert shop.refunds(o["customer_id"]) == []
        decision = shop.refund_decision(o["customer_id"], shop.order(o["customer_id"], o["id"]))
        assert decision.ok and decision.max_amount == o["refundable_amount"]


# -- integration: the real local model -------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.slow
def test_real_model_answers_in_the_browser_with_a_citation(
    tmp_path: Path, tabs: Callable[[str], Tab]
) -> None:
    pytest.importorskip("llama_cpp")
    from keel.rag import LocalEmbedder

    embedder = LocalEmbedder()
    # a few return articles: enough for the question, and indexed in seconds rather than a minute
    articles = [KB_DIR / f"{slug}.md" for slug in RETURN_ARTICLES]
    _seed(tmp_path, embedder, articles)
    agent = build_agent("local", home=tmp_path, embedder=embedder)
    with live(agent, tmp_path) as base:
        tab = tabs(base)
        tab.sign_in("C-1001")
        # loading the model and reading the facts takes ~30 s on 2 idle cores, much more on busy ones
        answer = tab.ask("How long do I have to return something?", timeout_ms=300_000)
        text = answer.locator(".bubble").inner_text()
        assert len(text) > 40
        links = answer.locator(".sources a.source")
        slugs = [h.rsplit("/", 1)[1] for h in links.evaluate_all("els => els.map(e => e.href)")]
        assert slugs and all(s in {p.stem for p in articles} for s in slugs)
        tab.page.screenshot(path=str(SHOTS / "support-customer-local.png"))
        with tab.page.expect_popup() as popup_info:
            links.first.click()
        assert popup_info.value.locator("h1").inner_text() == article_title(slugs[0])
