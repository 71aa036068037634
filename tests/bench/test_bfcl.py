"""BFCL: schema conversion, BFCL's own AST checker on hand-verified cases and on its answer keys,
the runners with a scripted model, and (integration) the real local model in both modes."""

from __future__ import annotations

from typing import Any

import pytest

from keel.bench.bfcl import BfclItem, BfclRunner, build_tools, load_items, replay_gold_bfcl, to_json_schema
from keel.bench.bfcl_check import check_calls, corrupt, gold_calls, is_function_call_output
from keel.testing import ScriptedModel, call

pytestmark = pytest.mark.usefixtures("needs_bfcl")

FN = {
    "name": "geometry.area",
    "description": "Area of a rectangle.",
    "parameters": {
        "type": "dict",
        "properties": {
            "base": {"type": "integer", "description": "Base."},
            "unit": {"type": "string", "description": "Unit."},
            "scale": {"type": "float", "description": "Scale."},
        },
        "required": ["base"],
    },
}
GT = [{"geometry.area": {"base": [10], "unit": ["cm", ""], "scale": [1.0, ""]}}]
OTHER = {
    "name": "weather",
    "description": "Weather in a city.",
    "parameters": {
        "type": "dict",
        "properties": {"city": {"type": "string", "description": "City."}},
        "required": ["city"],
    },
}


@pytest.mark.parametrize(
    ("output", "ok", "error"),
    [
        ([{"geometry.area": {"base": 10}}], True, ""),  # optional parameters may be left out
        ([{"geometry.area": {"base": 10, "unit": "CM"}}], True, ""),  # strings compare case-insensitively
        ([{"geometry.area": {"base": 10, "scale": 1}}], True, ""),  # an int is accepted for a float
        ([{"geometry.area": {"base": 11}}], False, "value_error"),
        ([{"geometry.area": {"unit": "cm"}}], False, "missing_required"),
        ([{"geometry.area": {"base": 10, "color": "red"}}], False, "unexpected_param"),
        ([{"geometry_area": {"base": 10}}], False, "wrong_func_name"),  # names are mapped back first
        ([{"geometry.area": {"base": "10"}}], False, "type_error"),
        ([{"geometry.area": {"base": 10}}, {"geometry.area": {"base": 10}}], False, "wrong_count"),
    ],
)
def test_simple_checker_hand_verified_cases(output: list[dict[str, Any]], ok: bool, error: str) -> None:
    got, why = check_calls("simple_python", [FN], output, GT)
    assert got is ok and error in why


def test_parallel_is_order_free_and_counts_calls() -> None:
    gt = [{"weather": {"city": ["Paris"]}}, {"weather": {"city": ["Rome"]}}]
    swapped = [{"weather": {"city": "Rome"}}, {"weather": {"city": "Paris"}}]
    assert check_calls("parallel", [OTHER], swapped, gt) == (True, "")
    ok, why = check_calls("parallel", [OTHER], swapped[:1], gt)
    assert not ok and "wrong_count" in why


def test_multiple_checks_the_chosen_function_among_several() -> None:
    gt = [{"weather": {"city": ["Paris"]}}]
    assert check_calls("multiple", [FN, OTHER], [{"weather": {"city": "paris"}}], gt)[0]
    assert not check_calls("multiple", [FN, OTHER], [{"geometry.area": {"base": 10}}], gt)[0]


def test_irrelevance_passes_only_without_a_call() -> None:
    assert check_calls("irrelevance", [FN], [], None) == (True, "")
    ok, why = check_calls("live_irrelevance", [FN], [{"geometry.area": {"base": 1}}], None)
    assert not ok and "geometry.area" in why
    assert not is_function_call_output([{}]) and not is_function_call_output("text")


def test_gold_calls_take_first_real_option_and_corruption_changes_one_value() -> None:
    gold = gold_calls(GT, [FN])
    assert gold == [{"geometry.area": {"base": 10, "unit": "cm", "scale": 1.0}}]
    bad = corrupt(gold)
    assert bad != gold and list(bad[0]) == ["geometry.area"]
    assert (
        check_calls("simple_python", [FN], gold, GT)[0] and not check_calls("simple_python", [FN], bad, GT)[0]
    )


