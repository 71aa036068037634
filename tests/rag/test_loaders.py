"""Loaders: real files of every supported type, directories, URLs from a real local server, bad inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rag_http import reply, serve

from keel.rag import DocumentTooLarge, IngestReport, UnreadableDocument, load_file, load_paths, load_urls
from keel.rag._html import html_to_text


def make_pdf(lines: list[str], title: str = "") -> bytes:
    """A minimal, valid one-page PDF with Helvetica text (correct xref offsets)."""
    ops = (
        "BT /F1 12 Tf 72 720 Td "
        + " ".join(f"({line.replace('(', '[').replace(')', ']')}) Tj 0 -16 Td" for line in lines)
        + " ET"
    )
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(ops)} >>\nstream\n{ops}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Title ({title}) >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{obj}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


HTML = """<html><head><title>Returns | Shop</title><style>p { color: red }</style>
<script>var secret = "do not index";</script></head>
<body><nav>Home</nav><h1>Returns</h1><p>Send items back within <b>30 days</b>.</p>
<h2>Damaged items</h2><ul><li>Take a photo</li><li>Keep the box</li></ul>
<noscript>enable js</noscript><script>track()</script></body></html>"""


def test_html_extraction_keeps_headings_and_drops_scripts() -> None:
    title, text = html_to_text(HTML)
    assert title == "Returns | Shop"
    assert "## Damaged items" in text and "# Returns" in text
    assert "Send items back within 30 days." in text
    assert "- Take a photo" in text
    for dropped in ("secret", "color: red", "enable js", "track()"):
        assert dropped not in text


def test_load_each_file_type(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("Plain notes.\n\nSecond paragraph.")
    (tmp_path / "guide.md").write_text("---\ntitle: The Guide\n---\n# Ignored H1\n\nBody text.")
    (tmp_path / "page.html").write_text(HTML)
    (tmp_path / "manual.pdf").write_bytes(
        make_pdf(["Reset the router by holding", "the button for ten seconds."], title="Router manual")
    )
    txt = load_file(tmp_path / "notes.txt")
    assert (txt.format, txt.title, txt.text) == ("text", "notes", "Plain notes.\n\nSecond paragraph.")
    md = load_file(tmp_path / "guide.md")
    assert (md.format, md.title) == ("markdown", "The Guide") and md.text.startswith("# Ignored H1")
    html = load_file(tmp_path / "page.html")
    assert html.format == "html" and html.title == "Returns | Shop" and "secret" not in html.text
    pdf = load_file(tmp_path / "manual.pdf")
    assert pdf.format == "pdf" and pdf.title == "Router manual"
    assert "holding" in pdf.text and "ten seconds" in pdf.text


def test_bad_files_raise_typed_errors(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("x" * 5000)
    (tmp_path / "bin.txt").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    (tmp_path / "empty.md").write_text("   \n")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    with pytest.raises(DocumentTooLarge) as big:
        load_file(tmp_path / "big.txt", max_bytes=1000)
    assert big.value.size == 5000 and "raise the limit" in str(big.value)
    for name, reason in (
        ("bin.txt", "binary"),
        ("broken.pdf", "PDF"),
        ("empty.md", "empty"),
        ("image.png", "unsupported"),
        ("missing.md", "not found"),
    ):
        with pytest.raises(UnreadableDocument, match=reason):
            load_file(tmp_path / name)


def test_directory_ingest_reports_and_skips_bad_files(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n\nAlpha.")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("Beta.")
    (tmp_path / "sub" / "c.pdf").write_bytes(b"%PDF-garbage")
    (tmp_path / "sub" / "huge.txt").write_text("y" * 3000)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD.txt").write_text("hidden")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8")
    report = IngestReport()
    docs = load_paths([tmp_path, tmp_path / "nope.md"], report=report, max_bytes=2000)
    assert sorted(Path(d.source).name for d in docs) == ["a.md", "b.txt"]
    kinds = {Path(s.source).name: s.kind for s in report.skipped}
    assert kinds == {"c.pdf": "unreadable", "huge.txt": "too_large", "nope.md": "not_found"}
    assert not report.ok and "huge.txt (too_large" in report.summary()


@pytest.mark.integration
async def test_load_urls_from_a_real_server() -> None:
    big = b"z" * 5000

    def chunked_big(h: Any) -> None:  # no Content-Length: the size cap must hold while streaming
        reply(h, 200, big, "text/plain", length=False)
        h.close_connection = True

    routes = {
        "/page.html": lambda h: reply(h, 200, HTML.encode(), "text/html; charset=utf-8"),
        "/readme.md": lambda h: reply(h, 200, b"# Readme\n\nHello.", "text/plain"),
        "/manual.pdf": lambda h: reply(h, 200, make_pdf(["Descale every month."]), "application/pdf"),
        "/big.txt": lambda h: reply(h, 200, big, "text/plain"),
        "/stream.txt": chunked_big,
        "/app.bin": lambda h: reply(h, 200, b"\x00\x01", "application/x-msdownload"),
        "/error": lambda h: reply(h, 500, b"boom"),
    }
    with serve(routes) as (base, log):
        report = IngestReport()
        urls = [
            f"{base}{p}"
            for p in (
                "/page.html",
                "/readme.md",
                "/manual.pdf",
                "/big.txt",
                "/stream.txt",
                "/app.bin",
                "/error",
                "/missing",
            )
        ]
        docs = await load_urls(urls, report=report, max_bytes=2000)
        assert len(log) == len(urls)
    by_path = {d.source.removeprefix(base): d for d in docs}
    assert set(by_path) == {"/page.html", "/readme.md", "/manual.pdf"}
    assert by_path["/readme.md"].format == "markdown" and by_path["/readme.md"].title == "Readme"
    assert "Descale every month." in by_path["/manual.pdf"].text
    assert "secret" not in by_path["/page.html"].text
    skipped = {s.source.removeprefix(base): s.kind for s in report.skipped}
    assert skipped == {
        "/big.txt": "too_large",
        "/stream.txt": "too_large",
        "/app.bin": "unsupported",
        "/error": "http",
        "/missing": "http",
    }
    with pytest.raises(UnreadableDocument, match="HTTP 404"), serve({}) as (base2, _):
        await load_urls([f"{base2}/missing"])
