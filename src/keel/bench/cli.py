"""``keel bench``: public benchmarks on any Keel model.

    keel bench bfcl --limit 50 --json                       # 50 items per category, keel mode
    keel bench bfcl --category simple_python --mode raw --report reports/bfcl-raw
    keel bench bfcl --replay-gold --json                    # BFCL's checker against its answer keys
    keel bench tau2-retail --split test --replay-gold --json
    keel bench tau2-retail --split test --limit 3 --report reports/tau2
    keel bench support-kb --json
    keel bench compare reports/bfcl-raw/results.jsonl reports/bfcl-keel/results.jsonl

``--json`` prints exactly one JSON object on stdout (progress goes to stderr); ``--report DIR``
writes ``report.html``, ``results.jsonl``, ``summary.json`` and ``traces/``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import click

from keel.bench._common import stderr_progress
from keel.bench.results import ItemResult, summarize
from keel.errors import ConfigError, KeelError

__all__ = ["bench"]


def _fail(message: str) -> NoReturn:
    click.echo(f"keel: {message}", err=True)
    sys.exit(2)


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options every suite takes (``keel bench SUITE [options]``)."""
    options = [
        click.option("--model", "-m", default=None, help="Model string (default: local)."),
        click.option("--limit", type=int, default=None, help="Items to run (per category for bfcl)."),
        click.option("--offset", type=int, default=0, show_default=True, help="Items to skip first."),
        click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout."),
        click.option(
            "--report", "report_dir", default=None, help="Write the HTML report and raw results here."
        ),
        click.option("--quiet", "-q", is_flag=True, help="No per-item progress on stderr."),
    ]
    for opt in reversed(options):
        fn = opt(fn)
    return fn


def _model(spec: str | None, **local_options: Any) -> Any:
    from keel.models import get_model

    name = spec or "local"
    return get_model(name, **local_options) if name.startswith("local") else get_model(name)


