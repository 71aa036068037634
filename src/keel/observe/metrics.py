"""Monitoring from the event log: success rate, latency, errors, tokens and cost, per agent and model.

``Metrics`` is an observer (``Agent(observers=[metrics])``); ``metrics.snapshot()`` gives the figures
and ``metrics.prometheus()`` the Prometheus text exposition format (served by ``keel serve`` at
``/metrics``). No dependency: counters and histograms are kept here.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from keel.events import (
    Event,
    GuardrailTripped,
    ModelRequested,
    ModelResponded,
    RetryScheduled,
    RunFailed,
    RunFinished,
    RunStarted,
    ToolCallFinished,
)

__all__ = ["Histogram", "Metrics"]

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass
class Histogram:
    """Cumulative buckets (seconds) plus the raw sum and count; ``quantile`` interpolates."""

    buckets: tuple[float, ...] = _BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(_BUCKETS) + 1))
    total: float = 0.0
    n: int = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1

    def quantile(self, q: float) -> float:
        if self.n == 0:
            return 0.0
        rank, seen = q * self.n, 0
        for i, c in enumerate(self.counts):
            if seen + c >= rank and c:
                lo = self.buckets[i - 1] if i else 0.0
                hi = self.buckets[i] if i < len(self.buckets) else self.buckets[-1]
                return lo + (hi - lo) * ((rank - seen) / c)
            seen += c
        return self.buckets[-1]


class Metrics:
    """Aggregates run events into counters and latency histograms, labelled by agent/model/tool."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.runs: dict[tuple[str, str], int] = defaultdict(int)  # (agent, status)
        self.failures: dict[tuple[str, str], int] = defaultdict(int)  # (agent, reason)
        self.run_latency: dict[str, Histogram] = defaultdict(Histogram)
        self.model_latency: dict[str, Histogram] = defaultdict(Histogram)
        self.model_calls: dict[str, int] = defaultdict(int)
        self.tokens: dict[tuple[str, str], int] = defaultdict(int)  # (model, input|output|cached)
        self.cost_usd: dict[str, float] = defaultdict(float)
        self.tool_calls: dict[tuple[str, str], int] = defaultdict(int)  # (tool, ok|error)
        self.tool_latency: dict[str, Histogram] = defaultdict(Histogram)
        self.retries: dict[str, int] = defaultdict(int)
        self.guardrails: dict[tuple[str, str], int] = defaultdict(int)
        self._started: dict[str, tuple[str, float]] = {}

    def __call__(self, ev: Event) -> None:
        with self._lock:
            self._observe(ev)

    def _observe(self, ev: Event) -> None:
        if isinstance(ev, RunStarted):
            self._started[ev.run_id] = (ev.agent, ev.ts)
        elif isinstance(ev, RunFinished | RunFailed):
            agent, t0 = self._started.pop(ev.run_id, ("?", ev.ts))
            status = "finished" if isinstance(ev, RunFinished) else "failed"
            self.runs[(agent, status)] += 1
            self.run_latency[agent].observe(max(ev.ts - t0, 0.0))
            if isinstance(ev, RunFailed):
                self.failures[(agent, ev.reason)] += 1
        elif isinstance(ev, ModelRequested):
            self.model_calls[ev.model] += 1
        elif isinstance(ev, ModelResponded):
            self.model_latency[ev.model].observe(ev.latency_ms / 1000)
            u = ev.usage
            self.tokens[(ev.model, "input")] += u.input_tokens
            self.tokens[(ev.model, "output")] += u.output_tokens
            self.tokens[(ev.model, "cached")] += u.cached_tokens
            self.cost_usd[ev.model] += u.cost_usd
        elif isinstance(ev, ToolCallFinished):
            r = ev.result
            self.tool_calls[(r.name, "error" if r.is_error else "ok")] += 1
            self.tool_latency[r.name].observe(ev.duration_ms / 1000)
        elif isinstance(ev, RetryScheduled):
            self.retries[ev.target] += 1
        elif isinstance(ev, GuardrailTripped):
            self.guardrails[(ev.guardrail, ev.where)] += 1

    def snapshot(self) -> dict[str, Any]:
        """Success rate, latency quantiles, errors, tokens and cost, per agent and model."""
        with self._lock:
            agents = {a for a, _ in self.runs}
            out: dict[str, Any] = {"agents": {}, "models": {}, "tools": {}}
            for a in sorted(agents):
                done, failed = self.runs[(a, "finished")], self.runs[(a, "failed")]
                h = self.run_latency[a]
                out["agents"][a] = {
                    "runs": done + failed,
                    "success_rate": done / (done + failed) if done + failed else None,
                    "latency_p50_s": h.quantile(0.5),
                    "latency_p95_s": h.quantile(0.95),
                    "failures": {r: n for (ag, r), n in self.failures.items() if ag == a},
                }
            for m in sorted(self.model_calls):
                out["models"][m] = {
                    "calls": self.model_calls[m],
                    "latency_p50_s": self.model_latency[m].quantile(0.5),
                    "input_tokens": self.tokens[(m, "input")],
                    "output_tokens": self.tokens[(m, "output")],
                    "cost_usd": round(self.cost_usd[m], 6),
                    "retries": self.retries.get(m, 0),
                }
            for (t, outcome), n in sorted(self.tool_calls.items()):
                out["tools"].setdefault(t, {"ok": 0, "error": 0})[outcome] = n
            return out

    def prometheus(self) -> str:
        """The metrics in Prometheus' text exposition format."""
        lines: list[str] = []

        def series(name: str, kind: str, help_: str, rows: list[tuple[dict[str, str], float]]) -> None:
            lines.append(f"# HELP {name} {help_}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in rows:
                lab = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())
                lines.append(f"{name}{{{lab}}} {value}")

        with self._lock:
            series("keel_runs_total", "counter", "Runs ended, by agent and status.",
                   [({"agent": a, "status": s}, n) for (a, s), n in sorted(self.runs.items())])  # fmt: skip
            series("keel_run_failures_total", "counter", "Failed runs, by reason.",
                   [({"agent": a, "reason": r}, n) for (a, r), n in sorted(self.failures.items())])  # fmt: skip
            series("keel_model_calls_total", "counter", "Model requests.",
                   [({"model": m}, n) for m, n in sorted(self.model_calls.items())])  # fmt: skip
            series("keel_tokens_total", "counter", "Tokens, by model and kind.",
                   [({"model": m, "kind": k}, n) for (m, k), n in sorted(self.tokens.items())])  # fmt: skip
            series("keel_cost_usd_total", "counter", "Cost in USD, by model.",
                   [({"model": m}, round(c, 6)) for m, c in sorted(self.cost_usd.items())])  # fmt: skip
            series("keel_tool_calls_total", "counter", "Tool calls, by tool and outcome.",
                   [({"tool": t, "outcome": o}, n) for (t, o), n in sorted(self.tool_calls.items())])  # fmt: skip
            for name, hists in (
                ("keel_run_seconds", self.run_latency),
                ("keel_model_seconds", self.model_latency),
            ):
                lines.append(f"# TYPE {name} histogram")
                label = "agent" if name == "keel_run_seconds" else "model"
                for key, h in sorted(hists.items()):
                    cum = 0
                    for b, c in zip((*h.buckets, float("inf")), h.counts, strict=True):
                        cum += c
                        le = "+Inf" if b == float("inf") else repr(b)
                        lines.append(f'{name}_bucket{{{label}="{_esc(key)}",le="{le}"}} {cum}')
                    lines.append(f'{name}_sum{{{label}="{_esc(key)}"}} {h.total}')
                    lines.append(f'{name}_count{{{label}="{_esc(key)}"}} {h.n}')
        return "\n".join(lines) + "\n"


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
