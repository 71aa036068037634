"""The customer-support agent: classify → retrieve / act → answer → check, as one Keel pattern.

1. **Intent** by a lightweight classifier (``apps.support.intents``), recorded as an annotation.
2. **Actions** planned per intent and run through Keel's tool executor (approvals, idempotency
   keys, the audit trail in the run log): knowledge-base search, order lookups, refunds (which wait
   for a supervisor above the policy threshold), tickets, escalation.
3. **Answer** written by the model from the facts the tools returned, with citations.
4. **Quality check**: every order id, amount and tracking number in the answer must come from the
   facts, no refund may be claimed that the tools did not record, and no other customer's order may
   be named. A failing answer is regenerated once from the facts alone (a deterministic template),
   then escalated.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apps.support.intents import IntentClassifier
from apps.support.planner import Topic, plan_turn
from apps.support.shop import Shop
from apps.support.tools import SupportDeps, support_tools
from keel import Agent
from keel.agent import RunResult
from keel.events import (
    Annotation,
    AssistantMessage,
    GuardrailTripped,
    Message,
    SystemMessage,
    UserMessage,
)
from keel.loop.output import finish_with_answer
from keel.loop.state import RunState
from keel.models.base import ModelResponse, ModelSettings
from keel.tools.executor import idempotency_key

if TYPE_CHECKING:
    from keel.loop.run import Run
    from keel.rag import KnowledgeBase

__all__ = ["SupportAgent", "SupportFlow", "build_agent"]

SYSTEM = """You are the customer support assistant of Harbor & Pine, an online home-goods shop.
Answer the customer's latest message in 2 to 4 short sentences, using ONLY the FACTS given.
Quote numbers, days and amounts exactly as the FACTS write them. Never invent order numbers,
amounts, dates, tracking numbers or policies. If the FACTS do not answer the question, reply:
"I'm not certain about that one. Would you like me to connect you with a colleague?"
Do not say a refund was made unless the FACTS say it was processed. Cite help-centre facts with
their [id]. Be friendly and direct."""

KB_DIR = Path(__file__).parent / "data" / "kb"


class SupportFlow:
    """The support pattern (see the module docstring)."""

    name = "support"

    def __init__(
        self, classifier: IntentClassifier, *, min_confidence: float = 0.02, max_answer_tokens: int = 110
    ) -> None:
        self.classifier = classifier
        self.min_confidence = min_confidence
        self.max_answer_tokens = max_answer_tokens

    async def step(self, run: Run) -> None:
        st = run.state
        if not isinstance(run.config.deps, SupportDeps):
            # started without a signed-in customer (e.g. through the generic API with no customer_id)
            await finish_with_answer(run, "Please sign in first, so I can look up your account and orders.")
            return
        if st.pending_calls:
            await run.execute_tools(st.pending_calls)
            return
        if "intent" not in st.annotations:
            await self._route(run)
            return
        self._release_denied(run)
        await self._answer(run)

    # -- 1 + 2: intent and actions -----------------------------------------------------------------

    async def _previous_topic(self, run: Run) -> Topic:
        st = run.state
        if st.session_id is None:
            return Topic()
        runs = [
            r
            for r in await run.store.list_runs(session_id=st.session_id, limit=1000)
            if r.run_id != st.run_id
        ]
        for rec in reversed(runs):
            prev = RunState.from_events(rec.run_id, await run.store.events(rec.run_id))
            if "topic" in prev.annotations:
                return Topic(**prev.annotations["topic"])
        return Topic()

    async def _route(self, run: Run) -> None:
        st = run.state
        deps: SupportDeps = run.config.deps
        history = [m.content for m in run.history if isinstance(m, UserMessage)]
        topic = await self._previous_topic(run)
        intent = await self.classifier.classify(st.input, history if topic.intent else [])
        hostile = self._injection(run)
        plan = plan_turn(
            deps.shop, deps.customer_id, st.input, intent, topic, hostile=hostile, history=history
        )
        run.emit(Annotation(run_id=run.run_id, kind="intent", data={
            "label": plan.topic.intent, "classified": intent.label, "confidence": intent.confidence, "by": intent.by,
            "injection": hostile}))  # fmt: skip
        run.emit(Annotation(run_id=run.run_id, kind="topic", data=asdict(plan.topic)))
        if plan.notes:
            run.emit(Annotation(run_id=run.run_id, kind="plan", data={"notes": plan.notes}))
        if not plan.calls:
            return
        run.record_response(ModelResponse(message=AssistantMessage(tool_calls=plan.calls), model="router",
                                          finish_reason="tool_calls"))  # fmt: skip
        if plan.reserve is not None:
            call = next(c for c in run.state.calls if c.name == "process_refund")
            step, index = run.state.call_origin[call.id]
            order_id, amount = plan.reserve
            deps.shop.reserve_refund(idempotency_key(run.run_id, step, index), deps.customer_id, order_id, amount,
                                     st.input[:200])  # fmt: skip

    def _release_denied(self, run: Run) -> None:
        """A supervisor said no: free the amount that was held for the refund."""
        deps: SupportDeps = run.config.deps
        for call_id, decision in run.state.approvals.items():
            if not decision.approved and call_id in run.state.call_origin:
                step, index = run.state.call_origin[call_id]
                deps.shop.release_refund(idempotency_key(run.run_id, step, index))

    def _injection(self, run: Run) -> bool:
        try:
            from keel.security.injection import scan_injection
        except ImportError:  # pragma: no cover - the security module ships with keel
            return False
        verdict = scan_injection(run.state.input)
        if verdict.flagged:
            run.emit(GuardrailTripped(run_id=run.run_id, guardrail="prompt_injection", where="input",
                                      reason=", ".join(verdict.reasons)[:300], blocked=False))  # fmt: skip
        return bool(verdict.flagged)

    # -- 3 + 4: answer and check -------------------------------------------------------------------

    def _facts(self, run: Run) -> tuple[str, str]:
        """The facts for the answer (as the model reads them) and the same facts as plain evidence."""
        st = run.state
        lines: list[str] = []
        for call in st.calls:
            res = st.results.get(call.id)
            if call.id in st.approvals_pending:
                lines.append(f"Refund of ${call.arguments.get('amount'):.2f} on {call.arguments.get('order_id')} is "
                             "waiting for supervisor approval (not processed yet).")  # fmt: skip
            elif res is not None:
                content = (
                    res.content if isinstance(res.content, str) else json.dumps(res.content, default=str)
                )
                lines.append(f"{call.name}: {'FAILED: ' if res.is_error else ''}{content}")
        for note in st.annotations.get("plan", {}).get("notes", []):
            lines.append(_explain(note))
        if not lines:
            lines.append("No facts were looked up for this message.")
        text = "\n".join(lines)
        return text, text

    async def _answer(self, run: Run) -> None:
        st = run.state
        facts, evidence = self._facts(run)
        label = st.annotations["intent"]["label"]
        if label == "out_of_scope":
            await finish_with_answer(run, "I'm the Harbor & Pine support assistant, so I can only help with orders, "
                                          "returns, shipping, payments and your account. Is there anything like that I can do for you?")  # fmt: skip
            return
        prompt: list[Message] = [SystemMessage(content=SYSTEM)]
        prior = [m for m in run.history if isinstance(m, UserMessage | AssistantMessage) and m.content][-2:]
        prompt.extend(prior)
        prompt.append(UserMessage(content=f"{st.input}\n\n[FACTS for your answer]\n{facts}"))
        settings = ModelSettings(tool_choice="none", max_tokens=self.max_answer_tokens, temperature=0.0)
        msg = await run.call_model(prompt, (), settings=settings)
        answer = msg.content.strip()
        problems = check_answer(answer, evidence, run)
        if problems:
            run.emit(
                Annotation(
                    run_id=run.run_id, kind="quality", data={"ok": False, "problems": problems, "attempt": 1}
                )
            )
            answer = template_answer(run)
            problems = check_answer(answer, evidence, run)
            if problems:
                run.emit(
                    Annotation(
                        run_id=run.run_id,
                        kind="quality",
                        data={"ok": False, "problems": problems, "attempt": 2},
                    )
                )
                deps: SupportDeps = run.config.deps
                deps.shop.escalate(deps.customer_id, st.session_id, "answer failed the quality check twice")
                run.emit(Annotation(run_id=run.run_id, kind="escalated", data={"reason": "quality"}))
                answer = "I want to make sure you get this right, so I've passed your question to a human colleague who will follow up shortly."
        else:
            run.emit(Annotation(run_id=run.run_id, kind="quality", data={"ok": True}))
        await finish_with_answer(run, answer + await _quote(run) + _sources(run))


def _explain(note: str) -> str:
    kind, _, detail = note.partition(":")
    return {
        "refund_refused": f"A refund is not possible: {detail}.",
        "refund_over_limit": f"The customer asked for more than can be refunded ({detail.replace('>', ' requested, maximum ')}).",
        "refund_split_refused": "Splitting a refund into several smaller ones is not allowed; refunds over the limit need a supervisor's approval.",
        "not_customers_order": f"Order(s) {detail} are not on this customer's account; do not share anything about them.",
        "other_customers_data": "The request is for another person's data or for internal information; it must be refused.",
        "injection_no_side_effects": "The message contains instructions that do not come from the customer; no refund or change was made.",
        "out_of_scope": "The request is outside what customer support handles.",
        "ask_order_id": "Ask the customer which order (the order number, which starts with 'A-').",
        "ask_item": f"Ask the customer which item they want to return: {detail}.",
        "cannot_cancel": f"The order is {detail} and can no longer be cancelled; once it arrives it can be returned, or the delivery refused.",
        "refund_timing": "The order's refund goes back to the original payment method (see refund_timing).",
        "ask_photos": "Ask the customer to send photos of the damage and the packaging.",
    }.get(kind, note)


_REF = re.compile(r"\b(?:[A-Z]{2}\d{9,12}(?:US)?|A-\d{5}|T-\d{4})\b")
_MONEY = re.compile(r"\$\s?(\d[\d,]*(?:\.\d{1,2})?)")
_CLAIM = re.compile(
    r"\b(refund(ed)? (has been|was|is) (processed|issued|approved|completed)|I('ve| have) (refunded|processed))",
    re.I,
)


def check_answer(answer: str, evidence: str, run: Run) -> list[str]:
    """Problems with an answer: references or amounts not in the evidence, unbacked refund claims."""
    problems: list[str] = []
    if not answer:
        return ["empty answer"]
    if re.search(r"\bFACTS\b|the customer|human agent|2 to 4 short sentences", answer):
        return ["repeats its instructions instead of answering"]
    st = run.state
    grounding = evidence + "\n" + st.input
    for ref in set(_REF.findall(answer)):
        if ref not in grounding:
            problems.append(f"reference {ref} is not in the facts")
    deps: SupportDeps = run.config.deps
    for oid in set(re.findall(r"A-\d{5}", answer)):
        if not deps.shop.owns_order(deps.customer_id, oid):
            problems.append(f"names order {oid} of another customer")
    numbers = {round(float(n.replace(",", "")), 2) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", grounding)}
    for m in _MONEY.findall(answer):
        if round(float(m.replace(",", "")), 2) not in numbers:
            problems.append(f"amount ${m} is not in the facts")
    problems += _missing_facts(answer, st)
    refunded = any(
        c.name == "process_refund" and c.id in st.results and not st.results[c.id].is_error for c in st.calls
    )
    if _CLAIM.search(answer) and not refunded:
        problems.append("claims a refund that was not processed")
    return problems


def _missing_facts(answer: str, st: RunState) -> list[str]:
    """Facts the tools established that the answer must state (the small model tends to drop them)."""
    low = answer.lower()
    found_facts = any(r is not None and not r.is_error for r in (st.results.get(c.id) for c in st.calls))
    if found_facts and ("not certain" in low or "not sure" in low):
        return ["says it is unsure although the tools found the facts"]
    problems = []
    for call in st.calls:
        res = st.results.get(call.id)
        if res is None or res.is_error or not isinstance(res.content, dict):
            continue
        c = res.content
        if call.name == "get_order_status":
            if (
                c.get("status")
                and c["status"] not in low
                and not (c["status"] == "cancelled" and "canceled" in low)
            ):
                problems.append(f"does not state the order's status ({c['status']})")
            if c.get("tracking_number") and c["status"] == "shipped" and c["tracking_number"] not in answer:
                problems.append("does not give the tracking number")
            if c["status"] == "delivered" and c.get("delivered") and not _says_date(answer, c["delivered"]):
                problems.append("does not give the delivery date")
            refunded = c.get("amount_refunded")
            if (
                c["status"] in ("cancelled", "returned")
                and refunded
                and f"{float(refunded):.2f}" not in answer
            ):
                problems.append("does not state the refunded amount")
        elif call.name == "process_refund" and f"{float(c['amount']):.2f}" not in answer:
            problems.append("does not state the refunded amount")
        elif call.name == "cancel_order" and "cancel" not in low:
            problems.append("does not confirm the cancellation")
        elif call.name == "create_ticket" and c.get("id") and c["id"] not in answer:
            problems.append("does not give the ticket number")
    return problems


def _says_date(answer: str, iso: str) -> bool:
    """Whether ``answer`` gives the ISO date ``iso`` (as written, or as "November 3")."""
    import datetime as dt

    try:
        day = dt.date.fromisoformat(str(iso)[:10])
    except ValueError:
        return True  # not a date we can read: nothing to demand
    return str(iso)[:10] in answer or f"{day:%B} {day.day}" in answer or f"{day:%b} {day.day}" in answer


def template_answer(run: Run) -> str:
    """An answer built from the facts alone: always grounded, less fluent."""
    return template_answer_from_state(run.state)


def template_answer_from_state(st: RunState) -> str:
    parts: list[str] = []
    for call in st.calls:
        res = st.results.get(call.id)
        if call.id in st.approvals_pending:
            parts.append(f"Your refund of ${call.arguments['amount']:.2f} on order {call.arguments['order_id']} "
                         "needs a supervisor's approval; we'll confirm as soon as it is approved.")  # fmt: skip
            continue
        if res is None:
            continue
        c = res.content
        if res.is_error:
            parts.append(
                f"I couldn't complete that: {str(c).removeprefix('ERROR: ').removeprefix('refund refused: ')}."
            )
        elif call.name == "get_order_status" and isinstance(c, dict):
            parts.append(_order_sentence(c))
        elif call.name == "list_my_orders" and isinstance(c, list):
            parts.append(
                "Your recent orders: "
                + "; ".join(f"{o['id']} ({o['status']})" for o in c)
                + ". Which one do you mean?"
            )
        elif call.name == "process_refund" and isinstance(c, dict):
            parts.append(f"Your refund of ${c['amount']:.2f} on order {c['order_id']} has been processed.")
        elif call.name == "cancel_order" and isinstance(c, dict):
            parts.append(
                f"Order {c['id']} has been cancelled; the payment is refunded to your original payment method."
            )
        elif call.name == "get_customer" and isinstance(c, dict):
            parts.append(f"Your account: {c.get('tier', '').title()} tier, {c.get('loyalty_points')} loyalty points, "
                         f"email {c.get('email')}.")  # fmt: skip
        elif call.name == "remember_preference":
            parts.append("Noted: I'll remember that preference for future conversations.")
        elif call.name == "create_ticket" and isinstance(c, dict):
            parts.append(f"I've opened ticket {c['id']} for you.")
        elif call.name == "escalate":
            parts.append("I've passed you to a human colleague, who will reply shortly.")
        elif call.name == "search_knowledge_base" and isinstance(c, str):
            parts.append("Here is what our help centre says:")
    for note in st.annotations.get("plan", {}).get("notes", []):
        kind, _, detail = note.partition(":")
        said = {
            "not_customers_order": "I can only help with orders on your own account.",
            "other_customers_data": "I'm sorry, I can't share other people's information or internal details.",
            "refund_over_limit": "That is more than can be refunded on this order.",
            "refund_split_refused": "I can't split a refund to get around the approval step; a supervisor reviews refunds over the limit.",
            "ask_order_id": "Which order is it about? Please share the order number (it starts with 'A-').",
            "ask_item": f"Which item would you like to return? ({detail})",
            "cannot_cancel": f"The order is already {detail}, so it can't be cancelled; once it arrives you can return it, or refuse the delivery.",
            "refund_refused": f"A refund isn't possible: {detail}.",
            "injection_no_side_effects": "I can only make changes you ask for yourself, so I haven't made any.",
            "ask_photos": "Please reply with photos of the damage and the packaging so we can sort it out quickly.",
        }.get(kind)
        if said and said not in parts:
            parts.append(said)
    return " ".join(parts) or "Could you tell me a bit more about what you need?"


_WORDS = re.compile(r"[a-z0-9]+")
_STOP = frozenset({"the", "a", "an", "to", "of", "and", "or", "is", "are", "i", "my", "you", "your", "do", "does",
                   "can", "how", "what", "it", "in", "on", "for", "with", "be", "if", "me"})  # fmt: skip
# What a question asks for, and how a sentence that answers it looks: a "how long" question is
# answered by a duration, a "how much" question by an amount.
_ASKS = (
    (
        re.compile(
            r"\b(how long|how many (days|weeks|hours)|when|how soon|how quickly|deadline|window)\b", re.I
        ),
        re.compile(
            r"\b\d+\s*(?:to \d+\s*)?(?:business\s+)?(days?|weeks?|hours?|minutes?|months?)\b|\b\d+-day\b",
            re.I,
        ),
    ),
    (
        re.compile(r"\b(how much|cost|price|fee|charge|pay)\b", re.I),
        re.compile(r"\$\s?\d|\bfree\b", re.I),
    ),
    (
        re.compile(r"\b(what time|by when|cut-?off|until what time)\b", re.I),
        re.compile(r"\b\d{1,2}(:\d\d)?\s*(a\.m\.|p\.m\.|am\b|pm\b)", re.I),
    ),
)


# a sentence ends at . ! or ? and a space, but not after "2 p.m." or "e.g."
_SENTENCE_END = re.compile(r"(?<![ap]\.m\.)(?<!e\.g\.)(?<!i\.e\.)(?<=[.!?])\s+")


def _sentences(passage: str) -> list[str]:
    """The passage's sentences, list items and table rows, with hard-wrapped lines joined again."""
    items: list[str] = []
    for block in re.split(r"\n\s*\n", passage):
        lines: list[str] = []
        for line in block.splitlines():
            line = line.strip()
            starts_item = re.match(r"([-*]\s|\||#|\d+\.\s)", line)
            if lines and line and not starts_item and not re.match(r"[|#]", lines[-1]):
                lines[-1] += " " + line  # a wrapped line continues the one above
            elif line:
                lines.append(line)
        for line in lines:
            items += [x.strip() for x in _SENTENCE_END.split(line)]
    return [x for x in items if len(x) > 20 and not x.startswith("#") and not re.fullmatch(r"[|\-: ]+", x)]


