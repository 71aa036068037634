"""Loaders: files (text, Markdown, HTML, PDF), directories and URLs into :class:`Document` values.

A bad input never stops an ingest: missing, binary, corrupt, empty, unsupported or oversized
inputs are recorded in an :class:`IngestReport` and skipped. Sizes are checked *before* reading
(``stat`` for files, ``Content-Length`` and a capped stream for URLs), so a huge file cannot
exhaust memory.

>>> report = IngestReport()
>>> docs = load_paths(["/no/such/file.md"], report=report)
>>> docs, report.skipped[0].reason
([], 'not found')
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from keel.rag._html import html_to_text
from keel.rag._types import Document, DocumentFormat
from keel.rag.errors import DocumentTooLarge, UnreadableDocument

__all__ = [
    "DEFAULT_MAX_BYTES",
    "IngestReport",
    "Skipped",
    "document_from_bytes",
    "load_file",
    "load_paths",
    "load_urls",
]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PDF_PAGES = 2_000
SUFFIXES: dict[str, DocumentFormat] = {
    ".txt": "text",
    ".text": "text",
    ".rst": "text",
    ".log": "text",
    ".csv": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdx": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
}
SkipKind = Literal["too_large", "unreadable", "unsupported", "empty", "not_found", "http"]


@dataclass(slots=True)
class Skipped:
    """One input that was not ingested, and why."""

    source: str
    kind: SkipKind
    reason: str


@dataclass(slots=True)
class IngestReport:
    """What an ingest did. ``ok`` is true when nothing was skipped.

    ``embedded`` counts texts actually sent to the embedder (cache hits and unchanged documents are
    not embedded again), so ``chunks - embedded`` is the work the caches saved.
    """

    documents: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.skipped

    def skip(self, source: str, kind: SkipKind, reason: str) -> None:
        self.skipped.append(Skipped(source, kind, reason))

    def summary(self) -> str:
        """One line for logs: ``12 documents (3 added, ...); 2 skipped: a.pdf (unreadable: ...)``."""
        head = (
            f"{self.documents} documents ({self.added} added, {self.updated} updated, {self.unchanged} "
            f"unchanged), {self.chunks} chunks, {self.embedded} embedded in {self.seconds:.1f}s"
        )
        if not self.skipped:
            return head
        return (
            head
            + f"; {len(self.skipped)} skipped: "
            + "; ".join(f"{s.source} ({s.kind}: {s.reason})" for s in self.skipped[:10])
        )


def _decode(data: bytes, source: str) -> str:
    if b"\x00" in data[:8192]:
        raise UnreadableDocument(source, "binary file (contains NUL bytes)")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableDocument(source, "not valid UTF-8 or cp1252 text")


def _markdown_title(text: str) -> tuple[str, str]:
    """Strip YAML front matter; the title is its ``title:`` or the first ``# `` heading."""
    title = ""
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            front = text[4:end]
            m = re.search(r"^title:\s*['\"]?(.+?)['\"]?\s*$", front, re.M)
            title = m.group(1) if m else ""
            text = text[end + 4 :].lstrip("\n")
    if not title:
        m = re.search(r"^#\s+(.+)$", text, re.M)
        title = m.group(1).strip() if m else ""
    return title, text


def _pdf_text(data: bytes, source: str, max_pages: int) -> tuple[str, str]:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError:
        raise UnreadableDocument(source, "PDF support needs pypdf: pip install 'keel[rag]'") from None
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnreadableDocument(source, "encrypted PDF")
        pages = len(reader.pages)
        if pages > max_pages:
            raise DocumentTooLarge(source, size=pages, limit=max_pages, unit="pages")
        texts = [(page.extract_text() or "").strip() for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except (UnreadableDocument, DocumentTooLarge):
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as e:
        raise UnreadableDocument(source, f"corrupt PDF ({type(e).__name__})") from None
    return str(meta_title), "\n\n".join(t for t in texts if t)


def document_from_bytes(
    data: bytes, source: str, fmt: DocumentFormat, *, max_pdf_pages: int = DEFAULT_MAX_PDF_PAGES
) -> Document:
    """Parse raw bytes of a known format into a ``Document``; raises ``UnreadableDocument``."""
    default_title = Path(source.split("?")[0].rstrip("/")).stem.replace("-", " ").replace("_", " ")
    if fmt == "pdf":
        title, text = _pdf_text(data, source, max_pdf_pages)
        if not text.strip():
            raise UnreadableDocument(source, "no extractable text (a scanned PDF needs OCR first)")
    elif fmt == "html":
        title, text = html_to_text(_decode(data, source))
    elif fmt == "markdown":
        title, text = _markdown_title(_decode(data, source))
    else:
        title, text = "", _decode(data, source)
    if not text.strip():
        raise UnreadableDocument(source, "empty document")
    return Document(source=source, text=text, title=title or default_title, format=fmt)


def load_file(
    path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, max_pdf_pages: int = DEFAULT_MAX_PDF_PAGES
) -> Document:
    """Load one file; raises ``DocumentTooLarge`` or ``UnreadableDocument``.

    The size is checked with ``stat`` before anything is read.
    """
    p = Path(path)
    source = str(path)
    fmt = SUFFIXES.get(p.suffix.lower())
    if fmt is None:
        raise UnreadableDocument(source, f"unsupported file type {p.suffix or '(none)'!r}")
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise DocumentTooLarge(source, size=size, limit=max_bytes)
        data = p.read_bytes()
    except FileNotFoundError:
        raise UnreadableDocument(source, "not found") from None
    except (IsADirectoryError, PermissionError, OSError) as e:
        raise UnreadableDocument(source, f"cannot read ({type(e).__name__})") from None
    return document_from_bytes(data, source, fmt, max_pdf_pages=max_pdf_pages)


def _walk(root: Path) -> Iterable[Path]:
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).parts
        if any(part.startswith(".") for part in rel):
            continue  # hidden files and folders (.git, .venv ...)
        if p.is_file() and p.suffix.lower() in SUFFIXES:
            yield p