def _emit(
    suite: str, model_name: str, items: Sequence[ItemResult], *, as_json: bool, report_dir: str | None,
    extra: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    summary = summarize(suite, model_name, items, extra=extra)
    if report_dir:
        from keel.bench.report import write_report

        page = write_report(report_dir, summary, items)
        click.echo(f"report: {page}", err=True)
    if as_json:
        click.echo(json.dumps(summary, default=str, ensure_ascii=False))
        return
    click.echo(f"{suite} · {model_name} · {summary['n']} items · score {summary['score']:.1%}")
    for cat, cell in summary["per_category"].items():
        click.echo(f"  {cat:<22} {cell['n']:>5}  {cell['score']:.1%}")
    click.echo(f"  latency p50 {summary['latency_p50_s']} s, p95 {summary['latency_p95_s']} s; "
               f"tokens {summary['tokens']['input']} in / {summary['tokens']['output']} out")  # fmt: skip
    if extra:
        click.echo(json.dumps(extra, indent=1, default=str))


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Errors a user can fix print one line and exit 2, as everywhere in ``keel``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KeelError as e:
            _fail(str(e))

    return wrapper


@click.group()
def bench() -> None:
    """Run public benchmarks (BFCL, tau2-bench retail, Bitext support KB) and compare runs."""


@bench.command("bfcl")
@_common
@click.option("--category", "categories", multiple=True, help="BFCL category (repeatable; default: all 8).")
@click.option("--mode", type=click.Choice(["raw", "keel"]), default="keel", show_default=True,
              help="raw: the model's own tool calling; keel: Keel's tool path.")  # fmt: skip
@click.option(
    "--replay-gold", is_flag=True, help="Check BFCL's checker against its own answer keys (no model)."
)
@_guard
def bfcl_cmd(
    model: str | None, limit: int | None, offset: int, as_json: bool, report_dir: str | None, quiet: bool,
    categories: tuple[str, ...], mode: str, replay_gold: bool,
) -> None:  # fmt: skip
    """Berkeley Function Calling Leaderboard, single-turn categories, BFCL's AST checker."""
    from keel.bench.bfcl import CATEGORIES, replay_gold_bfcl, run_bfcl

    cats = [c for arg in categories for c in arg.split(",") if c] or list(CATEGORIES)
    config = {"mode": "replay-gold" if replay_gold else mode, "categories": cats, "limit_per_category": limit,
              "offset": offset}  # fmt: skip
    if replay_gold:
        items = replay_gold_bfcl(categories=cats, limit=limit, offset=offset)
        _emit("bfcl", "gold", items, as_json=as_json, report_dir=report_dir, extra={"config": config})
        return
    m = _model(model)
    items = asyncio.run(run_bfcl(m, categories=cats, mode=mode, limit=limit, offset=offset,
                                 progress=None if quiet else stderr_progress))  # fmt: skip
    _emit("bfcl", m.name, items, as_json=as_json, report_dir=report_dir, extra={"config": config})


@bench.command("tau2-retail")
@_common
@click.option("--split", type=click.Choice(["train", "test", "all"]), default="test", show_default=True)
@click.option(
    "--replay-gold", is_flag=True, help="Replay the gold actions through the MCP server (no model)."
)
@click.option(
    "--max-turns", type=int, default=8, show_default=True, help="Customer messages per conversation."
)
@click.option(
    "--max-tokens", type=int, default=256, show_default=True, help="Answer cap per agent model call."
)
@click.option(
    "--user-model", default=None, help="Model that plays the customer (default: local:large for local)."
)
@_guard
def tau2_cmd(
    model: str | None, limit: int | None, offset: int, as_json: bool, report_dir: str | None, quiet: bool,
    split: str, replay_gold: bool, max_turns: int, max_tokens: int, user_model: str | None,
) -> None:  # fmt: skip
    """tau2-bench retail over its MCP server: gold replay, or the agent against a simulated user."""
    from keel.bench.tau2 import load_tasks
    from keel.bench.tau2 import replay_gold as replay

    tasks = load_tasks(split, limit=limit, offset=offset)
    progress = None if quiet else stderr_progress
    config: dict[str, Any] = {"split": split, "limit": limit, "offset": offset}
    if replay_gold:
        items = asyncio.run(replay(tasks, progress=progress))
        for it in items:
            it.category = split
        _emit("tau2-retail", "gold", items, as_json=as_json, report_dir=report_dir,
              extra={"config": {**config, "mode": "replay-gold"}})  # fmt: skip
        return
    from keel.bench.tau2_e2e import E2EConfig, run_e2e

    m = _model(model, n_ctx=8192)  # the policy alone is ~1,700 tokens
    um = _model(user_model or _default_user_model(model), n_ctx=8192)
    cfg = E2EConfig(max_turns=max_turns, max_tokens=max_tokens)
    items = asyncio.run(run_e2e(m, tasks, user_model=um, config=cfg, split=split, progress=progress))
    violations = [v for it in items for v in it.detail.get("violations", [])]
    extra = {
        "config": {
            **config,
            "mode": "e2e",
            "max_turns": max_turns,
            "max_tokens": max_tokens,
            "user_model": um.name,
        },
        "pass^1": round(sum(it.ok for it in items) / len(items), 4) if items else 0.0,
        "tau2_reward": round(sum(it.detail.get("tau2_reward", 0) for it in items) / len(items), 4)
        if items
        else 0.0,
        "db_ok": sum(bool(it.detail.get("db_ok")) for it in items),
        "policy_violations": len(violations),
        "violations_by_kind": _kinds(violations),
    }
    _emit("tau2-retail", m.name, items, as_json=as_json, report_dir=report_dir, extra=extra)


def _default_user_model(agent_model: str | None) -> str:
    """The customer is played by ``local:large`` when the agent is local and it is installed: the
    0.5B model cannot stay in the customer's role (it ends its first message with ``###STOP###``)."""
    name = agent_model or "local"
    if not name.startswith("local"):
        return name
    try:
        from keel.models._weights import resolve_model_path

        resolve_model_path("large")
    except KeelError:
        click.echo("keel: local:large is not installed; the agent's model plays the customer", err=True)
        return name
    return "local:large"


def _kinds(violations: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in violations:
        kind = "multiple calls in one turn" if "tool calls in one turn" in v else v.split(" ", 1)[1]
        out[kind] = out.get(kind, 0) + 1
    return out


@bench.command("support-kb")
@_common
@click.option("--faithfulness", "faithfulness_n", type=int, default=10, show_default=True,
              help="Questions answered by the model for the faithfulness check (0: skip the model).")  # fmt: skip
@_guard
def support_kb_cmd(
    model: str | None, limit: int | None, offset: int, as_json: bool, report_dir: str | None, quiet: bool,
    faithfulness_n: int,
) -> None:  # fmt: skip
    """Bitext support KB: retrieval hit@k/MRR, 27-intent routing, answer faithfulness."""
    from keel.bench.supportkb import run_support_kb

    m = _model(model) if faithfulness_n > 0 else None
    items, metrics = asyncio.run(run_support_kb(m, limit=limit, offset=offset, faithfulness_n=faithfulness_n,
                                                progress=None if quiet else stderr_progress))  # fmt: skip
    metrics["config"] = {"limit": limit, "offset": offset, "faithfulness_n": faithfulness_n}
    _emit("support-kb", m.name if m else "none", items, as_json=as_json, report_dir=report_dir, extra=metrics)


@bench.command("compare")
@click.argument("a")
@click.argument("b")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
@click.option("--boot", type=int, default=10_000, show_default=True, help="Bootstrap resamples.")
@click.option(
    "--labels", default="A,B", show_default=True, help="Column names for the two runs, e.g. raw,keel."
)
@_guard
def compare_cmd(a: str, b: str, as_json: bool, boot: int, labels: str) -> None:
    """Paired comparison of two runs' results.jsonl (B − A, bootstrap 95% CI), per category."""
    from keel.bench.compare import compare_files, format_comparison

    if boot < 100:
        raise ConfigError("--boot must be at least 100 for a meaningful interval")
    c = compare_files(a, b, n_boot=boot)
    if as_json:
        click.echo(json.dumps(c, default=str))
    else:
        label_a, _, label_b = labels.partition(",")
        click.echo(format_comparison(c, label_a or "A", label_b or "B"))
