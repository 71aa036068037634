"""Scenario files: one YAML file per intent, plus adversarial.yaml, all derived from the generated data."""

from __future__ import annotations

import random
from typing import Any

from apps.support.datagen.scen_adversarial import adversarial
from apps.support.datagen.scen_base import World
from apps.support.datagen.scen_faq import faq
from apps.support.datagen.scen_orders import order_status, refund_return
from apps.support.datagen.scen_people import account, complaint, human_request, out_of_scope

__all__ = ["World", "scenario_files"]

# File name -> generator. Order matters: generators draw orders from a shared pool without reuse.
_FILES = [
    ("faq", faq),
    ("order_status", order_status),
    ("refund_return", refund_return),
    ("account", account),
    ("complaint", complaint),
    ("out_of_scope", out_of_scope),
    ("human_request", human_request),
    ("adversarial", adversarial),
]


def scenario_files(world: World, rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    """Every scenario, grouped by file; each generator gets its own seed so one file's edits don't ripple."""
    seeds = [rng.randrange(2**32) for _ in _FILES]
    return {name: make(world, random.Random(seed)) for (name, make), seed in zip(_FILES, seeds, strict=True)}
