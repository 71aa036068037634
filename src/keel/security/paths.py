"""Path guard: keep every file a tool touches inside one root directory.

``safe_join(root, user_path)`` turns a model-supplied relative path into a real path inside
``root`` or raises ``PathRejected``. It refuses absolute paths, ``..`` components, NUL bytes,
backslashes, symlinks (at any component) whose target leaves the root, and device files, FIFOs
and sockets. Symlinks that stay inside the root are followed.

Checking a path and then opening it leaves a window in which a directory could be swapped for a
symlink. ``open_in_root`` and ``parent_dir`` close it: after the check they walk from the root's
file descriptor one component at a time with ``O_NOFOLLOW``, so a component that has become a
symlink fails the open instead of being followed. Regular files with several hard links are
refused too, because another of their names may lie outside the root.

>>> import tempfile; root = tempfile.mkdtemp()
>>> safe_join(root, "notes/today.md").relative_to(root).as_posix()
'notes/today.md'
>>> try:
...     safe_join(root, "../etc/passwd")
... except PathRejected as e:
...     print(e)
'../etc/passwd' goes up with '..': use a path inside the root
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from keel.errors import KeelError

__all__ = ["PathRejected", "open_in_root", "parent_dir", "safe_join"]

_DRIVE = re.compile(r"^[A-Za-z]:")
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class PathRejected(KeelError):
    """A path was refused. ``reason`` is one of ``nul_byte``, ``absolute``, ``traversal``,
    ``backslash``, ``symlink_escape``, ``special_file``, ``hard_link``, ``changed``, ``not_found``,
    ``bad_root``."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _root(root: str | os.PathLike[str]) -> Path:
    try:
        real = Path(root).resolve(strict=True)
    except (OSError, RuntimeError):
        raise PathRejected(f"root directory {os.fspath(root)!r} does not exist", reason="bad_root") from None
    if not real.is_dir():
        raise PathRejected(f"root {os.fspath(root)!r} is not a directory", reason="bad_root")
    return real


