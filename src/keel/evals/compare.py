"""A/B comparison of two runs of the same suite, with paired bootstrap confidence intervals.

Scenarios are paired by id, so each scenario serves as its own control: the interval is for the mean
per-scenario difference (B − A), resampling scenarios with replacement::

    from keel.evals import SuiteResult, compare
    diff = compare(SuiteResult.load("runs/a.json"), SuiteResult.load("runs/b.json"))
    diff["resolution_rate"]   # {"a": 0.71, "b": 0.78, "diff": 0.07, "ci95": [0.01, 0.13], "n": 160}

>>> paired_bootstrap([1.0] * 20, n_boot=200)["ci95"]
[1.0, 1.0]
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from keel.errors import ConfigError
from keel.evals.metrics import percentile
from keel.evals.results import ScenarioResult, SuiteResult

__all__ = ["compare", "format_comparison", "paired_bootstrap"]


def paired_bootstrap(
    diffs: Sequence[float], *, n_boot: int = 10_000, confidence: float = 0.95, seed: int = 0
) -> dict[str, Any]:
    """Mean of ``diffs`` with a percentile bootstrap interval, and how often the resampled mean was ≤ 0.

    ``seed`` makes the interval reproducible; ``p_le_0`` near 0 (or 1) says B is reliably better
    (or worse) on a higher-is-better metric.
    """
    n = len(diffs)
    if n == 0:
        return {"diff": None, "ci95": [None, None], "n": 0, "p_le_0": None}
    rng = random.Random(seed)
    idx = range(n)
    means = sorted(sum(diffs[i] for i in rng.choices(idx, k=n)) / n for _ in range(n_boot))
    alpha = (1.0 - confidence) / 2.0
    lo, hi = percentile(means, 100 * alpha), percentile(means, 100 * (1 - alpha))
    return {
        "diff": sum(diffs) / n,
        "ci95": [lo, hi],
        "n": n,
        "p_le_0": sum(1 for m in means if m <= 0) / n_boot,
    }


def _mean_latency(r: ScenarioResult) -> float | None:
    lat = [t.latency_s for t in r.turns if t.error is None]
    return sum(lat) / len(lat) if lat else None


def _paired_rate(pairs: list[tuple[ScenarioResult, ScenarioResult]], attr: str, **kw: Any) -> dict[str, Any]:
    a = [float(getattr(x, attr)) for x, _ in pairs]
    b = [float(getattr(y, attr)) for _, y in pairs]
    out = paired_bootstrap([y - x for x, y in zip(a, b, strict=True)], **kw)
    out["a"] = sum(a) / len(a) if a else None
    out["b"] = sum(b) / len(b) if b else None
    return out


def compare(a: SuiteResult, b: SuiteResult, *, n_boot: int = 10_000, seed: int = 0) -> dict[str, Any]:
    """Differences B − A in resolution rate, pass rate and mean turn latency, each with a paired 95%
    bootstrap interval, plus the scenarios that flipped. Raises ``ConfigError`` when no ids overlap."""
    by_id = {s.id: s for s in b.scenarios}
    pairs = [(s, by_id[s.id]) for s in a.scenarios if s.id in by_id]
    if not pairs:
        raise ConfigError("the two result files share no scenario ids: compare runs of the same suite")
    kw = {"n_boot": n_boot, "seed": seed}
    resolvable = [(x, y) for x, y in pairs if x.resolvable]
    lat_pairs = [(_mean_latency(x), _mean_latency(y)) for x, y in pairs]
    lat = [(x, y) for x, y in lat_pairs if x is not None and y is not None]
    latency = paired_bootstrap([y - x for x, y in lat], **kw)
    latency["a"] = sum(x for x, _ in lat) / len(lat) if lat else None
    latency["b"] = sum(y for _, y in lat) / len(lat) if lat else None
    return {
        "a": a.meta.get("variant") or a.meta.get("agent", "A"),
        "b": b.meta.get("variant") or b.meta.get("agent", "B"),
        "paired": len(pairs),
        "only_in_a": sorted(set(s.id for s in a.scenarios) - set(by_id)),
        "only_in_b": sorted(set(by_id) - set(s.id for s in a.scenarios)),
        "resolution_rate": _paired_rate(resolvable, "resolved", **kw),
        "pass_rate": _paired_rate(pairs, "passed", **kw),
        "latency_mean_s": latency,
        "violations": {
            "a": sum(len(x.violations) for x, _ in pairs),
            "b": sum(len(y.violations) for _, y in pairs),
        },
        "fixed": [x.id for x, y in resolvable if not x.resolved and y.resolved],
        "broken": [x.id for x, y in resolvable if x.resolved and not y.resolved],
    }


def _fmt(v: Any, pct: bool) -> str:
    if v is None:
        return "n/a"
    return f"{100 * v:+.1f} pts" if pct else f"{v:+.2f} s"


def format_comparison(c: dict[str, Any]) -> str:
    """A short table of ``compare``'s result for a terminal."""
    lines = [f"A = {c['a']}   B = {c['b']}   paired scenarios: {c['paired']}"]
    for key, label, pct in (
        ("resolution_rate", "resolution rate", True),
        ("pass_rate", "pass rate", True),
        ("latency_mean_s", "mean turn latency", False),
    ):
        m = c[key]
        a, b = m["a"], m["b"]
        shown = (
            (f"{100 * a:.1f}% -> {100 * b:.1f}%" if pct else f"{a:.2f} s -> {b:.2f} s")
            if a is not None and b is not None
            else "n/a"
        )
        lo, hi = m["ci95"]
        ci = f"[{_fmt(lo, pct)}, {_fmt(hi, pct)}]" if lo is not None else ""
        lines.append(f"{label:<18} {shown:<22} diff {_fmt(m['diff'], pct)}  95% CI {ci}  (n={m['n']})")
    v = c["violations"]
    lines.append(f"policy violations  {v['a']} -> {v['b']}")
    if c["fixed"] or c["broken"]:
        lines.append(
            f"fixed: {', '.join(c['fixed'][:10]) or '-'}   broken: {', '.join(c['broken'][:10]) or '-'}"
        )
    return "\n".join(lines)
