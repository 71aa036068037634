"""Customers, orders and tickets, drawn with a seeded RNG and kept consistent with the policy.

Orders are built along a timeline (placed, paid, shipped, delivered, returned) and their status is read
off that timeline at the reference date, so dates, status and tracking can never disagree.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from apps.support.datagen import catalog

N_CUSTOMERS = 220
N_ORDERS = 1040


def add_business_days(day: date, n: int) -> date:
    """``n`` business days after ``day`` (n = 0 rolls a weekend day forward to Monday)."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def customers(rng: random.Random, ref: date) -> list[dict[str, Any]]:
    """Fictional customers with example.* emails and 555-01xx phone numbers."""
    out: list[dict[str, Any]] = []
    names: set[tuple[str, str]] = set()
    phones: set[str] = set()
    domains = ["example.com", "example.net", "example.org"]
    while len(out) < N_CUSTOMERS:
        first, last = rng.choice(catalog.FIRST_NAMES), rng.choice(catalog.LAST_NAMES)
        if (first, last) in names:
            continue
        city, state, area, zip_prefix = rng.choice(catalog.CITIES)
        phone = f"+1-{area}-555-01{rng.randint(0, 99):02d}"
        if phone in phones:
            continue
        names.add((first, last))
        phones.add(phone)
        style = rng.randint(0, 3)
        local = [
            f"{first}.{last}",
            f"{first[0]}{last}",
            f"{first}{last[0]}{rng.randint(1, 99)}",
            f"{first}_{last}",
        ][style].lower()
        line2 = rng.choice(
            [
                None,
                None,
                None,
                f"Apt {rng.randint(1, 40)}{rng.choice('ABCD')}",
                f"Unit {rng.randint(100, 999)}",
            ]
        )
        out.append(
            {
                "id": f"C-{1001 + len(out)}",
                "name": f"{first} {last}",
                "email": f"{local}@{rng.choice(domains)}",
                "phone": phone,
                "tier": rng.choices(["standard", "plus", "premier"], weights=[60, 28, 12])[0],
                "preferred_contact": rng.choices(["email", "phone", "sms", "chat"], weights=[45, 15, 20, 20])[
                    0
                ],
                "address": {
                    "line1": f"{rng.randint(10, 9899)} {rng.choice(catalog.STREET_NAMES)} {rng.choice(catalog.STREET_TYPES)}",
                    "line2": line2,
                    "city": city,
                    "state": state,
                    "postal_code": f"{zip_prefix}{rng.randint(0, 99):02d}",
                    "country": "US",
                },
                "created": (ref - timedelta(days=rng.randint(20, 2200))).isoformat(),
                "marketing_opt_in": rng.random() < 0.55,
                "loyalty_points": rng.randint(0, 2400),
            }
        )
    return out


def _cents(amount: float) -> int:
    return round(amount * 100)


def _amount(cents: int) -> float:
    return round(cents / 100, 2)


def _pick_items(rng: random.Random, products: list[dict[str, Any]]) -> list[dict[str, Any]]:
    weights = [
        1 if p["category"] in ("gift_card", "personalized") else 2 if p["final_sale"] else 5 for p in products
    ]
    chosen: list[dict[str, Any]] = []
    for _ in range(rng.choices([1, 2, 3, 4], weights=[45, 32, 16, 7])[0]):
        p = rng.choices(products, weights=weights)[0]
        if any(item["sku"] == p["sku"] for item in chosen):
            continue
        qty = rng.choices([1, 2, 3], weights=[80, 15, 5])[0] if p["price"] < 60 else 1
        chosen.append(
            {
                "sku": p["sku"],
                "name": p["name"],
                "qty": qty,
                "unit_price": p["price"],
                "final_sale": p["final_sale"],
            }
        )
    return chosen


def _promo(
    rng: random.Random, placed: date, discountable: int, first: bool, policy: dict[str, Any]
) -> tuple[str | None, int]:
    """Pick at most one promo code that was valid for this order, and its discount in cents."""
    usable = []
    for code in policy["promotions"]["codes"]:
        if code["first_order_only"] and not first:
            continue
        if code["starts"] and not (
            date.fromisoformat(code["starts"]) <= placed <= date.fromisoformat(code["ends"])
        ):
            continue
        if discountable < _cents(code["min_subtotal"]) or discountable == 0:
            continue
        usable.append(code)
    if not usable or rng.random() > 0.35:
        return None, 0
    code = rng.choice(usable)
    if code["kind"] == "percent":
        return code["code"], round(discountable * code["value"] / 100)
    return code["code"], _cents(code["value"])