def _parts(user_path: str) -> list[str]:
    """Validate the text of a path and split it into components (no I/O)."""
    if not isinstance(user_path, str):
        raise PathRejected("the path must be a string", reason="absolute")
    if "\x00" in user_path:
        raise PathRejected("the path contains a NUL byte: remove it", reason="nul_byte")
    if "\\" in user_path:
        raise PathRejected(f"{user_path!r} contains a backslash: use '/' between folders", reason="backslash")
    if user_path.startswith("/") or _DRIVE.match(user_path):
        raise PathRejected(
            f"{user_path!r} is absolute: give a path relative to the root, like 'docs/a.md'",
            reason="absolute",
        )
    parts = [p for p in user_path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PathRejected(f"{user_path!r} goes up with '..': use a path inside the root", reason="traversal")
    return parts


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def safe_join(root: str | os.PathLike[str], user_path: str) -> Path:
    """Resolve ``user_path`` (relative) inside ``root``; return the real path or raise ``PathRejected``.

    Every component is checked: a symlink is resolved and must land inside the root. The last
    components may not exist yet (for a file about to be written).

    >>> import tempfile; root = tempfile.mkdtemp()
    >>> try:
    ...     safe_join(root, "/etc/passwd")
    ... except PathRejected as e:
    ...     print(e.reason)
    absolute
    """
    real_root = _root(root)
    parts = _parts(user_path)
    current = real_root
    for i, part in enumerate(parts):
        candidate = current / part
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            return current.joinpath(*parts[i:])  # nothing below can be a symlink: it does not exist
        except OSError as e:
            raise PathRejected(f"{user_path!r} cannot be read: {e.strerror}", reason="not_found") from None
        if stat.S_ISLNK(info.st_mode):
            target = Path(os.path.realpath(candidate))
            if not _inside(target, real_root):
                raise PathRejected(
                    f"{user_path!r} goes through a symlink that points outside the root",
                    reason="symlink_escape",
                )
            current = target
        else:
            current = candidate
    _refuse_special(current, user_path)
    return current


def _refuse_special(path: Path, user_path: str) -> None:
    try:
        info = os.stat(path)
    except OSError:
        return
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        raise PathRejected(f"{user_path!r} is a device, pipe or socket, not a file", reason="special_file")


def _open_dirs(real_root: Path, parts: tuple[str, ...], user_path: str, *, create: bool) -> int:
    """Open ``parts`` under the root one directory at a time without following symlinks."""
    fd = os.open(real_root, _DIR_FLAGS)
    try:
        for part in parts:
            try:
                next_fd = os.open(part, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise PathRejected(
                        f"folder of {user_path!r} does not exist", reason="not_found"
                    ) from None
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
                next_fd = os.open(part, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise PathRejected(
                        f"{user_path!r} changed while it was being opened (a folder became a link or a file)",
                        reason="changed",
                    ) from None
                raise
            os.close(fd)
            fd = next_fd
        return fd
    except BaseException:
        os.close(fd)
        raise


@contextlib.contextmanager
def parent_dir(
    root: str | os.PathLike[str], user_path: str, *, create: bool = False
) -> Iterator[tuple[int, str]]:
    """Yield ``(dir_fd, name)``: an fd of the checked parent folder of ``user_path`` and the final name.

    Use the fd with ``os.open(name, ..., dir_fd=fd)`` / ``os.replace(..., src_dir_fd=fd)`` so the
    operation happens in the folder that was checked. ``create`` makes missing folders.
    """
    real_root = _root(root)
    real = safe_join(real_root, user_path)
    rel = real.relative_to(real_root).parts
    if not rel:
        raise PathRejected("the root itself is not a file: give a file name", reason="special_file")
    fd = _open_dirs(real_root, rel[:-1], user_path, create=create)
    try:
        yield fd, rel[-1]
    finally:
        os.close(fd)


def open_in_root(
    root: str | os.PathLike[str], user_path: str, flags: int = os.O_RDONLY, mode: int = 0o644
) -> int:
    """Open ``user_path`` under ``root`` race-free and return the file descriptor (caller closes it).

    Only regular files and directories open; a regular file with more than one hard link is
    refused. ``O_NONBLOCK`` is added so that a FIFO cannot hang the open before it is refused.

    >>> import os, tempfile; root = tempfile.mkdtemp()
    >>> fd = open_in_root(root, "new.txt", os.O_WRONLY | os.O_CREAT); os.write(fd, b"hi"); os.close(fd)
    2
    """
    real_root = _root(root)
    real = safe_join(real_root, user_path)
    rel = real.relative_to(real_root).parts
    if not rel:
        return os.open(real_root, _DIR_FLAGS)
    # Truncation waits until the checks pass: a refused hard-linked file must stay intact.
    truncate = bool(flags & os.O_TRUNC)
    flags &= ~os.O_TRUNC
    dir_fd = _open_dirs(real_root, rel[:-1], user_path, create=False)
    try:
        try:
            fd = os.open(
                rel[-1], flags | _NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0), mode, dir_fd=dir_fd
            )
        except FileNotFoundError:
            raise PathRejected(f"{user_path!r} does not exist", reason="not_found") from None
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise PathRejected(
                    f"{user_path!r} changed while it was being opened", reason="changed"
                ) from None
            raise
    finally:
        os.close(dir_fd)
    info = os.fstat(fd)
    problem = None
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        problem = PathRejected(
            f"{user_path!r} is a device, pipe or socket, not a file", reason="special_file"
        )
    elif stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
        problem = PathRejected(
            f"{user_path!r} has other hard links, which may be outside the root: copy it instead",
            reason="hard_link",
        )
    if problem is not None:
        os.close(fd)
        raise problem
    if truncate:
        os.ftruncate(fd, 0)
    return fd
