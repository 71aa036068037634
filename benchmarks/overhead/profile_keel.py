"""Where Keel's per-run time goes: cProfile over the overhead benchmark's agent, grouped by area.

    python benchmarks/overhead/profile_keel.py                 # async entry, async def tool
    python benchmarks/overhead/profile_keel.py --variant sync-tool --runs 3000

Prints the share of (profiled) own time per area (Keel module, pydantic, asyncio, the scripted test
model, ...) and the top functions. cProfile inflates absolute times several-fold; read the shares.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_agents import EXPECTED, keel_agent
from measure import table


def _area(filename: str, func: str) -> str:
    if "/keel/" in filename:
        return "keel/" + filename.split("/keel/", 1)[1]
    if filename == "~":  # builtins: attribute the pydantic-core validators to pydantic
        return "pydantic-core (validation, dump)" if "pydantic_core" in func else "builtins"
    for marker in (
        "pydantic/",
        "asyncio/",
        "concurrent/",
        "threading",
        "uuid",
        "hashlib",
        "json/",
        "bench_agents",
    ):
        if marker in filename:
            return marker.strip("/")
    return Path(filename).name


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=2000)
    p.add_argument("--variant", choices=["async", "sync-tool"], default="async")
    p.add_argument("--top", type=int, default=20)
    args = p.parse_args()
    agent = keel_agent(sync_tool=args.variant == "sync-tool")

    async def many(n: int) -> None:
        for _ in range(n):
            if await agent.arun("What is 2 + 3?") != EXPECTED:
                raise SystemExit("benchmark agent gave a wrong answer")

    asyncio.run(many(30))
    prof = cProfile.Profile()
    prof.enable()
    asyncio.run(many(args.runs))
    prof.disable()
    stats = pstats.Stats(prof)
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())
    by_area: dict[str, float] = defaultdict(float)
    for (filename, _line, func), (_cc, _nc, tt, _ct, _callers) in raw.items():
        by_area[_area(filename, func)] += tt
    rows = [
        [area, f"{tt / total:.1%}", f"{tt / args.runs * 1e6:,.1f}"]
        for area, tt in sorted(by_area.items(), key=lambda kv: -kv[1])[:15]
    ]
    print(f"Keel profile, {args.runs:,} runs ({args.variant}); profiled µs are inflated by cProfile\n")
    print(table(["area (own time)", "share", "profiled µs per run"], rows))
    top = sorted(raw.items(), key=lambda kv: -kv[1][2])[: args.top]
    rows = [
        [
            f"{Path(f).name}:{line}({func})",
            f"{nc / args.runs:g}",
            f"{tt / args.runs * 1e6:,.1f}",
            f"{ct / args.runs * 1e6:,.1f}",
        ]
        for (f, line, func), (_cc, nc, tt, ct, _c) in top
    ]
    print()
    print(table(["function", "calls per run", "own µs per run", "cumulative µs per run"], rows))


if __name__ == "__main__":
    main()
