"""``keel support``: load the shop, chat with the agent, run the demo, work the human queue."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import click

__all__ = ["support"]

DEMO = [
    ("C-1001", "Hi! How long do I have to return something?"),
    ("C-1001", "Where is my order {order}?"),
    ("C-1001", "Can I pay in installments?"),
    ("C-1001", "I want to talk to a real person please"),
]


@click.group()
def support() -> None:
    """The customer-support agent (apps/support)."""


@support.command()
@click.option("--home", default=".keel", show_default=True, help="Where the shop database and indexes live.")
def init(home: str) -> None:
    """Load the shop's customers, orders, tickets and knowledge base into the local store."""
    from apps.support.agent import KB_DIR
    from apps.support.shop import Shop

    started = time.perf_counter()
    counts = Shop(Path(home) / "support.db").load()

    async def ingest() -> Any:
        from keel.rag import KnowledgeBase, LocalEmbedder

        kb = KnowledgeBase(Path(home) / "support-kb.db", embedder=LocalEmbedder())
        report = await kb.ingest(sorted(KB_DIR.glob("*.md")))
        n = await kb.count()
        await kb.close()
        return report, n

    report, chunks = asyncio.run(ingest())
    click.echo(
        f"support: loaded {counts['customers']} customers, {counts['orders']} orders, {counts['tickets']} tickets; "
        f"indexed {chunks} knowledge-base chunks ({len(getattr(report, 'skipped', []))} files skipped) "
        f"in {time.perf_counter() - started:.1f}s"
    )


def _agent(home: str, model: str) -> Any:
    from apps.support.agent import build_agent
    from apps.support.shop import Shop

    if not Shop(Path(home) / "support.db").is_loaded():
        raise click.ClickException("the shop is empty: run `keel support init` first")
    return build_agent(model, home=home)


@support.command()
@click.option("--customer", default="C-1001", show_default=True, help="The authenticated customer.")
@click.option("--model", "-m", default="local", show_default=True)
@click.option("--home", default=".keel", show_default=True)
def chat(customer: str, model: str, home: str) -> None:
    """Chat with the support agent as a customer, with streamed answers."""
    agent = _agent(home, model)
    deps = agent.deps_for_customer(customer)
    session = uuid.uuid4().hex
    click.echo(f"Chatting as {customer}. Ctrl-D to end.")
    while True:
        try:
            text = click.prompt("you", prompt_suffix="> ")
        except (EOFError, click.Abort):
            break
        started = time.perf_counter()
        result = asyncio.run(agent.run(text, session_id=session, deps=deps))
        click.echo(f"agent> {result.output}")
        flags = [f"{time.perf_counter() - started:.1f}s", f"intent {result.extra.get('intent')}"]
        if result.extra.get("escalated"):
            flags.append("escalated to a human")
        click.echo(f"       ({', '.join(flags)})", err=True)


@support.command()
@click.option("--model", "-m", default="local", show_default=True)
@click.option("--home", default=".keel", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per turn.")
def demo(model: str, home: str, as_json: bool) -> None:
    """Run a short scripted conversation and print each answer with its latency."""
    agent = _agent(home, model)

    async def go() -> None:
        order = agent.shop.orders("C-1001", limit=1)[0]["id"]
        session = uuid.uuid4().hex
        for customer, template in DEMO:
            text = template.format(order=order)
            started = time.perf_counter()
            result = await agent.run(text, session_id=session, deps=agent.deps_for_customer(customer))
            ms = (time.perf_counter() - started) * 1000
            if as_json:
                click.echo(json.dumps({"message": text, "output": result.output, "latency_ms": round(ms),
                                       **result.extra, "tools": [c.name for c in result.tool_calls]}))  # fmt: skip
            else:
                tools = ", ".join(c.name for c in result.tool_calls) or "no tools"
                click.echo(
                    f"\ncustomer> {text}\nagent>    {result.output}\n          [{ms / 1000:.1f}s; {tools}]"
                )

    asyncio.run(go())


@support.command()
@click.option("--home", default=".keel", show_default=True)
def queue(home: str) -> None:
    """Show the human queue: escalations and refunds waiting for approval."""
    from apps.support.shop import Shop
    from keel.store import SQLiteStore

    for e in Shop(Path(home) / "support.db").escalations():
        click.echo(f"escalation {e['id']}: customer {e['customer_id']}: {e['reason']}")

    async def pending() -> None:
        store = SQLiteStore(Path(home) / "runs.db")
        for rec in await store.list_runs(status="suspended"):
            from keel.loop.state import RunState

            st = RunState.from_events(rec.run_id, await store.events(rec.run_id))
            for call in st.approvals_pending.values():
                click.echo(f"approval run {rec.run_id}: {call.call.name} {json.dumps(call.call.arguments)}")

    asyncio.run(pending())


@support.command()
@click.argument("run_id")
@click.option("--deny", is_flag=True, help="Deny instead of approve.")
@click.option("--reason", default="")
@click.option("--by", default="supervisor")
@click.option("--home", default=".keel", show_default=True)
def approve(run_id: str, deny: bool, reason: str, by: str, home: str) -> None:
    """Approve (or deny) a refund waiting in RUN_ID; the run then finishes."""
    from keel.loop.state import RunState

    agent = _agent(home, "local")

    async def go() -> Any:
        events = await agent.store.events(run_id)
        customer = RunState.from_events(run_id, events).metadata.get("customer_id")
        deps = agent.deps_for_customer(customer) if customer else None
        return await agent.resume(run_id, not deny, reason=reason, by=by, deps=deps)

    result = asyncio.run(go())
    click.echo(result.output)