def _record(report: IngestReport | None, source: str, err: Exception) -> None:
    if report is None:
        raise err
    if isinstance(err, DocumentTooLarge):
        report.skip(source, "too_large", str(err).split(": ", 1)[-1])
    elif isinstance(err, UnreadableDocument):
        kind: SkipKind = (
            "not_found"
            if err.reason == "not found"
            else "unsupported"
            if err.reason.startswith("unsupported")
            else "empty"
            if err.reason.startswith(("empty", "no extractable"))
            else "unreadable"
        )
        report.skip(source, kind, err.reason)
    else:
        raise err


def load_paths(
    paths: Sequence[str | Path] | str | Path,
    *,
    report: IngestReport | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pdf_pages: int = DEFAULT_MAX_PDF_PAGES,
) -> list[Document]:
    """Load files and directories (recursively: supported suffixes, hidden entries skipped).

    With a ``report``, failures are recorded there and skipped; without one they raise.
    """
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    docs: list[Document] = []
    for item in items:
        p = Path(item)
        files = list(_walk(p)) if p.is_dir() else [p]
        for f in files:
            try:
                docs.append(load_file(f, max_bytes=max_bytes, max_pdf_pages=max_pdf_pages))
            except (DocumentTooLarge, UnreadableDocument) as e:
                _record(report, str(f), e)
    return docs


def _format_of(content_type: str, url: str) -> DocumentFormat | None:
    ct = content_type.split(";")[0].strip().lower()
    by_type: dict[str, DocumentFormat] = {
        "text/html": "html",
        "application/xhtml+xml": "html",
        "application/pdf": "pdf",
        "text/markdown": "markdown",
        "text/x-markdown": "markdown",
        "text/plain": "text",
    }
    fmt = by_type.get(ct)
    suffix = SUFFIXES.get(Path(url.split("?")[0]).suffix.lower())
    if fmt == "text" and suffix == "markdown":
        return "markdown"
    return fmt or (suffix if ct in ("", "application/octet-stream") else None)


async def _fetch(client: httpx.AsyncClient, url: str, max_bytes: int, max_pdf_pages: int) -> Document:
    try:
        async with client.stream("GET", url) as resp:
            if resp.status_code >= 400:
                raise UnreadableDocument(url, f"HTTP {resp.status_code}")
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise DocumentTooLarge(url, size=int(declared), limit=max_bytes)
            fmt = _format_of(resp.headers.get("content-type", ""), url)
            if fmt is None:
                raise UnreadableDocument(
                    url, f"unsupported content type {resp.headers.get('content-type')!r}"
                )
            buf = bytearray()
            async for part in resp.aiter_bytes():
                buf += part
                if len(buf) > max_bytes:  # a server that lies about (or omits) Content-Length
                    raise DocumentTooLarge(url, size=len(buf), limit=max_bytes)
    except httpx.HTTPError as e:
        raise UnreadableDocument(url, f"fetch failed ({type(e).__name__})") from None
    return document_from_bytes(bytes(buf), url, fmt, max_pdf_pages=max_pdf_pages)


async def load_urls(
    urls: Sequence[str],
    *,
    report: IngestReport | None = None,
    client: httpx.AsyncClient | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pdf_pages: int = DEFAULT_MAX_PDF_PAGES,
    timeout_s: float = 30.0,
    concurrency: int = 4,
) -> list[Document]:
    """Fetch ``urls`` with httpx (``concurrency`` at a time), streaming each body under ``max_bytes``.

    With a ``report``, failures (HTTP errors, unsupported types, oversized bodies) are recorded and
    skipped; without one the first failure raises.
    """
    own = client is None
    http = client or httpx.AsyncClient(timeout=timeout_s, follow_redirects=True)
    gate = asyncio.Semaphore(concurrency)

    async def one(url: str) -> Document | Exception:
        async with gate:
            try:
                return await _fetch(http, url, max_bytes, max_pdf_pages)
            except (DocumentTooLarge, UnreadableDocument) as e:
                return e

    try:
        results = await asyncio.gather(*(one(u) for u in urls))
    finally:
        if own:
            await http.aclose()
    docs: list[Document] = []
    for url, res in zip(urls, results, strict=True):
        if isinstance(res, Document):
            docs.append(res)
        else:
            if (
                report is not None
                and isinstance(res, UnreadableDocument)
                and res.reason.startswith(("HTTP", "fetch"))
            ):
                report.skip(url, "http", res.reason)
                continue
            _record(report, url, res)
    return docs
