"""XSS-safe rendering of model output: an allowlist HTML sanitiser and a small Markdown renderer.

Both build their output only from escaped text and from tags they write themselves, so markup
the model (or an attacker who steered it) wrote can never run in a browser. Allowed: ``p``,
``br``, ``em``, ``strong``, ``b``, ``i``, ``code``, ``pre``, ``ul``, ``ol``, ``li``,
``blockquote`` and ``a`` with an ``http``/``https`` ``href`` only (``rel="nofollow noopener
noreferrer"`` added). No other tag and no other attribute survives: no ``on*`` handlers, no
``style``, no ``javascript:``, ``data:`` or ``vbscript:`` links, no images (an image URL can
carry data out of the page without a click).

>>> sanitize_html('<p onclick="x()">Hi <script>alert(1)</script><a href="javascript:alert(1)">x</a></p>')
'<p>Hi &lt;script&gt;alert(1)&lt;/script&gt;<a>x</a></p>'
>>> render_markdown_safe("**Refund** for [order 42](https://shop.example/o/42)")
'<p><strong>Refund</strong> for <a href="https://shop.example/o/42" rel="nofollow noopener noreferrer">order 42</a></p>'
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

__all__ = ["ALLOWED_TAGS", "render_markdown_safe", "safe_url", "sanitize_html"]

ALLOWED_TAGS = frozenset(
    {"p", "br", "em", "strong", "b", "i", "code", "pre", "ul", "ol", "li", "blockquote", "a"}
)
_VOID = frozenset({"br"})
_REL = "nofollow noopener noreferrer"
# Browsers drop ASCII tab/newline and leading control characters from URLs ("java\tscript:").
_URL_STRIP = re.compile(r"[\x00-\x20\x7f]")


def safe_url(url: str) -> str | None:
    """Return ``url`` cleaned if it is an absolute http(s) URL with a host, else ``None``.

    ``url`` is the value a browser would see, with HTML entities already decoded.

    >>> safe_url(" https://example.com/a?b=1 "), safe_url("jav\\tascript:alert(1)"), safe_url("/relative")
    ('https://example.com/a?b=1', None, None)
    """
    cleaned = _URL_STRIP.sub("", url)
    try:
        parts = urlsplit(cleaned)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or "\\" in cleaned:
        return None
    return cleaned


class _Sanitiser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []

    def _raw(self) -> None:
        self.out.append(html.escape(self.get_starttag_text() or ""))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self._raw()
            return
        if tag == "a":
            href = next((safe_url(v) for k, v in attrs if k == "href" and v is not None), None)
            self.out.append(f'<a href="{html.escape(href)}" rel="{_REL}">' if href else "<a>")
        else:
            self.out.append(f"<{tag}>")
        if tag not in _VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            self.out.append(f"<{tag}>")
        else:
            self._raw()

    def handle_endtag(self, tag: str) -> None:
        if tag not in ALLOWED_TAGS or tag not in self.open:
            if tag not in _VOID:
                self.out.append(html.escape(f"</{tag}>"))
            return
        while self.open:
            top = self.open.pop()
            self.out.append(f"</{top}>")
            if top == tag:
                break

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(data, quote=False))

    def handle_comment(self, data: str) -> None:
        self.out.append(html.escape(f"<!--{data}-->"))

    def handle_decl(self, decl: str) -> None:
        self.out.append(html.escape(f"<!{decl}>"))

    def handle_pi(self, data: str) -> None:
        self.out.append(html.escape(f"<?{data}>"))

    def unknown_decl(self, data: str) -> None:
        self.out.append(html.escape(f"<![{data}]>"))

    def finish(self) -> str:
        self.close()
        # An unfinished tag at the very end ("<img src=x onerror=...") is left in rawdata.
        if self.rawdata:
            self.out.append(html.escape(self.rawdata))
            self.rawdata = ""
        while self.open:
            self.out.append(f"</{self.open.pop()}>")
        return "".join(self.out)


def sanitize_html(text: str) -> str:
    """Escape everything in ``text`` except the allowlisted tags of :data:`ALLOWED_TAGS`.

    Allowed tags are rewritten from scratch (attributes dropped, except a safe ``href`` on
    ``a``) and left-open tags are closed, so the result is well-nested.

    >>> sanitize_html('<img src=x onerror=alert(1)><em>ok</em>')
    '&lt;img src=x onerror=alert(1)&gt;<em>ok</em>'
    """
    parser = _Sanitiser()
    parser.feed(text)
    return parser.finish()


# ------------------------------------------------------------------------------------------------
# Markdown (a small, safe subset)
# ------------------------------------------------------------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~)")
_UL = re.compile(r"^\s*[-*+]\s+(.*)$")
_OL = re.compile(r"^\s*\d{1,9}[.)]\s+(.*)$")
_HEADING = re.compile(r"^\s*#{1,6}\s+(.*?)\s*#*\s*$")
_QUOTE = re.compile(r"^\s*&gt;\s?(.*)$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_URL = r"((?:[^()\s]|\([^()\s]*\))*)"  # one level of parentheses, as in Wikipedia URLs
_IMAGE = re.compile(r"!\[([^\]]*)\]\(" + _URL + r"(?:\s+&quot;[^&]*&quot;)?\)")
_LINK = re.compile(r"\[([^\]]+)\]\(" + _URL + r"(?:\s+&quot;[^&]*&quot;)?\)")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EM = re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])|(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])")


def _inline(escaped: str) -> str:
    """Inline Markdown over text that is already HTML-escaped."""
    codes: list[str] = []

    def stash(m: re.Match[str]) -> str:
        codes.append(f"<code>{m.group(2).strip()}</code>")
        return f"\x00{len(codes) - 1}\x00"

    def link(m: re.Match[str]) -> str:
        url = safe_url(html.unescape(m.group(2)))
        if url is None:
            return m.group(1)  # unsafe scheme or relative: keep the text, drop the link
        return f'<a href="{html.escape(url)}" rel="{_REL}">{m.group(1)}</a>'

    text = _CODE_SPAN.sub(stash, escaped)
    text = _IMAGE.sub(lambda m: m.group(1), text)  # images would fetch a URL without a click
    text = _LINK.sub(link, text)
    text = _STRONG.sub(lambda m: f"<strong>{m.group(2)}</strong>", text)
    text = _EM.sub(lambda m: f"<em>{m.group(1) or m.group(2)}</em>", text)
    return re.sub("\x00(\\d+)\x00", lambda m: codes[int(m.group(1))], text)


def _blocks(lines: list[str]) -> list[str]:
    out: list[str] = []
    para: list[str] = []
    items: list[str] = []
    list_tag = ""

    def flush() -> None:
        nonlocal list_tag
        if para:
            out.append(f"<p>{_inline(chr(10).join(para))}</p>")
            para.clear()
        if items:
            out.append(f"<{list_tag}>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + f"</{list_tag}>")
            items.clear()
            list_tag = ""

    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            flush()
            fence, body = _FENCE.match(line).group(1), []  # type: ignore[union-attr]
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                body.append(lines[i])
                i += 1
            out.append("<pre><code>" + "\n".join(body) + "</code></pre>")
        elif not line.strip():
            flush()
        elif (m := _UL.match(line)) or (m := _OL.match(line)):
            tag = "ul" if _UL.match(line) else "ol"
            if para or (items and tag != list_tag):
                flush()
            list_tag = tag
            items.append(m.group(1))
        elif m := _HEADING.match(line):
            flush()
            out.append(f"<p><strong>{_inline(m.group(1))}</strong></p>")
        elif m := _QUOTE.match(line):
            flush()
            out.append(f"<blockquote>{_inline(m.group(1))}</blockquote>")
        elif items:
            items[-1] += " " + line.strip()  # a continuation line of the last item
        else:
            para.append(line.strip())
        i += 1
    flush()
    return out


def render_markdown_safe(md: str) -> str:
    """Render a safe subset of Markdown to HTML: paragraphs, ``*em*``, ``**strong**``,
    `` `code` ``, fenced code blocks, ``-``/``1.`` lists, ``>`` quotes, ``#`` headings (as bold
    paragraphs) and ``[text](https://...)`` links. Raw HTML in the input is shown as text, images
    are reduced to their alt text, and links with any other scheme keep only their text. The
    result goes through :func:`sanitize_html` once more, so a renderer bug cannot emit markup
    outside the allowlist.

    >>> render_markdown_safe("Hi <b onmouseover=alert(1)>there</b>\\n\\n- [x](javascript:alert(1))")
    '<p>Hi &lt;b onmouseover=alert(1)&gt;there&lt;/b&gt;</p><ul><li>x</li></ul>'
    """
    escaped = html.escape(md.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", ""), quote=True)
    return sanitize_html("".join(_blocks(escaped.split("\n"))))
