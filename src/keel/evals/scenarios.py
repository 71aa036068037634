"""The scenario format: one conversation to run against an agent and the expectations it is graded by.

A suite is a folder of YAML (or JSON) files, each holding ``scenarios: [...]`` (or a bare list).
The format is generic; an app's adapter gives meaning to ``customer`` and to the keys of
``final_state`` (see ``apps/support/scenarios/README.md`` for the support app's)::

    scenarios:
      - id: refund-001
        intent: refund_return
        customer: C-1027
        turns: ["please refund order A-10631"]      # scripted user messages, in one session
        goal: null                                  # or: a goal for a simulated user
        expect:
          tool_calls: [{name: process_refund, arguments: {order_id: A-10631}}]   # subset match
          forbidden_tool_calls: []
          final_state: {refund_recorded: true, refund_amount: 89.0}
          must_contain: [["89.00", "$89"]]          # a list inside the list means "any of"
          must_escalate: false
          resolvable: true

>>> s = Scenario.model_validate({"id": "s1", "intent": "faq", "turns": ["hi"], "expect": {}})
>>> s.expect.resolvable, s.max_turns
(True, 6)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from keel.errors import ConfigError

__all__ = ["Expectation", "Scenario", "ToolCallSpec", "load_scenarios", "select_scenarios"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolCallSpec(_Model):
    """An expected or forbidden tool call; ``arguments`` must be a subset of the real call's."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Expectation(_Model):
    """How a scenario is graded. Every field is optional; unset fields are not checked.

    ``final_state`` keys are compared with what the adapter reports after the conversation: a value
    must be equal (floats within 0.01, dicts and lists as subsets); a key ending in ``_max`` or
    ``_min`` bounds the adapter's value of the key without that suffix.
    """

    tool_calls: list[ToolCallSpec] = Field(default_factory=list)
    forbidden_tool_calls: list[ToolCallSpec] = Field(default_factory=list)
    final_state: dict[str, Any] = Field(default_factory=dict)
    must_contain: list[str | list[str]] = Field(default_factory=list)
    must_not_contain: list[str] = Field(default_factory=list)
    must_escalate: bool = False
    must_not_escalate: bool = False
    resolvable: bool = True
    kb_articles: list[str] = Field(default_factory=list)
    """Knowledge-base articles that answer the question (informational: retrieval is graded elsewhere)."""

    @model_validator(mode="after")
    def _one_escalation_rule(self) -> Expectation:
        if self.must_escalate and self.must_not_escalate:
            raise ValueError("must_escalate and must_not_escalate can't both be true")
        return self


class Scenario(_Model):
    """One conversation: scripted ``turns`` and/or a ``goal`` a simulated user pursues.

    ``customer`` is who the agent acts for (the adapter decides what that means); ``context`` holds
    facts the simulated user knows (an order id, an item) and anything an adapter needs.
    """

    id: str
    intent: str = "unknown"
    title: str = ""
    customer: str | None = None
    tags: list[str] = Field(default_factory=list)
    turns: list[str] = Field(default_factory=list)
    goal: str | None = None
    max_turns: int = Field(default=6, ge=1, le=20)
    """The most user messages in a goal-driven conversation (scripted turns included)."""
    context: dict[str, Any] = Field(default_factory=dict)
    expect: Expectation = Field(default_factory=Expectation)

    @model_validator(mode="after")
    def _has_conversation(self) -> Scenario:
        if not self.turns and not self.goal:
            raise ValueError(f"scenario {self.id!r} needs turns or a goal")
        return self


def _read(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        doc: Any = json.loads(text)
    else:
        try:
            import yaml  # type: ignore[import-untyped,unused-ignore]
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ConfigError("reading YAML scenarios needs PyYAML: pip install 'keel[evals]'") from exc
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if doc is None:
        return []
    if isinstance(doc, dict):
        doc = doc.get("scenarios", [])
    if not isinstance(doc, list):
        raise ConfigError(f"{path}: expected a list of scenarios or a mapping with 'scenarios:'")
    return doc


def load_scenarios(path: str | Path) -> list[Scenario]:
    """Every scenario in ``path``: a ``.yaml``/``.yml``/``.json`` file, or a folder of them (sorted).

    Raises ``ConfigError`` naming the file and the field when a scenario does not validate, and when
    two scenarios share an id.

    >>> load_scenarios("apps/support/scenarios")[0].id  # doctest: +SKIP
    'account-001'
    """
    root = Path(path)
    if root.is_dir():
        files = sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    elif root.is_file():
        files = [root]
    else:
        raise ConfigError(f"no scenario suite at {root}: pass a folder of .yaml files or one file")
    out: list[Scenario] = []
    seen: dict[str, Path] = {}
    for f in files:
        for i, raw in enumerate(_read(f)):
            try:
                scenario = Scenario.model_validate(raw)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"])
                raise ConfigError(f"{f}: scenario #{i + 1}: {where}: {err['msg']}") from None
            if scenario.id in seen:
                raise ConfigError(f"{f}: scenario id {scenario.id!r} is already used in {seen[scenario.id]}")
            seen[scenario.id] = f
            out.append(scenario)
    if not out:
        raise ConfigError(f"{root} holds no scenarios")
    return out


def select_scenarios(
    scenarios: Iterable[Scenario],
    *,
    intents: Sequence[str] = (),
    ids: Sequence[str] = (),
    tags: Sequence[str] = (),
    limit: int | None = None,
) -> list[Scenario]:
    """Filter a suite: by intent, id (a prefix matches, ``refund-`` picks all refunds), tag, then the
    first ``limit`` *per intent* spread evenly, so a limited run still covers every intent.

    >>> s = [Scenario(id=f"{i}-{n}", intent=i, turns=["x"]) for i in "ab" for n in range(3)]
    >>> [x.id for x in select_scenarios(s, limit=4)]
    ['a-0', 'b-0', 'a-1', 'b-1']
    """
    chosen = [
        s
        for s in scenarios
        if (not intents or s.intent in intents)
        and (not ids or any(s.id == i or s.id.startswith(i) for i in ids))
        and (not tags or set(tags) & set(s.tags))
    ]
    if limit is None or limit >= len(chosen):
        return chosen
    by_intent: dict[str, list[Scenario]] = {}
    for s in chosen:
        by_intent.setdefault(s.intent, []).append(s)
    # round-robin over intents keeps a limited run representative of the whole suite
    picked: list[Scenario] = []
    depth = 0
    while len(picked) < limit:
        for group in by_intent.values():
            if depth < len(group) and len(picked) < limit:
                picked.append(group[depth])
        depth += 1
    return picked
