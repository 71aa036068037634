"""Files connector: read, write, list and search files under one root directory.

Every path goes through ``keel.security.paths``: relative to the root, no ``..``, no symlink out
of the root, no devices, opened without following links so it cannot be swapped mid-way. On top
of that ``FileSystem`` enforces a size cap, an optional extension allowlist and a read-only mode.
Writes are atomic (a temporary file renamed over the target), so a reader never sees half a file.

>>> import tempfile; fs = FileSystem(tempfile.mkdtemp())
>>> fs.write_text("notes/todo.md", "- ship it\\n")
10
>>> fs.read_text("notes/todo.md")
'- ship it\\n'
>>> [e["name"] for e in fs.list_dir("notes")["entries"]]
['todo.md']
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import stat
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from keel.errors import ConfigError, KeelError, ToolError
from keel.security.paths import PathRejected, open_in_root, parent_dir, safe_join
from keel.tools._tool import Tool

__all__ = ["FileRefused", "FileSystem", "PathRejected", "file_tools"]

_P = ParamSpec("_P")
_T = TypeVar("_T")
_MAX_SCAN_FILES = 5_000
_BINARY_SNIFF = 8192


class FileRefused(KeelError):
    """A file operation broke a rule of the ``FileSystem``. ``reason`` is one of ``read_only``,
    ``too_large``, ``extension``, ``binary``, ``is_directory``, ``not_directory``, ``exists``."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class FileSystem:
    """Files under ``root``, with the rules a tool needs.

    ``allowed_extensions`` (e.g. ``{".md", ".txt"}``) limits which files may be read or written;
    listing shows everything. ``max_file_bytes`` caps both reads and writes.

    >>> fs = FileSystem("/srv/kb", read_only=True, allowed_extensions=[".md"])   # doctest: +SKIP
    >>> fs.search("refund policy")["matches"][0]                                 # doctest: +SKIP
    {'path': 'policies/refunds.md', 'line': 3, 'text': 'Our refund policy ...'}
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        read_only: bool = False,
        max_file_bytes: int = 5_000_000,
        allowed_extensions: Iterable[str] | None = None,
    ) -> None:
        root_path = Path(root).expanduser()
        if not root_path.is_dir():
            raise ConfigError(f"file root {os.fspath(root)!r} is not an existing directory: create it first")
        if max_file_bytes < 1:
            raise ConfigError("max_file_bytes must be at least 1")
        self.root = root_path.resolve()
        self.read_only = read_only
        self.max_file_bytes = max_file_bytes
        self.allowed_extensions = (
            None
            if allowed_extensions is None
            else frozenset(e.lower() if e.startswith(".") else "." + e.lower() for e in allowed_extensions)
        )

    # -- rules ---------------------------------------------------------------------------------

    def resolve(self, path: str) -> Path:
        """The real path of ``path`` inside the root (``PathRejected`` when it would leave it)."""
        return safe_join(self.root, path)

    def _check_extension(self, path: str, real: Path) -> None:
        if self.allowed_extensions is None:
            return
        for name in (path, real.name):  # a link named a.md must not lead to secret.key
            if Path(name).suffix.lower() not in self.allowed_extensions:
                allowed = ", ".join(sorted(self.allowed_extensions))
                raise FileRefused(f"{path!r}: only {allowed} files may be used", reason="extension")

    def _relative(self, real: Path) -> str:
        return real.relative_to(self.root).as_posix() or "."

    # -- reading -------------------------------------------------------------------------------

    def read_bytes(self, path: str) -> bytes:
        """The bytes of a file, refusing directories and files over ``max_file_bytes``."""
        self._check_extension(path, self.resolve(path))
        fd = open_in_root(self.root, path, os.O_RDONLY)
        try:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                raise FileRefused(f"{path!r} is a folder: use list_dir", reason="is_directory")
            if info.st_size > self.max_file_bytes:
                raise FileRefused(
                    f"{path!r} is {info.st_size} bytes, over the {self.max_file_bytes}-byte limit",
                    reason="too_large",
                )
        except BaseException:
            os.close(fd)
            raise
        with os.fdopen(fd, "rb") as f:
            data = f.read(self.max_file_bytes + 1)  # the file may have grown since fstat
        if len(data) > self.max_file_bytes:
            raise FileRefused(f"{path!r} is over the {self.max_file_bytes}-byte limit", reason="too_large")
        return data

    def read_text(self, path: str) -> str:
        """A text file's content (UTF-8; undecodable bytes become U+FFFD). Binary files are refused."""
        data = self.read_bytes(path)
        if b"\x00" in data[:_BINARY_SNIFF]:
            raise FileRefused(f"{path!r} is a binary file", reason="binary")
        return data.decode("utf-8", errors="replace")

    # -- writing -------------------------------------------------------------------------------

    def write_bytes(self, path: str, data: bytes, *, overwrite: bool = True) -> int:
        """Write ``data`` atomically, creating missing folders; return the number of bytes written."""
        if self.read_only:
            raise FileRefused(f"cannot write {path!r}: these files are read-only", reason="read_only")
        if len(data) > self.max_file_bytes:
            raise FileRefused(
                f"content is {len(data)} bytes, over the {self.max_file_bytes}-byte limit", reason="too_large"
            )
        self._check_extension(path, self.resolve(path))
        with parent_dir(self.root, path, create=True) as (dir_fd, name):
            try:
                info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                info = None
            if info is not None and stat.S_ISDIR(info.st_mode):
                raise FileRefused(f"{path!r} is a folder", reason="is_directory")
            if info is not None and not overwrite:
                raise FileRefused(f"{path!r} already exists", reason="exists")
            tmp = f".{name}.{uuid.uuid4().hex[:12]}.tmp"
            flags = (
                os.O_WRONLY
                | os.O_CREAT
                | os.O_EXCL
                | getattr(os, "O_NOFOLLOW", 0)
                | getattr(os, "O_CLOEXEC", 0)
            )
            fd = os.open(tmp, flags, 0o644, dir_fd=dir_fd)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp, dir_fd=dir_fd)
                raise
        return len(data)

    def write_text(self, path: str, content: str, *, overwrite: bool = True) -> int:
        """Write ``content`` as UTF-8 (atomically); return the number of bytes written."""
        return self.write_bytes(path, content.encode("utf-8"), overwrite=overwrite)

    # -- listing and searching -----------------------------------------------------------------

    def list_dir(self, path: str = ".", *, max_entries: int = 500) -> dict[str, Any]:
        """Entries of a folder: name, type (``file``, ``dir``, ``link-outside``, ``other``) and size."""
        fd = open_in_root(self.root, path, os.O_RDONLY)
        try:
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                raise FileRefused(f"{path!r} is a file: use read_file", reason="not_directory")
            names = sorted(os.listdir(fd))
        finally:
            os.close(fd)
        base = self._relative(self.resolve(path))
        entries = [self._entry(base, name) for name in names[:max_entries]]
        return {"path": base, "entries": entries, "truncated": len(names) > max_entries}

    def _entry(self, base: str, name: str) -> dict[str, Any]:
        rel = name if base == "." else f"{base}/{name}"
        try:
            real = self.resolve(rel)  # follows links that stay inside the root
            info = os.stat(real)
        except PathRejected:
            return {"name": name, "type": "link-outside", "size": None}
        except OSError:
            return {"name": name, "type": "other", "size": None}
        if stat.S_ISDIR(info.st_mode):
            return {"name": name, "type": "dir", "size": None}
        kind = "file" if stat.S_ISREG(info.st_mode) else "other"
        return {"name": name, "type": kind, "size": info.st_size if kind == "file" else None}

    def search(
        self,
        query: str,
        path: str = ".",
        *,
        glob: str = "*",
        max_results: int = 50,
        case_sensitive: bool = False,
    ) -> dict[str, Any]:
        """Find ``query`` in file names and text lines under ``path`` (files matching ``glob``).

        Symlinks are not followed while walking; unreadable, binary, oversized or disallowed files
        are skipped.
        """
        if not query:
            raise FileRefused("give a non-empty text to search for", reason="binary")
        needle = query if case_sensitive else query.lower()
        start = self.resolve(path)
        matches: list[dict[str, Any]] = []
        scanned = 0
        for dirpath, dirnames, filenames in os.walk(start, followlinks=False):
            dirnames.sort()
            for filename in sorted(filenames):
                rel = self._relative(Path(dirpath) / filename)
                if not (fnmatch.fnmatch(filename, glob) or fnmatch.fnmatch(rel, glob)):
                    continue
                scanned += 1
                if scanned > _MAX_SCAN_FILES:
                    return {"matches": matches, "truncated": True}
                matches.extend(self._search_file(rel, filename, needle, case_sensitive))
                if len(matches) >= max_results:
                    return {"matches": matches[:max_results], "truncated": True}
        return {"matches": matches, "truncated": False}

    def _search_file(
        self, rel: str, filename: str, needle: str, case_sensitive: bool
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        if needle in (filename if case_sensitive else filename.lower()):
            found.append({"path": rel, "line": None, "text": filename})
        try:
            text = self.read_text(rel)
        except (KeelError, OSError):
            return found  # skipped: binary, too large, not allowed, a link out of the root ...
        for number, line in enumerate(text.splitlines(), start=1):
            if needle in (line if case_sensitive else line.lower()):
                found.append({"path": rel, "line": number, "text": line.strip()[:200]})
        return found


def file_tools(
    root: str | os.PathLike[str],
    *,
    read_only: bool = False,
    max_file_bytes: int = 5_000_000,
    allowed_extensions: Iterable[str] | None = None,
    prefix: str = "",
) -> list[Tool]:
    """Tools over one folder: ``read_file``, ``list_dir``, ``search_files`` and (unless read-only) ``write_file``.

    ``prefix`` is prepended to the tool names, for agents that get two folders.

    >>> import tempfile
    >>> [t.name for t in file_tools(tempfile.mkdtemp(), read_only=True, prefix="kb_")]
    ['kb_read_file', 'kb_list_dir', 'kb_search_files']
    """
    fs = FileSystem(
        root, read_only=read_only, max_file_bytes=max_file_bytes, allowed_extensions=allowed_extensions
    )

    def read_file(path: str) -> str:
        """Read a text file.

        Args:
            path: the file's path relative to the root folder, e.g. "docs/setup.md"
        """
        return _as_tool_error(fs.read_text, path)

    def write_file(path: str, content: str) -> dict[str, Any]:
        """Create or replace a text file (folders are created as needed).

        Args:
            path: the file's path relative to the root folder
            content: the complete new content of the file
        """
        written = _as_tool_error(fs.write_text, path, content)
        return {"path": path, "bytes_written": written}

    def list_dir(path: str = ".") -> dict[str, Any]:
        """List a folder's files and subfolders.

        Args:
            path: the folder relative to the root folder; "." is the root itself
        """
        return _as_tool_error(fs.list_dir, path)

    def search_files(query: str, path: str = ".", glob: str = "*") -> dict[str, Any]:
        """Search file names and text lines for some text (case-insensitive).

        Args:
            query: the text to look for
            path: the folder to search in, relative to the root folder
            glob: only search files whose name matches this pattern, e.g. "*.md"
        """
        return _as_tool_error(fs.search, query, path, glob=glob)

    where = f" in the folder {fs.root.name!r}" if fs.root.name else ""
    tools = [Tool(read_file, name=prefix + "read_file", description=f"Read a text file{where}.")]
    if not read_only:
        tools.append(
            Tool(
                write_file,
                name=prefix + "write_file",
                description=f"Write a text file{where}.",
                side_effects=True,
            )
        )
    tools.append(Tool(list_dir, name=prefix + "list_dir", description=f"List a folder{where}."))
    tools.append(
        Tool(search_files, name=prefix + "search_files", description=f"Search files{where} for text.")
    )
    return tools


def _as_tool_error(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run a ``FileSystem`` call; report refusals and OS errors to the model as ``ToolError``."""
    try:
        return fn(*args, **kwargs)
    except (PathRejected, FileRefused) as e:
        raise ToolError(str(e)) from e
    except OSError as e:
        # strerror only: the absolute root path in e.filename is none of the model's business.
        raise ToolError(f"file operation failed: {e.strerror or type(e).__name__}") from None
