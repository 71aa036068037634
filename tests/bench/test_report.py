"""The HTML report: files, escaping, trace links, and (integration) rendering in a real browser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keel.bench.report import render_html, trace_name, write_report
from keel.bench.results import ItemResult, read_jsonl, summarize


def _items() -> list[ItemResult]:
    return [
        ItemResult(
            "simple_python_0",
            "simple_python",
            True,
            latency_s=1.2,
            trace={"events": [{"type": "run_started"}]},
        ),
        ItemResult(
            "simple_python_1",
            "simple_python",
            False,
            why="value_error: <script>alert(1)</script>",
            latency_s=2.5,
            trace={"events": [{"type": "model_responded"}]},
        ),
        ItemResult(
            "routing/q7", "routing", False, why="routed to track_order", latency_s=0.1, trace={"scores": {}}
        ),
        ItemResult("irrelevance_3", "irrelevance", True, latency_s=4.0),
    ]


def _report(tmp_path: Path) -> Path:
    items = _items()
    return write_report(
        tmp_path / "rep", summarize("bfcl", "local:small", items, extra={"config": {"mode": "keel"}}), items
    )


def test_report_writes_page_results_summary_and_one_trace_per_item(tmp_path: Path) -> None:
    page = _report(tmp_path)
    base = page.parent
    assert page.name == "report.html"
    assert [r.id for r in read_jsonl(base / "results.jsonl")] == [i.id for i in _items()]
    assert json.loads((base / "summary.json").read_text())["n"] == 4
    traces = sorted(p.name for p in (base / "traces").iterdir())
    assert traces == sorted(trace_name(i.id) for i in _items())
    assert json.loads((base / "traces" / "routing_q7.json").read_text())["why"] == "routed to track_order"


def test_report_escapes_text_and_links_failures_to_traces(tmp_path: Path) -> None:
    html = _report(tmp_path).read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "href='traces/simple_python_1.json'" in html and "href='traces/routing_q7.json'" in html
    assert "href='traces/simple_python_0.json'" not in html  # passed items are not listed as failures
    assert html.count('class="bar"') == 3 and 'aria-label="latency histogram"' in html


def test_empty_run_renders() -> None:
    html = render_html(summarize("bfcl", "m", []), [])
    assert "No latencies recorded" in html and "Failures (0)" in html


@pytest.mark.integration
def test_report_opens_in_chromium_and_failure_links_open_traces(tmp_path: Path, browser: Any) -> None:
    page_path = _report(tmp_path)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_path.as_uri())
    assert page.title() == "keel bench bfcl"
    assert page.locator("#categories tr").count() == 4  # header + 3 categories
    assert page.locator("svg rect.bar").count() == 3 and page.locator("svg rect.hist").count() >= 1
    bar = page.locator("svg rect.bar").first.bounding_box()
    assert bar is not None and bar["width"] > 0
    assert page.locator("#failures a").count() == 2
    page.locator("#failures a", has_text="routing/q7").click()
    page.wait_for_load_state()
    assert page.url.endswith("/traces/routing_q7.json")
    assert "routed to track_order" in page.locator("body").inner_text()
    assert errors == []
    page.close()
