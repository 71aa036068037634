"""Paired comparison of two runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from keel.bench.cli import bench
from keel.bench.compare import compare_items, format_comparison
from keel.bench.results import ItemResult, write_jsonl
from keel.errors import ConfigError


def _run(passing: set[int], n: int = 20) -> list[ItemResult]:
    return [ItemResult(str(i), "simple" if i < n // 2 else "irrelevance", i in passing) for i in range(n)]


def test_lift_per_category_with_a_paired_interval() -> None:
    a = _run(set(range(0, 20, 2)))  # half pass
    b = _run(set(range(20)))  # all pass
    c = compare_items(a, b, n_boot=2000)
    assert c["overall"]["a"] == 0.5 and c["overall"]["b"] == 1.0 and c["overall"]["diff"] == 0.5
    lo, hi = c["overall"]["ci95"]
    assert 0.2 < lo <= 0.5 <= hi <= 0.75
    assert set(c["per_category"]) == {"simple", "irrelevance"}
    assert len(c["flipped_to_pass"]) == 10 and c["flipped_to_fail"] == []
    assert "overall" in format_comparison(c)


def test_identical_runs_have_a_zero_interval() -> None:
    a = _run({1, 2, 3})
    c = compare_items(a, a, n_boot=500)
    assert c["overall"]["diff"] == 0 and c["overall"]["ci95"] == [0.0, 0.0]


def test_runs_of_different_suites_are_refused() -> None:
    with pytest.raises(ConfigError, match="share no item ids"):
        compare_items([ItemResult("a", "x", True)], [ItemResult("b", "x", True)])


def test_compare_command_reads_two_results_files(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", _run({0}))
    write_jsonl(tmp_path / "b.jsonl", _run({0, 1, 2, 15}))
    out = CliRunner().invoke(
        bench, ["compare", str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"), "--boot", "500"]
    )
    assert out.exit_code == 0, out.output
    assert "simple" in out.output and "+15.0%" in out.output
    missing = CliRunner().invoke(bench, ["compare", str(tmp_path / "nope.jsonl"), str(tmp_path / "b.jsonl")])
    assert missing.exit_code == 2 and "keel bench" in missing.output
