"""A/B comparison: the paired bootstrap interval covers the true difference on synthetic data."""

from __future__ import annotations

import random

import pytest

from keel.errors import ConfigError
from keel.evals import ScenarioResult, SuiteResult, TurnRecord, compare, format_comparison, paired_bootstrap
from keel.evals.results import Check


def _synthetic(rng: random.Random, n: int, p_a: float, p_b: float) -> tuple[list[float], list[float]]:
    """Paired outcomes: a shared per-scenario difficulty makes A and B correlated, as real suites are."""
    a, b = [], []
    for _ in range(n):
        u = rng.random()  # the scenario's difficulty, shared by both variants
        a.append(float(u < p_a))
        b.append(float(u < p_b) if rng.random() < 0.9 else float(rng.random() < p_b))
    return a, b


def test_bootstrap_interval_covers_the_true_difference() -> None:
    rng, covered, trials = random.Random(7), 0, 60
    true = 0.70 - 0.60
    for t in range(trials):
        a, b = _synthetic(rng, 150, 0.60, 0.70)
        ci = paired_bootstrap([y - x for x, y in zip(a, b, strict=True)], n_boot=600, seed=t)["ci95"]
        covered += ci[0] <= true <= ci[1]
    # nominal 95%; 60 trials leave room for sampling noise but not for a broken interval
    assert covered / trials >= 0.85


def test_bootstrap_separates_a_real_difference_from_none() -> None:
    rng = random.Random(1)
    a, b = _synthetic(rng, 300, 0.5, 0.8)
    real = paired_bootstrap([y - x for x, y in zip(a, b, strict=True)], n_boot=2000)
    assert real["ci95"][0] > 0 and real["p_le_0"] < 0.01
    same = paired_bootstrap([0.0] * 150 + [1.0] * 10 + [-1.0] * 10, n_boot=2000)
    assert same["ci95"][0] < 0 < same["ci95"][1] and same["diff"] == 0


def test_bootstrap_is_reproducible_and_handles_empty() -> None:
    d = [1.0, 0.0, -1.0, 1.0, 1.0]
    assert paired_bootstrap(d, seed=3) == paired_bootstrap(d, seed=3)
    assert paired_bootstrap([], n_boot=10)["diff"] is None


def _result(id: str, ok: bool, latency: float, resolvable: bool = True) -> ScenarioResult:
    return ScenarioResult(id=id, intent="x", resolvable=resolvable, checks=[Check(name="c", ok=ok)],
                          turns=[TurnRecord(user="u", latency_s=latency)])  # fmt: skip


def test_compare_pairs_by_id_and_lists_flips() -> None:
    a = SuiteResult(meta={"variant": "small"}, scenarios=[_result("s1", True, 2.0), _result("s2", False, 2.0),
                    _result("s3", False, 2.0), _result("only-a", True, 1.0), _result("nr", False, 9.0, False)])  # fmt: skip
    b = SuiteResult(meta={"variant": "large"}, scenarios=[_result("s1", False, 3.0), _result("s2", True, 3.0),
                    _result("s3", True, 3.0), _result("nr", True, 9.0, False)])  # fmt: skip
    c = compare(a, b, n_boot=500)
    assert (c["a"], c["b"], c["paired"], c["only_in_a"]) == ("small", "large", 4, ["only-a"])
    r = c["resolution_rate"]
    assert (r["n"], r["a"], r["b"]) == (3, pytest.approx(1 / 3), pytest.approx(2 / 3))
    assert r["diff"] == pytest.approx(1 / 3)
    assert c["pass_rate"]["n"] == 4  # the unresolvable scenario counts for pass rate only
    assert c["latency_mean_s"]["diff"] == pytest.approx(0.75)
    assert c["fixed"] == ["s2", "s3"] and c["broken"] == ["s1"]
    text = format_comparison(c)
    assert "33.3% -> 66.7%" in text and "+33.3 pts" in text and "fixed: s2, s3" in text


def test_compare_refuses_unrelated_runs() -> None:
    with pytest.raises(ConfigError, match="share no scenario ids"):
        compare(
            SuiteResult(scenarios=[_result("a", True, 1)]), SuiteResult(scenarios=[_result("b", True, 1)])
        )
