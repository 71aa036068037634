"""Support tickets: each kind picks an order in a fitting state, so what the history says matches the order."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

N_TICKETS = 300
AGENTS = ["agent:Marisol", "agent:Dev", "agent:Keiko", "agent:Tobias", "agent:Rana"]


@dataclass(frozen=True)
class Kind:
    """One kind of ticket: which orders it fits, what people write, how it usually ends."""

    name: str
    statuses: tuple[str, ...] | None  # order statuses it needs; None = no order
    subjects: tuple[str, ...]
    opening: tuple[str, ...]
    reply: tuple[str, ...]
    resolution: tuple[str, ...]
    priorities: tuple[str, ...]
    weight: int


KINDS = [
    Kind("delivery_delay", ("shipped",),
         ("Where is my order {order}?", "Order {order} still hasn't arrived", "Tracking for {order} not updating"),
         ("My order {order} should have arrived by {eta} and the {carrier} tracking ({tracking}) hasn't moved.",
          "hi, still waiting on {order}. tracking {tracking} just says in transit??",
          "Can you check on {order}? I need the {item} before the weekend."),
         ("Checked {carrier} tracking {tracking}: in transit, estimated delivery {eta}. Shared with customer.",
          "Asked {carrier} for a status update on {tracking}; will follow up within 24 hours."),
         ("Customer confirmed the package arrived.", "Shared tracking and estimated delivery; customer satisfied."),
         ("normal", "high"), 14),
    Kind("damaged_item", ("delivered", "returned"),
         ("{item} arrived damaged", "Broken {item} in order {order}", "Damage on delivery, order {order}"),
         ("The {item} from order {order} arrived with a cracked corner and the box was crushed.",
          "Opened my package today and the {item} is damaged. What now?"),
         ("Asked the customer for photos of the item and the packaging.",
          "Photos received; damage confirmed as shipping damage."),
         ("Replacement {item} shipped at no charge.", "Customer chose a replacement; shipped with expedited delivery."),
         ("high", "normal"), 10),
    Kind("return_help", ("delivered",),
         ("How do I return the {item}?", "Return for order {order}", "Return label request"),
         ("I'd like to return the {item} from {order}. It doesn't fit the space.",
          "how do i send back the {item}? never used it"),
         ("Explained the return steps; return window for {order} ends {deadline}.",
          "Sent a prepaid return label by email."),
         ("Prepaid label sent; customer will drop off the parcel.", "Return steps explained; customer has the label."),
         ("low", "normal"), 12),
    Kind("refund_status", ("returned",),
         ("Refund for order {order}?", "Haven't received my refund", "Refund status {order}"),
         ("I returned my items from {order} but I don't see the refund yet.",
          "when will the refund for {order} show up on my {payment}?"),
         ("Refund of {refund} issued on {refund_date} to the original {payment}; allow {refund_min_days} to {refund_max_days} business days.",
          "Confirmed the return was received and the refund of {refund} was processed."),
         ("Customer confirmed the refund of {refund} arrived.", "Refund details shared; no further action."),
         ("normal", "low"), 10),
    Kind("cancel_request", ("cancelled",),
         ("Please cancel order {order}", "Cancel my order", "Ordered by mistake: {order}"),
         ("Please cancel {order}, I ordered the wrong size.", "I placed {order} twice by accident, cancel one please."),
         ("Order {order} had not shipped yet, so it could be cancelled.",),
         ("Order {order} cancelled before shipment; refund of {total} to the original payment method.",),
         ("normal",), 6),
    Kind("wrong_item", ("delivered",),
         ("Wrong item in order {order}", "Received something I didn't order", "Order {order} mix-up"),
         ("I ordered the {item} but received something else in {order}.",
          "Got the wrong thing in my box from {order}, please fix"),
         ("Apologised; asked the customer to confirm what arrived.", "Confirmed a picking error at the warehouse."),
         ("Correct {item} shipped; prepaid label sent for the wrong item.",),
         ("high", "normal"), 6),
    Kind("warranty_claim", ("delivered",),
         ("Warranty claim: {item}", "{item} stopped working", "My {item} is faulty"),
         ("My {item} from order {order} stopped working. It's still under warranty, right?",
          "the {item} won't turn on anymore, bought it a few months ago"),
         ("Checked warranty: {item} is covered for {warranty} months from delivery. Asked for a short video.",
          "Ran through troubleshooting steps with the customer; fault persists."),
         ("Warranty replacement approved and shipped.", "Warranty repair arranged; prepaid label sent."),
         ("normal", "high"), 8),
    Kind("account_access", None,
         ("Can't sign in to my account", "Password reset email never arrived", "Account locked"),
         ("I tried my password a few times and now my account is locked.",
          "Reset email never comes. I checked spam."),
         ("Confirmed identity with the email on file and resent the password reset link.",
          "Lockout lifts after {lockout_minutes} minutes; explained to the customer."),
         ("Customer signed in successfully.", "Password reset completed."),
         ("normal", "low"), 8),
    Kind("promo_code", None,
         ("Promo code not working", "SUMMER12 rejected at checkout", "Discount didn't apply"),
         ("The code SUMMER12 says it is invalid.", "My promo code didn't apply to my order, can you add it?"),
         ("Explained that SUMMER12 ended on {summer_end} and only one code can be used per order.",
          "Checked the code's minimum order value with the customer."),
         ("Customer used a current code instead.", "Explained the code terms; customer understood."),
         ("low",), 6),
    Kind("billing_duplicate", ("paid", "shipped", "delivered"),
         ("Charged twice for {order}", "Double charge on my card", "Two payments for one order"),
         ("I see two charges of {total} for order {order}.", "my bank shows {order} charged twice??"),
         ("Only one payment was captured; the second line is a pending authorization that drops off.",
          "Asked the customer for a bank statement screenshot."),
         ("Customer confirmed the pending authorization dropped off.", "Explained the authorization hold."),
         ("high", "normal"), 6),
    Kind("product_question", None,
         ("Question about the {product}", "Is the {product} right for me?", "{product}: sizing and care"),
         ("Is the {product} dishwasher safe?", "What are the dimensions of the {product}?",
          "Does the {product} come with a warranty?"),
         ("Answered with the product details and linked the care guide.",),
         ("Question answered.",),
         ("low",), 6),
    Kind("address_change", ("paid", "pending"),
         ("Change shipping address for {order}", "Wrong address on order {order}", "Update delivery address"),
         ("I put my old address on {order}. Can you change it before it ships?",),
         ("Order {order} has not shipped, so the address could be updated.",),
         ("Shipping address updated before shipment.",),
         ("high", "normal"), 4),
]  # fmt: skip


def _at(day: date, rng: random.Random, after: datetime | None = None) -> datetime:
    moment = datetime(
        day.year, day.month, day.day, rng.randint(8, 19), rng.choice([0, 5, 12, 20, 34, 41, 55])
    )
    if after is not None and moment <= after:
        moment = after + timedelta(minutes=rng.randint(20, 300))
    return moment


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:00Z")


def _start(kind: Kind, order: dict[str, Any] | None, rng: random.Random, ref: date) -> date:
    """The day the customer wrote in, never before the order event the ticket is about."""
    if order is None:
        return ref - timedelta(days=rng.randint(0, 120))
    event = {
        "delivery_delay": order["shipped"],
        "damaged_item": order["delivered"],
        "return_help": order["delivered"],
        "refund_status": order["returned"],
        "cancel_request": order["cancelled"],
        "wrong_item": order["delivered"],
        "warranty_claim": order["delivered"],
    }.get(kind.name, order["placed"])
    first = date.fromisoformat(event)
    span = {"damaged_item": 6, "cancel_request": 0, "address_change": 0}.get(kind.name, 20)
    if kind.name == "warranty_claim":
        first, span = first + timedelta(days=40), 200
    return min(ref, first + timedelta(days=rng.randint(0, span)))


def _status(rng: random.Random, start: date, ref: date, kind: Kind) -> str:
    if kind.name == "cancel_request":
        return "resolved"
    if (ref - start).days <= 3:
        return rng.choice(["open", "open", "pending"])
    return rng.choices(["resolved", "pending", "open"], weights=[75, 15, 10])[0]


def _fields(order: dict[str, Any] | None, products: list[str], rng: random.Random, warranty: dict[str, int],
            base: dict[str, str]) -> dict[str, str]:  # fmt: skip
    if order is None:
        return {**base, "product": rng.choice(products)}
    items = order["items"]
    warranted = [it for it in items if warranty.get(it["sku"], 0) > 0]
    item = rng.choice(warranted or items)
    refund = order["refunds"][-1] if order["refunds"] else None
    return {
        **base, "order": order["id"], "item": item["name"], "carrier": order["carrier"] or "",
        "tracking": order["tracking_number"] or "", "eta": order["estimated_delivery"] or "",
        "deadline": order["return_deadline"] or "", "total": f"{order['total']:.2f}",
        "payment": order["payment_method"].replace("_", " "), "warranty": str(warranty.get(item["sku"], 0)),
        "refund": f"{refund['amount']:.2f}" if refund else "", "refund_date": refund["date"] if refund else "",
    }  # fmt: skip


def _history(kind: Kind, status: str, start: date, fields: dict[str, str], rng: random.Random,
             ref: date) -> list[dict[str, str]]:  # fmt: skip
    channel = rng.choice(["email", "chat", "phone", "web form"])
    t = _at(start, rng)
    hist = [
        {"at": _stamp(t), "by": "customer", "note": rng.choice(kind.opening).format(**fields)},
        {"at": _stamp(t + timedelta(minutes=1)), "by": "system", "note": f"Ticket created via {channel}."},
    ]
    if status == "open":
        return hist
    agent = rng.choice(AGENTS)
    last = min(ref, start + timedelta(days=rng.randint(0, 2)))
    t = _at(last, rng, after=t + timedelta(minutes=1))
    hist.append({"at": _stamp(t), "by": agent, "note": rng.choice(kind.reply).format(**fields)})
    if status == "resolved":
        # Same-day resolutions stay on or before the reference date, so no note lies in the future.
        end_of_ref = datetime(ref.year, ref.month, ref.day, 23, 59)
        t = min(t + timedelta(hours=rng.randint(1, 30)), max(t + timedelta(minutes=15), end_of_ref))
        hist.append(
            {
                "at": _stamp(t),
                "by": agent,
                "note": "Resolved: " + rng.choice(kind.resolution).format(**fields),
            }
        )
    return hist


def tickets(rng: random.Random, custs: list[dict[str, Any]], orders: list[dict[str, Any]],
            products: list[dict[str, Any]], policy: dict[str, Any], ref: date) -> list[dict[str, Any]]:  # fmt: skip
    """About 300 tickets; a ticket about an order always names one of that customer's orders."""
    warranty = {p["sku"]: p["warranty_months"] for p in products}
    names = [p["name"] for p in products if p["category"] not in ("gift_card", "clearance")]
    summer = next(c for c in policy["promotions"]["codes"] if c["code"] == "SUMMER12")
    base = {
        "refund_min_days": str(policy["refunds"]["processing_business_days_min"]),
        "refund_max_days": str(policy["refunds"]["processing_business_days_max"]),
        "lockout_minutes": str(policy["accounts"]["lockout_minutes"]),
        "summer_end": summer["ends"],
    }
    by_status: dict[str, list[dict[str, Any]]] = {}
    for o in orders:
        by_status.setdefault(o["status"], []).append(o)
    out: list[dict[str, Any]] = []
    while len(out) < N_TICKETS:
        kind = rng.choices(KINDS, weights=[k.weight for k in KINDS])[0]
        order = None
        if kind.statuses is not None:
            pool = [o for s in kind.statuses for o in by_status.get(s, [])]
            if kind.name == "warranty_claim":
                pool = [o for o in pool if any(warranty.get(it["sku"], 0) for it in o["items"])]
            order = rng.choice(pool)
            cid = order["customer_id"]
        else:
            cid = rng.choice(custs)["id"]
        start = _start(kind, order, rng, ref)
        status = _status(rng, start, ref, kind)
        fields = _fields(order, names, rng, warranty, base)
        hist = _history(kind, status, start, fields, rng, ref)
        out.append(
            {
                "id": f"T-{5001 + len(out)}",
                "customer_id": cid,
                "order_id": order["id"] if order else None,
                "category": kind.name,
                "subject": rng.choice(kind.subjects).format(**fields),
                "status": status,
                "priority": rng.choice(kind.priorities),
                "created": hist[0]["at"],
                "updated": hist[-1]["at"],
                "history": hist,
            }
        )
    out.sort(key=lambda t: t["created"])
    for n, t in enumerate(out):
        t["id"] = f"T-{5001 + n}"
    return out