def _cue(question: str, sentence: str) -> float:
    """1.0 when the question asks for a kind of fact (a duration, an amount) the sentence holds."""
    return float(any(ask.search(question) and has.search(sentence) for ask, has in _ASKS))


async def rank_sentences(
    question: str, passages: list[tuple[str, str]], embedder: Any = None
) -> list[tuple[str, str]]:
    """Every sentence of the retrieved passages as ``(sentence, passage id)``, best answer first.

    The score adds the sentence's meaning similarity to the question (the knowledge base's own
    embedder, whose cache makes repeated sentences free); the question's words it holds, each
    weighted by how rare it is among the candidates (so "standard" outweighs "shipping" in a
    shipping article); whether it holds the kind of fact asked for (``_cue``); a little for a
    concrete number; and a little for the passage's retrieval rank. Without an embedder, the
    other terms rank alone.
    """
    import math

    cands = [(sent, cid, rank) for rank, (cid, body) in enumerate(passages) for sent in _sentences(body)]
    if not cands:
        return []
    words = [set(_WORDS.findall(c[0].lower())) for c in cands]
    q = {w for w in _WORDS.findall(question.lower()) if w not in _STOP}
    idf = {w: math.log((1 + len(cands)) / (1 + sum(w in ws for ws in words))) for w in q}
    norm = sum(idf.values()) or 1.0
    sims = [0.0] * len(cands)
    if embedder is not None:
        # the quote is a courtesy: rank without meaning if the embedder fails
        with contextlib.suppress(Exception):
            vecs = await embedder.embed([question, *(c[0] for c in cands)])
            sims = [float(v) for v in vecs[1:] @ vecs[0]]
    scores = [
        sims[i]
        + sum(idf[w] for w in q & words[i]) / norm
        + 0.3 * _cue(question, s)
        + 0.1 * bool(re.search(r"\d", s))
        - 0.05 * rank
        for i, (s, _cid, rank) in enumerate(cands)
    ]
    order = sorted(range(len(cands)), key=lambda i: -scores[i])
    return [(cands[i][0], cands[i][1]) for i in order]


