"""Command guard: argv validation, and real subprocesses with and without the bwrap sandbox."""

from __future__ import annotations

import ast
import os
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from keel.errors import ConfigError, ToolError
from keel.security.shell import (
    SHELL_METACHARACTERS,
    CommandTimeout,
    UnsafeCommandError,
    arun_command,
    run_command,
    safe_command,
)

PY = "python3"
HAS_PY = shutil.which(PY, path="/usr/local/bin:/usr/bin:/bin") is not None
HAS_BWRAP = shutil.which("bwrap") is not None
needs_python = pytest.mark.skipif(not HAS_PY, reason="python3 not on the default PATH")
needs_bwrap = pytest.mark.skipif(
    not HAS_BWRAP, reason="bubblewrap not installed (apt-get install bubblewrap)"
)


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


# ------------------------------------------------------------------------------------------------
# safe_command
# ------------------------------------------------------------------------------------------------


def test_accepts_plain_argv() -> None:
    assert safe_command(("git", "log", "-n", "3", "--format=%H"), {"git"}) == [
        "git",
        "log",
        "-n",
        "3",
        "--format=%H",
    ]


@pytest.mark.parametrize("char", sorted(SHELL_METACHARACTERS))
def test_rejects_every_metacharacter(char: str) -> None:
    with pytest.raises(UnsafeCommandError, match="metacharacter"):
        safe_command(["ls", f"a{char}b"], {"ls"})


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        ("ls -l", "command string"),
        (b"ls", "command string"),
        ([], "empty"),
        (["ls", 3], "not a str"),
        (["rm", "-rf", "x"], "allowlist"),
        (["/bin/ls", "x"], "allowlist"),  # a path is not the allowed name
        (["ls", "x" * 5000], "characters long"),
    ],
)
def test_rejects_unsafe_commands(argv: object, match: str) -> None:
    with pytest.raises(UnsafeCommandError, match=match):
        safe_command(argv, {"ls"})  # type: ignore[arg-type]


def test_options_can_be_refused_for_untrusted_arguments() -> None:
    assert safe_command(["cat", "notes.txt"], {"cat"}, allow_options=False) == ["cat", "notes.txt"]
    with pytest.raises(UnsafeCommandError, match="options"):
        safe_command(["cat", "--output=/etc/passwd"], {"cat"}, allow_options=False)


def test_unsafe_command_is_a_tool_error_for_the_model() -> None:
    assert issubclass(UnsafeCommandError, ToolError) and issubclass(CommandTimeout, ToolError)


# ------------------------------------------------------------------------------------------------
# run_command: real subprocesses
# ------------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_runs_without_a_shell() -> None:
    # A shell would split "a  b" into two words and echo would print "a b".
    res = run_command(["echo", "a  b"], {"echo"})
    assert res.ok and res.stdout == "a  b\n" and res.argv == ("echo", "a  b")


@pytest.mark.integration
@needs_python
def test_exit_code_stdin_and_stderr(tmp_path: Path) -> None:
    prog = script(
        tmp_path,
        "p.py",
        "import sys\ndata = sys.stdin.read()\nprint(data.upper())\nsys.stderr.write('warn')\nsys.exit(3)\n",
    )
    res = run_command([PY, str(prog)], {PY}, input="hello")
    assert (res.returncode, res.stdout, res.stderr, res.ok) == (3, "HELLO\n", "warn", False)


@pytest.mark.integration
@needs_python
def test_parent_environment_is_not_inherited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak-1234567890")
    prog = script(
        tmp_path, "env.py", "import os\nprint(sorted(os.environ))\nprint(os.environ.get('EXTRA'))\n"
    )
    res = run_command([PY, str(prog)], {PY}, env={"EXTRA": "yes"})
    assert "OPENAI_API_KEY" not in res.stdout
    assert res.stdout.strip().endswith("yes")


@pytest.mark.integration
@needs_python
def test_cwd(tmp_path: Path) -> None:
    prog = script(tmp_path, "cwd.py", "import os\nprint(os.getcwd())\n")
    assert run_command([PY, str(prog)], {PY}, cwd=tmp_path).stdout.strip() == str(tmp_path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); read its state.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.integration
@needs_python
def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    prog = script(
        tmp_path,
        "spawn.py",
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n",
    )
    started = time.monotonic()
    with pytest.raises(CommandTimeout, match="longer than 1s"):
        run_command([PY, str(prog)], {PY}, timeout_s=1)
    assert time.monotonic() - started < 10
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


@pytest.mark.integration
@needs_python
def test_output_is_capped(tmp_path: Path) -> None:
    prog = script(tmp_path, "big.py", "import sys\nsys.stdout.write('x' * 3_000_000)\n")
    res = run_command([PY, str(prog)], {PY}, max_output_bytes=1000)
    assert res.ok and res.truncated and res.stdout == "x" * 1000


