"""``keel eval``: run a scenario suite against an agent, compare two runs, re-render a report.

    keel eval apps/support/scenarios --agent support --model local --limit 20 --report reports/support
    keel eval apps/support/scenarios --variant small=local --variant large=local:large --report reports/ab
    keel eval compare reports/a/results.json reports/b/results.json
    keel eval report reports/support/results.json

``--agent`` is a known name (``support``; more from the ``keel.eval_adapters`` entry points) or
``module:attr`` naming an adapter, an adapter factory, a keel ``Agent`` or an agent factory.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from keel.errors import ConfigError, KeelError

__all__ = ["eval_cmd", "resolve_adapter"]

_BUILTIN_ADAPTERS = {"support": "apps.support.evaluate:make_adapter"}


def __getattr__(name: str) -> Any:
    # keel.cli registers `bench` from this module; it belongs to the public-benchmarks issue and lives
    # in keel.evals.bench once that lands. Until then its absence reads as a missing optional plugin.
    if name == "bench":
        try:
            return importlib.import_module("keel.evals.bench").bench
        except (ImportError, AttributeError):
            raise ImportError("keel bench is not installed in this build") from None
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _named_adapters() -> dict[str, str]:
    from importlib.metadata import entry_points

    out = dict(_BUILTIN_ADAPTERS)
    for ep in entry_points(group="keel.eval_adapters"):
        out[ep.name] = ep.value
    return out


def _call_with(factory: Callable[..., Any], **options: Any) -> Any:
    """Call ``factory`` with the options its signature accepts (a factory need not take them all)."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return factory()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return factory(**options)
    return factory(**{k: v for k, v in options.items() if k in params and v is not None})


def resolve_adapter(
    agent: str | None, *, model: str, home: str | None = None, stream: bool = True, suite: str | None = None
) -> Any:
    """An adapter for ``--agent``: a named one, ``module:attr`` (adapter, factory, Agent), or, with no
    ``--agent``, the adapter named like the suite's app (``apps/support/scenarios`` → ``support``) or
    else a plain agent on ``model``."""
    from keel.agent import Agent
    from keel.cli import load_object
    from keel.evals.adapter import Adapter, AgentAdapter

    named = _named_adapters()
    if agent is None and suite is not None:
        agent = next((n for n in named if n in Path(suite).resolve().parts), None)
    if agent is None:
        return AgentAdapter(Agent(model, name="agent"), stream=stream)
    obj: Any = load_object(named.get(agent, agent))
    if isinstance(obj, type) or (callable(obj) and not isinstance(obj, Adapter | Agent)):
        obj = _call_with(obj, model=model, home=home, stream=stream)
    if isinstance(obj, Agent):
        obj = AgentAdapter(obj, stream=stream)
    if not isinstance(obj, Adapter):
        raise ConfigError(f"{agent!r} is neither an eval adapter nor a keel Agent")
    return obj


