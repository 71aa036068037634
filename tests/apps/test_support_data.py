"""The support app's data: sizes, referential integrity, money, dates, policy consistency, scenarios.

Most checks re-derive a fact independently (totals from items, eligibility from policy.json) rather
than trusting the generator, so a hand edit or a generator bug shows up here.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from apps.support import dataset as ds
from apps.support.datagen import yaml_emit
from keel.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "apps" / "support"
KB_CATEGORIES = {"shipping", "returns", "refunds", "warranty", "payments", "accounts", "product-care",
                 "troubleshooting", "orders", "privacy", "promotions"}  # fmt: skip
INTENTS = {"faq", "order_status", "refund_return", "account", "complaint", "out_of_scope", "human_request"}
TOOLS = {"search_knowledge_base", "get_order_status", "list_my_orders", "get_customer", "create_ticket",
         "update_ticket", "process_refund", "cancel_order", "escalate", "remember_preference"}  # fmt: skip
ORDER_ID = re.compile(r"\bA-\d{5}\b")


def cents(x: float) -> int:
    return round(x * 100)


@pytest.fixture(scope="module")
def policy() -> dict:
    return ds.load_policy()


@pytest.fixture(scope="module")
def ref(policy: dict) -> date:
    return date.fromisoformat(policy["reference_date"])


@pytest.fixture(scope="module")
def products() -> dict[str, ds.Product]:
    return {p.sku: p for p in ds.load_products()}


@pytest.fixture(scope="module")
def customers() -> dict[str, ds.Customer]:
    return {c.id: c for c in ds.load_customers()}


@pytest.fixture(scope="module")
def orders() -> dict[str, ds.Order]:
    return {o.id: o for o in ds.load_orders()}


@pytest.fixture(scope="module")
def kb() -> dict[str, ds.KbArticle]:
    return {a.id: a for a in ds.load_kb()}


@pytest.fixture(scope="module")
def scenarios() -> list[ds.Scenario]:
    return ds.load_scenarios()


# -- sizes -------------------------------------------------------------------------------------------


def test_counts_meet_the_minimums(products, customers, orders, kb, scenarios):
    assert len(products) >= 55
    assert len(customers) >= 200
    assert len(orders) >= 1000
    assert len(ds.load_tickets()) >= 250
    assert len(kb) >= 150
    assert len(ds.load_kb_questions()) >= 200
    assert len(scenarios) >= 150


def test_data_stays_small():
    total = sum(p.stat().st_size for d in ("data", "scenarios") for p in (APP / d).rglob("*") if p.is_file())
    assert total < 5 * 1024 * 1024


# -- customers and orders ----------------------------------------------------------------------------


def test_customers_are_unique_and_obviously_fictional(customers):
    emails = [c.email for c in customers.values()]
    assert len(set(emails)) == len(emails)
    for c in customers.values():
        assert re.fullmatch(r"[a-z0-9._]+@example\.(com|net|org)", c.email), c.email
        assert re.fullmatch(r"\+1-\d{3}-555-01\d\d", c.phone), c.phone


def test_orders_reference_customers_and_catalogue_items(orders, customers, products):
    for o in orders.values():
        assert o.customer_id in customers
        assert len({it.sku for it in o.items}) == len(o.items)
        for it in o.items:
            p = products[it.sku]
            assert (it.name, it.unit_price, it.final_sale) == (p.name, p.price, p.final_sale)


def test_order_ids_follow_placement_order(orders):
    placed = [o.placed for o in orders.values()]
    assert placed == sorted(placed)
    assert len(orders) == len(set(orders))


def test_totals_add_up_to_the_cent(orders):
    for o in orders.values():
        assert cents(o.subtotal) == sum(it.qty * cents(it.unit_price) for it in o.items), o.id
        assert cents(o.total) == cents(o.subtotal) + cents(o.shipping_fee) - cents(o.discount), o.id
        assert sum(cents(it.net_amount) for it in o.items) == cents(o.subtotal) - cents(o.discount), o.id
        assert cents(o.amount_refunded) == sum(cents(r.amount) for r in o.refunds), o.id
        assert 0 <= cents(o.amount_refunded) <= cents(o.total), o.id


def test_shipping_fees_follow_the_policy(orders, customers, policy):
    ship = policy["shipping"]
    for o in orders.values():
        fee = ship["methods"][o.shipping_method]["fee"]
        free = o.shipping_method == "standard" and (
            cents(o.subtotal) - cents(o.discount) >= cents(ship["free_shipping_threshold"])
            or customers[o.customer_id].tier == "premier"
        )
        assert o.shipping_fee == (0.0 if free else fee), o.id


def test_promo_codes_were_valid_when_used(orders, policy):
    codes = {c["code"]: c for c in policy["promotions"]["codes"]}
    first_order: dict[str, str] = {}
    for o in orders.values():
        first_order.setdefault(o.customer_id, o.id)
        if o.promo_code is None:
            assert o.discount == 0
            continue
        code = codes[o.promo_code]
        if code["first_order_only"]:
            assert first_order[o.customer_id] == o.id
        if code["starts"]:
            assert date.fromisoformat(code["starts"]) <= o.placed <= date.fromisoformat(code["ends"])
        assert cents(o.subtotal) >= cents(code["min_subtotal"])


def test_status_agrees_with_dates_and_tracking(orders, policy, ref):
    carriers = policy["shipping"]["carriers"]
    for o in orders.values():
        s = o.status
        assert (o.paid is None) == (s == "pending" or (s == "cancelled" and o.amount_refunded == 0)), o.id
        assert (o.shipped is not None) == (s in ("shipped", "delivered", "returned")), o.id
        assert (o.delivered is not None) == (s in ("delivered", "returned")), o.id
        assert (o.cancelled is not None) == (s == "cancelled"), o.id
        assert (o.returned is not None) == (s == "returned"), o.id
        assert (o.estimated_delivery is not None) == (s == "shipped"), o.id
        assert (o.tracking_number is not None) == (o.carrier is not None) == (o.shipped is not None), o.id
        if o.carrier:
            spec = carriers[o.carrier]
            assert re.fullmatch(rf"{spec['tracking_prefix']}\d{{{spec['digits']}}}(US)?", o.tracking_number)
        chain = [d for d in (o.placed, o.paid, o.shipped, o.delivered, o.returned) if d]
        assert chain == sorted(chain) and chain[-1] <= ref, o.id
        if o.cancelled:
            assert o.placed <= o.cancelled <= ref


def test_refunds_match_what_happened(orders):
    for o in orders.values():
        if o.status == "cancelled" and o.paid:
            assert o.amount_refunded == o.total, o.id
        if o.status == "returned":
            returned = sum(cents(it.net_amount) for it in o.items if not it.final_sale)
            assert cents(o.amount_refunded) == returned, o.id
        if o.status in ("pending", "paid", "shipped"):
            assert o.amount_refunded == 0, o.id


def test_refund_eligibility_rederived_from_policy_json(orders, customers, policy, ref):
    r = policy["returns"]
    seen = {True: 0, False: 0}
    for o in orders.values():
        tier = customers[o.customer_id].tier
        window = r["premier_window_days"] if tier == "premier" else r["window_days"]
        deadline = o.delivered + timedelta(days=window) if o.delivered else None
        left = sum(cents(it.net_amount) for it in o.items if not it.final_sale) - cents(o.amount_refunded)
        eligible = o.status == "delivered" and ref <= deadline and left > 0 if deadline else False
        assert o.return_deadline == deadline, o.id
        assert o.refund_eligible == eligible, o.id
        assert cents(o.refundable_amount) == (left if eligible else 0), o.id
        seen[eligible] += 1
    assert seen[True] >= 50 and seen[False] >= 50  # both kinds exist for scenarios to use


def test_every_status_and_payment_method_occurs(orders):
    assert {o.status for o in orders.values()} == {
        "pending",
        "paid",
        "shipped",
        "delivered",
        "cancelled",
        "returned",
    }
    assert len({o.payment_method for o in orders.values()}) == 6


def test_tickets_are_consistent_with_customers_and_orders(customers, orders, ref):
    tickets = ds.load_tickets()
    end_of_ref = datetime(ref.year, ref.month, ref.day, 23, 59, tzinfo=tickets[0].created.tzinfo)
    assert len({t.id for t in tickets}) == len(tickets)
    for t in tickets:
        assert t.customer_id in customers
        if t.order_id:
            assert orders[t.order_id].customer_id == t.customer_id
            assert t.created.date() >= orders[t.order_id].placed
        times = [h.at for h in t.history]
        assert times == sorted(times) and t.created == times[0] and t.updated == times[-1] <= end_of_ref
        assert t.history[0].by == "customer"
        if t.status == "resolved":
            assert t.history[-1].by.startswith("agent:") and t.history[-1].note.startswith("Resolved:")
        if t.status == "open":
            assert not any(h.by.startswith("agent:") for h in t.history)


# -- knowledge base ----------------------------------------------------------------------------------


def test_kb_articles_are_well_formed(kb):
    assert {a.category for a in kb.values()} == KB_CATEGORIES
    assert len({a.slug for a in kb.values()}) == len(kb) == len({a.title.lower() for a in kb.values()})
    for a in kb.values():
        words = len(a.body.split())
        assert 80 <= words <= 400, (a.id, words)
        assert a.body.startswith(f"# {a.title}\n"), a.id
        assert "\n## " in a.body or re.search(r"^(\d\.|-|\|) ", a.body, re.M), (
            a.id
        )  # sections, steps or a table
        assert "{" not in a.body and "}" not in a.body, f"unformatted placeholder in {a.id}"
        assert (APP / "data" / "kb" / f"{a.slug}.md").exists()


def test_kb_articles_are_not_near_duplicates(kb):
    def shingles(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"[a-z0-9']+", text.lower())
        return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}

    sets = {a.id: shingles(a.body) for a in kb.values()}
    for x, y in itertools.combinations(sets, 2):
        overlap = len(sets[x] & sets[y]) / len(sets[x] | sets[y])
        assert overlap < 0.35, (x, y, overlap)


def test_policy_references_appear_in_the_articles_that_state_them(kb, policy):
    refs = policy["kb_refs"]
    for name, ref in refs.items():
        assert ref["articles"], name
        for art_id in ref["articles"]:
            assert ref["text"] in kb[art_id].body, (name, art_id)
    # The texts themselves come from the policy numbers.
    assert refs["return_days"]["text"] == str(policy["returns"]["window_days"])
    assert refs["premier_return_days"]["text"] == str(policy["returns"]["premier_window_days"])
    assert refs["refund_threshold"]["text"] == f"{policy['refunds']['supervisor_approval_over']:,.2f}"
    assert refs["free_ship"]["text"] == f"{policy['shipping']['free_shipping_threshold']:,.2f}"
    assert refs["w_electronics"]["text"] == str(policy["warranty"]["months"]["electronics"])
    assert refs["std_fee"]["text"] == f"{policy['shipping']['methods']['standard']['fee']:.2f}"


def test_no_article_contradicts_the_policy(kb, policy):
    text = "\n".join(a.body for a in kb.values())
    windows = {policy["returns"]["window_days"], policy["returns"]["premier_window_days"]}
    found = [int(n) for n in re.findall(r"(\d+)-day (?:return|window)", text)]
    assert found and set(found) <= windows
    limit = f"{policy['refunds']['supervisor_approval_over']:,.2f}"
    found_limits = re.findall(r"[Rr]efunds? over \*{0,2}\$([\d,]+\.\d\d)", text)
    assert found_limits and set(found_limits) == {limit}
    months = set(policy["warranty"]["months"].values())
    found_months = {int(n) for n in re.findall(r"(\d+) months from delivery", text)}
    assert found_months and found_months <= months
    guarantee = {int(n) for n in re.findall(r"(\d+)-day quality guarantee", text)}
    assert guarantee == {policy["warranty"]["quality_guarantee_days"]}
    reset = {int(n) for n in re.findall(r"expires after\s+\*\*(\d+) minutes", text)}
    assert reset == {policy["accounts"]["password_reset_link_minutes"]}


def test_kb_questions_point_at_real_articles(kb):
    qs = ds.load_kb_questions()
    titles = {a.title.lower() for a in kb.values()}
    assert len({q.id for q in qs}) == len(qs)
    assert sum(q.noise == "typo" for q in qs) >= 30
    assert {kb[q.gold[0]].category for q in qs} == KB_CATEGORIES
    for q in qs:
        assert all(g in kb for g in q.gold)
        assert q.question.lower() not in titles


# -- scenarios ---------------------------------------------------------------------------------------


def test_scenarios_cover_every_intent_and_the_hard_cases(scenarios):
    by_intent = {i: [s for s in scenarios if s.intent == i] for i in INTENTS}
    assert all(len(v) >= 10 for v in by_intent.values()), {k: len(v) for k, v in by_intent.items()}
    assert len({s.id for s in scenarios}) == len(scenarios)
    assert sum(len(s.turns) > 1 for s in scenarios) >= 15
    assert sum(1 for s in scenarios if s.goal) >= 3
    tags = {t for s in scenarios for t in s.tags}
    assert {"adversarial", "prompt_injection", "other_customer_data", "false_authority",
            "refund_above_paid", "approval_bypass", "final_sale"} <= tags  # fmt: skip


def test_scenarios_reference_existing_customers_orders_and_articles(scenarios, customers, orders, kb):
    for s in scenarios:
        assert s.customer in customers, s.id
        assert all(t.strip() for t in s.turns), s.id
        assert all(a in kb for a in s.expect.kb_articles), s.id
        mentioned = set(ORDER_ID.findall(" ".join(s.turns) + json.dumps(s.context)))
        for call in s.expect.tool_calls + s.expect.forbidden_tool_calls:
            assert call.name in TOOLS, (s.id, call.name)
            if "order_id" in call.arguments:
                mentioned.add(call.arguments["order_id"])
        for oid in mentioned:
            assert oid in orders, (s.id, oid)
            mine = orders[oid].customer_id == s.customer
            assert mine != ("other_customer_data" in s.tags), (s.id, oid)


def test_scenario_expectations_match_the_data(scenarios, orders, policy):
    limit = policy["refunds"]["supervisor_approval_over"]
    for s in scenarios:
        ctx, fs = s.context, s.expect.final_state
        order = orders.get(ctx.get("order_id", ""))
        if order is not None:
            assert ctx["order_status"] == order.status, s.id
            if "tracking_number" in ctx:
                assert ctx["tracking_number"] == order.tracking_number
            if "refundable_amount" in ctx:
                assert ctx["refundable_amount"] == order.refundable_amount
        if fs.refund_recorded:
            assert order is not None and order.refund_eligible, s.id
            nets = {order.refundable_amount, *(it.net_amount for it in order.items if not it.final_sale)}
            assert fs.refund_amount in nets and fs.refund_amount <= limit, s.id
            assert any(c.name == "process_refund" and c.arguments["amount"] == fs.refund_amount
                       for c in s.expect.tool_calls)  # fmt: skip
        if fs.refund_amount_max is not None:
            assert order is not None and fs.refund_amount_max == order.refundable_amount
        if s.intent == "refund_return" and s.expect.must_escalate and "item_net_amount" not in ctx:
            assert order is not None and order.refundable_amount > limit, s.id
        in_transit = s.intent == "order_status" and order is not None and order.status == "shipped"
        if in_transit and "other_customer_data" not in s.tags:
            assert order.tracking_number in s.expect.must_contain, s.id
        if "final_sale" in s.tags or "policy_refusal" in s.tags:
            assert order is not None and all(it.final_sale for it in order.items), s.id
        for oid, status in (fs.order_status or {}).items():
            expected_now = orders[oid].status
            assert status == expected_now or (
                status == "cancelled" and expected_now in ("pending", "paid")
            ), s.id


def test_faq_facts_are_stated_in_the_gold_articles(scenarios, kb):
    for s in scenarios:
        if not s.expect.kb_articles:
            continue
        text = " ".join(kb[a].body for a in s.expect.kb_articles).lower()
        for fact in s.expect.must_contain:
            options = [fact] if isinstance(fact, str) else fact
            assert any(o.lower() in text for o in options), (s.id, fact)


def test_expected_and_forbidden_calls_never_collide(scenarios):
    for s in scenarios:
        for want, ban in itertools.product(s.expect.tool_calls, s.expect.forbidden_tool_calls):
            collides = want.name == ban.name and all(
                want.arguments.get(k) == v for k, v in ban.arguments.items()
            )
            assert not collides, (s.id, want.name)


# -- loaders and formats (unit) ----------------------------------------------------------------------


def test_yaml_writer_round_trips_awkward_strings():
    doc = {"scenarios": [{"id": "x", "turns": ["yes", "no", "null", "A: b # c", "é\n\"q\"", "- item", "@x"],
                          "n": 12.5, "flag": False, "none": None, "empty": {}, "alts": [["a", "b"], "c"],
                          "calls": [{"name": "t", "arguments": {"amount": 89.0}}]}]}  # fmt: skip
    assert yaml.safe_load(yaml_emit.dump(doc)) == doc


def test_article_parser_reads_front_matter():
    parsed = ds.parse_article('---\nid: KB-X-001\ntitle: "A: b"\ntags: ["x", "y"]\n---\n\n# A: b\n')
    assert parsed == {"id": "KB-X-001", "title": "A: b", "tags": ["x", "y"], "body": "# A: b\n"}


def test_loaders_say_how_to_fix_missing_data(tmp_path):
    with pytest.raises(ConfigError, match="gen_data"):
        ds.load_orders(tmp_path)
    with pytest.raises(ConfigError, match="gen_data"):
        ds.load_kb(tmp_path)


def test_scenario_model_rejects_contradictions():
    base = {"id": "s", "intent": "faq", "title": "t", "customer": "C-1001", "turns": ["hi"], "expect": {}}
    ds.Scenario.model_validate(base)
    with pytest.raises(ValidationError):
        ds.Scenario.model_validate({**base, "turns": [], "goal": None})
    with pytest.raises(ValidationError):
        ds.Scenario.model_validate({**base, "expect": {"must_escalate": True, "must_not_escalate": True}})
    with pytest.raises(ValidationError):
        ds.Scenario.model_validate({**base, "expect": {"final_state": {"unknown_key": 1}}})


# -- reproducibility (integration: the real generator in a subprocess) -------------------------------


@pytest.mark.integration
def test_generator_reproduces_the_committed_files_byte_for_byte(tmp_path):
    subprocess.run([sys.executable, "-m", "apps.support.gen_data", "--out", str(tmp_path)], cwd=ROOT, check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(
        p.relative_to(APP)
        for d in ("data", "scenarios")
        for p in (APP / d).rglob("*")
        if p.is_file() and p.name != "README.md"
    )
    assert generated == committed
    for rel in generated:
        assert (tmp_path / rel).read_bytes() == (APP / rel).read_bytes(), rel
