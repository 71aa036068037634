"""Which tools a support turn calls, with which arguments: intent plus conversation slots.

The planner is deterministic: it reads the intent, the message, the session's topic (intent and
order carried over from earlier turns) and the shop's data, and returns tool calls plus notes for the
answer. The model never chooses a side effect; it only words the answer. Safety rules live here:
another customer's order or data is never looked up, a suspected prompt injection never triggers a
refund or cancellation, and a refund never exceeds what policy allows minus refunds already made or
waiting for approval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from apps.support.intents import Intent, amounts, anger_score, order_ids
from apps.support.shop import Shop
from keel.events import ToolCall

__all__ = ["Plan", "Topic", "plan_turn"]

_OTHER_CUSTOMER = re.compile(r"\bC-\d{4}\b")
_THIRD_PARTY_DATA = re.compile(
    r"(\b\w+'s\s+(email|phone|address|number|account)|\b(email|phone|address)(es)?\s+(of|for)\s+(customer|all|every|\w+\s+\w+)"
    r"|\ball (your |the )?customers|\bcustomer list\b|\bsystem prompt\b|\bverbatim\b)",
    re.I,
)
_CANCEL = re.compile(r"\bcancel\w*\b", re.I)
_EVERYTHING = re.compile(r"\b(everything|all of it|whole order|entire order|full amount|all items)\b", re.I)
_MONEY_BACK_TIMING = re.compile(r"\b(when|how long)\b.*\b(money back|refund)\b", re.I)
_PROFILE = re.compile(
    r"\b(tier|membership|loyalty|points|email address do you have|which email|what email|on file)\b", re.I
)
_DELETE_ACCOUNT = re.compile(r"\b(close|delete|remove)\b.*\baccount\b", re.I)
_CHANNELS = (
    ("sms", r"\b(text|sms)\b"),
    ("phone", r"\b(call|phone)\b"),
    ("email", r"\bemail\b"),
    ("chat", r"\bchat\b"),
)
_PREFERENCE = re.compile(r"\b(from now on|prefer|instead|contact me|reach me)\b", re.I)


@dataclass
class Topic:
    """What the conversation is about, carried from turn to turn."""

    intent: str = ""
    order_id: str | None = None
    awaiting: str | None = None
    """The slot the last answer asked for: ``order_id`` or ``item``."""
    query: str = ""


@dataclass
class Plan:
    calls: list[ToolCall] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    topic: Topic = field(default_factory=Topic)
    reserve: tuple[str, float] | None = None
    """A refund to reserve against the order while it waits for approval."""

    def call(self, name: str, **args: Any) -> None:
        self.calls.append(ToolCall(id=f"{name}-{len(self.calls)}", name=name, arguments=args))


def _item_named(text: str, order: dict[str, Any]) -> dict[str, Any] | None:
    words = set(re.findall(r"[a-z0-9]+", text.lower()))
    best, score = None, 0.0
    for it in order["items"]:
        name = set(re.findall(r"[a-z0-9]+", it["name"].lower())) - {"the", "of", "set", "and"}
        overlap = len(words & name) / max(len(name), 1)
        if overlap > score:
            best, score = it, overlap
    return best if score >= 0.5 else None


def plan_turn(
    shop: Shop,
    customer_id: str,
    text: str,
    intent: Intent,
    topic: Topic,
    *,
    hostile: bool,
    history: list[str],
) -> Plan:
    """Plan one turn. ``topic`` is the previous turn's topic (empty for a new conversation)."""
    plan = Plan()
    label = intent.label
    follow_up = intent.by == "follow-up" or (topic.awaiting is not None and label not in ("human_request",))
    if follow_up and topic.intent:
        label = topic.intent
    ids = order_ids(text)
    if not ids and topic.order_id and label in ("refund_return", "order_status", "complaint"):
        ids = [topic.order_id]
    foreign = [i for i in ids if not shop.owns_order(customer_id, i)]
    own = [i for i in ids if i not in foreign]
    plan.topic = Topic(intent=label, order_id=own[0] if own else None, query=text)
    if foreign:
        plan.notes.append(f"not_customers_order:{','.join(foreign)}")
    others = [c for c in _OTHER_CUSTOMER.findall(text) if c != customer_id]
    if others or (_THIRD_PARTY_DATA.search(text) and label != "human_request"):
        plan.notes.append("other_customers_data")
        return plan
    if foreign and not own:
        return plan
    if label == "human_request":
        plan.call("escalate", reason="the customer asked for a human")
        if anger_score(text) >= 2.0 or re.search(r"\bcomplain", text, re.I):
            plan.call(
                "create_ticket",
                subject="Complaint: customer asked for a manager",
                body=text[:500],
                priority="high",
            )
    elif label == "complaint":
        _plan_complaint(plan, shop, customer_id, text, own)
    elif label == "order_status":
        _plan_status(plan, shop, customer_id, own)
    elif label == "refund_return":
        if hostile:
            if own:
                plan.call("get_order_status", order_id=own[0])
            plan.notes.append("injection_no_side_effects")
        else:
            _plan_refund(plan, shop, customer_id, text, own, topic)
    elif label == "account" or (_PROFILE.search(text) and re.search(r"\b(my|i|me)\b", text, re.I)):
        _plan_account(plan, text, history)
    elif label == "out_of_scope":
        plan.notes.append("out_of_scope")
    else:
        query = text if len(text.split()) > 5 or not history else f"{history[-1]} {text}"
        plan.call("search_knowledge_base", query=query[:300])
    return plan


