"""Import cost: ``import keel`` and ``from keel import Agent, tool`` against ``import pydantic``.

    python benchmarks/imports/run.py          # ~30 s; adds LangGraph and Pydantic AI when installed
    python benchmarks/imports/run.py --rounds 11

Each statement runs in a fresh interpreter (``-X importtime`` off, site on, bytecode cached), timed
inside the child around the statement alone, so interpreter start-up is excluded; the rounds are
interleaved and the median is reported with RSS after the import. ``-X importtime`` then shows where
``from keel import Agent, tool`` spends its time, and a table checks that no heavy optional
dependency is imported by Keel's public entry points (exit status 1 if one is).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "overhead"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))  # import_probe, shared with the tests

import anchors_venv
from measure import busy_note, machine, median, spread, table

from import_probe import HEAVY, heavy_among

KEEL = "from keel import Agent, tool"
KEEL_STATEMENTS = ["import keel", KEEL]
REFERENCE = "import pydantic"
FLOOR = "from pydantic import BaseModel\nclass M(BaseModel):\n    x: int"
ASYNCIO = "import asyncio"
ANCHOR_STATEMENTS = {
    "from langgraph.prebuilt import create_react_agent": ("856", "70"),
    "from pydantic_ai import Agent": ("658", "58"),
}
TARGET_RATIO, TARGET_RSS_MIB = 2.0, 35.0

# The child imports nothing before the clock starts except time; json and the RSS read come after.
CHILD = """
import time
t0, c0 = time.perf_counter(), time.process_time()
{stmt}
dt, dc = time.perf_counter() - t0, time.process_time() - c0
import json, os, sys
with open("/proc/self/statm") as f:
    rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
