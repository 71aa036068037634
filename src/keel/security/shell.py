"""Run commands without a shell: an allowlist, argument checks, a timeout, and an optional sandbox.

:func:`safe_command` validates an argv list: only allowlisted programs, no shell metacharacters in
any argument, no command strings. :func:`run_command` (and :func:`arun_command` for async code)
runs it with :mod:`subprocess` and never a shell, kills the whole process group on timeout, caps
the captured output, and starts the child with a minimal environment so that API keys in Keel's
own environment never reach it.

``sandbox="bwrap"`` runs the command under bubblewrap: a fresh mount namespace in which only
``/usr`` (read-only), the ``ro_binds`` you list and the work directory (read-write, at ``/work``)
exist, with no network unless ``network=True``, no capabilities, and a new session. What it does
*not* limit: CPU and memory (add cgroup or ``prlimit`` limits around it) and what the program
may do inside its work directory.

>>> run_command(["echo", "hello"], allowed={"echo"}).stdout
'hello\\n'
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from keel.errors import ConfigError, ToolError

__all__ = [
    "SHELL_METACHARACTERS",
    "CommandResult",
    "CommandTimeout",
    "UnsafeCommandError",
    "arun_command",
    "run_command",
    "safe_command",
]

# Characters a shell would interpret. No shell runs here, but arguments often reach one later
# (ssh, find -exec, a script that eval's), so they are refused outright.
SHELL_METACHARACTERS = frozenset(";|&$`<>(){}[]*?~!#\\'\"\n\r\t\x00")

_DEFAULT_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


class UnsafeCommandError(ToolError):
    """A command was refused before it ran: not allowlisted, a shell metacharacter, a string."""


class CommandTimeout(ToolError):
    """A command ran past its timeout and was killed with its whole process group."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command did. ``truncated`` is true when output past ``max_output_bytes`` was dropped."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def safe_command(
    argv: Sequence[str], allowed: Collection[str], *, allow_options: bool = True, max_arg_len: int = 4096
) -> list[str]:
    """Return ``argv`` as a list if it is safe to execute, else raise :class:`UnsafeCommandError`.

    ``allowed`` holds program names (``"git"``) or absolute paths (``"/usr/bin/git"``); ``argv[0]``
    must be one of them exactly. ``allow_options=False`` also refuses arguments that start with
    ``-``, for commands whose arguments come from a model or a user (``--output=/etc/passwd``).

    >>> safe_command(["ls", "-l", "docs"], allowed={"ls"})
    ['ls', '-l', 'docs']
    >>> safe_command(["ls", "docs; rm -rf /"], allowed={"ls"})
    Traceback (most recent call last):
    ...
    keel.security.shell.UnsafeCommandError: argument 1 contains the shell metacharacter ';'; pass \
each value as its own argument and never build command strings
    """
    if isinstance(argv, str | bytes):
        raise UnsafeCommandError(
            "a command string needs a shell to split it; pass a list of arguments instead, "
            "e.g. ['ls', '-l', 'docs']"
        )
    args = list(argv)
    if not args:
        raise UnsafeCommandError("empty command: argv must name a program")
    for i, arg in enumerate(args):
        if not isinstance(arg, str):
            raise UnsafeCommandError(f"argument {i} is a {type(arg).__name__}, not a str; convert it first")
        if len(arg) > max_arg_len:
            raise UnsafeCommandError(f"argument {i} is {len(arg)} characters long (limit {max_arg_len})")
        bad = next((c for c in arg if c in SHELL_METACHARACTERS), None)
        if bad is not None:
            raise UnsafeCommandError(
                f"argument {i} contains the shell metacharacter {bad!r}; pass each value as its own "
                "argument and never build command strings"
            )
        if i and not allow_options and arg.startswith("-"):
            raise UnsafeCommandError(f"argument {i} starts with '-', and options are not allowed here")
    if args[0] not in allowed:
        raise UnsafeCommandError(
            f"program {args[0]!r} is not in the allowlist {sorted(allowed)}; add it to `allowed` if it is safe"
        )
    return args


def _resolve(program: str, env: Mapping[str, str]) -> str:
    path = program if os.path.isabs(program) else shutil.which(program, path=env.get("PATH"))
    if not path or not os.access(path, os.X_OK):
        raise ToolError(
            f"program {program!r} was not found on PATH {env.get('PATH')!r}; install it or allow its full path"
        )
    return path


def _find_bwrap() -> str:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise ConfigError(
            "sandbox='bwrap' needs bubblewrap, which is not installed: run `apt-get install bubblewrap` "
            "(Debian/Ubuntu) or `dnf install bubblewrap`, or run without the sandbox"
        )
    return bwrap


