"""A self-contained HTML report of a suite run: headline metrics, inline SVG charts, every conversation.

No script, no external CSS or fonts; a Content-Security-Policy forbids loading anything. Every piece
of text (scenario ids, user messages, model answers, tool arguments) is HTML-escaped, so what a model
or a scenario author wrote can never run in the reader's browser::

    from keel.evals import SuiteResult, write_report
    write_report(SuiteResult.load("reports/support/results.json"), "reports/support/report.html")
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from keel.evals.results import ScenarioResult, SuiteResult

__all__ = ["bar_chart", "histogram", "render_report", "write_report"]

_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:6px;padding:8px 12px}
.card b{display:block;font-size:20px}.ok{color:#17752e}.bad{color:#b3261e}pre{white-space:pre-wrap;margin:2px 0}
details{margin:2px 0}.meta{color:#555}"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def _sec(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f} s"


def bar_chart(items: Sequence[tuple[str, float | None]], *, title: str, width: int = 640) -> str:
    """Horizontal bars for ratios in [0, 1] (``None`` is drawn as n/a), as inline SVG."""
    row, label_w = 24, 150
    h = row * len(items) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" role="img" aria-label="{_e(title)}">'
    ]
    span = width - label_w - 70
    for i, (label, v) in enumerate(items):
        y = 10 + i * row
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">{_e(label)}</text>'
        )
        w = 0 if v is None else max(0.0, min(1.0, v)) * span
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="16" fill="#3b73b9"/>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="12">{_e(_pct(v))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(values: Sequence[float], *, title: str, bins: int = 12, width: int = 640) -> str:
    """A histogram of ``values`` (seconds) as inline SVG, with the bin edges on the x axis."""
    if not values:
        return "<p>no data</p>"
    lo, hi = min(values), max(values)
    step = (hi - lo) / bins or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / step))] += 1
    top, h, pad = max(counts), 180, 30
    bw = (width - 2 * pad) / bins
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 40}" role="img" aria-label="{_e(title)}">'
    ]
    for i, c in enumerate(counts):
        bh = (h - 20) * c / top
        x = pad + i * bw
        parts.append(
            f'<rect x="{x:.1f}" y="{h - bh:.1f}" width="{bw - 2:.1f}" height="{bh:.1f}" fill="#6a9e3f"/>'
        )
        if c:
            parts.append(
                f'<text x="{x + bw / 2:.1f}" y="{h - bh - 4:.1f}" text-anchor="middle" font-size="11">{c}</text>'
            )
        if i % 2 == 0:
            parts.append(f'<text x="{x:.1f}" y="{h + 16}" font-size="11">{lo + i * step:.1f}</text>')
    parts.append(
        f'<text x="{width - pad}" y="{h + 32}" text-anchor="end" font-size="11">seconds per turn</text></svg>'
    )
    return "".join(parts)


def _cards(s: dict[str, Any]) -> str:
    lat, esc, tc = s["latency"], s["escalation"], s["tool_calls"]
    cards = [
        ("resolution rate", f"{_pct(s['resolution_rate'])} ({s['resolved']}/{s['resolvable']})"),
        ("policy violations", str(s["policy_violations"])),
        ("tool calls P / R", f"{_pct(tc['precision'])} / {_pct(tc['recall'])}"),
        ("escalation P / R", f"{_pct(esc['precision'])} / {_pct(esc['recall'])}"),
        ("groundedness", _pct(s["groundedness"]["rate"])),
        ("turn p50 / p95", f"{_sec(lat['p50_s'])} / {_sec(lat['p95_s'])}"),
        ("TTFT p50", _sec(lat["ttft_p50_s"])),
        ("tokens / conversation", f"{s['usage']['tokens_per_conversation'] or 0:.0f}"),
    ]
    return (
        '<div class="cards">'
        + "".join(f'<div class="card">{_e(k)}<b>{_e(v)}</b></div>' for k, v in cards)
        + "</div>"
    )


def _intent_table(per_intent: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{_e(k)}</td><td>{v['scenarios']}</td><td>{_e(_pct(v['resolution_rate']))}</td>"
        f"<td>{_e(_pct(v['pass_rate']))}</td><td>{v['policy_violations']}</td><td>{_e(_sec(v['latency_p50_s']))}</td></tr>"
        for k, v in per_intent.items()
    )
    head = "<tr><th>intent</th><th>scenarios</th><th>resolution</th><th>pass</th><th>violations</th><th>p50</th></tr>"
    return f"<table>{head}{rows}</table>"


def _conversation(r: ScenarioResult) -> str:
    out = []
    for t in r.turns:
        calls = "; ".join(
            f"{c.name}({json.dumps(c.arguments, ensure_ascii=False)})"
            + (" ERROR" if c.is_error else "")
            + (" awaiting approval" if c.pending_approval else "")
            for c in t.tool_calls
        )
        who = "user (simulated)" if t.simulated else "user"
        out.append(f"<pre><b>{who}:</b> {_e(t.user)}</pre><pre><b>agent:</b> {_e(t.output)}</pre>")
        out.append(f'<pre class="meta">tools: {_e(calls or "none")} · {t.latency_s:.2f} s'
                   + (f" · error: {_e(t.error)}" if t.error else "") + "</pre>")  # fmt: skip
    return "".join(out)


def _scenario_rows(results: Sequence[ScenarioResult]) -> str:
    rows = []
    for r in sorted(results, key=lambda r: (r.passed, r.intent, r.id)):
        failed = "<br>".join(f"{_e(c.name)}: {_e(c.detail)}" for c in r.failed_checks)
        bad = "<br>".join(f'<span class="bad">{_e(v)}</span>' for v in r.violations)
        status = '<span class="ok">pass</span>' if r.passed else '<span class="bad">fail</span>'
        rows.append(
            f"<tr><td>{_e(r.id)}</td><td>{_e(r.intent)}</td><td>{status}</td><td>{failed}{bad}{_e(r.error or '')}</td>"
            f"<td><details><summary>{len(r.turns)} turn(s)</summary>{_conversation(r)}</details></td></tr>"
        )
    head = "<tr><th>scenario</th><th>intent</th><th></th><th>what failed</th><th>conversation</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def render_report(suite: SuiteResult, *, title: str = "Keel evaluation") -> str:
    """The report as one HTML string (see the module docstring for what is and isn't in it)."""
    s, m = suite.summary, suite.meta
    intents = [
        (k, v["resolution_rate"] if v["resolvable"] else v["pass_rate"]) for k, v in s["per_intent"].items()
    ]
    latencies = [t.latency_s for r in suite.scenarios for t in r.turns if t.error is None]
    meta = " · ".join(f"{_e(k)}: {_e(v if not isinstance(v, dict) else json.dumps(v))}" for k, v in m.items())
    failures = "".join(f"<tr><td>{_e(k)}</td><td>{v}</td></tr>" for k, v in s["failures"].items())
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{_e(title)}</h1><p class="meta">{meta}</p>{_cards(s)}'
        '<h2>Resolution by intent</h2><p class="meta">resolution rate (pass rate for intents with no resolvable scenario)</p>'
        f"{bar_chart(intents, title='resolution by intent')}"
        f"<h2>Latency per turn</h2>{histogram(latencies, title='latency per turn')}"
        f"<h2>Per intent</h2>{_intent_table(s['per_intent'])}"
        f"<h2>What failed</h2><table><tr><th>check</th><th>failures</th></tr>{failures}</table>"
        f"<h2>Scenarios</h2>{_scenario_rows(suite.scenarios)}</body></html>"
    )


def write_report(suite: SuiteResult, path: str | Path, *, title: str = "Keel evaluation") -> Path:
    """Write ``render_report`` to ``path`` (parent folders are created)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_report(suite, title=title), encoding="utf-8")
    return p