print(json.dumps({{"ms": dt * 1000, "cpu_ms": dc * 1000, "rss_mib": rss / 1048576, "modules": sorted(sys.modules)}}))
"""

Case = tuple[str, str]  # (statement, interpreter)
Results = dict[Case, list[dict[str, Any]]]


def _child(stmt: str, python: str, *flags: str) -> subprocess.CompletedProcess[str]:
    code = CHILD.format(stmt=stmt)
    return subprocess.run([python, *flags, "-c", code], capture_output=True, text=True, check=True)


def measure(cases: list[Case], rounds: int) -> Results:
    for stmt, py in cases:  # once untimed: compile .pyc files so round 1 is not a cold cache
        _child(stmt, py)
    out: Results = {c: [] for c in cases}
    for _ in range(rounds):
        for stmt, py in cases:
            out[stmt, py].append(json.loads(_child(stmt, py).stdout))
    return out


def importtime_summary(stmt: str, python: str, top: int) -> list[str]:
    """``-X importtime`` of ``stmt``: own time per top-level package, and the slowest Keel modules."""
    err = _child(stmt, python, "-X", "importtime").stderr
    rows = re.findall(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", err)
    by_pkg: dict[str, int] = defaultdict(int)
    keel_mods: list[tuple[int, int, str]] = []
    for self_us, cum_us, _indent, name in rows:
        by_pkg[name.split(".")[0]] += int(self_us)
        if name.startswith("keel"):
            keel_mods.append((int(self_us), int(cum_us), name))
    total = sum(by_pkg.values())
    pkg_rows = [
        [pkg, f"{us / 1000:,.1f}", f"{us / total:.0%}"]
        for pkg, us in sorted(by_pkg.items(), key=lambda kv: -kv[1])[:top]
    ]
    mod_rows = [
        [m, f"{s / 1000:,.1f}", f"{c / 1000:,.1f}"] for s, c, m in sorted(keel_mods, reverse=True)[:top]
    ]
    return [
        f"`python -X importtime -c '{stmt}'` (importtime inflates times; read the shares): "
        f"{total / 1000:,.0f} ms in {len(rows)} modules",
        "",
        table(["top-level package", "own ms", "share"], pkg_rows),
        "",
        table(["Keel module", "own ms", "cumulative ms"], mod_rows),
        "",
    ]


def heavy_table(results: Results, python: str) -> tuple[list[str], bool]:
    loaded = {
        st: {m.split(".")[0] for m in heavy_among(results[st, python][0]["modules"])}
        for st in KEEL_STATEMENTS
    }
    rows, clean = [], True
    for mod in HEAVY:
        cells = []
        for st in KEEL_STATEMENTS:
            hit = mod in loaded[st]
            clean &= not hit
            cells.append("**IMPORTED**" if hit else "not imported")
        rows.append([mod, *cells])
    hdr = ["heavy module", *(f"`{st}`" for st in KEEL_STATEMENTS)]
    verdict = (
        "None of them is imported." if clean else "HEAVY MODULES IMPORTED: move those imports into functions."
    )
    return ["Heavy optional dependencies after each statement:", "", table(hdr, rows), "", verdict, ""], clean


def _med(results: Results, case: Case, key: str) -> float:
    return median([float(r[key]) for r in results[case]])


def report(results: Results, project: str, anchors: str | None, rounds: int) -> list[str]:
    """The import table; ratios are to ``import pydantic`` run by the same interpreter."""
    labels = {
        REFERENCE: "`import pydantic` (reference)",
        FLOOR: "pydantic floor: `BaseModel` + one model class",
    }
    rows = []
    for (stmt, py), runs in results.items():
        ref = (REFERENCE, py)
        ms = [float(r["ms"]) for r in runs]
        target = ""
        if stmt in KEEL_STATEMENTS:
            target = f"**≤ {TARGET_RATIO:g}× pydantic, ≤ {TARGET_RSS_MIB:g} MiB**"
        elif stmt in ANCHOR_STATEMENTS:
            target = "{} ms, {} MiB".format(*ANCHOR_STATEMENTS[stmt])
        rows.append(
            [
                labels.get(stmt, f"`{stmt}`"),
                "anchors" if py == anchors else "Keel",
                f"{median(ms):,.1f} ({spread(ms, '{:,.0f}')})",
                f"{_med(results, (stmt, py), 'cpu_ms'):,.1f}",
                f"{median(ms) / _med(results, ref, 'ms'):.2f}×",
                f"{_med(results, (stmt, py), 'cpu_ms') / _med(results, ref, 'cpu_ms'):.2f}×",
                f"{_med(results, (stmt, py), 'rss_mib'):,.1f}",
                str(len(runs[0]["modules"])),
                target,
            ]
        )
    hdr = ["statement", "venv", "wall ms (min–max)", "CPU ms", "× pydantic (wall)", "× pydantic (CPU)"]
    hdr += ["RSS after, MiB", "modules", "target / TARGETS.md"]
    k = (KEEL, project)
    k_ms, k_rss = _med(results, k, "ms"), _med(results, k, "rss_mib")
    ratio = k_ms / _med(results, (REFERENCE, project), "ms")
    lines = [
        f"Import cost: a fresh interpreter per import, timed around the statement; median of {rounds} "
        f"interleaved rounds; {time.strftime('%Y-%m-%d')}; {machine()}",
        *busy_note(),
        "",
        table(hdr, rows),
        "",
        f"`{KEEL}`: {k_ms:,.0f} ms = {ratio:.2f}× pydantic (target ≤ {TARGET_RATIO:g}×: "
        f"{'MET' if ratio <= TARGET_RATIO else 'MISSED'}); RSS {k_rss:,.1f} MiB (target ≤ {TARGET_RSS_MIB:g}: "
        f"{'MET' if k_rss <= TARGET_RSS_MIB else 'MISSED'}).",
    ]
    if anchors is not None:
        implied = [
            f"{float(ANCHOR_STATEMENTS[st][0]) * k_ms / _med(results, (st, anchors), 'ms'):,.0f} ms (via {st.split()[1].split('.')[0]})"
            for st in ANCHOR_STATEMENTS
        ]
        lines.append(
            "Keel on the TARGETS.md machine, scaled by its ratio to each anchor measured here: "
            + ", ".join(implied)
            + " (TARGETS.md: pydantic 95 ms, so ≤ 190 ms)."
        )
    return [*lines, ""]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--top", type=int, default=10, help="rows in the -X importtime tables")
    p.add_argument("--keel-only", action="store_true", help="skip the anchor frameworks")
    args = p.parse_args()
    if not args.keel_only:
        anchors_venv.reexec_in_anchors(__file__, sys.argv[1:])
    # Keel is timed by its own venv's interpreter (site-packages change pydantic's start-up work);
    # the anchors by theirs, each against `import pydantic` run by the same interpreter.
    project = anchors_venv.project_python()
    anchors = sys.executable if not args.keel_only and anchors_venv.anchors_available() else None
    cases: list[Case] = [(st, project) for st in (REFERENCE, FLOOR, ASYNCIO, *KEEL_STATEMENTS)]
    if anchors is not None:
        cases += [(REFERENCE, anchors), *((st, anchors) for st in ANCHOR_STATEMENTS)]
    results = measure(list(dict.fromkeys(cases)), args.rounds)
    lines = report(results, project, anchors, args.rounds)
    heavy, clean = heavy_table(results, project)
    lines += heavy + importtime_summary(KEEL, project, args.top)
    if anchors is None and not args.keel_only:
        lines.append(anchors_venv.MISSING)
    print("\n".join(lines))
    sys.exit(0 if clean else 1)


if __name__ == "__main__":
    main()
