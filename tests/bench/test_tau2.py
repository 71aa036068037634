"""tau2 retail over its MCP server: task loading, write-effect rules, the state-key tools on the real
server (subprocess), gold replay, conversation scoring, and (integration) one simulated conversation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keel.bench.tau2 import (
    StateKeyTools,
    Tau2Task,
    db_hash,
    expected_db,
    load_tasks,
    open_server,
    read_db,
    replay_gold,
    retail_dir,
)
from keel.bench.tau2_e2e import E2EConfig, run_e2e, score_conversation
from keel.bench.tau2_effects import check_effect
from keel.errors import ToolError

pytestmark = pytest.mark.usefixtures("needs_tau2")


def test_splits_have_the_published_sizes() -> None:
    assert (len(load_tasks("train")), len(load_tasks("test")), len(load_tasks("all"))) == (74, 40, 114)
    sliced = load_tasks("test", limit=2, offset=1)
    assert [t.id for t in sliced] == [t.id for t in load_tasks("test")][1:3]
    assert sliced[0].actions and sliced[0].state_key == f"tau2/retail/{sliced[0].id}"


def test_expected_db_applies_the_gold_writes_in_process() -> None:
    task = next(t for t in load_tasks("all") if t.actions and t.actions[-1]["name"] == "cancel_pending_order")
    db, oks = expected_db(task)
    assert all(oks)
    args = task.actions[-1]["arguments"]
    assert db["orders"][args["order_id"]]["status"] == "cancelled"
    assert check_effect("cancel_pending_order", args, db) == []
    fresh = json.loads((retail_dir() / "db.json").read_text())
    assert check_effect("cancel_pending_order", args, fresh)  # the untouched DB does not show the effect
    assert db_hash(db) != db_hash(fresh)


def test_effect_rules_name_the_field_that_is_wrong() -> None:
    db = {
        "orders": {
            "#W1": {
                "status": "return requested",
                "return_items": ["2", "1"],
                "return_payment_method_id": "gc",
            }
        }
    }
    problems = check_effect("return_delivered_order_items", {"order_id": "#W1", "item_ids": ["2", "1"],
                                                             "payment_method_id": "gc"}, db)  # fmt: skip
    assert problems == ["return_delivered_order_items: #W1 return_items is ['2', '1'], expected ['1', '2']"]
    assert check_effect("get_order_details", {"order_id": "#nope"}, db) == []
    assert "not in the DB" in check_effect("cancel_pending_order", {"order_id": "#W9"}, db)[0]


def test_scoring_needs_db_actions_and_outputs() -> None:
    task = next(t for t in load_tasks("all") if t.communicate_info and t.actions)
    want_db, _ = expected_db(task)
    gold_calls = [{"name": a["name"], "arguments": a["arguments"]} for a in task.actions]
    said = [" and ".join(task.communicate_info)]
    good = score_conversation(task, said, gold_calls, want_db)
    assert good["db_ok"] and good["actions_ok"] and good["outputs_ok"] and good["tau2_reward"] == 1.0
    fresh = json.loads((retail_dir() / "db.json").read_text())
    bad = score_conversation(task, ["sorry"], gold_calls[:-1], fresh)
    assert bad["actions_matched"] == len(task.actions) - 1 and not bad["outputs_ok"]
    assert bad["db_ok"] is (db_hash(want_db) == db_hash(fresh))


@pytest.mark.integration
async def test_state_key_is_hidden_injected_and_isolates_tasks(tmp_path: Path) -> None:
    server = await open_server(tmp_path)
    try:
        tools = StateKeyTools(server, await server.list_tools())
        names = {t.name for t in tools.tools}
        assert len(names) == 16 and not names & {"reset_state", "get_call_log"}
        assert all("state_key" not in t.parameters.get("properties", {}) for t in tools.tools)
        await tools.reset("tau2/retail/a")
        by_name = {t.name: t for t in tools.tools}
        user = await by_name["find_user_id_by_name_zip"].invoke(
            {"first_name": "Yusuf", "last_name": "Rossi", "zip": "19122"}
        )
        assert user == "yusuf_rossi_9620"
        with pytest.raises(ToolError, match="Error: User not found"):
            await by_name["find_user_id_by_email"].invoke({"email": "nobody@example.com"})
        order = json.loads(await by_name["get_order_details"].invoke({"order_id": "#W2378156"}))
        assert order["user_id"] == "yusuf_rossi_9620"
        await tools.reset("tau2/retail/b")
        untouched = db_hash(read_db(tmp_path, "tau2/retail/b"))
        tools.state_key = "tau2/retail/a"
        await by_name["modify_user_address"].invoke({"user_id": "yusuf_rossi_9620", "address1": "1 Main St",
            "address2": "", "city": "Austin", "state": "TX", "country": "USA", "zip": "78701"})  # fmt: skip
        assert read_db(tmp_path, "tau2/retail/a")["users"]["yusuf_rossi_9620"]["address"]["city"] == "Austin"
        assert db_hash(read_db(tmp_path, "tau2/retail/b")) == untouched
    finally:
        await server.aclose()


@pytest.mark.integration
async def test_gold_replay_through_mcp_matches_the_expected_db() -> None:
    tasks = load_tasks("test", limit=4)
    rows = await replay_gold(tasks, progress=None)
    assert [r.id for r in rows] == [t.id for t in tasks]
    assert all(r.ok for r in rows), [r.why for r in rows if not r.ok]
    assert all(r.output["db_hash"] == r.expected["db_hash"] for r in rows)


@pytest.mark.integration
async def test_gold_replay_catches_a_wrong_action(monkeypatch: pytest.MonkeyPatch) -> None:
    import keel.bench.tau2 as tau2

    task = next(t for t in load_tasks("all") if t.actions and t.actions[-1]["name"] == "cancel_pending_order")
    real = tau2.expected_db(task)
    last = dict(task.actions[-1], arguments=dict(task.actions[-1]["arguments"]))
    other = {"no longer needed": "ordered by mistake", "ordered by mistake": "no longer needed"}
    last["arguments"]["reason"] = other[last["arguments"]["reason"]]
    tampered = Tau2Task(task.id, task.user_scenario, [*task.actions[:-1], last])
    monkeypatch.setattr(tau2, "expected_db", lambda _t: real)  # the DB the true gold actions give
    (row,) = await replay_gold([tampered], progress=None)
    assert not row.ok and "final DB hash" in row.why


@pytest.mark.integration
async def test_one_simulated_conversation_is_scored_and_traced(local_model: Any) -> None:
    from keel.testing import ScriptedModel

    task = load_tasks("test", limit=1)[0]  # task 5: Mei Kovacs, zip 28236, wants an exchange
    customer = ScriptedModel(["Hi, I am Mei Kovacs, zip code 28236. I want to exchange a water bottle."])
    rows = await run_e2e(local_model, [task], user_model=customer, config=E2EConfig(max_turns=1, max_tokens=96),
                         progress=None)  # fmt: skip
    (res,) = rows
    assert res.id == task.id and res.category == "test"
    assert {"db_ok", "actions_ok", "outputs_ok", "tau2_reward", "violations", "turns"} <= set(res.detail)
    roles = [t["role"] for t in res.trace["transcript"]]
    assert roles == ["agent", "user", "agent"] and res.input_tokens > 0
    assert any(e["type"] == "model_responded" for e in res.trace["events"])
    assert not res.ok and "gold actions matched" in res.why  # one message cannot finish a 5-action task