def _check_visible(program: str, binds: list[str]) -> None:
    real = os.path.realpath(program)
    if not any(real == b or real.startswith(b.rstrip("/") + "/") for b in ["/usr", *binds]):
        raise ConfigError(
            f"{program} resolves to {real}, outside /usr, so the sandbox cannot see it; "
            f"add its installation folder to ro_binds"
        )


def _bwrap_argv(bwrap: str, argv: list[str], workdir: Path, binds: list[str], network: bool) -> list[str]:
    cmd = [bwrap, "--ro-bind", "/usr", "/usr"]
    for link in ("lib", "lib64", "bin", "sbin"):
        cmd += ["--symlink", f"usr/{link}", f"/{link}"]
    # Debian points /usr/bin/awk & co at /etc/alternatives; the loader reads ld.so.cache.
    for etc in ("/etc/alternatives", "/etc/ld.so.cache", "/etc/localtime"):
        cmd += ["--ro-bind-try", etc, etc]
    # the sandbox's own /tmp first: a bind below /tmp (a checkout there) must land on top of it
    cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]  # noqa: S108
    cmd += ["--bind", str(workdir), "/work", "--chdir", "/work"]
    # After /work, so a bind below /work (a project's virtualenv) lands on top of it.
    for path in binds:
        cmd += ["--ro-bind", path, path]
    cmd += ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if network:
        cmd.append("--share-net")
    return [*cmd, "--", *argv]


@dataclass
class _Prepared:
    argv: list[str]
    full_argv: list[str]
    env: dict[str, str]
    cwd: str | None
    tmpdir: tempfile.TemporaryDirectory[str] | None

    def spawn_options(self, input: str | bytes | None) -> dict[str, Any]:
        """The keyword arguments both ``subprocess.Popen`` and ``asyncio.create_subprocess_exec`` get."""
        return {
            "stdin": subprocess.PIPE if input is not None else subprocess.DEVNULL,
            "stdout": subprocess.PIPE,
            "stderr": subprocess.PIPE,
            "cwd": self.cwd,
            "env": self.env,
            # its own process group, so a timeout kills the command's children too
            "start_new_session": True,
        }


@contextlib.contextmanager
def _prepare(
    argv: Sequence[str],
    allowed: Collection[str],
    *,
    cwd: str | os.PathLike[str] | None,
    env: Mapping[str, str] | None,
    sandbox: Literal["bwrap"] | None,
    workdir: str | os.PathLike[str] | None,
    ro_binds: Iterable[str | os.PathLike[str]],
    network: bool,
    allow_options: bool,
) -> Iterator[_Prepared]:
    args = safe_command(argv, allowed, allow_options=allow_options)
    child_env = {**_DEFAULT_ENV, **(env or {})}
    program = _resolve(args[0], child_env)
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if sandbox is None:
        full = [program, *args[1:]]
        run_cwd = os.fspath(cwd) if cwd is not None else None
    elif sandbox == "bwrap":
        bwrap = _find_bwrap()
        binds = [os.path.abspath(p) for p in ro_binds]
        _check_visible(program, [os.path.realpath(b) for b in binds] + binds)
        if workdir is None:
            tmp = tempfile.TemporaryDirectory(prefix="keel-sandbox-")
            work = Path(tmp.name)
        else:
            work = Path(workdir).resolve()
        child_env.setdefault("HOME", "/work")
        full = _bwrap_argv(bwrap, [program, *args[1:]], work, binds, network)
        run_cwd = None
    else:
        raise ConfigError(f"unknown sandbox {sandbox!r}; use None or 'bwrap'")
    try:
        yield _Prepared(args, full, child_env, run_cwd, tmp)
    finally:
        if tmp is not None:
            tmp.cleanup()


def _keep(sink: bytearray, chunk: bytes, limit: int, flags: list[bool]) -> None:
    """Add what of ``chunk`` fits under ``limit`` to ``sink``; ``flags[0]`` records a truncation."""
    room = limit - len(sink)
    if len(chunk) > room:
        flags[0] = True
    if room > 0:
        sink += chunk[:room]


