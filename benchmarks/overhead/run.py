"""Framework overhead: µs per run and RSS growth of the same scripted agent in Keel and the anchors.

    python benchmarks/overhead/run.py            # Keel vs LangGraph and Pydantic AI, ~2 minutes
    python benchmarks/overhead/run.py --setup    # create benchmarks/.venv-anchors first
    python benchmarks/overhead/run.py --keel-only --procs 1

The agent (see ``bench_agents.py``): one tool ``add(a, b)``, a scripted model that calls it, then
answers. Per TARGETS.md: tracing off, 30 warm-up runs, then 1,000 timed runs, in 3 fresh processes per
framework (interleaved, so a noisy minute hurts every framework alike); the median is reported, with
ratios to Keel measured in the same run. RSS growth is RSS after the timed runs minus RSS after the
warm-up (both after ``gc.collect()``).

Variants: ``async`` (headline: async entry point, ``async def`` tool), ``sync-tool`` (async entry
point, plain ``def`` tool) and ``sync`` (each framework's sync entry point, ``def`` tool).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import anchors_venv
from bench_agents import ANCHORS, BUILDERS, EXPECTED, BenchAgent
from measure import MIB, busy_note, machine, median, rss_bytes, spread, table

PROMPT = "What is 2 + 3?"
VARIANTS: dict[str, dict[str, Any]] = {
    "async": {"sync_tool": False, "entry": "async", "label": "async run, `async def` tool"},
    "sync-tool": {"sync_tool": True, "entry": "async", "label": "async run, `def` tool"},
    "sync": {"sync_tool": True, "entry": "sync", "label": "sync run (run_sync / invoke), `def` tool"},
}
TARGET_US, TARGET_RSS_MIB = 150.0, 0.1
TARGETS_MD = {"langgraph": ("3,543 (sync 2,732)", "+0.2"), "pydantic_ai": ("4,081", "+0.06")}
TARGETS_US = {"langgraph": 3543.0, "pydantic_ai": 4081.0}  # async figures, for the scaled estimate


# -- worker: one framework, one fresh process --------------------------------------------------------


def _check(out: str) -> None:
    if out != EXPECTED:
        raise SystemExit(f"benchmark agent answered {out!r}, expected {EXPECTED!r}: the run is broken")


async def _arun_n(agent: BenchAgent, n: int) -> None:
    for _ in range(n):
        _check(await agent.arun(PROMPT))


def _run_n(agent: BenchAgent, n: int, entry: str) -> tuple[float, float]:
    """Run ``n`` times through the entry point; return (wall seconds, CPU seconds of this process)."""
    t0, c0 = time.perf_counter(), time.process_time()
    if entry == "async":
        asyncio.run(_arun_n(agent, n))
    else:
        for _ in range(n):
            _check(agent.run_sync(PROMPT))
    return time.perf_counter() - t0, time.process_time() - c0


def _retained_kib(agent: BenchAgent, entry: str, runs: int) -> float:
    """Python memory still allocated after ``runs`` runs (tracemalloc), in KiB per 1,000 runs."""
    tracemalloc.start()
    _run_n(agent, 30, entry)
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    _run_n(agent, runs, entry)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / runs * 1000 / 1024


def worker(framework: str, variants: list[str], warmup: int, runs: int, leaks: int) -> dict[str, Any]:
    """Measure every variant of one framework in this (fresh) process."""
    out: dict[str, Any] = {}
    for name in variants:
        v = VARIANTS[name]
        agent = BUILDERS[framework](sync_tool=v["sync_tool"])
        # Async timing includes one asyncio.run per 1,000 runs, the same for every framework.
        _run_n(agent, warmup, v["entry"])
        gc.collect()
        rss0 = rss_bytes()
        wall, cpu = _run_n(agent, runs, v["entry"])
        gc.collect()
        rss1 = rss_bytes()
        res = {"us": wall / runs * 1e6, "cpu_us": cpu / runs * 1e6, "rss_mib": (rss1 - rss0) / MIB}
        res["version"] = agent.version
        if agent.steps_per_run:
            res["steps"] = agent.steps_per_run
        if leaks and name == "async":  # the headline only: tracing is slow
            res["retained_kib"] = _retained_kib(agent, v["entry"], leaks)
        out[name] = res
    return out


# -- orchestration -----------------------------------------------------------------------------------

LABELS = {"keel": "Keel", "langgraph": "LangGraph", "pydantic_ai": "Pydantic AI"}
Results = dict[str, list[dict[str, Any]]]  # framework -> one dict per process: variant -> figures


def _spawn(framework: str, args: argparse.Namespace, leaks: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", framework, "--warmup", str(args.warmup)]
    cmd += ["--runs", str(args.runs), "--variants", ",".join(args.variants), "--leaks", str(leaks)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{framework} worker failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _med(results: Results, fw: str, var: str, key: str) -> float:
    return median([r[var][key] for r in results[fw] if key in r[var]])


def _all(results: Results, fw: str, var: str, key: str) -> list[float]:
    return [r[var][key] for r in results[fw]]


def _ratio(results: Results, fw: str, var: str, key: str) -> str:
    if fw == "keel":
        return ""
    return f" ({_med(results, fw, var, key) / _med(results, 'keel', var, key):,.1f}×)"


def headline(results: Results, args: argparse.Namespace) -> list[str]:
    """The TARGETS.md table: µs per run, RSS growth, with the anchors' ratios to Keel."""
    fws, var = list(results), "async"
    version = {fw: results[fw][0][var]["version"] for fw in fws}
    hdr = ["measure", *(f"{LABELS[f]} {version[f]}" for f in fws), "Keel target"]
    rows = [
        ["µs per run, wall (× Keel)"]
        + [f"{_med(results, f, var, 'us'):,.0f}{_ratio(results, f, var, 'us')}" for f in fws]
        + [f"**≤ {TARGET_US:.0f}**"],
        ["µs per run, CPU of the process (× Keel)"]
        + [f"{_med(results, f, var, 'cpu_us'):,.0f}{_ratio(results, f, var, 'cpu_us')}" for f in fws]
        + [""],
        ["µs per Keel loop step (2 model turns + 1 tool round)"]
        + [f"{_med(results, 'keel', var, 'us') / _med(results, 'keel', var, 'steps'):,.0f}"]
        + ["–"] * (len(fws) - 1)
        + [""],
        ["RSS growth per 1,000 runs, MiB"]
        + [f"{_med(results, f, var, 'rss_mib'):+.2f}" for f in fws]
        + [f"**≤ {TARGET_RSS_MIB}**"],
        ["wall µs per run, min–max of the processes"]
        + [spread(_all(results, f, var, "us")) for f in fws]
        + [""],
    ]
    if args.leaks:
        rows.append(
            [f"KiB still allocated per 1,000 runs (tracemalloc, {args.leaks} runs, 1 process)"]
            + [f"{median([r[var]['retained_kib'] for r in results[f][:1]]):,.1f}" for f in fws]
            + [""]
        )
    if len(fws) > 1:
        rows.append(
            ["TARGETS.md figure: µs; RSS MiB", "–", *(" ; ".join(TARGETS_MD[f]) for f in fws[1:]), ""]
        )
    k_us, k_rss = _med(results, "keel", var, "us"), _med(results, "keel", var, "rss_mib")
    verdict = (
        f"Keel: {k_us:,.0f} µs per run, target ≤ {TARGET_US:.0f}: {'MET' if k_us <= TARGET_US else 'MISSED'}; "
        f"RSS growth {k_rss:+.2f} MiB per 1,000 runs, target ≤ {TARGET_RSS_MIB}: "
        f"{'MET' if k_rss <= TARGET_RSS_MIB else 'MISSED'}."
    )
    lines = [f"Headline ({VARIANTS[var]['label']}):", "", table(hdr, rows), "", verdict]
    if len(fws) > 1:
        # Absolute µs depend on the machine and its load; ratios to an anchor run beside Keel do not.
        k_cpu = _med(results, "keel", var, "cpu_us")
        scaled = [
            f"{TARGETS_US[f] * k_us / _med(results, f, var, 'us'):,.0f} µs by wall, "
            f"{TARGETS_US[f] * k_cpu / _med(results, f, var, 'cpu_us'):,.0f} µs by CPU (via {LABELS[f]})"
            for f in fws[1:]
        ]
        lines.append(
            "Keel on the TARGETS.md machine, scaled by its ratio to each anchor here: " + "; ".join(scaled)
        )
    return [*lines, ""]


