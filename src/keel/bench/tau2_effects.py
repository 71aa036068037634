"""What each tau2 retail write action must leave in the database, checked right after the action.

These rules restate the tool descriptions and ``policy.md`` (a cancelled order has status
``cancelled`` and the given reason, a return request records the sorted item ids ...); they do not
run the server's code, so a replay that passes them and matches the in-process gold DB has been
checked two independent ways.

>>> refund = {"transaction_type": "refund", "amount": 10.0, "payment_method_id": "gift_card_1"}
>>> db = {"orders": {"#W1": {"status": "cancelled", "cancel_reason": "no longer needed", "payment_history": [refund]}}}
>>> check_effect("cancel_pending_order", {"order_id": "#W1", "reason": "no longer needed"}, db)
[]
>>> check_effect("cancel_pending_order", {"order_id": "#W1", "reason": "ordered by mistake"}, db)
["cancel_pending_order: #W1 cancel_reason is 'no longer needed', expected 'ordered by mistake'"]
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["check_effect"]

_ADDRESS = ("address1", "address2", "city", "state", "country", "zip")


def _field(name: str, what: str, got: Any, want: Any) -> list[str]:
    return [] if got == want else [f"{name}: {what} is {got!r}, expected {want!r}"]


def _address(args: dict[str, Any]) -> dict[str, Any]:
    return {k: args.get(k) for k in _ADDRESS}


def check_effect(name: str, args: dict[str, Any], db: dict[str, Any]) -> list[str]:
    """Problems with the DB after write action ``name(args)`` succeeded (empty when it shows its effect).

    Read-only actions have no effect to check and return ``[]``.
    """
    orders, users = db.get("orders", {}), db.get("users", {})
    if name == "modify_user_address":
        user = users.get(args.get("user_id"))
        if user is None:
            return [f"{name}: user {args.get('user_id')!r} not in the DB"]
        return _field(name, f"{args['user_id']} address", {k: user["address"].get(k) for k in _ADDRESS},
                      _address(args))  # fmt: skip
    if name not in _ORDER_RULES:
        return []
    oid = args.get("order_id")
    order = orders.get(oid)
    if order is None:
        return [f"{name}: order {oid!r} not in the DB"]
    return _ORDER_RULES[name](name, oid, args, order)


def _cancel(name: str, oid: Any, args: dict[str, Any], o: dict[str, Any]) -> list[str]:
    refunds = [p for p in o["payment_history"] if p["transaction_type"] == "refund"]
    return (
        _field(name, f"{oid} status", o["status"], "cancelled")
        + _field(name, f"{oid} cancel_reason", o.get("cancel_reason"), args.get("reason"))
        + ([] if refunds else [f"{name}: {oid} has no refund in its payment history"])
    )


def _return(name: str, oid: Any, args: dict[str, Any], o: dict[str, Any]) -> list[str]:
    return (
        _field(name, f"{oid} status", o["status"], "return requested")
        + _field(name, f"{oid} return_items", o.get("return_items"), sorted(args.get("item_ids", [])))
        + _field(name, f"{oid} return_payment_method_id", o.get("return_payment_method_id"),
                 args.get("payment_method_id"))
    )  # fmt: skip


def _exchange(name: str, oid: Any, args: dict[str, Any], o: dict[str, Any]) -> list[str]:
    return (
        _field(name, f"{oid} status", o["status"], "exchange requested")
        + _field(name, f"{oid} exchange_items", o.get("exchange_items"), sorted(args.get("item_ids", [])))
        + _field(name, f"{oid} exchange_new_items", o.get("exchange_new_items"),
                 sorted(args.get("new_item_ids", [])))
        + _field(name, f"{oid} exchange_payment_method_id", o.get("exchange_payment_method_id"),
                 args.get("payment_method_id"))
    )  # fmt: skip


def _modify_items(name: str, oid: Any, args: dict[str, Any], o: dict[str, Any]) -> list[str]:
    have = Counter(i["item_id"] for i in o["items"])
    missing = [i for i in args.get("new_item_ids", []) if have[i] < args["new_item_ids"].count(i)]
    out = _field(name, f"{oid} status", o["status"], "pending (item modified)")
    if missing:
        out.append(f"{name}: {oid} lacks new items {missing}")
    last = o["payment_history"][-1] if o["payment_history"] else {}
    out += _field(
        name, f"{oid} last payment method", last.get("payment_method_id"), args.get("payment_method_id")
    )
    return out


def _modify_address(name: str, oid: Any, args: dict[str, Any], o: dict[str, Any]) -> list[str]:
    return _field(name, f"{oid} address", {k: o["address"].get(k) for k in _ADDRESS}, _address(args))


def _modify_payment(name: str, oid: Any, args: dict[str, Any], o: dict[str, Any]) -> list[str]:
    paid = [p for p in o["payment_history"] if p["transaction_type"] == "payment"]
    ok = any(p["payment_method_id"] == args.get("payment_method_id") for p in paid)
    return [] if ok else [f"{name}: {oid} has no payment with {args.get('payment_method_id')!r}"]


_ORDER_RULES = {
    "cancel_pending_order": _cancel,
    "return_delivered_order_items": _return,
    "exchange_delivered_order_items": _exchange,
    "modify_pending_order_items": _modify_items,
    "modify_pending_order_address": _modify_address,
    "modify_pending_order_payment": _modify_payment,
}
