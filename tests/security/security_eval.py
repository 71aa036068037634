"""Scoring helpers shared by the security tests and ``benchmarks/security.py``.

PII: span-level precision and recall per entity type against the Presidio-derived data in
``shared/data/pii``. Injection: true- and false-positive rates over labelled messages.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

# The data set names Presidio uses, mapped to Keel's entity types.
PRESIDIO_TO_KEEL = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD",
    "US_SSN": "US_SSN",
    "IBAN_CODE": "IBAN",
    "IP_ADDRESS": "IP_ADDRESS",
    "CRYPTO": "CRYPTO",
}


def shared_data_dir() -> Path | None:
    """``shared/data`` beside the checkout (CI lays it there), or ``$KEEL_SHARED_DATA``."""
    for cand in (
        os.environ.get("KEEL_SHARED_DATA"),
        REPO.parent / "shared" / "data",
        Path("/work/shared/data"),
    ):
        if cand and Path(cand).is_dir():
            return Path(cand)
    return None


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class PiiReport:
    exact: dict[str, Counts] = field(default_factory=dict)
    overlap: dict[str, Counts] = field(default_factory=dict)
    misses: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, entity, text)


def _match(gold: list[tuple[int, int]], pred: list[tuple[int, int]], exact: bool) -> int:
    used: set[int] = set()
    hits = 0
    for ps, pe in pred:
        for i, (gs, ge) in enumerate(gold):
            if i in used:
                continue
            if (ps, pe) == (gs, ge) if exact else (ps < ge and gs < pe):
                used.add(i)
                hits += 1
                break
    return hits


def score_pii(
    rows: Iterable[dict[str, Any]],
    detect: Callable[[str], Sequence[Any]],
    *,
    only_row_type: bool,
) -> PiiReport:
    """Score ``detect`` on rows with ``text`` and ``spans``.

    ``only_row_type``: the recognizer test cases label only the entity of their row
    (``entity_type``), so only predictions of that type are scored there. The Faker templates
    label every entity, so every prediction counts.
    """
    report = PiiReport()
    for row in rows:
        text = row["text"]
        preds = detect(text)
        if only_row_type:
            types = [PRESIDIO_TO_KEEL[row["entity_type"]]]
        else:
            types = sorted(set(PRESIDIO_TO_KEEL.values()))
        for etype in types:
            gold = [
                (s["start"], s["end"])
                for s in row["spans"]
                if PRESIDIO_TO_KEEL.get(s["entity_type"]) == etype
            ]
            pred = [(p.start, p.end) for p in preds if p.entity_type == etype]
            expected = row.get("expected_count", len(gold)) if only_row_type else len(gold)
            for exact, table in ((True, report.exact), (False, report.overlap)):
                c = table.setdefault(etype, Counts())
                # Count-only rows (the source gives no offsets) score by count.
                hits = min(expected, len(pred)) if expected and not gold else _match(gold, pred, exact)
                c.tp += hits
                c.fp += len(pred) - hits
                c.fn += expected - hits
                if not exact and len(pred) > hits:
                    report.misses.append(("FP", etype, text))
                if not exact and expected > hits:
                    report.misses.append(("FN", etype, text))
    return report


def injection_rates(
    rows: Iterable[dict[str, Any]], flag: Callable[[str], bool]
) -> tuple[float, float, list[dict[str, Any]], list[dict[str, Any]]]:
    """(TPR, FPR, missed hostile rows, flagged benign rows) for rows with ``text`` and ``label``."""
    tp = fn = fp = tn = 0
    missed: list[dict[str, Any]] = []
    false_alarms: list[dict[str, Any]] = []
    for row in rows:
        hit = flag(row["text"])
        if row["label"] == "hostile":
            tp += hit
            fn += not hit
            if not hit:
                missed.append(row)
        else:
            fp += hit
            tn += not hit
            if hit:
                false_alarms.append(row)
    tpr = tp / (tp + fn) if tp + fn else 0.0
    fpr = fp / (fp + tn) if fp + tn else 0.0
    return tpr, fpr, missed, false_alarms
