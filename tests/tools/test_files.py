"""The files connector and the path guard, on a real temporary directory tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from keel.errors import ConfigError, ToolError
from keel.security import paths as paths_module
from keel.security.paths import PathRejected, open_in_root, safe_join
from keel.tools.files import FileRefused, FileSystem, file_tools

SECRET = "TOP-SECRET-OUTSIDE-THE-ROOT"


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """A root with docs, and a sibling folder outside it holding a secret."""
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "docs" / "deep").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (root / "docs" / "guide.md").write_text("# Guide\nrefunds take 5 days\nshipping is free\n")
    (root / "docs" / "deep" / "faq.md").write_text("Q: refunds?\nA: yes\n")
    (root / "readme.txt").write_text("hello\n")
    return root, outside


def tools_by_name(root: Path, **kw) -> dict:
    return {t.name: t for t in file_tools(root, **kw)}


# -- path text (unit) -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_path", "reason"),
    [
        ("../outside/secret.txt", "traversal"),
        ("docs/../../outside/secret.txt", "traversal"),
        ("docs/../readme.txt", "traversal"),  # refused even though it stays inside: no '..' at all
        ("/etc/passwd", "absolute"),
        ("//etc/passwd", "absolute"),
        ("C:/Windows/win.ini", "absolute"),
        ("..\\..\\etc\\passwd", "backslash"),
        ("readme.txt\x00.md", "nul_byte"),
    ],
)
def test_bad_path_text_is_rejected(tmp_path, user_path, reason):
    with pytest.raises(PathRejected) as info:
        safe_join(tmp_path, user_path)
    assert info.value.reason == reason


def test_plain_paths_resolve_inside_the_root(tmp_path):
    assert safe_join(tmp_path, "a/b.txt") == tmp_path.resolve() / "a" / "b.txt"
    assert safe_join(tmp_path, "./a//b.txt") == tmp_path.resolve() / "a" / "b.txt"
    assert safe_join(tmp_path, ".") == tmp_path.resolve()
    assert safe_join(tmp_path, "") == tmp_path.resolve()


def test_missing_root_is_rejected(tmp_path):
    with pytest.raises(PathRejected) as info:
        safe_join(tmp_path / "nope", "a.txt")
    assert info.value.reason == "bad_root"
    with pytest.raises(ConfigError):
        FileSystem(tmp_path / "nope")


# -- symlinks and special files (real directory) ----------------------------------------------------


@pytest.mark.integration
def test_file_symlink_escape_is_rejected(tree):
    root, outside = tree
    (root / "leak.txt").symlink_to(outside / "secret.txt")
    (root / "rel_leak.txt").symlink_to("../outside/secret.txt")
    fs = FileSystem(root)
    for name in ("leak.txt", "rel_leak.txt"):
        with pytest.raises(PathRejected) as info:
            fs.read_text(name)
        assert info.value.reason == "symlink_escape"
        assert SECRET not in str(info.value)
    with pytest.raises(PathRejected):
        fs.write_text("leak.txt", "overwritten")
    assert (outside / "secret.txt").read_text() == SECRET


@pytest.mark.integration
def test_directory_symlink_escape_is_rejected(tree):
    root, outside = tree
    (root / "docs" / "ext").symlink_to(outside, target_is_directory=True)
    fs = FileSystem(root)
    with pytest.raises(PathRejected, match="outside the root"):
        fs.read_text("docs/ext/secret.txt")
    with pytest.raises(PathRejected):
        fs.list_dir("docs/ext")
    with pytest.raises(PathRejected):
        fs.write_text("docs/ext/planted.txt", "x")
    assert not (outside / "planted.txt").exists()


@pytest.mark.integration
def test_chained_symlink_escape_is_rejected(tree):
    root, outside = tree
    (root / "hop2").symlink_to(outside, target_is_directory=True)
    (root / "hop1").symlink_to(root / "hop2", target_is_directory=True)  # inside -> inside -> outside
    with pytest.raises(PathRejected) as info:
        FileSystem(root).read_text("hop1/secret.txt")
    assert info.value.reason == "symlink_escape"


@pytest.mark.integration
def test_symlinks_inside_the_root_are_followed(tree):
    root, _ = tree
    (root / "alias.md").symlink_to(root / "docs" / "guide.md")
    (root / "d").symlink_to("docs", target_is_directory=True)
    fs = FileSystem(root)
    assert fs.read_text("alias.md").startswith("# Guide")
    assert fs.read_text("d/deep/faq.md") == "Q: refunds?\nA: yes\n"
    fs.write_text("d/new.md", "via link")
    assert (root / "docs" / "new.md").read_text() == "via link"


@pytest.mark.integration
def test_device_pipe_and_hard_link_are_refused(tree):
    root, outside = tree
    (root / "null").symlink_to("/dev/null")
    os.mkfifo(root / "pipe")
    os.link(outside / "secret.txt", root / "hard.txt")
    fs = FileSystem(root)
    with pytest.raises(PathRejected) as info:
        fs.read_text("null")
    assert info.value.reason == "symlink_escape"
    with pytest.raises(PathRejected) as info:
        fs.read_text("pipe")  # must not block waiting for a writer
    assert info.value.reason == "special_file"
    with pytest.raises(PathRejected) as info:
        fs.read_text("hard.txt")
    assert info.value.reason == "hard_link"


@pytest.mark.integration
def test_swap_between_check_and_open_is_caught(tree, monkeypatch):
    root, outside = tree
    (root / "sub").mkdir()
    (root / "sub" / "file.txt").write_text("inside")
    (outside / "file.txt").write_text(SECRET)
    real_safe_join = paths_module.safe_join

    def racing_safe_join(r, p):
        checked = real_safe_join(r, p)
        # An attacker swaps the checked folder for a link out of the root right after the check.
        (root / "sub" / "file.txt").unlink()
        (root / "sub").rmdir()
        (root / "sub").symlink_to(outside, target_is_directory=True)
        return checked

    monkeypatch.setattr(paths_module, "safe_join", racing_safe_join)
    with pytest.raises(PathRejected) as info:
        open_in_root(root, "sub/file.txt")
    assert info.value.reason == "changed"


# -- reading, writing, limits -----------------------------------------------------------------------


@pytest.mark.integration
def test_write_then_read_round_trip(tree):
    root, _ = tree
    fs = FileSystem(root)
    content = "línea 1 — ünïcode ✓\nline 2\n"
    written = fs.write_text("notes/2024/today.md", content)
    assert written == len(content.encode())
    assert fs.read_text("notes/2024/today.md") == content
    assert (root / "notes" / "2024" / "today.md").read_text() == content
    fs.write_text("notes/2024/today.md", "replaced")
    assert fs.read_text("notes/2024/today.md") == "replaced"
    assert sorted(p.name for p in (root / "notes" / "2024").iterdir()) == ["today.md"]  # no temp files left
    with pytest.raises(FileRefused) as info:
        fs.write_text("notes/2024/today.md", "again", overwrite=False)
    assert info.value.reason == "exists"
    with pytest.raises(FileRefused) as info:
        fs.write_text("docs", "x")
    assert info.value.reason == "is_directory"


@pytest.mark.integration
def test_oversized_file_is_refused(tree):
    root, _ = tree
    (root / "big.txt").write_bytes(b"a" * 101)
    (root / "ok.txt").write_bytes(b"a" * 100)
    fs = FileSystem(root, max_file_bytes=100)
    assert fs.read_text("ok.txt") == "a" * 100
    with pytest.raises(FileRefused) as info:
        fs.read_text("big.txt")
    assert info.value.reason == "too_large"
    with pytest.raises(FileRefused):
        fs.write_text("new.txt", "b" * 101)
    assert not (root / "new.txt").exists()
    assert fs.write_text("new.txt", "b" * 100) == 100


@pytest.mark.integration
def test_read_only_refuses_writes(tree):
    root, _ = tree
    fs = FileSystem(root, read_only=True)
    with pytest.raises(FileRefused) as info:
        fs.write_text("readme.txt", "changed")
    assert info.value.reason == "read_only"
    assert (root / "readme.txt").read_text() == "hello\n"
    tools = tools_by_name(root, read_only=True)
    assert set(tools) == {"read_file", "list_dir", "search_files"}


@pytest.mark.integration
def test_extension_allowlist_checks_link_targets(tree):
    root, _ = tree
    (root / "id.key").write_text("private key")
    (root / "innocent.md").symlink_to(root / "id.key")
    fs = FileSystem(root, allowed_extensions=["md", ".TXT"])
    assert fs.read_text("readme.txt") == "hello\n"
    for name in ("id.key", "innocent.md"):
        with pytest.raises(FileRefused) as info:
            fs.read_text(name)
        assert info.value.reason == "extension"
    with pytest.raises(FileRefused):
        fs.write_text("run.sh", "rm -rf /")


@pytest.mark.integration
def test_binary_and_directory_reads_are_refused(tree):
    root, _ = tree
    (root / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    fs = FileSystem(root)
    with pytest.raises(FileRefused) as info:
        fs.read_text("blob.txt")
    assert info.value.reason == "binary"
    assert fs.read_bytes("blob.txt") == b"\x00\x01\x02binary"
    with pytest.raises(FileRefused) as info:
        fs.read_text("docs")
    assert info.value.reason == "is_directory"


# -- listing and searching --------------------------------------------------------------------------


@pytest.mark.integration
def test_listing(tree):
    root, outside = tree
    (root / "escape").symlink_to(outside, target_is_directory=True)
    listing = FileSystem(root).list_dir(".")
    assert listing["path"] == "." and listing["truncated"] is False
    by_name = {e["name"]: e for e in listing["entries"]}
    assert [e["name"] for e in listing["entries"]] == ["docs", "escape", "readme.txt"]
    assert by_name["docs"]["type"] == "dir"
    assert by_name["readme.txt"] == {"name": "readme.txt", "type": "file", "size": 6}
    assert by_name["escape"]["type"] == "link-outside"
    docs = FileSystem(root).list_dir("docs")
    assert docs["path"] == "docs" and [e["name"] for e in docs["entries"]] == ["deep", "guide.md"]
    capped = FileSystem(root).list_dir(".", max_entries=2)
    assert capped["truncated"] is True and len(capped["entries"]) == 2
    with pytest.raises(FileRefused):
        FileSystem(root).list_dir("readme.txt")


@pytest.mark.integration
def test_search_finds_lines_and_never_reads_outside(tree):
    root, outside = tree
    (outside / "refunds.md").write_text(f"refunds {SECRET}\n")
    (root / "docs" / "ext").symlink_to(outside, target_is_directory=True)
    (root / "leak.md").symlink_to(outside / "refunds.md")
    fs = FileSystem(root)
    result = fs.search("REFUNDS")
    hits = {(m["path"], m["line"]) for m in result["matches"]}
    assert hits == {("docs/guide.md", 2), ("docs/deep/faq.md", 1)}
    assert SECRET not in str(result)
    assert fs.search("refunds", glob="faq.md")["matches"] == [
        {"path": "docs/deep/faq.md", "line": 1, "text": "Q: refunds?"}
    ]
    assert fs.search("refunds", "docs/deep")["matches"][0]["path"] == "docs/deep/faq.md"
    names = fs.search("guide")["matches"]
    assert {"path": "docs/guide.md", "line": None, "text": "guide.md"} in names
    assert fs.search("refunds", max_results=1)["truncated"] is True


# -- the tools the model sees -----------------------------------------------------------------------


@pytest.mark.integration
async def test_tools_round_trip_and_report_refusals_as_tool_errors(tree):
    root, _ = tree
    tools = tools_by_name(root)
    assert set(tools) == {"read_file", "write_file", "list_dir", "search_files"}
    assert tools["write_file"].side_effects and not tools["read_file"].side_effects
    out = await tools["write_file"].invoke({"path": "out/report.md", "content": "total: 3"})
    assert out == {"path": "out/report.md", "bytes_written": 8}
    assert await tools["read_file"].invoke({"path": "out/report.md"}) == "total: 3"
    listing = await tools["list_dir"].invoke({"path": "out"})
    assert [e["name"] for e in listing["entries"]] == ["report.md"]
    found = await tools["search_files"].invoke({"query": "total", "glob": "*.md"})
    assert found["matches"] == [{"path": "out/report.md", "line": 1, "text": "total: 3"}]
    for bad in ("../outside/secret.txt", "/etc/passwd", "missing.txt"):
        with pytest.raises(ToolError) as info:
            await tools["read_file"].invoke({"path": bad})
        assert str(root) not in str(info.value)  # the model never learns where the root lives
    with pytest.raises(ToolError, match="does not exist"):
        await tools["read_file"].invoke({"path": "missing.txt"})


def test_tool_specs():
    import tempfile

    tools = file_tools(tempfile.mkdtemp(), prefix="kb_")
    spec = {t.name: t.spec() for t in tools}
    assert spec["kb_read_file"].parameters["required"] == ["path"]
    assert set(spec["kb_write_file"].parameters["required"]) == {"path", "content"}
    assert (
        "required" not in spec["kb_list_dir"].parameters or spec["kb_list_dir"].parameters["required"] == []
    )
    assert spec["kb_search_files"].parameters["required"] == ["query"]


@pytest.mark.integration
def test_refused_hard_link_is_not_truncated(tree):
    root, outside = tree
    os.link(outside / "secret.txt", root / "hard.txt")
    with pytest.raises(PathRejected):
        open_in_root(root, "hard.txt", os.O_WRONLY | os.O_TRUNC)
    assert (outside / "secret.txt").read_text() == SECRET
    fd = open_in_root(root, "readme.txt", os.O_WRONLY | os.O_TRUNC)
    os.close(fd)
    assert (root / "readme.txt").read_text() == ""
