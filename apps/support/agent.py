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

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apps.support.intents import Intent, IntentClassifier, amounts, anger_score, order_ids
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
    ToolCall,
    UserMessage,
)
from keel.loop.output import finish_with_answer
from keel.loop.state import RunState
from keel.models.base import ModelResponse, ModelSettings

if TYPE_CHECKING:
    from keel.loop.run import Run
    from keel.rag import KnowledgeBase

__all__ = ["SupportAgent", "SupportFlow", "build_agent"]

SYSTEM = """You are the customer support assistant of Harbor & Pine, an online home-goods shop.
Answer the customer's latest message in 2 to 4 short sentences, using ONLY the FACTS given.
Never invent order numbers, amounts, dates, tracking numbers or policies. If the FACTS do not answer
the question, say you are not sure and offer to connect the customer with a human agent.
Do not say a refund was made unless the FACTS say it was processed. Cite help-centre facts with
their [id]. Be friendly and direct."""

KB_DIR = Path(__file__).parent / "data" / "kb"


@dataclass
class Plan:
    calls: list[ToolCall] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _call(name: str, n: int, **args: Any) -> ToolCall:
    return ToolCall(id=f"{name}-{n}", name=name, arguments=args)


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
        if st.pending_calls:
            await run.execute_tools(st.pending_calls)
            return
        if "intent" not in st.annotations:
            await self._route(run)
            return
        await self._answer(run)

    # -- 1 + 2: intent and actions -----------------------------------------------------------------

    async def _route(self, run: Run) -> None:
        st = run.state
        history = [m.content for m in run.history if isinstance(m, UserMessage)]
        intent = await self.classifier.classify(st.input, history)
        hostile = self._injection(run)
        anger = anger_score(st.input)
        run.emit(Annotation(run_id=run.run_id, kind="intent", data={
            "label": intent.label, "confidence": intent.confidence, "by": intent.by, "anger": anger,
            "injection": hostile}))  # fmt: skip
        plan = self._plan(run, intent, anger, hostile, history)
        if plan.notes:
            run.emit(Annotation(run_id=run.run_id, kind="plan", data={"notes": plan.notes}))
        if plan.calls:
            msg = AssistantMessage(tool_calls=plan.calls)
            run.record_response(ModelResponse(message=msg, model="router", finish_reason="tool_calls"))

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

    def _plan(self, run: Run, intent: Intent, anger: float, hostile: bool, history: list[str]) -> Plan:
        text = run.state.input
        ids = order_ids(text) or (
            [] if intent.label in ("faq", "account") else order_ids(" ".join(history[-1:]))
        )
        label = intent.label
        plan = Plan()
        deps: SupportDeps = run.config.deps
        foreign = [i for i in ids if not deps.shop.owns_order(deps.customer_id, i)]
        if foreign:
            plan.notes.append(f"not_customers_order:{','.join(foreign)}")
            ids = [i for i in ids if i not in foreign]
        if label == "human_request":
            plan.calls.append(_call("escalate", 0, reason="the customer asked for a human"))
        elif label == "complaint" or anger >= 2.5:
            body = text[:500]
            plan.calls.append(_call("create_ticket", 0, subject="Customer complaint", body=body, priority="high",
                                    **({"order_id": ids[0]} if ids else {})))  # fmt: skip
            if anger >= 2.5:
                plan.calls.append(_call("escalate", 1, reason="angry customer"))
        elif label == "order_status":
            plan.calls.append(
                _call("get_order_status", 0, order_id=ids[0]) if ids else _call("list_my_orders", 0)
            )
        elif label == "refund_return" and ids and not hostile:
            self._plan_refund(run, ids[0], plan)
        elif label == "out_of_scope":
            plan.notes.append("out_of_scope")
        else:
            plan.calls.append(_call("search_knowledge_base", 0, query=text[:300]))
            if label == "account" and re.search(r"\b(prefer|contact me|reach me)\b", text, re.I):
                channel = next((c for c in ("sms", "email", "phone", "chat") if c in text.lower()
                                or (c == "sms" and "text" in text.lower())), None)  # fmt: skip
                if channel:
                    plan.calls.append(_call("remember_preference", 1, key="contact", value=channel))
        if (
            intent.confidence < self.min_confidence
            and label not in ("human_request", "out_of_scope")
            and not plan.calls
        ):
            plan.calls.append(_call("escalate", 9, reason="low confidence in understanding the request"))
        return plan

    def _plan_refund(self, run: Run, order_id: str, plan: Plan) -> None:
        deps: SupportDeps = run.config.deps
        order = deps.shop.order(deps.customer_id, order_id)
        decision = deps.shop.refund_decision(deps.customer_id, order)
        asked = amounts(run.state.input)
        if not decision.ok:
            plan.notes.append(f"refund_refused:{decision.reason}")
            plan.calls.append(_call("search_knowledge_base", 0, query="return and refund policy"))
            return
        amount = asked[0] if asked else decision.max_amount
        if amount > decision.max_amount + 1e-9:
            plan.notes.append(f"refund_over_limit:{amount:.2f}>{decision.max_amount:.2f}")
            return
        plan.calls.append(_call("process_refund", 0, order_id=order["id"], amount=round(amount, 2),
                                reason=run.state.input[:200]))  # fmt: skip

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
        prompt.append(UserMessage(content=f"FACTS:\n{facts}\n\nCustomer: {st.input}"))
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
        await finish_with_answer(run, answer + _sources(run))


