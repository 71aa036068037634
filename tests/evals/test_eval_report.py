"""The HTML report: self-contained, charts present, everything escaped; results round-trip as JSON."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from eval_fixtures import ToyAdapter, scenario

from keel.evals import SuiteResult, run_suite, write_report
from keel.evals.report import bar_chart, histogram

EVIL = '<script>alert(1)</script><img src=x onerror="alert(2)">'


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


async def _suite() -> SuiteResult:
    suite = [
        scenario("s-" + EVIL, [f"hello {EVIL}"], intent=EVIL, must_contain=[EVIL]),
        scenario("refund", ["refund A-1"], intent="orders", must_contain=["$40.00"]),
        scenario("where", ["where is A-1"], intent="orders"),
    ]
    return await run_suite(suite, ToyAdapter(), meta={"suite": EVIL})


async def test_report_escapes_everything_and_loads_nothing(tmp_path: Path) -> None:
    page = write_report(await _suite(), tmp_path / "r" / "report.html").read_text()
    parser = _Tags()
    parser.feed(page)
    tags = {t for t, _ in parser.tags}
    assert "script" not in tags and "img" not in tags and "link" not in tags
    assert not any(k.startswith("on") for _, attrs in parser.tags for k in attrs)
    assert not any(v and re.match(r"(https?:)?//", v) for _, attrs in parser.tags for k, v in attrs.items()
                   if k in ("src", "href"))  # fmt: skip
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "default-src 'none'" in page


async def test_report_has_charts_and_every_scenario(tmp_path: Path) -> None:
    suite = await _suite()
    page = write_report(suite, tmp_path / "report.html").read_text()
    assert page.count("<svg") == 2  # resolution by intent, latency histogram
    assert page.count("<details>") == 3
    assert ">orders<" in page and "100.0%" in page  # both orders scenarios resolved


async def test_results_round_trip(tmp_path: Path) -> None:
    suite = await _suite()
    loaded = SuiteResult.load(suite.save(tmp_path / "out" / "results.json").parent)
    assert loaded.summary == suite.summary
    assert [s.passed for s in loaded.scenarios] == [s.passed for s in suite.scenarios]
    assert loaded.scenarios[1].turns[0].tool_calls[0].name == "refund"


def test_bar_chart_scales_and_marks_missing() -> None:
    svg = bar_chart([("a", 1.0), ("b", 0.5), ("c", None)], title="t", width=370)
    widths = [float(w) for w in re.findall(r'<rect[^>]* width="([\d.]+)"', svg)]
    assert widths == [150.0, 75.0, 0.0] and "n/a" in svg


def test_histogram_counts_every_value() -> None:
    svg = histogram([1.0, 1.1, 1.2, 5.0, 9.0], title="t", bins=4)
    counts = [int(c) for c in re.findall(r'font-size="11">(\d+)</text>', svg)]
    assert (
        counts == [3, 1, 1] and "seconds per turn" in svg
    )  # bins [1,3) [3,5) [5,7) [7,9]; empty bins unlabeled
    assert histogram([], title="t") == "<p>no data</p>"
