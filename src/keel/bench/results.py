"""Per-item results of a benchmark run and the summary that ``keel bench --json`` prints.

Every suite turns its items into :class:`ItemResult` rows; :func:`summarize` makes the one public
JSON object (``suite``, ``model``, ``n``, ``score``, ``per_category``, latency percentiles, tokens,
``failures``), the same for every suite. ``score`` is the share of items that passed.

>>> rows = [ItemResult("a", "simple", True, latency_s=1.0), ItemResult("b", "simple", False, why="wrong")]
>>> s = summarize("bfcl", "local", rows)
>>> s["score"], s["per_category"]["simple"], s["failures"]
(0.5, {'n': 2, 'score': 0.5}, [{'id': 'b', 'why': 'wrong'}])
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from keel.errors import ConfigError

__all__ = ["ItemResult", "percentile", "read_jsonl", "summarize", "write_jsonl"]


@dataclass
class ItemResult:
    """One benchmark item: whether it passed, why not, what it cost, and its trace.

    ``trace`` holds what explains the outcome (the run's events, or the prompt and the raw answer);
    the HTML report writes it to ``traces/<id>.json`` and links each failure to it.
    """

    id: str
    category: str
    ok: bool
    why: str = ""
    latency_s: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    output: Any = None
    expected: Any = None
    detail: dict[str, Any] = field(default_factory=dict)
    trace: Any = None

    def to_json(self, *, with_trace: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_trace:
            data.pop("trace")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ItemResult:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (``q`` in 0..100); ``None`` for no values.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    """
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _round(v: float | None, nd: int = 4) -> float | None:
    return None if v is None else round(v, nd)


def summarize(
    suite: str,
    model: str,
    items: Sequence[ItemResult],
    *,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The public summary object of a run (see the module docstring).

    ``extra`` adds suite-specific figures under ``"metrics"`` (retrieval hit@k, policy violations ...).
    """
    cats: dict[str, list[ItemResult]] = {}
    for it in items:
        cats.setdefault(it.category, []).append(it)
    n = len(items)
    latencies = [it.latency_s for it in items if it.latency_s > 0]
    out: dict[str, Any] = {
        "suite": suite,
        "model": model,
        "n": n,
        "score": _round(sum(it.ok for it in items) / n) if n else 0.0,
        "per_category": {
            c: {"n": len(rows), "score": _round(sum(r.ok for r in rows) / len(rows))}
            for c, rows in sorted(cats.items())
        },
        "latency_p50_s": _round(percentile(latencies, 50), 3),
        "latency_p95_s": _round(percentile(latencies, 95), 3),
        "tokens": {
            "input": sum(it.input_tokens for it in items),
            "output": sum(it.output_tokens for it in items),
        },
        "failures": [{"id": it.id, "why": it.why} for it in items if not it.ok],
    }
    if extra:
        out["metrics"] = extra
    return out


def write_jsonl(path: str | Path, items: Iterable[ItemResult]) -> Path:
    """Write one JSON line per item (traces left out: the report stores them as separate files)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it.to_json(), default=str, ensure_ascii=False) + "\n")
    return p


def read_jsonl(path: str | Path) -> list[ItemResult]:
    """Read the items a run wrote with :func:`write_jsonl`.

    Raises ``ConfigError`` when the file is missing or a line is not an item.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"no results file at {p}: run `keel bench SUITE --report DIR` first")
    out: list[ItemResult] = []
    for no, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            out.append(ItemResult.from_json(data))
        except (ValueError, TypeError) as e:
            raise ConfigError(f"{p}:{no} is not a benchmark result line ({e})") from None
    return out
