"""A self-contained HTML report of a benchmark run, with the raw results and a trace per item.

``write_report(dir, summary, items)`` writes:

- ``report.html``: summary, a table and an inline-SVG bar chart per category, a latency histogram,
  the suite's metrics, and every failure linked to its trace (no scripts, no external assets);
- ``results.jsonl``: one line per item (``keel bench compare`` reads these);
- ``summary.json``: the object ``--json`` prints;
- ``traces/<id>.json``: what explains each item (the run's events, or prompt and raw answer).

>>> from keel.bench.results import ItemResult, summarize
>>> rows = [ItemResult("a/1", "x", True, latency_s=1.0), ItemResult("b", "x", False, why="<no>")]
>>> "&lt;no&gt;" in render_html(summarize("demo", "m", rows), rows)
True
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from keel.bench.results import ItemResult, write_jsonl

__all__ = ["render_html", "trace_name", "write_report"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1d2329;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde3ea}
table{border-collapse:collapse;margin:.5rem 0;width:100%}th,td{border:1px solid #dde3ea;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f3f6f9}td.num{text-align:right;font-variant-numeric:tabular-nums}
.kpi{display:inline-block;margin:.3rem 1.2rem .3rem 0}.kpi b{display:block;font-size:1.4rem}
.muted{color:#5f6b76}.why{font-family:ui-monospace,monospace;font-size:12px;word-break:break-word}
"""


