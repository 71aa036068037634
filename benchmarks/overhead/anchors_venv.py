"""The anchors' virtual environment: LangGraph and Pydantic AI live there, never in Keel's own venv.

``benchmarks/.venv-anchors`` holds the anchor frameworks (pinned in ``anchors-requirements.txt``) plus
Keel installed editable from this checkout, so one process can import both. The benchmark scripts
re-execute themselves with its interpreter when it exists; ``--setup`` creates it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VENV = REPO / "benchmarks" / ".venv-anchors"
REQUIREMENTS = HERE / "anchors-requirements.txt"


def anchors_python() -> Path | None:
    """The anchors venv's interpreter, or None when the venv has not been set up."""
    exe = VENV / "bin" / "python"
    return exe if exe.exists() else None


def in_anchors_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def project_python() -> str:
    """The interpreter the benchmark was started with (Keel's own venv), before any re-execution.

    Falls back to this interpreter when that one cannot import Keel (started from a bare python).
    """
    exe = os.environ.get("KEEL_BENCH_PROJECT_PYTHON", sys.executable)
    if exe != sys.executable:
        probe = subprocess.run([exe, "-c", "import keel"], capture_output=True, check=False)
        if probe.returncode != 0:
            return sys.executable
    return exe


def anchors_available() -> bool:
    """True when this interpreter can import the anchor frameworks."""
    try:
        import langgraph  # noqa: F401
        import pydantic_ai  # noqa: F401
    except ImportError:
        return False
    return True


def reexec_in_anchors(script: str, argv: list[str]) -> None:
    """Replace this process with the same script under the anchors venv (no return), if there is one."""
    exe = anchors_python()
    if exe is None or in_anchors_venv() or os.environ.get("KEEL_BENCH_NO_REEXEC"):
        return
    os.environ["KEEL_BENCH_NO_REEXEC"] = "1"  # never loop if the venv's python is somehow this one
    os.environ["KEEL_BENCH_PROJECT_PYTHON"] = sys.executable
    os.execv(str(exe), [str(exe), script, *argv])


def setup() -> None:
    """Create the anchors venv and install the pinned anchors and this checkout of Keel into it."""
    if anchors_python() is None:
        print(f"creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True, symlinks=os.name != "nt").create(VENV)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    subprocess.run([*pip, "-e", str(REPO)], check=True)
    print("anchors venv ready: python benchmarks/overhead/run.py", flush=True)


MISSING = (
    "anchor frameworks missing: Keel measured alone. Create their venv with "
    "`python benchmarks/overhead/run.py --setup` to compare in the same run."
)
