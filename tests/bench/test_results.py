"""The public ``--json`` summary and the per-item JSONL files."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench_contract import CONTRACT

from keel.bench.results import ItemResult, percentile, read_jsonl, summarize, write_jsonl
from keel.errors import ConfigError


def _rows() -> list[ItemResult]:
    return [
        ItemResult("a", "simple", True, latency_s=1.0, input_tokens=10, output_tokens=2),
        ItemResult("b", "simple", False, why="wrong value", latency_s=3.0, input_tokens=5, output_tokens=1),
        ItemResult("c", "irrelevance", True, latency_s=2.0),
    ]


def test_summary_has_exactly_the_contract_keys_and_scores_in_0_1() -> None:
    s = summarize("bfcl", "local:small", _rows())
    assert set(s) == CONTRACT
    assert s["n"] == 3 and s["score"] == pytest.approx(2 / 3, abs=1e-4)
    assert s["per_category"] == {"irrelevance": {"n": 1, "score": 1.0}, "simple": {"n": 2, "score": 0.5}}
    assert s["tokens"] == {"input": 15, "output": 3}
    assert s["failures"] == [{"id": "b", "why": "wrong value"}]
    assert s["latency_p50_s"] == 2.0 and s["latency_p95_s"] == pytest.approx(2.9)


def test_suite_metrics_go_under_metrics_only() -> None:
    s = summarize("support-kb", "m", _rows(), extra={"routing": {"accuracy": 0.9}})
    assert set(s) == CONTRACT | {"metrics"} and s["metrics"]["routing"]["accuracy"] == 0.9


def test_empty_run_scores_zero_without_dividing_by_zero() -> None:
    s = summarize("bfcl", "m", [])
    assert (s["n"], s["score"], s["latency_p50_s"], s["per_category"]) == (0, 0.0, None, {})


def test_percentile_interpolates() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0], 100) == 2.0
    assert percentile([], 50) is None


def test_jsonl_round_trip_leaves_traces_out(tmp_path: Path) -> None:
    rows = _rows()
    rows[0].trace = {"events": [1, 2, 3]}
    path = write_jsonl(tmp_path / "r" / "results.jsonl", rows)
    back = read_jsonl(path)
    assert [r.id for r in back] == ["a", "b", "c"] and back[1].why == "wrong value"
    assert back[0].trace is None and "events" not in path.read_text()


def test_read_jsonl_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="keel bench"):
        read_jsonl(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "category": "x", "ok": true}\nnot json\n')
    with pytest.raises(ConfigError, match=r"bad\.jsonl:2"):
        read_jsonl(bad)