def trace_name(item_id: str) -> str:
    """A file name for an item's trace (ids may hold ``/`` or spaces).

    >>> trace_name("retrieval/q7")
    'retrieval_q7.json'
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "_", item_id).strip("._") + ".json"


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _bar_chart(per_category: dict[str, dict[str, Any]]) -> str:
    rows = list(per_category.items())
    label_w, bar_w, row_h = 190, 520, 24
    height = row_h * len(rows) + 10
    parts = [f'<svg role="img" aria-label="score per category" width="{label_w + bar_w + 80}" '
             f'height="{height}" xmlns="http://www.w3.org/2000/svg">']  # fmt: skip
    for i, (name, cell) in enumerate(rows):
        y = 5 + i * row_h
        score = float(cell.get("score") or 0.0)
        w = max(1.0, bar_w * score)
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" font-size="12">{_e(name)}</text>'
        )
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="{row_h - 8}" fill="#eef2f6"/>')
        parts.append(f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" '
                     f'fill="#3b7dd8"><title>{_e(name)}: {_pct(score)} of {cell.get("n")}</title></rect>')  # fmt: skip
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 16}" font-size="12">{_pct(score)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _histogram(latencies: Sequence[float], bins: int = 12) -> str:
    if not latencies:
        return '<p class="muted">No latencies recorded.</p>'
    lo, hi = min(latencies), max(latencies)
    span = (hi - lo) or 1.0
    counts = [0] * bins
    for v in latencies:
        counts[min(bins - 1, int((v - lo) / span * bins))] += 1
    w, h, pad = 640, 180, 30
    bw = (w - 2 * pad) / bins
    top = max(counts) or 1
    parts = [f'<svg role="img" aria-label="latency histogram" width="{w}" height="{h + 20}" '
             'xmlns="http://www.w3.org/2000/svg">']  # fmt: skip
    for i, c in enumerate(counts):
        bh = (h - 2 * pad) * c / top
        x, y = pad + i * bw, h - pad - bh
        a, b = lo + i * span / bins, lo + (i + 1) * span / bins
        parts.append(f'<rect class="hist" x="{x:.1f}" y="{y:.1f}" width="{bw - 2:.1f}" height="{bh:.1f}" '
                     f'fill="#6aa84f"><title>{a:.2f}–{b:.2f} s: {c}</title></rect>')  # fmt: skip
    parts.append(f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#888"/>')
    parts.append(f'<text x="{pad}" y="{h - pad + 16}" font-size="11">{lo:.2f} s</text>')
    parts.append(f'<text x="{w - pad}" y="{h - pad + 16}" font-size="11" text-anchor="end">{hi:.2f} s</text>')
    parts.append(f'<text x="{pad}" y="{pad - 10}" font-size="11">max {top} items per bin</text></svg>')
    return "".join(parts)


def _flatten(prefix: str, value: Any, out: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out.append((prefix, value))


def _metrics_table(metrics: dict[str, Any]) -> str:
    rows: list[tuple[str, Any]] = []
    _flatten("", metrics, rows)
    body = "".join(f"<tr><td>{_e(k)}</td><td class='why'>{_e(json.dumps(v, default=str))}</td></tr>"
                   for k, v in rows)  # fmt: skip
    return f"<table><tr><th>metric</th><th>value</th></tr>{body}</table>"


def render_html(summary: dict[str, Any], items: Sequence[ItemResult], *, title: str = "") -> str:
    """The report page as one HTML string (inline CSS and SVG, no scripts)."""
    pc = summary.get("per_category", {})
    cat_rows = "".join(
        f"<tr><td>{_e(c)}</td><td class='num'>{v['n']}</td><td class='num'>{round((v['score'] or 0) * v['n'])}</td>"
        f"<td class='num'>{_pct(v['score'])}</td></tr>"
        for c, v in pc.items()
    )
    failed = [it for it in items if not it.ok]
    fail_rows = "".join(
        f"<tr><td><a href='traces/{_e(trace_name(it.id))}'>{_e(it.id)}</a></td><td>{_e(it.category)}</td>"
        f"<td class='why'>{_e(it.why)}</td></tr>"
        for it in failed
    )
    tokens = summary.get("tokens", {})
    kpis = [("items", summary.get("n")), ("score", _pct(summary.get("score"))),
            ("latency p50", f"{summary.get('latency_p50_s')} s"), ("latency p95", f"{summary.get('latency_p95_s')} s"),
            ("tokens in / out", f"{tokens.get('input', 0)} / {tokens.get('output', 0)}")]  # fmt: skip
    kpi_html = "".join(f"<span class='kpi'><b>{_e(v)}</b>{_e(k)}</span>" for k, v in kpis)
    heading = title or f"keel bench {summary.get('suite')}"
    metrics = summary.get("metrics")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(heading)}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_CSS}</style></head>
<body><h1>{_e(heading)}</h1>
<p class="muted">suite <b>{_e(summary.get("suite"))}</b> · model <b>{_e(summary.get("model"))}</b></p>
<div id="kpis">{kpi_html}</div>
<h2>Per category</h2>
<table id="categories"><tr><th>category</th><th>n</th><th>passed</th><th>score</th></tr>{cat_rows}</table>
{_bar_chart(pc)}
<h2>Latency per item</h2>
{_histogram([it.latency_s for it in items if it.latency_s > 0])}
{"<h2>Metrics</h2>" + _metrics_table(metrics) if metrics else ""}
<h2>Failures ({len(failed)})</h2>
<p class="muted">Each id links to its trace: the run's events, or the prompt and the raw answer.</p>
<table id="failures"><tr><th>id</th><th>category</th><th>why</th></tr>{fail_rows}</table>
<p class="muted">Raw per-item results: <a href="results.jsonl">results.jsonl</a> ·
summary: <a href="summary.json">summary.json</a></p>
</body></html>
"""


def write_report(
    directory: str | Path, summary: dict[str, Any], items: Sequence[ItemResult], *, title: str = ""
) -> Path:
    """Write the report files (see the module docstring) and return the path of ``report.html``."""
    out = Path(directory)
    traces = out / "traces"
    traces.mkdir(parents=True, exist_ok=True)
    for it in items:
        body = {"id": it.id, "category": it.category, "ok": it.ok, "why": it.why, "output": it.output,
                "expected": it.expected, "detail": it.detail, "trace": it.trace}  # fmt: skip
        (traces / trace_name(it.id)).write_text(
            json.dumps(body, default=str, ensure_ascii=False, indent=1), encoding="utf-8"
        )
    write_jsonl(out / "results.jsonl", items)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    page = out / "report.html"
    page.write_text(render_html(summary, items, title=title), encoding="utf-8")
    return page