def _drain(stream: IO[bytes], limit: int, sink: bytearray, flags: list[bool]) -> None:
    # Keep reading past the limit so the child never blocks on a full pipe.
    while chunk := stream.read1(65536):  # type: ignore[attr-defined]
        _keep(sink, chunk, limit, flags)
    stream.close()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run_command(
    argv: Sequence[str],
    allowed: Collection[str],
    *,
    timeout_s: float = 30.0,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    input: str | bytes | None = None,
    sandbox: Literal["bwrap"] | None = None,
    workdir: str | os.PathLike[str] | None = None,
    ro_binds: Iterable[str | os.PathLike[str]] = (),
    network: bool = False,
    max_output_bytes: int = 1_000_000,
    allow_options: bool = True,
) -> CommandResult:
    """Validate ``argv`` with :func:`safe_command` and run it without a shell.

    ``env`` is added to a minimal environment (``PATH``, ``LANG``); the parent's environment is
    never inherited. With ``sandbox="bwrap"`` the command sees only ``/usr``, ``ro_binds`` and
    ``workdir`` (mounted at ``/work``; a temporary directory when omitted), runs in ``/work``
    (``cwd`` is ignored) and has no network. A bind below ``/work`` leaves an empty mount-point
    folder in ``workdir``.
    A non-zero exit is returned, not raised; a timeout raises :class:`CommandTimeout`.

    >>> run_command(["expr", "6", "+", "36"], allowed={"expr"}).stdout.strip()
    '42'
    """
    with _prepare(
        argv, allowed, cwd=cwd, env=env, sandbox=sandbox, workdir=workdir, ro_binds=ro_binds,
        network=network, allow_options=allow_options,
    ) as prep:  # fmt: skip
        return _run_sync(prep, input, timeout_s, max_output_bytes)


def _timeout_error(prep: _Prepared, timeout_s: float) -> CommandTimeout:
    return CommandTimeout(
        f"{prep.argv[0]} ran longer than {timeout_s:g}s and was killed; raise timeout_s or give it less work"
    )


def _result(
    prep: _Prepared, code: int, out: bytes, err: bytes, started: float, truncated: bool
) -> CommandResult:
    return CommandResult(
        argv=tuple(prep.argv),
        returncode=code,
        stdout=out.decode("utf-8", "replace"),
        stderr=err.decode("utf-8", "replace"),
        duration_s=time.perf_counter() - started,
        truncated=truncated,
    )


def _run_sync(prep: _Prepared, input: str | bytes | None, timeout_s: float, limit: int) -> CommandResult:
    started = time.perf_counter()
    proc = subprocess.Popen(prep.full_argv, **prep.spawn_options(input))  # noqa: S603  (argv checked by safe_command, no shell)
    out, err, flags = bytearray(), bytearray(), [False]
    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=_drain, args=(proc.stdout, limit, out, flags), daemon=True),
        threading.Thread(target=_drain, args=(proc.stderr, limit, err, flags), daemon=True),
    ]
    for t in readers:
        t.start()
    if input is not None and proc.stdin is not None:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(input.encode() if isinstance(input, str) else input)
        proc.stdin.close()
    try:
        returncode = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        proc.wait()
        raise _timeout_error(prep, timeout_s) from None
    finally:
        for t in readers:
            t.join(timeout=5)
    return _result(prep, returncode, bytes(out), bytes(err), started, flags[0])


async def _adrain(stream: asyncio.StreamReader, limit: int, flags: list[bool]) -> bytes:
    kept = bytearray()
    while chunk := await stream.read(65536):
        _keep(kept, chunk, limit, flags)
    return bytes(kept)


async def arun_command(
    argv: Sequence[str],
    allowed: Collection[str],
    *,
    timeout_s: float = 30.0,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    input: str | bytes | None = None,
    sandbox: Literal["bwrap"] | None = None,
    workdir: str | os.PathLike[str] | None = None,
    ro_binds: Iterable[str | os.PathLike[str]] = (),
    network: bool = False,
    max_output_bytes: int = 1_000_000,
    allow_options: bool = True,
) -> CommandResult:
    """The async face of :func:`run_command`, for tools running inside the agent loop.

    >>> import asyncio
    >>> asyncio.run(arun_command(["echo", "hi"], allowed={"echo"})).stdout
    'hi\\n'
    """
    with _prepare(
        argv, allowed, cwd=cwd, env=env, sandbox=sandbox, workdir=workdir, ro_binds=ro_binds,
        network=network, allow_options=allow_options,
    ) as prep:  # fmt: skip
        return await _run_async(prep, input, timeout_s, max_output_bytes)


async def _run_async(
    prep: _Prepared, input: str | bytes | None, timeout_s: float, limit: int
) -> CommandResult:
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*prep.full_argv, **prep.spawn_options(input))
    assert proc.stdout is not None and proc.stderr is not None
    flags = [False]
    readers = asyncio.gather(_adrain(proc.stdout, limit, flags), _adrain(proc.stderr, limit, flags))
    if input is not None and proc.stdin is not None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            proc.stdin.write(input.encode() if isinstance(input, str) else input)
            await proc.stdin.drain()
        proc.stdin.close()
    try:
        returncode = await asyncio.wait_for(proc.wait(), timeout_s)
    except TimeoutError:
        _kill_group(proc.pid)
        await proc.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(readers, 5)
        raise _timeout_error(prep, timeout_s) from None
    stdout, stderr = await readers
    return _result(prep, returncode, stdout, stderr, started, flags[0])