async def _quote(run: Run) -> str:
    """For help-centre answers, quote the retrieved sentences that best answer the question, so the
    customer sees the policy itself and not only the model's paraphrase."""
    st = run.state
    for call in st.calls:
        res = st.results.get(call.id)
        if (
            call.name != "search_knowledge_base"
            or res is None
            or res.is_error
            or not isinstance(res.content, str)
        ):
            continue
        passages = re.findall(r"^\[([^\]]+)\][^\n]*\n(.*?)(?=^\[[^\]]+\] |\Z)", res.content, re.M | re.S)
        if not passages:
            return ""
        question = " ".join([*[m.content for m in run.history if isinstance(m, UserMessage)][-1:], st.input])
        deps = run.config.deps
        embedder = getattr(getattr(deps, "kb", None), "embedder", None)
        picked = (await rank_sentences(question, passages, embedder))[:2]
        if not picked:
            return ""
        return "\n\n> " + " ".join(f"{sent} [{cid}]" for sent, cid in picked)
    return ""


def _order_sentence(c: dict[str, Any]) -> str:
    status = c["status"]
    if status == "cancelled":
        s = f"Order {c['id']} was cancelled" + (f" on {c['cancelled']}" if c.get("cancelled") else "")
    elif status == "returned":
        s = f"Order {c['id']} was returned: we received it" + (
            f" on {c['returned']}" if c.get("returned") else ""
        )
    else:
        s = f"Order {c['id']} is {status}"
        if c.get("carrier"):
            s += f", shipped with {c['carrier']} (tracking {c['tracking_number']})"
        if c.get("delivered"):
            s += f", delivered on {c['delivered']}"
        elif c.get("estimated_delivery"):
            s += f", expected by {c['estimated_delivery']}"
    if status in ("cancelled", "returned") and c.get("amount_refunded"):
        s += f"; ${float(c['amount_refunded']):.2f} was refunded to your original payment method"
        if c.get("refund_timing"):
            s += f" ({c['refund_timing']})"
    return s + "."