class _DefaultGroup(click.Group):
    """``keel eval SUITE`` runs the suite; ``keel eval compare|report ...`` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("eval", cls=_DefaultGroup)
def eval_cmd() -> None:
    """Evaluate an agent on a scenario suite (keel eval SUITE), compare runs, render reports."""


def _progress(quiet: bool) -> Callable[[Any, int, int], None] | None:
    if quiet:
        return None

    def show(result: Any, done: int, total: int) -> None:
        status = "pass" if result.passed else "FAIL"
        why = ", ".join(c.name for c in result.failed_checks[:3]) + (
            " VIOLATION" if result.violations else ""
        )
        click.echo(f"[{done}/{total}] {result.id:<22} {status} {result.duration_s:5.1f}s {why}", err=True)

    return show


async def _run_one(
    scenarios: list[Any], adapter: Any, *, concurrency: int, user_model: str | None, model: str,
    turn_timeout_s: float | None, quiet: bool, meta: dict[str, Any],
) -> Any:  # fmt: skip
    from keel.evals.runner import run_suite
    from keel.evals.simulate import SimulatedUser

    user = None
    if any(s.goal for s in scenarios):
        shared = (
            getattr(getattr(adapter, "agent", None), "model", None) if user_model in (None, model) else None
        )
        user = SimulatedUser(shared if shared is not None else (user_model or model))
    try:
        return await run_suite(
            scenarios, adapter, concurrency=concurrency, user=user, turn_timeout_s=turn_timeout_s,
            progress=_progress(quiet), meta=meta,
        )  # fmt: skip
    finally:
        close = getattr(adapter, "close", None)
        if close is not None:
            await close()


def _save(suite: Any, report: str | None, out: str | None) -> list[Path]:
    from keel.evals.report import write_report

    written = []
    if out:
        written.append(suite.save(out))
    if report:
        written.append(suite.save(Path(report) / "results.json"))
        title = f"Keel evaluation: {suite.meta.get('agent')} on {suite.meta.get('suite')}"
        written.append(write_report(suite, Path(report) / "report.html", title=title))
    return written


@eval_cmd.command("run")
@click.argument("suite", type=click.Path(exists=True))
@click.option(
    "--agent", "agent", default=None, help="Adapter or agent: a known name (support) or module:attr."
)
@click.option("--model", "-m", default="local", show_default=True, help="Model string for the agent.")
@click.option(
    "--user-model", default=None, help="Model playing the user in goal scenarios (default: --model)."
)
@click.option(
    "--home", default=None, help="The app's data folder, for adapters that use one (support: .keel)."
)
@click.option("--limit", type=int, default=None, help="Run at most N scenarios, spread over intents.")
@click.option("--intent", "intents", multiple=True, help="Only this intent (repeatable).")
@click.option("--id", "ids", multiple=True, help="Only this scenario id or id prefix (repeatable).")
@click.option("--tag", "tags", multiple=True, help="Only scenarios with this tag (repeatable).")
@click.option("--concurrency", "-c", type=int, default=1, show_default=True, help="Scenarios run at once.")
@click.option("--turn-timeout", type=float, default=None, help="Seconds before a turn counts as failed.")
@click.option("--no-stream", is_flag=True, help="Don't stream (no time-to-first-token figure).")
@click.option(
    "--variant", "variants", multiple=True, help="NAME=MODEL: run the suite once per variant and compare."
)
@click.option("--report", default=None, help="Write DIR/results.json and DIR/report.html.")
@click.option("--out", default=None, help="Write the results JSON to this file.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No per-scenario progress on stderr.")
def run_cmd(
    suite: str, agent: str | None, model: str, user_model: str | None, home: str | None, limit: int | None,
    intents: tuple[str, ...], ids: tuple[str, ...], tags: tuple[str, ...], concurrency: int,
    turn_timeout: float | None, no_stream: bool, variants: tuple[str, ...], report: str | None,
    out: str | None, as_json: bool, quiet: bool,
) -> None:  # fmt: skip
    """Run SUITE (a folder of scenario YAML files) and print its metrics."""
    from keel.evals.scenarios import load_scenarios, select_scenarios

    try:
        chosen = select_scenarios(load_scenarios(suite), intents=intents, ids=ids, tags=tags, limit=limit)
        if not chosen:
            raise ConfigError("no scenario matches the filters: check --intent/--id/--tag")
        runs = _variants(variants, model)
        results = []
        for name, variant_model in runs:
            adapter = resolve_adapter(
                agent, model=variant_model, home=home, stream=not no_stream, suite=suite
            )
            meta = {"suite": suite, "model": variant_model, "variant": name,
                    "filters": {"limit": limit, "intents": list(intents), "ids": list(ids), "tags": list(tags)}}  # fmt: skip
            result = asyncio.run(
                _run_one(
                    chosen,
                    adapter,
                    concurrency=concurrency,
                    user_model=user_model,
                    model=variant_model,
                    turn_timeout_s=turn_timeout,
                    quiet=quiet,
                    meta=meta,
                )
            )
            folder = name if len(runs) > 1 and name else ""
            _save(
                result,
                str(Path(report) / folder) if report else None,
                str(Path(out).with_stem(f"{Path(out).stem}-{folder}")) if out and folder else out,
            )
            results.append(result)
    except KeelError as e:
        raise click.ClickException(str(e)) from None
    _print(results, as_json)


def _variants(variants: tuple[str, ...], model: str) -> list[tuple[str | None, str]]:
    if not variants:
        return [(None, model)]
    out: list[tuple[str | None, str]] = []
    for v in variants:
        name, sep, spec = v.partition("=")
        if not sep or not name or not spec:
            raise ConfigError(f"--variant expects NAME=MODEL (e.g. large=local:large), got {v!r}")
        out.append((name, spec))
    return out


def _print(results: list[Any], as_json: bool) -> None:
    from keel.evals.compare import compare, format_comparison

    comparison = compare(results[0], results[1]) if len(results) > 1 else None
    if as_json:
        payload: dict[str, Any] = {"meta": results[0].meta, "summary": results[0].summary}
        if comparison is not None:
            payload = {
                "variants": [{"meta": r.meta, "summary": r.summary} for r in results],
                "compare": comparison,
            }
        click.echo(json.dumps(payload, default=str, ensure_ascii=False))
        return
    for r in results:
        click.echo(format_summary(r))
    if comparison is not None:
        click.echo("\n" + format_comparison(comparison))


def _p(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def _s(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f} s"


def format_summary(suite: Any) -> str:
    """The metrics table printed by ``keel eval``."""
    s, m = suite.summary, suite.meta
    tc, esc, lat, g, u = s["tool_calls"], s["escalation"], s["latency"], s["groundedness"], s["usage"]
    head = f"{m.get('suite', 'suite')} · agent {m.get('agent')} · model {m.get('model')}"
    head += f" · variant {m['variant']}" if m.get("variant") else ""
    lines = [
        head + f" · {s['scenarios']} scenarios in {m.get('duration_s', 0):.0f} s",
        f"  resolution rate     {_p(s['resolution_rate'])} ({s['resolved']}/{s['resolvable']} resolvable)",
        f"  pass rate           {_p(s['pass_rate'])} ({s['passed']}/{s['scenarios']})",
        f"  policy violations   {s['policy_violations']}",
        f"  tool calls          precision {_p(tc['precision'])}  recall {_p(tc['recall'])}"
        f"  ({tc['made']} made, {tc['expected']} expected)",
        f"  escalation          precision {_p(esc['precision'])}  recall {_p(esc['recall'])}"
        f"  (tp {esc['tp']} fp {esc['fp']} fn {esc['fn']})",
        f"  groundedness        {_p(g['rate'])} of {g['answers_with_facts']} answers stating facts",
        f"  latency per turn    p50 {_s(lat['p50_s'])}  p95 {_s(lat['p95_s'])}  ({lat['turns']} turns)",
        f"  time to 1st token   p50 {_s(lat['ttft_p50_s'])}  p95 {_s(lat['ttft_p95_s'])}",
        f"  per conversation    {u['tokens_per_conversation'] or 0:.0f} tokens, ${u['cost_per_conversation_usd'] or 0:.4f}",
        f"  errors              {s['errors']}",
        f"  {'intent':<16}{'n':>4}  {'resolution':>10}  {'pass':>6}  {'viol':>4}  {'p50':>7}",
    ]
    for intent, v in s["per_intent"].items():
        lines.append(
            f"  {intent:<16}{v['scenarios']:>4}  {_p(v['resolution_rate']):>10}  {_p(v['pass_rate']):>6}"
            f"  {v['policy_violations']:>4}  {_s(v['latency_p50_s']):>7}"
        )
    top = ", ".join(f"{k} {n}" for k, n in list(s["failures"].items())[:8])
    lines.append(f"  top failures        {top or 'none'}")
    return "\n".join(lines)


@eval_cmd.command("compare")
@click.argument("a", type=click.Path(exists=True))
@click.argument("b", type=click.Path(exists=True))
@click.option("--boot", type=int, default=10_000, show_default=True, help="Bootstrap resamples.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def compare_cmd(a: str, b: str, boot: int, as_json: bool) -> None:
    """Compare two results files of the same suite (B − A, paired bootstrap 95% CI)."""
    from keel.evals.compare import compare, format_comparison
    from keel.evals.results import SuiteResult

    try:
        c = compare(SuiteResult.load(a), SuiteResult.load(b), n_boot=boot)
    except KeelError as e:
        raise click.ClickException(str(e)) from None
    click.echo(json.dumps(c) if as_json else format_comparison(c))


@eval_cmd.command("report")
@click.argument("results", type=click.Path(exists=True))
@click.option("--out", default=None, help="HTML file (default: report.html beside the results).")
def report_cmd(results: str, out: str | None) -> None:
    """Render the HTML report of a results file."""
    from keel.evals.report import write_report
    from keel.evals.results import SuiteResult

    try:
        suite = SuiteResult.load(results)
    except KeelError as e:
        raise click.ClickException(str(e)) from None
    target = (
        Path(out)
        if out
        else (Path(results) if Path(results).is_dir() else Path(results).parent) / "report.html"
    )
    click.echo(str(write_report(suite, target)))


if __name__ == "__main__":  # pragma: no cover
    eval_cmd(sys.argv[1:])
