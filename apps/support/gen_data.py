"""Generate the support app's data: catalogue, customers, orders, tickets, help centre, questions, scenarios.

The shop is "Harbor & Pine", a fictional online home-and-outdoor goods store. Every policy number the
help centre states, the tools enforce and the scenarios expect is defined once, in :data:`POLICY`
below, and written to ``data/policy.json``. The output is deterministic (one seeded RNG per file, a
fixed reference date), so the committed files must equal a fresh run byte for byte; a test checks it.

Example::

    python -m apps.support.gen_data              # rewrite apps/support/data and apps/support/scenarios
    python -m apps.support.gen_data --out /tmp/x # write /tmp/x/data/... and /tmp/x/scenarios/...
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import date
from pathlib import Path
from typing import Any

from apps.support.datagen import catalog, kb, questions, records, scenarios, tickets, yaml_emit

SEED = 20261101
# "Today" for the whole data set: order ages, return windows and ticket dates are relative to it.
REFERENCE_DATE = date(2026, 11, 1)

SHOP: dict[str, str] = {
    "name": "Harbor & Pine",
    "website": "harborandpine.example",
    "support_email": "help@harborandpine.example",
    "support_phone": "1-800-555-0142",
    "hours_weekday": "Monday to Friday, 8 a.m. to 8 p.m. ET",
    "hours_weekend": "Saturday and Sunday, 9 a.m. to 5 p.m. ET",
}

# The one definition of every policy number. Amounts are USD.
POLICY: dict[str, Any] = {
    "reference_date": REFERENCE_DATE.isoformat(),
    "currency": "USD",
    "returns": {
        "window_days": 30,
        "premier_window_days": 45,
        "window_starts": "delivery date",
        "final_sale_returnable": False,
        "return_label_fee": 0.00,
        "shipping_fee_refundable": False,
        "damage_report_days": 7,
        "exchange_allowed": True,
    },
    "refunds": {
        "supervisor_approval_over": 100.00,
        "processing_business_days_min": 5,
        "processing_business_days_max": 10,
        "max_refund": "the amount paid for the returned items, less any refunds already made",
        "to_original_payment_method": True,
        "gift_card_payments_refunded_as": "gift card balance",
        "price_adjustment_days": 14,
    },
    "cancellation": {"allowed_statuses": ["pending", "paid"]},
    "shipping": {
        "order_cutoff": "2 p.m. ET",
        "processing_business_days": 1,
        "free_shipping_threshold": 75.00,
        "premier_free_standard_shipping": True,
        "methods": {
            "standard": {"fee": 5.99, "business_days_min": 5, "business_days_max": 7},
            "expedited": {"fee": 12.99, "business_days_min": 2, "business_days_max": 3},
            "overnight": {"fee": 24.99, "business_days_min": 1, "business_days_max": 1},
        },
        "international": {"fee": 29.99, "business_days_min": 10, "business_days_max": 20},
        "signature_required_over": 500.00,
        "trace_after_business_days": 7,
        "lost_package_resolution_business_days": 10,
        "carriers": {
            "Bluejay Express": {"tracking_prefix": "BJ", "digits": 10},
            "Meridian Post": {"tracking_prefix": "MP", "digits": 12},
            "Cobalt Courier": {"tracking_prefix": "CC", "digits": 9},
        },
    },
    "warranty": {
        "months": {"electronics": 12, "kitchen_appliances": 24, "furniture": 36, "outdoor_gear": 12},
        "quality_guarantee_days": 90,
        "final_sale_items_covered": True,
    },
    "accounts": {
        "password_reset_link_minutes": 60,
        "lockout_failed_attempts": 5,
        "lockout_minutes": 30,
        "tiers": {
            "standard": {"annual_spend_min": 0.00, "points_per_dollar": 1},
            "plus": {"annual_spend_min": 500.00, "points_per_dollar": 1.5},
            "premier": {"annual_spend_min": 1500.00, "points_per_dollar": 2},
        },
        "loyalty_points_expire_after_inactive_months": 18,
    },
    "privacy": {"data_request_days": 30, "order_record_retention_years": 7},
    "payments": {
        "methods": ["credit_card", "debit_card", "digital_wallet", "gift_card", "store_credit", "installments"],
        "installments_count": 4,
        "installments_every_weeks": 2,
        "installments_min_order": 50.00,
        "installments_max_order": 1000.00,
        "gift_cards_expire": False,
    },
    "promotions": {
        "codes_per_order": 1,
        "loyalty_points_per_dollar": 1,
        "loyalty_points_block": 500,
        "loyalty_block_value": 5.00,
        "referral_credit": 15.00,
        "birthday_reward": 10.00,
        "gift_wrap_fee": 5.00,
        "codes": [
            {"code": "WELCOME10", "kind": "percent", "value": 10, "min_subtotal": 0.00,
             "first_order_only": True, "starts": None, "ends": None},
            {"code": "HARBOR20", "kind": "amount", "value": 20.00, "min_subtotal": 150.00,
             "first_order_only": False, "starts": None, "ends": None},
            {"code": "SUMMER12", "kind": "percent", "value": 12, "min_subtotal": 60.00,
             "first_order_only": False, "starts": "2026-06-01", "ends": "2026-08-31"},
            {"code": "FALL15", "kind": "percent", "value": 15, "min_subtotal": 100.00,
             "first_order_only": False, "starts": "2026-10-01", "ends": "2026-11-30"},
        ],
    },
    "support": {"email_response_hours": 24, "urgent_response_hours": 4},
}  # fmt: skip


def money(amount: float) -> str:
    """Format an amount the way the help centre writes it: ``1,500.00``."""
    return f"{amount:,.2f}"


def _day(iso: str) -> str:
    d = date.fromisoformat(iso)
    return f"{d:%B} {d.day}"


def template_values(policy: dict[str, Any], shop: dict[str, str]) -> dict[str, str]:
    """The policy flattened into the ``{name}`` placeholders that help-centre templates use."""
    r, f, s, w = policy["returns"], policy["refunds"], policy["shipping"], policy["warranty"]
    a, pay, pro = policy["accounts"], policy["payments"], policy["promotions"]
    m = s["methods"]
    codes = {c["code"]: c for c in pro["codes"]}
    values: dict[str, Any] = {
        **shop,
        "shop": shop["name"],
        "return_days": r["window_days"],
        "premier_return_days": r["premier_window_days"],
        "damage_days": r["damage_report_days"],
        "refund_threshold": money(f["supervisor_approval_over"]),
        "refund_min_days": f["processing_business_days_min"],
        "refund_max_days": f["processing_business_days_max"],
        "price_adjust_days": f["price_adjustment_days"],
        "cutoff": s["order_cutoff"],
        "processing_days": s["processing_business_days"],
        "free_ship": money(s["free_shipping_threshold"]),
        "intl_fee": money(s["international"]["fee"]),
        "intl_min": s["international"]["business_days_min"],
        "intl_max": s["international"]["business_days_max"],
        "signature_over": money(s["signature_required_over"]),
        "trace_days": s["trace_after_business_days"],
        "lost_days": s["lost_package_resolution_business_days"],
        "w_electronics": w["months"]["electronics"],
        "w_appliances": w["months"]["kitchen_appliances"],
        "w_furniture": w["months"]["furniture"],
        "w_outdoor": w["months"]["outdoor_gear"],
        "guarantee_days": w["quality_guarantee_days"],
        "reset_minutes": a["password_reset_link_minutes"],
        "lockout_attempts": a["lockout_failed_attempts"],
        "lockout_minutes": a["lockout_minutes"],
        "plus_spend": money(a["tiers"]["plus"]["annual_spend_min"]),
        "premier_spend": money(a["tiers"]["premier"]["annual_spend_min"]),
        "plus_points": a["tiers"]["plus"]["points_per_dollar"],
        "premier_points": a["tiers"]["premier"]["points_per_dollar"],
        "points_expiry_months": a["loyalty_points_expire_after_inactive_months"],
        "data_days": policy["privacy"]["data_request_days"],
        "retention_years": policy["privacy"]["order_record_retention_years"],
        "inst_count": pay["installments_count"],
        "inst_weeks": pay["installments_every_weeks"],
        "inst_min": money(pay["installments_min_order"]),
        "inst_max": money(pay["installments_max_order"]),
        "points_per_dollar": pro["loyalty_points_per_dollar"],
        "points_block": pro["loyalty_points_block"],
        "points_value": money(pro["loyalty_block_value"]),
        "referral": money(pro["referral_credit"]),
        "birthday": money(pro["birthday_reward"]),
        "gift_wrap": money(pro["gift_wrap_fee"]),
        "welcome_pct": codes["WELCOME10"]["value"],
        "harbor_off": money(codes["HARBOR20"]["value"]),
        "harbor_min": money(codes["HARBOR20"]["min_subtotal"]),
        "fall_pct": codes["FALL15"]["value"],
        "fall_min": money(codes["FALL15"]["min_subtotal"]),
        "summer_pct": codes["SUMMER12"]["value"],
        "summer_end": _day(codes["SUMMER12"]["ends"]),
        "fall_start": _day(codes["FALL15"]["starts"]),
        "fall_end": _day(codes["FALL15"]["ends"]),
        "email_hours": policy["support"]["email_response_hours"],
        "urgent_hours": policy["support"]["urgent_response_hours"],
    }
    for name, key in (("std", "standard"), ("exp", "expedited"), ("on", "overnight")):
        values[f"{name}_fee"] = money(m[key]["fee"])
        values[f"{name}_min"] = m[key]["business_days_min"]
        values[f"{name}_max"] = m[key]["business_days_max"]
    return {k: str(v) for k, v in values.items()}


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def build() -> dict[str, str]:
    """Every generated file, as ``{path relative to apps/support: text}``.

    Each part has its own seeded RNG, so changing one part leaves the others' files unchanged.
    """
    values = template_values(POLICY, SHOP)
    products = catalog.products(POLICY["warranty"]["months"])
    customers = records.customers(random.Random(SEED + 1), REFERENCE_DATE)
    orders = records.orders(random.Random(SEED + 2), customers, products, POLICY, REFERENCE_DATE)
    ticket_rows = tickets.tickets(
        random.Random(SEED + 3), customers, orders, products, POLICY, REFERENCE_DATE
    )
    articles = kb.articles(values, random.Random(SEED + 4), REFERENCE_DATE)
    qs = questions.questions(articles, random.Random(SEED + 5))
    policy_out = {"shop": SHOP, **POLICY, "kb_refs": kb.policy_refs(articles, values)}
    files: dict[str, str] = {
        "data/policy.json": _json(policy_out),
        "data/products.json": _json(products),
        "data/customers.json": _json(customers),
        "data/orders.json": _json(orders),
        "data/tickets.json": _json(ticket_rows),
        "data/kb_questions.jsonl": _jsonl(qs),
    }
    for art in articles:
        files[f"data/kb/{art.slug}.md"] = art.markdown
    world = scenarios.World(customers, orders, products, articles, POLICY, values, REFERENCE_DATE)
    for name, items in scenarios.scenario_files(world, random.Random(SEED + 6)).items():
        files[f"scenarios/{name}.yaml"] = yaml_emit.dump({"scenarios": items})
    return files


def write(root: Path) -> list[Path]:
    """Write every generated file under ``root`` and remove stale KB articles and scenario files."""
    files = build()
    written = []
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    wanted = {root / rel for rel in files}
    # A renamed article or scenario file would otherwise linger and be loaded as if it were current.
    for stale in [*(root / "data" / "kb").glob("*.md"), *(root / "scenarios").glob("*.yaml")]:
        if stale not in wanted:
            stale.unlink()
    return written


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: ``python -m apps.support.gen_data [--out DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent, help="root folder to write into")
    args = parser.parse_args(argv)
    written = write(args.out)
    print(f"wrote {len(written)} files under {args.out}")


if __name__ == "__main__":
    main()