def test_schema_conversion_follows_bfcl_for_function_calling_models() -> None:
    params = {
        "type": "dict",
        "properties": {
            "x": {"type": "float", "description": "X."},
            "pair": {"type": "tuple", "items": {"type": "integer"}, "description": "P."},
            "opts": {"type": "dict", "properties": {"deep": {"type": "any", "description": "D."}}},
            "rows": {
                "type": "array",
                "items": {"type": "dict", "properties": {"n": {"type": "float", "description": ""}}},
            },
        },
        "required": ["x"],
    }
    s = to_json_schema(params)
    assert s["type"] == "object" and s["required"] == ["x"]
    assert s["properties"]["x"] == {
        "type": "number",
        "format": "float",
        "description": "X. This is a float type value.",
    }
    assert (
        s["properties"]["pair"]["type"] == "array" and s["properties"]["pair"]["items"]["type"] == "integer"
    )
    assert s["properties"]["opts"]["properties"]["deep"]["type"] == "string"
    assert s["properties"]["rows"]["items"]["properties"]["n"]["type"] == "number"
    assert params["type"] == "dict", "the item's own documents must not be modified"


def test_tool_names_lose_dots_and_map_back() -> None:
    tools, names = build_tools(BfclItem("x", "simple_python", [], [FN, OTHER]))
    assert [t.name for t in tools] == ["geometry_area", "weather"]
    assert names == {"geometry_area": "geometry.area", "weather": "weather"}


def test_items_come_from_the_installed_package_with_the_python_hint() -> None:
    items = load_items("simple_python", limit=3, offset=1)
    assert [i.id for i in items] == ["simple_python_1", "simple_python_2", "simple_python_3"]
    assert (
        items[0]
        .functions[0]["description"]
        .endswith("Note that the provided function is in Python 3 syntax.")
    )
    assert items[0].ground_truth and load_items("irrelevance", limit=1)[0].ground_truth is None


def test_checker_accepts_bfcl_gold_answers_and_rejects_corrupted_ones() -> None:
    rows = replay_gold_bfcl(limit=25)
    assert len(rows) == 8 * 25
    assert [r.id for r in rows if not r.ok] == []


async def test_raw_mode_maps_the_scripted_call_back_to_bfcl_names() -> None:
    item = load_items("simple_python", limit=1, offset=1)[0]  # math.factorial(number=5)
    model = ScriptedModel([call("math_factorial", number=5)])
    res = await BfclRunner(model, "raw").run_item(item)
    assert res.ok and res.output == [{"math.factorial": {"number": 5}}]
    assert res.trace["mode"] == "raw" and res.trace["tools"][0]["name"] == "math_factorial"


async def test_keel_mode_runs_one_agent_turn_without_executing_the_call() -> None:
    item = load_items("simple_python", limit=1, offset=1)[0]
    model = ScriptedModel([call("math_factorial", number=6)])
    res = await BfclRunner(model, "keel").run_item(item)
    assert not res.ok and "value_error" in res.why
    kinds = [e["type"] for e in res.trace["events"]]
    assert "tool_call_started" not in kinds and kinds[-1] == "run_finished"


async def test_keel_mode_records_a_runaway_fill_as_no_call_not_an_error() -> None:
    from keel.errors import MalformedResponse
    from keel.models.base import ModelProfile

    class Small(ScriptedModel):
        profile = ModelProfile(native_tools=False, grammar=True)

    item = load_items("simple_python", limit=1, offset=1)[0]  # math.factorial(number=5)
    runaway = MalformedResponse("local model arguments for math_factorial is not complete JSON",
                                snippet='{"number": 5' + "0" * 400, provider="local")  # fmt: skip
    res = await BfclRunner(Small(lambda m, t: runaway if t else "unused"), "keel").run_item(item)
    assert not res.ok and not res.why.startswith("error:") and res.output == []
    assert "fill of math_factorial failed" in res.why and res.detail["note"].startswith("fill of")


@pytest.mark.integration
async def test_local_model_keel_path_calls_the_tool_and_abstains_on_irrelevance(local_model: Any) -> None:
    runner = BfclRunner(local_model, "keel")
    simple = await runner.run_item(load_items("simple_python", limit=1)[0])
    assert simple.ok, simple.why
    irrelevant = await runner.run_item(load_items("irrelevance", limit=1)[0])
    assert irrelevant.ok and "router" in irrelevant.detail.get("note", "")
    assert simple.input_tokens > 0 and any(e["type"] == "tool_stage" for e in simple.trace["events"])


@pytest.mark.integration
async def test_local_model_raw_mode_uses_its_own_tool_calls(local_model: Any) -> None:
    res = await BfclRunner(local_model, "raw").run_item(load_items("simple_python", limit=1)[0])
    assert res.ok, res.why
    assert list(res.output[0]) == ["calculate_triangle_area"]
    assert res.trace["response"]["message"]["tool_calls"]