@pytest.mark.integration
def test_missing_program_is_a_tool_error() -> None:
    with pytest.raises(ToolError, match="not found"):
        run_command(["keel-no-such-program"], {"keel-no-such-program"})


@pytest.mark.integration
@needs_python
async def test_async_face(tmp_path: Path) -> None:
    prog = script(tmp_path, "a.py", "import sys\nprint(sys.stdin.read()[::-1])\n")
    res = await arun_command([PY, str(prog)], {PY}, input="abc")
    assert res.stdout == "cba\n"
    sleeper = script(tmp_path, "s.py", "import time\ntime.sleep(30)\n")
    with pytest.raises(CommandTimeout):
        await arun_command([PY, str(sleeper)], {PY}, timeout_s=0.5)
    with pytest.raises(UnsafeCommandError):
        await arun_command([PY, "x;y"], {PY})


# ------------------------------------------------------------------------------------------------
# The bubblewrap sandbox
# ------------------------------------------------------------------------------------------------


def test_sandbox_without_bwrap_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda name, **kw: None if name == "bwrap" else real_which(name, **kw)
    )
    with pytest.raises(ConfigError, match="apt-get install bubblewrap"):
        run_command(["echo", "x"], {"echo"}, sandbox="bwrap")


@pytest.fixture
def tcp_server() -> Iterator[int]:
    """A real TCP server on 127.0.0.1 that accepts connections until the test ends."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                conn.close()
            except OSError:
                continue

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(2)
    srv.close()


PROBE = """
import os, socket, sys
port = int(sys.argv[1])
outside = sys.argv[2]
results = {}
open('/work/inside.txt', 'w').write('ok')
results['workdir'] = os.path.exists('/work/inside.txt')
for name, path in (('outside', outside), ('usr', '/usr/keel-probe.txt')):
    try:
        open(path, 'w').write('x')
        results[name] = 'wrote'
    except OSError as exc:
        results[name] = type(exc).__name__
s = socket.socket()
s.settimeout(2)
try:
    s.connect(('127.0.0.1', port))
    results['net'] = 'connected'
except OSError as exc:
    results['net'] = type(exc).__name__
results['root'] = sorted(os.listdir('/'))
print(results)
"""


@pytest.mark.integration
@needs_bwrap
@needs_python
def test_sandbox_confines_files_and_network(tmp_path: Path, tcp_server: int) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "probe.py").write_text(PROBE)
    outside = tmp_path / "outside" / "escape.txt"
    outside.parent.mkdir()

    res = run_command(
        [PY, "/work/probe.py", str(tcp_server), str(outside)],
        {PY},
        sandbox="bwrap",
        workdir=work,
        timeout_s=30,
    )
    assert res.ok, res.stderr
    results = ast.literal_eval(res.stdout)
    assert results["workdir"] is True and (work / "inside.txt").read_text() == "ok"
    assert results["outside"] != "wrote" and not outside.exists()
    assert results["usr"] != "wrote" and not Path("/usr/keel-probe.txt").exists()
    assert results["net"] != "connected"
    assert "home" not in results["root"] and "root" not in results["root"]

    # The same probe outside the sandbox reaches the server: the refusal above is the sandbox.
    plain = script(
        tmp_path,
        "net.py",
        "import socket, sys\nsocket.create_connection(('127.0.0.1', int(sys.argv[1])), 2)\n",
    )
    assert run_command([PY, str(plain), str(tcp_server)], {PY}).ok


@pytest.mark.integration
@needs_bwrap
def test_sandbox_temporary_workdir_is_removed() -> None:
    res = run_command(["pwd"], {"pwd"}, sandbox="bwrap")
    assert res.stdout.strip() == "/work"
    leftovers = [p for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("keel-sandbox-*") if p.is_dir()]
    assert not any(p.stat().st_mtime > time.time() - 5 for p in leftovers)


@pytest.mark.integration
@needs_bwrap
def test_sandbox_runs_the_project_interpreter_with_its_packages(tmp_path: Path) -> None:
    exe = sys.executable
    (tmp_path / "job.py").write_text("import pydantic, keel.security.pii as p\nprint(p.mask_pii('a@b.io'))\n")
    with pytest.raises(ConfigError, match="ro_binds"):
        run_command([exe, "/work/job.py"], {exe}, sandbox="bwrap", workdir=tmp_path)
    # keel itself is an editable install: its source folder must be visible too.
    src = Path(shell_module_file()).parents[2]
    binds = {sys.prefix, sys.base_prefix, os.path.realpath(sys.base_prefix), str(src)}
    res = run_command([exe, "/work/job.py"], {exe}, sandbox="bwrap", workdir=tmp_path, ro_binds=sorted(binds))
    assert res.ok, res.stderr
    assert res.stdout.strip() == "<EMAIL>"


def shell_module_file() -> str:
    import keel.security.shell as module

    return module.__file__ or ""
