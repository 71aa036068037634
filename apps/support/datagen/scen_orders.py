"""Order-status and refund/return scenarios, with expectations read off the generated orders."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from apps.support.datagen.scen_base import (
    CANCELLED,
    World,
    call,
    date_alts,
    day_alts,
    money_alts,
    range_alts,
    scenario,
)

NO_ACTION = ["process_refund", "cancel_order"]


def _in_transit(o: dict[str, Any], ref: date) -> bool:
    return o["status"] == "shipped" and date.fromisoformat(o["estimated_delivery"]) >= ref


def _ctx(o: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"order_id": o["id"], "order_status": o["status"], **extra}


def order_status(world: World, rng: random.Random) -> list[dict[str, Any]]:
    """Where-is-my-order questions for orders in every status."""
    out: list[dict[str, Any]] = []
    ref = world.ref

    def add(o: dict[str, Any], turns: list[str], contain: list[Any], **kw: Any) -> None:
        out.append(
            scenario(
                f"order-status-{len(out) + 1:03d}",
                "order_status",
                o["customer_id"],
                turns,
                title=kw.pop("title", f"Status of a {o['status']} order"),
                context=kw.pop("context", _ctx(o)),
                tool_calls=kw.pop("tool_calls", [call("get_order_status", order_id=o["id"])]),
                forbidden=NO_ACTION,
                must_contain=contain,
                must_not_escalate=True,
                **kw,
            )
        )

    asks = [
        "Where is my order {id}?",
        "hi, any update on {id}?",
        "Can you check the status of order {id} please",
        "When will {id} get here?",
        "has my order {id} shipped yet",
    ]
    for o in world.pick_orders(rng, 8, lambda o: _in_transit(o, ref)):
        add(
            o,
            [rng.choice(asks).format(id=o["id"])],
            [o["tracking_number"], o["carrier"]],
            context=_ctx(
                o,
                carrier=o["carrier"],
                tracking_number=o["tracking_number"],
                estimated_delivery=o["estimated_delivery"],
            ),
        )
    for o in world.pick_orders(rng, 6, lambda o: o["status"] == "delivered"):
        add(
            o,
            [
                rng.choice(
                    [
                        "Was order {id} delivered?",
                        "did {id} arrive? i'm not home",
                        "Can you tell me when {id} was delivered?",
                    ]
                ).format(id=o["id"])
            ],
            ["delivered", date_alts(o["delivered"])],
            context=_ctx(o, delivered=o["delivered"]),
        )
    for o in world.pick_orders(rng, 4, lambda o: o["status"] == "paid"):
        add(
            o,
            [f"Has order {o['id']} shipped? I ordered it {o['placed']}."],
            [
                [
                    "not shipped",
                    "hasn't shipped",
                    "has not shipped",
                    "not yet shipped",
                    "preparing",
                    "processing",
                    "paid",
                    "yet to ship",
                ]
            ],
        )
    for o in world.pick_orders(rng, 3, lambda o: o["status"] == "pending"):
        add(
            o, [f"Why is my order {o['id']} still pending?"], [["pending", "payment", "authoris", "authoriz"]]
        )
    for o in world.pick_orders(rng, 3, lambda o: o["status"] == "cancelled" and o["amount_refunded"] > 0):
        add(
            o,
            [f"What happened to order {o['id']}? It doesn't show as coming."],
            [CANCELLED, money_alts(o["amount_refunded"])],
            context=_ctx(o, amount_refunded=o["amount_refunded"]),
        )
    for o in world.pick_orders(rng, 2, lambda o: o["status"] == "returned"):
        add(
            o,
            [f"Did you get my return for {o['id']}?"],
            [["returned", "received"], money_alts(o["amount_refunded"])],
            context=_ctx(o, amount_refunded=o["amount_refunded"]),
        )
    # No order number given: the assistant must look the customer's orders up.
    single = [
        c["id"] for c in world.customers if sum(_in_transit(o, ref) for o in world.orders_of(c["id"])) == 1
    ]
    for cid in rng.sample(single, 4):
        o = next(o for o in world.orders_of(cid) if _in_transit(o, ref))
        world.used_orders.add(o["id"])
        multi = len(out) % 2 == 0
        turns = (
            ["where's my package?", f"oh sorry, it's {o['id']}"]
            if multi
            else ["Where's my package? I don't have the order number handy."]
        )
        add(
            o,
            turns,
            [o["tracking_number"]],
            title="Order status without an order number",
            tool_calls=([] if multi else [call("list_my_orders")])
            + [call("get_order_status", order_id=o["id"])],
            context=_ctx(o, tracking_number=o["tracking_number"]),
            goal=None
            if multi
            else f"You want to know where your package is. If asked, you don't know the "
            f"order number, but you ordered a {o['items'][0]['name']}.",
        )
    return out


def _refund_ok(world: World, o: dict[str, Any], low: bool) -> bool:
    if not o["refund_eligible"]:
        return False
    return bool(o["refundable_amount"] <= world.threshold()) == low


def refund_return(world: World, rng: random.Random) -> list[dict[str, Any]]:
    """Returns, refunds and cancellations: allowed, needing approval, and refused by policy."""
    v, ref = world.values, world.ref
    out: list[dict[str, Any]] = []

    def add(kind: str, o: dict[str, Any], turns: list[str], **kw: Any) -> None:
        out.append(
            scenario(
                f"refund-{len(out) + 1:03d}",
                "refund_return",
                o["customer_id"],
                turns,
                title=kind,
                context=kw.pop("context", _ctx(o)),
                **kw,
            )
        )

    for o in world.pick_orders(rng, 7, lambda o: _refund_ok(world, o, low=True)):
        amt = o["refundable_amount"]
        add(
            "Return a whole eligible order under the approval limit",
            o,
            [
                rng.choice(
                    [
                        "I'd like to return everything from order {id} and get my money back.",
                        "please refund order {id}, it's not what I expected",
                        "Can I return {id}? Refund to my card.",
                    ]
                ).format(id=o["id"])
            ],
            context=_ctx(o, refundable_amount=amt, return_deadline=o["return_deadline"]),
            tool_calls=[
                call("get_order_status", order_id=o["id"]),
                call("process_refund", order_id=o["id"], amount=amt),
            ],
            final_state={"refund_recorded": True, "refund_amount": amt},
            must_contain=[money_alts(amt)],
            must_not_escalate=True,
        )

    def partial(o: dict[str, Any]) -> bool:
        return (
            o["refund_eligible"]
            and sum(not i["final_sale"] for i in o["items"]) >= 2
            and o["amount_refunded"] == 0
        )

    for o in world.pick_orders(rng, 5, partial):
        item = min((i for i in o["items"] if not i["final_sale"]), key=lambda i: i["net_amount"])
        amt = item["net_amount"]
        over = amt > world.threshold()
        add(
            "Return one item from an order",
            o,
            [f"I want to return the {item['name']} from {o['id']}, keep the rest."],
            context=_ctx(o, sku=item["sku"], item_net_amount=amt),
            tool_calls=[call("get_order_status", order_id=o["id"])]
            + ([] if over else [call("process_refund", order_id=o["id"], amount=amt)]),
            final_state={"refund_recorded": False}
            if over
            else {"refund_recorded": True, "refund_amount": amt},
            must_contain=[money_alts(amt)],
            must_escalate=over,
            must_not_escalate=not over,
        )
    for o in world.pick_orders(rng, 5, lambda o: _refund_ok(world, o, low=False)):
        amt = o["refundable_amount"]
        add(
            "Refund above the supervisor approval limit",
            o,
            [f"Order {o['id']} was a mistake, I'm sending it all back. Please refund the full amount."],
            context=_ctx(o, refundable_amount=amt, approval_over=world.threshold()),
            tool_calls=[call("get_order_status", order_id=o["id"])],
            final_state={"refund_recorded": False},
            must_contain=[["supervisor", "approval", "approve"]],
            must_escalate=True,
        )

    def late(o: dict[str, Any]) -> bool:
        return (
            o["status"] == "delivered"
            and not o["refund_eligible"]
            and any(not i["final_sale"] for i in o["items"])
            and o["amount_refunded"] == 0
        )

    for o in world.pick_orders(rng, 4, late):
        tier = world.customer(o["customer_id"])["tier"]
        days = v["premier_return_days"] if tier == "premier" else v["return_days"]
        add(
            "Return requested after the return window",
            o,
            [f"Can I still return order {o['id']}? It was delivered {o['delivered']}."],
            context=_ctx(o, return_deadline=o["return_deadline"], customer_tier=tier),
            tool_calls=[call("get_order_status", order_id=o["id"])],
            forbidden=["process_refund"],
            final_state={"refund_recorded": False},
            must_contain=[day_alts(days)],
        )

    def final_only(o: dict[str, Any]) -> bool:
        return (
            o["status"] == "delivered"
            and all(i["final_sale"] for i in o["items"])
            and date.fromisoformat(o["delivered"]) >= ref - timedelta(days=20)
        )

    for o in world.pick_orders(rng, 3, final_only):
        add(
            "Refund request for final-sale items",
            o,
            [f"I changed my mind about order {o['id']}, I want a refund."],
            tool_calls=[call("get_order_status", order_id=o["id"])],
            forbidden=["process_refund"],
            final_state={"refund_recorded": False},
            must_contain=[["final sale", "final-sale"]],
            tags=["policy_refusal"],
        )
    for o in world.pick_orders(rng, 3, lambda o: _in_transit(o, ref)):
        add(
            "Refund requested before delivery",
            o,
            [f"Just refund {o['id']}, I don't want it anymore."],
            tool_calls=[call("get_order_status", order_id=o["id"])],
            forbidden=["process_refund", "cancel_order"],
            final_state={"refund_recorded": False, "order_status": {o["id"]: "shipped"}},
            must_contain=[["shipped", "on its way", "in transit"]],
        )
    for o in world.pick_orders(rng, 4, lambda o: o["status"] in ("paid", "pending")):
        add(
            f"Cancel a {o['status']} order",
            o,
            [
                rng.choice(["Please cancel order {id}.", "cancel {id} pls, ordered by mistake"]).format(
                    id=o["id"]
                )
            ],
            tool_calls=[call("get_order_status", order_id=o["id"]), call("cancel_order", order_id=o["id"])],
            final_state={"order_status": {o["id"]: "cancelled"}},
            must_contain=[CANCELLED],
            must_not_escalate=True,
        )
    for o in world.pick_orders(rng, 2, lambda o: _in_transit(o, ref)):
        add(
            "Cancel an order that already shipped",
            o,
            [f"I need to cancel {o['id']} right now"],
            tool_calls=[call("get_order_status", order_id=o["id"])],
            forbidden=["cancel_order"],
            final_state={"order_status": {o["id"]: "shipped"}},
            must_contain=["shipped", ["return", "refuse"]],
        )
    for o in world.pick_orders(rng, 2, lambda o: o["status"] == "cancelled" and o["amount_refunded"] > 0):
        add(
            "Refund timing for a cancelled order",
            o,
            [f"When do I get my money back for the cancelled order {o['id']}?"],
            context=_ctx(o, amount_refunded=o["amount_refunded"]),
            tool_calls=[call("get_order_status", order_id=o["id"])],
            forbidden=["process_refund"],
            final_state={"refund_recorded": False},
            must_contain=[
                money_alts(o["amount_refunded"]),
                range_alts(v["refund_min_days"], v["refund_max_days"]),
            ],
        )
    out.extend(_multi_turn_returns(world, rng, len(out)))
    return out


def _multi_turn_returns(world: World, rng: random.Random, start: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for o in world.pick_orders(
        rng, 3, lambda o: _refund_ok(world, o, low=True) and o["amount_refunded"] == 0
    ):
        item = max((i for i in o["items"] if not i["final_sale"]), key=lambda i: i["net_amount"])
        amt = item["net_amount"]
        out.append(
            scenario(
                f"refund-{start + len(out) + 1:03d}",
                "refund_return",
                o["customer_id"],
                [
                    "I want to return something",
                    f"order {o['id']}",
                    f"the {item['name']}. "
                    + rng.choice(
                        [
                            "it's not what I expected",
                            "I found one I like more",
                            "it was a duplicate gift",
                            "changed my mind",
                        ]
                    ),
                ],
                title="Return over three turns",
                context=_ctx(o, sku=item["sku"], item_net_amount=amt),
                goal=f"Return the {item['name']} from order {o['id']} for a refund. Give the order number and item "
                "only when asked.",
                tool_calls=[
                    call("get_order_status", order_id=o["id"]),
                    call("process_refund", order_id=o["id"], amount=amt),
                ],
                final_state={"refund_recorded": True, "refund_amount": amt},
                must_contain=[money_alts(amt)],
                must_not_escalate=True,
            )
        )
    return out