def other_variants(results: Results, args: argparse.Namespace) -> list[str]:
    fws = list(results)
    rows = []
    for var in (v for v in args.variants if v != "async"):
        cells = [
            f"{_med(results, f, var, 'us'):,.0f}{_ratio(results, f, var, 'us')}; {_med(results, f, var, 'rss_mib'):+.2f}"
            for f in fws
        ]
        rows.append([VARIANTS[var]["label"], *cells])
    if not rows:
        return []
    hdr = ["variant: wall µs per run (× Keel); RSS MiB per 1,000 runs", *(LABELS[f] for f in fws)]
    return ["Other variants:", "", table(hdr, rows), ""]


def report(results: Results, args: argparse.Namespace) -> str:
    parts = [
        f"Framework overhead: {args.warmup} warm-up + {args.runs:,} timed runs, median of {args.procs} "
        f"fresh processes per framework; {time.strftime('%Y-%m-%d')}; {machine()}",
        *busy_note(),
        "",
    ]
    if "async" in args.variants:
        parts += headline(results, args)
    parts += other_variants(results, args)
    if len(results) == 1 and not args.keel_only:
        parts.append(anchors_venv.MISSING)
    return "\n".join(parts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--setup", action="store_true", help="create benchmarks/.venv-anchors and exit")
    p.add_argument("--keel-only", action="store_true", help="skip the anchor frameworks")
    p.add_argument("--procs", type=int, default=3, help="fresh processes per framework (median)")
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--variants", default="async,sync-tool,sync", help="comma list of: " + ",".join(VARIANTS))
    p.add_argument(
        "--leaks", type=int, default=300, help="runs traced by tracemalloc in the first process (0: skip)"
    )
    p.add_argument("--json", type=Path, help="also write the raw per-process figures here")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.variants = [v for v in args.variants.split(",") if v]
    if unknown := set(args.variants) - set(VARIANTS):
        p.error(f"unknown variant(s) {sorted(unknown)}; choose from {list(VARIANTS)}")
    if args.worker:
        print(json.dumps(worker(args.worker, args.variants, args.warmup, args.runs, args.leaks)))
        return
    if args.setup:
        anchors_venv.setup()
        return
    if not args.keel_only:
        anchors_venv.reexec_in_anchors(__file__, sys.argv[1:])
    fws = ["keel"] + ([] if args.keel_only or not anchors_venv.anchors_available() else list(ANCHORS))
    results: Results = {fw: [] for fw in fws}
    for i in range(args.procs):
        for fw in fws:  # interleaved, so a noisy minute hurts every framework alike
            print(f"process {i + 1}/{args.procs}: {LABELS[fw]} ...", file=sys.stderr, flush=True)
            results[fw].append(_spawn(fw, args, args.leaks if i == 0 else 0))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(report(results, args))


if __name__ == "__main__":
    main()
