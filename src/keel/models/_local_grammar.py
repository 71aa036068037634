"""JSON schemas → llama.cpp GBNF grammars, and schema validation, for the local model.

Grammars make a small model's output parse and match a schema by construction: every sampled
token must keep the text inside the grammar. Three shapes are needed:

- ``schema_grammar(schema)``: a JSON value matching ``schema`` (structured output);
- ``arguments_grammar(schema)``: a tool's arguments, after a prompt ending in ``"arguments":``;
- ``tool_call_grammar(tools)``: ``{"name": <one tool>, "arguments": <that tool's arguments>}``.

>>> "root ::=" in schema_grammar({"type": "object", "properties": {"a": {"type": "integer"}}})
True
"""

from __future__ import annotations

import copy
import functools
import importlib
import json
from collections.abc import Sequence
from typing import Any

from keel.models.base import ToolSpec

__all__ = ["arguments_grammar", "schema_errors", "schema_grammar", "tool_call_grammar"]


def _converter() -> Any:
    from llama_cpp import llama_grammar

    converter: Any = llama_grammar.SchemaConverter  # untyped upstream
    return converter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """Arguments without ``additionalProperties`` would let the model invent keys: close the object."""
    out: dict[str, Any] = copy.deepcopy(schema) if schema else {"type": "object", "properties": {}}
    if out.get("type", "object") == "object" and "additionalProperties" not in out:
        out["additionalProperties"] = False
        out.setdefault("properties", {})
    return out


@functools.lru_cache(maxsize=256)
def _cached(kind: str, key: str) -> str:
    data = json.loads(key)
    conv = _converter()
    if kind == "schema":
        schema = conv.resolve_refs(data, "schema")
        conv.visit(schema, "")
    elif kind == "arguments":
        schema = conv.resolve_refs(_closed(data), "args")
        rule = conv.visit(schema, "args")
        # the prompt ends with `"arguments":`, so the value starts with the usual optional space
        conv._add_rule("root", f"space {rule}")
    else:
        variants = []
        for i, (name, params) in enumerate(data):
            resolved = conv.resolve_refs(_closed(params), f"tool{i}")
            variants.append(
                {
                    "type": "object",
                    "properties": {"name": {"const": name}, "arguments": resolved},
                    "required": ["name", "arguments"],
                    "additionalProperties": False,
                }
            )
        conv.visit(variants[0] if len(variants) == 1 else {"anyOf": variants}, "")
    return str(conv.format_grammar())


def _key(value: Any) -> str:
    # key order is kept: the grammar emits properties in schema order
    return json.dumps(value, separators=(",", ":"))


def schema_grammar(schema: dict[str, Any]) -> str:
    """GBNF for one JSON value matching ``schema``.

    >>> 'root ::= ' in schema_grammar({"type": "string", "enum": ["yes", "no"]})
    True
    """
    return _cached("schema", _key(schema))


def arguments_grammar(parameters: dict[str, Any]) -> str:
    """GBNF for a tool's arguments object, generated right after ``"arguments":``."""
    return _cached("arguments", _key(parameters))


def tool_call_grammar(tools: Sequence[ToolSpec]) -> str:
    """GBNF for ``{"name": …, "arguments": …}`` where the arguments match the named tool's schema."""
    return _cached("call", _key([[t.name, t.parameters] for t in tools]))


def schema_errors(value: Any, schema: dict[str, Any], limit: int = 5) -> list[str]:
    """Why ``value`` does not match ``schema`` (empty when it does), one short line per problem.

    >>> schema_errors({"a": "x"}, {"type": "object", "properties": {"a": {"type": "integer"}}})
    ["a: 'x' is not of type 'integer'"]
    """
    jsonschema: Any = importlib.import_module("jsonschema")  # no type stubs
    validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    errors = sorted(validator_cls(schema).iter_errors(value), key=lambda e: list(e.path))
    out = []
    for err in errors[:limit]:
        where = ".".join(str(p) for p in err.path) or "(value)"
        out.append(f"{where}: {err.message}")
    return out
