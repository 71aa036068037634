"""Keel's tool path on the embedded model: right tool + right arguments on the support-desk suite.

The same 24 messages and 6 tools as ``benchmarks/local_model.py`` (raw model figures). Here each tool
also carries three example requests (written for this benchmark, none from the test messages), and
the agent runs Keel's small-model path: embedding routing → argument filling under the tool's JSON
schema grammar → grounding check. Prints a table.

    python benchmarks/tool_path.py [--model local] [--scorer embedding|bm25]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from local_model_suite import CASES, SYSTEM_PROMPT, TOOLS, args_match

from keel import Agent
from keel.tools import Tool
from keel.tools.selection import BM25Scorer, EmbeddingScorer, ToolPath

EXAMPLES: dict[str, list[str]] = {
    "get_order_status": ["where's my package Z-9000", "is order Q-1234 on its way", "delivery date for my order X-55"],
    "cancel_order": ["please cancel my order P-321", "I want to cancel order T-77 before it ships", "stop order M-10"],
    "request_refund": ["refund order R-500, it broke", "I want my money back for order S-42", "order V-8 was damaged, refund me"],
    "change_shipping_address": ["send order N-11 to 4 High Street, York", "update the delivery address of W-2", "deliver Y-6 to my new flat"],
    "reset_password": ["I can't sign in, email me a reset link at x@example.com", "forgot my password", "reset my login"],
    "search_help_center": ["what payment methods do you take", "how long do returns take", "do you ship abroad"],
}  # fmt: skip


def with_examples(t: Tool) -> Tool:
    return Tool(t.fn, name=t.name, description=t.description, examples=EXAMPLES[t.name])


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="local")
    ap.add_argument("--scorer", choices=["embedding", "bm25"], default="embedding")
    args = ap.parse_args()
    tools = [with_examples(t) for t in TOOLS]
    if args.scorer == "embedding":
        from keel.rag import LocalEmbedder

        path = ToolPath(EmbeddingScorer(LocalEmbedder()), min_score=0.3, fallback_tool="search_help_center")
    else:
        path = ToolPath(BM25Scorer(), min_score=0.15, fallback_tool="search_help_center")
    agent = Agent(args.model, tools=tools, instructions=SYSTEM_PROMPT, tool_path=path, max_steps=1)
    await agent.run("warm up")  # load the model and the embedder, fill the prompt cache
    rows: list[dict[str, Any]] = []
    for case in CASES:
        started = time.perf_counter()
        from keel.errors import RunError

        try:
            result = await agent.run(case.message)
            calls, events = result.tool_calls, result.events
        except RunError as e:  # max_steps=1 stops after the tool call: the call is in the log
            calls = e.result.tool_calls if e.result else []
            events = e.result.events if e.result else []
        stages = {ev.stage: ev.detail for ev in events if ev.type == "tool_stage"}
        elapsed = time.perf_counter() - started
        first = calls[0] if calls else None
        tool_ok = (first.name if first else "none") == case.tool
        rows.append({"message": case.message, "expected": case.tool, "got": first.name if first else "none",
                     "tool_ok": tool_ok, "args_ok": tool_ok and first is not None and args_match(case.args, first.arguments),
                     "arguments": first.arguments if first else None, "s": elapsed, "stages": stages})  # fmt: skip
    n = len(rows)
    right_tool = sum(r["tool_ok"] for r in rows)
    right_both = sum(r["args_ok"] for r in rows)
    lat = sorted(r["s"] for r in rows)
    print(
        "| model | scorer | right tool | right tool + arguments | p50 s | max s |\n|---|---|---|---|---|---|"
    )
    print(f"| {args.model} | {args.scorer} | {right_tool}/{n} ({right_tool / n:.0%}) | {right_both}/{n} ({right_both / n:.0%}) "
          f"| {statistics.median(lat):.2f} | {lat[-1]:.2f} |")  # fmt: skip
    for r in rows:
        if not r["args_ok"]:
            st = r["stages"]
            top = list(st.get("select", {}).get("scores", {}).items())[:2]
            print(f"  miss: {r['message']!r}: expected {r['expected']}, got {r['got']} {r['arguments']}; "
                  f"top {top}; decide {st.get('decide')}; fill {st.get('fill')}; check {st.get('check')}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