def _plan_status(plan: Plan, shop: Shop, customer_id: str, own: list[str]) -> None:
    if own:
        plan.call("get_order_status", order_id=own[0])
        return
    plan.call("list_my_orders")
    moving = [o for o in shop.orders(customer_id, limit=20) if o["status"] == "shipped"]
    if len(moving) == 1:
        plan.call("get_order_status", order_id=moving[0]["id"])
        plan.topic.order_id = moving[0]["id"]
    else:
        plan.topic.awaiting = "order_id"


def _plan_complaint(plan: Plan, shop: Shop, customer_id: str, text: str, own: list[str]) -> None:
    if re.search(r"\b(broken|damaged|cracked|shattered|dented)\b", text, re.I):
        plan.notes.append("ask_photos")
    args: dict[str, Any] = {"subject": "Complaint", "body": text[:500], "priority": "high"}
    if own:
        plan.call("get_order_status", order_id=own[0])
        args.update(subject=f"Complaint about order {own[0]}", order_id=own[0])
    plan.call("create_ticket", **args)


def _plan_account(plan: Plan, text: str, history: list[str]) -> None:
    channel = next((c for c, pat in _CHANNELS if re.search(pat, text, re.I)), None)
    if _PREFERENCE.search(text) and channel:
        plan.call("remember_preference", key="contact", value=channel)
    elif _PROFILE.search(text):
        plan.call("get_customer")
    elif _DELETE_ACCOUNT.search(text):
        plan.call(
            "create_ticket",
            subject="Account closure and data deletion request",
            body=text[:500],
            priority="normal",
        )
        plan.call("search_knowledge_base", query="delete my account and personal data request")
    else:
        query = text if len(text.split()) > 5 or not history else f"{history[-1]} {text}"
        plan.call("search_knowledge_base", query=query[:300])


def _plan_refund(plan: Plan, shop: Shop, customer_id: str, text: str, own: list[str], topic: Topic) -> None:
    if not own:
        plan.call("search_knowledge_base", query=text[:300])
        plan.topic.awaiting = "order_id"
        plan.notes.append("ask_order_id")
        return
    order = shop.order(customer_id, own[0])
    plan.call("get_order_status", order_id=order["id"])
    if _CANCEL.search(text) and not re.search(r"\bcancelled order\b", text, re.I):
        if order["status"] in shop.policy.get("cancellation", {}).get(
            "allowed_statuses", ["pending", "paid"]
        ):
            plan.call("cancel_order", order_id=order["id"])
        else:
            plan.notes.append(f"cannot_cancel:{order['status']}")
        return
    if _MONEY_BACK_TIMING.search(text) and order["status"] in ("cancelled", "returned"):
        plan.notes.append("refund_timing")
        return
    decision = shop.refund_decision(customer_id, order)
    if not decision.ok:
        plan.notes.append(f"refund_refused:{decision.reason}")
        return
    returnable = [it for it in order["items"] if not it["final_sale"]]
    item = _item_named(text, order)
    asked = amounts(text)
    in_dialog = topic.awaiting in ("order_id", "item")
    if item is not None:
        if item["final_sale"]:
            plan.notes.append("refund_refused:final-sale items cannot be returned or refunded")
            return
        amount = round(float(item.get("net_amount", item["unit_price"] * item["qty"])), 2)
    elif asked:
        amount = asked[0]
    elif in_dialog and topic.awaiting == "order_id" and len(returnable) > 1 and not _EVERYTHING.search(text):
        # the customer wants to return "something": ask which item rather than refund the whole order
        plan.topic.awaiting = "item"
        plan.notes.append("ask_item:" + "; ".join(it["name"] for it in returnable))
        return
    else:
        amount = decision.max_amount
    if amount > decision.max_amount + 1e-9:
        plan.notes.append(f"refund_over_limit:{amount:.2f}>{decision.max_amount:.2f}")
        return
    if len(asked) > 1 or re.search(r"\b(two|split|separate) refunds?\b", text, re.I):
        plan.notes.append("refund_split_refused")
        return
    plan.call("process_refund", order_id=order["id"], amount=amount, reason=text[:200])
    if amount > shop.approval_threshold():
        plan.reserve = (order["id"], amount)