def _sources(run: Run) -> str:
    st = run.state
    cited = []
    for call in st.calls:
        res = st.results.get(call.id)
        if call.name == "search_knowledge_base" and res is not None and isinstance(res.content, str):
            cited += re.findall(r"^\[([^\]]+)\] (.+?) \((.+?)\)$", res.content, re.M)
    if not cited:
        return ""
    return "\n\nSources: " + "; ".join(f"[{cid}] {title}" for cid, title, _src in cited[:3])


class SupportAgent(Agent[str]):
    """The support agent plus what a face needs: per-customer deps and the escalation flag."""

    def __init__(self, shop: Shop, kb: KnowledgeBase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shop = shop
        self.kb = kb

    async def _deps_from_log(self, run_id: str) -> SupportDeps | None:
        """Rebuild the customer context from the run's own log, so any worker can continue the run."""
        first = await self.store.events(run_id, limit=1)
        customer = first[0].metadata.get("customer_id") if first and first[0].type == "run_started" else None
        return self.deps_for_customer(customer) if customer else None

    async def advance(
        self, run_id: str, *, steps: int | None = 1, deps: Any = None, listener: Any = None
    ) -> RunState:
        return await super().advance(
            run_id, steps=steps, deps=deps or await self._deps_from_log(run_id), listener=listener
        )

    async def resume(self, run_id: str, decision: bool | None = None, **kwargs: Any) -> RunResult[str]:
        if kwargs.get("deps") is None:
            kwargs["deps"] = await self._deps_from_log(run_id)
        return await super().resume(run_id, decision, **kwargs)

    def deps_for_customer(self, customer_id: str) -> SupportDeps:
        if self.shop.customer(customer_id) is None:
            from keel.errors import ConfigError

            raise ConfigError(f"unknown customer {customer_id!r}")
        return SupportDeps(shop=self.shop, kb=self.kb, customer_id=customer_id)

    async def run(self, message: str, **kwargs: Any) -> RunResult[str]:
        """Run a turn; the result carries ``extra = {"escalated", "intent"}``, and a turn waiting for a
        supervisor's approval answers the customer with what happens next."""
        deps = kwargs.get("deps")
        if isinstance(deps, SupportDeps):
            kwargs["metadata"] = {"customer_id": deps.customer_id, **(kwargs.get("metadata") or {})}
        result = await super().run(message, **kwargs)
        state = RunState.from_events(result.run_id, result.events)
        result.extra = {
            "escalated": self.escalated(state),
            "intent": state.annotations.get("intent", {}).get("label"),
        }
        if result.status == "suspended":
            result.output = template_answer_from_state(state)
        return result

    @staticmethod
    def escalated(state: RunState) -> bool:
        """Handed to a human: escalated, or waiting for a supervisor's approval."""
        if state.approvals_pending:
            return True
        return any(c.name == "escalate" and c.id in state.results and not state.results[c.id].is_error
                   for c in state.calls) or "escalated" in state.annotations  # fmt: skip


def build_agent(model: str = "local", *, home: str | Path = ".keel", embedder: Any = None) -> SupportAgent:
    """The support agent over the shop database and knowledge base under ``home`` (see ``keel support init``)."""
    from keel.rag import KnowledgeBase
    from keel.store import SQLiteStore

    home = Path(home)
    shop = Shop(home / "support.db")
    if embedder is None:
        from keel.rag import LocalEmbedder

        embedder = LocalEmbedder()
    kb = KnowledgeBase(home / "support-kb.db", embedder=embedder)
    classifier = IntentClassifier(embedder)
    return SupportAgent(
        shop,
        kb,
        model=model,
        tools=support_tools(shop),
        pattern=SupportFlow(classifier),
        name="support",
        store=SQLiteStore(home / "runs.db"),
        max_steps=6,
    )