def _explain(note: str) -> str:
    kind, _, detail = note.partition(":")
    return {
        "refund_refused": f"A refund is not possible: {detail}.",
        "refund_over_limit": f"The customer asked for more than can be refunded ({detail.replace('>', ' requested, maximum ')}).",
        "not_customers_order": f"Order(s) {detail} are not on this customer's account; do not share anything about them.",
        "out_of_scope": "The request is outside what customer support handles.",
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
    st = run.state
    grounding = evidence + "\n" + st.input
    for ref in set(_REF.findall(answer)):
        if ref not in grounding:
            problems.append(f"reference {ref} is not in the facts")
    deps: SupportDeps = run.config.deps
    for oid in set(re.findall(r"A-\d{5}", answer)):
        if not deps.shop.owns_order(deps.customer_id, oid):
            problems.append(f"names order {oid} of another customer")
    numbers = {n.replace(",", "") for n in re.findall(r"\d[\d,]*(?:\.\d+)?", grounding)}
    for m in _MONEY.findall(answer):
        value = m.replace(",", "")
        if value not in numbers and f"{float(value):.2f}" not in numbers:
            problems.append(f"amount ${m} is not in the facts")
    refunded = any(
        c.name == "process_refund" and c.id in st.results and not st.results[c.id].is_error for c in st.calls
    )
    if _CLAIM.search(answer) and not refunded:
        problems.append("claims a refund that was not processed")
    return problems


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
            parts.append(f"I couldn't complete that: {str(c).removeprefix('refund refused: ')}.")
        elif call.name == "get_order_status" and isinstance(c, dict):
            s = f"Order {c['id']} is {c['status']}"
            if c.get("carrier"):
                s += f", shipped with {c['carrier']} (tracking {c['tracking_number']})"
            if c.get("delivered"):
                s += f", delivered on {c['delivered']}"
            elif c.get("estimated_delivery"):
                s += f", expected by {c['estimated_delivery']}"
            parts.append(s + ".")
        elif call.name == "list_my_orders" and isinstance(c, list):
            parts.append(
                "Your recent orders: "
                + "; ".join(f"{o['id']} ({o['status']})" for o in c)
                + ". Which one do you mean?"
            )
        elif call.name == "process_refund" and isinstance(c, dict):
            parts.append(f"Your refund of ${c['amount']:.2f} on order {c['order_id']} has been processed.")
        elif call.name == "create_ticket" and isinstance(c, dict):
            parts.append(f"I've opened ticket {c['id']} for you.")
        elif call.name == "escalate":
            parts.append("I've passed you to a human colleague, who will reply shortly.")
        elif call.name == "search_knowledge_base" and isinstance(c, str):
            body = [ln for ln in c.splitlines()[1:] if ln.strip()][:2]
            parts.append(" ".join(body)[:400])
    for note in st.annotations.get("plan", {}).get("notes", []):
        kind = note.split(":", 1)[0]
        if kind == "not_customers_order":
            parts.append("I can only help with orders on your own account.")
        elif kind == "refund_over_limit":
            parts.append("That is more than can be refunded on this order.")
    return " ".join(parts) or "Could you tell me a bit more about what you need?"


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
