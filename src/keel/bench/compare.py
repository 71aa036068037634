"""Compare two runs of the same benchmark item by item (``keel bench compare A.jsonl B.jsonl``).

Items are paired by id, so each item is its own control; the interval is a paired percentile
bootstrap of the mean per-item difference B − A (pass = 1, fail = 0), overall and per category.
Typical use: BFCL ``raw`` (A) against ``keel`` (B) gives the tool path's lift per category.

>>> from keel.bench.results import ItemResult
>>> a = [ItemResult(str(i), "simple", i < 5) for i in range(10)]
>>> b = [ItemResult(str(i), "simple", True) for i in range(10)]
>>> c = compare_items(a, b, n_boot=500)
>>> c["overall"]["a"], c["overall"]["b"], c["overall"]["diff"]
(0.5, 1.0, 0.5)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keel.bench.results import ItemResult, read_jsonl
from keel.errors import ConfigError

__all__ = ["compare_files", "compare_items", "format_comparison"]


def _cell(pairs: Sequence[tuple[ItemResult, ItemResult]], n_boot: int, seed: int) -> dict[str, Any]:
    from keel.evals.compare import paired_bootstrap

    diffs = [float(b.ok) - float(a.ok) for a, b in pairs]
    boot = paired_bootstrap(diffs, n_boot=n_boot, seed=seed)
    n = len(pairs)
    return {
        "n": n,
        "a": round(sum(a.ok for a, _ in pairs) / n, 4),
        "b": round(sum(b.ok for _, b in pairs) / n, 4),
        "diff": round(boot["diff"], 4),
        "ci95": [round(boot["ci95"][0], 4), round(boot["ci95"][1], 4)],
    }


def compare_items(
    a: Sequence[ItemResult], b: Sequence[ItemResult], *, n_boot: int = 10_000, seed: int = 0
) -> dict[str, Any]:
    """Paired comparison of two item lists; raises ``ConfigError`` when no ids overlap."""
    by_id = {it.id: it for it in a}
    pairs = [(by_id[it.id], it) for it in b if it.id in by_id]
    if not pairs:
        raise ConfigError("the two runs share no item ids: compare runs of the same suite and slice")
    cats: dict[str, list[tuple[ItemResult, ItemResult]]] = {}
    for pa, pb in pairs:
        cats.setdefault(pa.category, []).append((pa, pb))
    return {
        "overall": _cell(pairs, n_boot, seed),
        "per_category": {c: _cell(p, n_boot, seed) for c, p in sorted(cats.items())},
        "only_in_a": sorted(set(by_id) - {it.id for it in b}),
        "only_in_b": sorted({it.id for it in b} - set(by_id)),
        "flipped_to_pass": [pb.id for pa, pb in pairs if pb.ok and not pa.ok],
        "flipped_to_fail": [pb.id for pa, pb in pairs if pa.ok and not pb.ok],
    }


def compare_files(path_a: str, path_b: str, **kw: Any) -> dict[str, Any]:
    """:func:`compare_items` over two ``results.jsonl`` files written by ``--report``."""
    return compare_items(read_jsonl(path_a), read_jsonl(path_b), **kw)


def format_comparison(c: dict[str, Any], label_a: str = "A", label_b: str = "B") -> str:
    """A text table: one row per category and the overall row."""
    head = f"{'category':<22}{'n':>5}{label_a:>9}{label_b:>9}{'diff':>9}  95% CI"
    lines = [head, "-" * len(head)]
    rows = [*c["per_category"].items(), ("overall", c["overall"])]
    for name, cell in rows:
        lo, hi = cell["ci95"]
        lines.append(
            f"{name:<22}{cell['n']:>5}{cell['a']:>9.1%}{cell['b']:>9.1%}{cell['diff']:>+9.1%}  [{lo:+.1%}, {hi:+.1%}]"
        )
    lines.append(f"flipped to pass: {len(c['flipped_to_pass'])}, to fail: {len(c['flipped_to_fail'])}")
    return "\n".join(lines)