def _share_discount(items: list[dict[str, Any]], discount: int) -> None:
    """Spread the order discount over discountable lines by cents, so line nets add up exactly."""
    lines = [
        (i, it["qty"] * _cents(it["unit_price"]))
        for i, it in enumerate(items)
        if not it["sku"].startswith("GC-")
    ]
    base = sum(c for _, c in lines)
    shares = {i: (discount * c // base if base else 0) for i, c in lines}
    left = discount - sum(shares.values())
    for i, _ in sorted(lines, key=lambda x: -x[1])[:left]:
        shares[i] += 1
    for i, it in enumerate(items):
        it["net_amount"] = _amount(it["qty"] * _cents(it["unit_price"]) - shares.get(i, 0))


def refund_terms(order: dict[str, Any], tier: str, policy: dict[str, Any], ref: date) -> dict[str, Any]:
    """Derive return deadline, refund eligibility and the most a return refund may be now.

    Eligible = delivered, today within the (tier's) return window counted from delivery, and at least
    one non-final-sale item whose net price has not been refunded yet.
    """
    r = policy["returns"]
    window = r["premier_window_days"] if tier == "premier" else r["window_days"]
    deadline = None
    if order["delivered"]:
        deadline = date.fromisoformat(order["delivered"]) + timedelta(days=window)
    returnable = sum(_cents(it["net_amount"]) for it in order["items"] if not it["final_sale"])
    left = max(0, returnable - _cents(order["amount_refunded"]))
    eligible = order["status"] == "delivered" and deadline is not None and ref <= deadline and left > 0
    return {
        "return_deadline": deadline.isoformat() if deadline else None,
        "refund_eligible": eligible,
        "refundable_amount": _amount(left) if eligible else 0.0,
    }


def _carrier(rng: random.Random, method: str, policy: dict[str, Any], used: set[str]) -> tuple[str, str]:
    carriers = policy["shipping"]["carriers"]
    options = {
        "standard": ["Meridian Post", "Cobalt Courier"],
        "expedited": ["Bluejay Express", "Cobalt Courier"],
        "overnight": ["Bluejay Express"],
    }[method]
    name = rng.choice(options)
    spec = carriers[name]
    while True:
        number = spec["tracking_prefix"] + "".join(str(rng.randint(0, 9)) for _ in range(spec["digits"]))
        if name == "Cobalt Courier":
            number += "US"
        if number not in used:
            used.add(number)
            return name, number


def _timeline(
    rng: random.Random, order: dict[str, Any], placed: date, ref: date, policy: dict[str, Any]
) -> None:
    """Fill dates and status by walking the order's life up to the reference date."""
    method = policy["shipping"]["methods"][order["shipping_method"]]
    age = (ref - placed).days
    for key in ("paid", "shipped", "delivered", "cancelled", "returned", "estimated_delivery"):
        order[key] = None
    if age <= 1 and rng.random() < 0.3:
        order["status"] = "pending"
        return
    order["paid"] = placed.isoformat()
    if rng.random() < 0.06:
        order["status"] = "cancelled"
        order["cancelled"] = min(ref, placed + timedelta(days=rng.randint(0, 1))).isoformat()
        return
    shipped = add_business_days(placed, rng.choice([0, 1, 1]))
    transit = rng.randint(method["business_days_min"], method["business_days_max"])
    if rng.random() < 0.06:
        transit += rng.randint(1, 4)  # carrier delays
    delivered = add_business_days(shipped, transit)
    if shipped > ref:
        order["status"] = "paid"
        return
    order["shipped"] = shipped.isoformat()
    lost = 12 <= age <= 40 and rng.random() < 0.05
    if delivered > ref or lost:
        order["status"] = "shipped"
        order["estimated_delivery"] = add_business_days(shipped, method["business_days_max"]).isoformat()
        return
    order["status"] = "delivered"
    order["delivered"] = delivered.isoformat()


def _order_money(
    rng: random.Random, order: dict[str, Any], placed: date, first: bool, tier: str, policy: dict[str, Any]
) -> None:
    items = order["items"]
    subtotal = sum(it["qty"] * _cents(it["unit_price"]) for it in items)
    discountable = sum(
        it["qty"] * _cents(it["unit_price"]) for it in items if not it["sku"].startswith("GC-")
    )
    code, discount = _promo(rng, placed, discountable, first, policy)
    _share_discount(items, discount)
    ship = policy["shipping"]
    fee = _cents(ship["methods"][order["shipping_method"]]["fee"])
    if order["shipping_method"] == "standard" and (
        subtotal - discount >= _cents(ship["free_shipping_threshold"]) or tier == "premier"
    ):
        fee = 0
    total = subtotal - discount + fee
    order.update(
        subtotal=_amount(subtotal),
        promo_code=code,
        discount=_amount(discount),
        shipping_fee=_amount(fee),
        total=_amount(total),
    )
    pay = rng.choices(policy["payments"]["methods"], weights=[45, 20, 20, 5, 3, 7])[0]
    lo, hi = policy["payments"]["installments_min_order"], policy["payments"]["installments_max_order"]
    if pay == "installments" and not (_cents(lo) <= total <= _cents(hi)):
        pay = "credit_card"
    order["payment_method"] = pay


def _refunds(rng: random.Random, order: dict[str, Any], tier: str, policy: dict[str, Any], ref: date) -> None:
    refunds: list[dict[str, Any]] = []
    if order["status"] == "cancelled" and order["paid"]:
        refunds.append({"date": order["cancelled"], "amount": order["total"], "reason": "order cancelled"})
    elif order["status"] == "delivered":
        window = (
            policy["returns"]["premier_window_days"]
            if tier == "premier"
            else policy["returns"]["window_days"]
        )
        delivered = date.fromisoformat(order["delivered"])
        returnable = [it for it in order["items"] if not it["final_sale"]]
        returned_on = delivered + timedelta(days=rng.randint(3, window - 2))
        if returnable and returned_on <= ref and rng.random() < 0.09:
            order["status"] = "returned"
            order["returned"] = returned_on.isoformat()
            amount = _amount(sum(_cents(it["net_amount"]) for it in returnable))
            refunds.append({"date": returned_on.isoformat(), "amount": amount, "reason": "items returned"})
        elif returnable and rng.random() < 0.03:
            item = rng.choice(returnable)
            amount = _amount(_cents(item["net_amount"]) // 10)
            when = min(ref, delivered + timedelta(days=rng.randint(1, 10)))
            refunds.append({"date": when.isoformat(), "amount": amount, "reason": "price adjustment"})
    order["refunds"] = refunds
    order["amount_refunded"] = _amount(sum(_cents(r["amount"]) for r in refunds))


def orders(
    rng: random.Random,
    custs: list[dict[str, Any]],
    products: list[dict[str, Any]],
    policy: dict[str, Any],
    ref: date,
) -> list[dict[str, Any]]:
    """Orders placed over the 13 months before the reference date, ids in the order they were placed."""
    drafts: list[tuple[date, str]] = []
    for i in range(N_ORDERS):
        cust = custs[i] if i < len(custs) else rng.choice(custs)
        age_max = (ref - date.fromisoformat(cust["created"])).days
        bucket = rng.choices([(0, 6), (7, 45), (46, 395)], weights=[12, 28, 60])[0]
        age = (
            rng.randint(bucket[0], min(bucket[1], age_max))
            if bucket[0] <= age_max
            else rng.randint(0, age_max)
        )
        drafts.append((ref - timedelta(days=age), cust["id"]))
    drafts.sort()
    by_id = {c["id"]: c for c in custs}
    seen: set[str] = set()
    tracking: set[str] = set()
    out: list[dict[str, Any]] = []
    for n, (placed, cid) in enumerate(drafts):
        tier = by_id[cid]["tier"]
        order: dict[str, Any] = {
            "id": f"A-{10001 + n}",
            "customer_id": cid,
            "placed": placed.isoformat(),
            "status": "",
            "items": _pick_items(rng, products),
        }
        order["shipping_method"] = rng.choices(["standard", "expedited", "overnight"], weights=[70, 22, 8])[0]
        _order_money(rng, order, placed, cid not in seen, tier, policy)
        seen.add(cid)
        _timeline(rng, order, placed, ref, policy)
        order["carrier"], order["tracking_number"] = (
            _carrier(rng, order["shipping_method"], policy, tracking) if order["shipped"] else (None, None)
        )
        _refunds(rng, order, tier, policy, ref)
        order.update(refund_terms(order, tier, policy, ref))
        out.append(order)
    return out
