"""Small measurement helpers shared by the benchmark scripts: RSS, medians, markdown tables."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from collections.abc import Sequence

MIB = 1024 * 1024


def rss_bytes() -> int:
    """Resident set size of this process now (``/proc/self/statm``; psutil elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import psutil

        return int(psutil.Process().memory_info().rss)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def spread(values: Sequence[float], fmt: str = "{:,.0f}") -> str:
    """``min–max`` of the processes' figures, to show how noisy the machine was."""
    return f"{fmt.format(min(values))}–{fmt.format(max(values))}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table (pasteable into docs/performance.md as printed)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def machine() -> str:
    """One line naming the machine and interpreter, printed under every table."""
    cpus = os.cpu_count() or 0
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        model = platform.processor()
    try:
        load = f"load {os.getloadavg()[0]:.2f}"
    except OSError:
        load = ""
    py = platform.python_version()
    return f"{cpus} cores ({model or 'unknown CPU'}), {load}, Python {py} ({sys.implementation.name})"


def busy_note() -> list[str]:
    """A warning line when other processes compete for the CPUs (wall times are then inflated)."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return []
    cpus = os.cpu_count() or 1
    if load <= cpus:
        return []
    return [
        f"Machine busy (load {load:.1f} on {cpus} cores): wall times are inflated; "
        "compare the CPU figures and the ratios measured in this run."
    ]
