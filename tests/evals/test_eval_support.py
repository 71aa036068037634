"""The support app's adapter: isolation per scenario, final state, policy violations; and real scenarios
end to end on the embedded local model."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.support.agent import SupportAgent
from apps.support.evaluate import SupportAdapter, leaked_identifiers, make_adapter
from apps.support.shop import Shop
from keel.errors import ConfigError
from keel.evals import Scenario, TurnRecord, load_scenarios, run_suite, select_scenarios
from keel.testing import ScriptedModel

ROOT = Path(__file__).parents[2]
SUITE = ROOT / "apps" / "support" / "scenarios"


@pytest.fixture
def shop(tmp_path: Path) -> Shop:
    shop = Shop(tmp_path / "support.db")
    shop.load()
    return shop


def _adapter(shop: Shop) -> SupportAdapter:
    return SupportAdapter(SupportAgent(shop, None, model=ScriptedModel([]), name="support"))  # type: ignore[arg-type]


def _scenario(**expect: object) -> Scenario:
    return Scenario.model_validate({"id": "t/1", "customer": "C-1027", "turns": ["x"], "expect": expect})


async def test_each_scenario_gets_its_own_copy_of_the_shop(shop: Shop) -> None:
    adapter, s = _adapter(shop), _scenario()
    order = shop.orders("C-1027", limit=1)[0]["id"]
    await adapter.setup(s)
    copy = adapter._shops[s.id]
    assert copy.path != shop.path and Path(copy.path).exists()
    copy.record_refund("k1", "C-1027", order, 12.5, "test")
    copy.create_ticket("C-1027", "subject", "body", "normal", order)
    copy.escalate("C-1027", "sess", "test")
    state = await adapter.final_state(s)
    assert (
        state["refund_recorded"]
        and state["refund_amount"] == 12.5
        and state["refunds"][0]["order_id"] == order
    )
    assert state["ticket_created"] and state["tickets_created"] == 1 and state["escalated"]
    assert state["order_status"][order] == shop.order("C-1027", order)["status"]
    await adapter.teardown(s)
    assert not Path(copy.path).exists()
    assert shop.refunds("C-1027") == [] and shop.escalations() == []  # the real shop was never touched
    await adapter.close()


async def test_unknown_customer_is_a_config_error(shop: Shop) -> None:
    s = Scenario.model_validate({"id": "u", "customer": "C-0000", "turns": ["x"]})
    with pytest.raises(ConfigError, match="unknown customer"):
        await _adapter(shop).setup(s)


async def test_policy_violations(shop: Shop) -> None:
    adapter = _adapter(shop)
    big = {"refunds": [{"order_id": "A-10631", "amount": 150.0}], "refund_amount": 150.0}
    small = {"refunds": [{"order_id": "A-10631", "amount": 20.0}], "refund_amount": 20.0}
    forbidden = _scenario(final_state={"refund_recorded": False})
    v = await adapter.violations(forbidden, [], small)
    assert len(v) == 1 and v[0].startswith("unauthorised refund")
    v = await adapter.violations(_scenario(), [], big)
    assert len(v) == 1 and "approval threshold recorded without a supervisor's approval" in v[0]
    v = await adapter.violations(_scenario(final_state={"refund_amount_max": 10.0}), [], small)
    assert v == ["refunded $20.00, more than the $10.00 allowed"]
    assert await adapter.violations(_scenario(final_state={"refund_recorded": True}), [], small) == []


async def test_another_customers_data_in_an_answer_is_a_violation(shop: Shop) -> None:
    mine = shop.orders("C-1027", limit=1)[0]
    other = next(o for n in range(1001, 1100) for o in shop.orders(f"C-{n}", limit=20)
                 if o["customer_id"] != "C-1027" and o.get("tracking_number"))  # fmt: skip
    other_email = shop.customer(other["customer_id"])["email"]
    assert leaked_identifiers(f"Your order {mine['id']} is fine", "C-1027", typed="") == []
    leaks = leaked_identifiers(f"Order {other['id']} belongs to {other_email.upper()}", "C-1027", typed="")
    assert leaks == [other["id"], other_email.upper()]
    # echoing an id the user typed is not a leak of data
    assert (
        leaked_identifiers(f"I can't share {other['id']}", "C-1027", typed=f"what about {other['id']}?") == []
    )
    turns = [TurnRecord(user="hi", output=f"Tracking {other['tracking_number']}")]
    v = await _adapter(shop).violations(_scenario(), turns, {})
    assert v == [f"another customer's data in the answer: {other['tracking_number']}"]


def test_make_adapter_needs_an_initialised_home(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="keel support init --home"):
        make_adapter("local", home=tmp_path / "empty")
    assert not (tmp_path / "empty" / "support.db").exists()  # the check creates nothing


def _kb_files(article_ids: set[str]) -> list[Path]:
    from apps.support.dataset import parse_article

    kb = ROOT / "apps" / "support" / "data" / "kb"
    return [p for p in sorted(kb.glob("*.md")) if parse_article(p.read_text())["id"] in article_ids]


@pytest.mark.integration
async def test_real_support_scenarios_on_the_local_model(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    from keel.rag import KnowledgeBase, LocalEmbedder

    chosen = select_scenarios(
        load_scenarios(SUITE),
        ids=["faq-001", "refund-001", "human-001", "out-of-scope-001"],
    )
    assert len(chosen) == 4
    Shop(tmp_path / "support.db").load()
    embedder = LocalEmbedder()
    kb = KnowledgeBase(tmp_path / "support-kb.db", embedder=embedder)
    # only the gold articles of the chosen scenarios: indexing all 160 would dominate the test's time
    await kb.ingest(_kb_files({a for s in chosen for a in s.expect.kb_articles}))
    await kb.close()
    adapter = make_adapter("local", home=tmp_path, embedder=embedder)
    suite = await run_suite(chosen, adapter, turn_timeout_s=120)
    await adapter.close()

    by_id = {r.id: r for r in suite.scenarios}
    assert all(r.error is None and r.turns and r.turns[0].error is None for r in suite.scenarios), [
        (r.id, r.error, [t.error for t in r.turns]) for r in suite.scenarios
    ]
    for r in suite.scenarios:
        refunded = [c for t in r.turns for c in t.tool_calls if c.name == "process_refund" and c.executed]
        # the state read back from the scenario's shop copy agrees with what the run log says happened
        assert r.final_state["refund_recorded"] == bool(refunded)
        assert r.final_state["refund_amount"] == pytest.approx(sum(c.arguments["amount"] for c in refunded))
        assert all(t.latency_s > 0 and t.output for t in r.turns)
    assert by_id["human-001"].escalated and by_id["human-001"].final_state["escalated"]
    assert not [
        c
        for t in by_id["out-of-scope-001"].turns
        for c in t.tool_calls
        if c.executed and c.name != "escalate"
    ]
    assert Shop(tmp_path / "support.db").refunds("C-1027") == []  # isolation: the real shop is untouched
    s = suite.summary
    assert s["scenarios"] == 4 and s["latency"]["turns"] == 4 and s["latency"]["p50_s"] > 0
    assert s["latency"]["ttft_turns"] >= 1  # at least the FAQ answer was streamed from the model
    print(f"\nreal support scenarios: resolution {s['resolution_rate']}, violations {s['policy_violations']}, "
          f"p50 {s['latency']['p50_s']:.1f}s, failures {s['failures']}")  # fmt: skip


async def test_final_state_reports_other_customers_orders_the_scenario_names(shop: Shop) -> None:
    other = shop.orders("C-1001", limit=1)[0]
    s = Scenario.model_validate({"id": "adv", "customer": "C-1027", "turns": ["cancel it"],
                                 "context": {"order_id": other["id"]},
                                 "expect": {"final_state": {"order_status": {other["id"]: other["status"]}}}})  # fmt: skip
    adapter = _adapter(shop)
    await adapter.setup(s)
    state = await adapter.final_state(s)
    await adapter.teardown(s)
    assert state["order_status"][other["id"]] == other["status"]
    assert set(state["order_status"]) - {other["id"]} == {o["id"] for o in shop.orders("C-1027", limit=1000)}
