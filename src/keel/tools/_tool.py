"""``@tool``: typed tools from plain Python functions.

The JSON schema comes from the signature (type hints, pydantic models, defaults) and the docstring
(Google-style ``Args:`` descriptions). Arguments are validated by pydantic before the function runs.
A parameter annotated ``ToolContext`` is filled by Keel and hidden from the model.

>>> @tool
... def add(a: int, b: int) -> int:
...     '''Add two numbers.
...
...     Args:
...         a: the first number
...     '''
...     return a + b
>>> add.spec().parameters["properties"]["a"]
{'description': 'the first number', 'type': 'integer'}
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, get_type_hints, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from keel.models.base import ToolSpec

__all__ = ["Tool", "ToolContext", "ToolValidationError", "tool"]

ApprovalRule = bool | Callable[[dict[str, Any]], bool]


@dataclass(slots=True)
class ToolContext:
    """What Keel passes to a tool that asks for it (a parameter annotated ``ToolContext``).

    ``idempotency_key`` is stable across retries and resumes of the same call: derived from the run
    id, the step and the call's index in that step. Side-effecting tools should deduplicate on it.
    ``deps`` carries the application's own objects (the authenticated customer, a DB handle).
    """

    run_id: str
    step: int
    call_index: int
    call_id: str
    idempotency_key: str
    session_id: str | None = None
    deps: Any = None
    scopes: frozenset[str] = frozenset()
    metadata: dict[str, Any] = field(default_factory=dict)


class ToolValidationError(ValueError):
    """The model's arguments did not validate; the message is written for the model to correct them."""


_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters)\s*:\s*$")
_SECTION = re.compile(r"^\s*(Returns?|Raises|Yields|Examples?|Notes?)\s*:\s*$")
_ARG_LINE = re.compile(r"^\s*\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (description, {arg: description})."""
    lines = inspect.cleandoc(doc).splitlines() if doc else []
    desc: list[str] = []
    args: dict[str, str] = {}
    mode = "desc"
    current: str | None = None
    for line in lines:
        if _ARGS_HEADER.match(line):
            mode, current = "args", None
            continue
        if _SECTION.match(line):
            mode = "other"
            continue
        if mode == "desc":
            desc.append(line)
        elif mode == "args":
            m = _ARG_LINE.match(line)
            indent = len(line) - len(line.lstrip())
            if m and (current is None or indent <= 4):
                current = m.group(1)
                args[current] = m.group(2).strip()
            elif current and line.strip():
                args[current] = (args[current] + " " + line.strip()).strip()
    return "\n".join(desc).strip(), args


def _clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop pydantic's ``title`` noise so prompts stay short; keep everything that constrains."""
    if isinstance(schema, dict):
        out: dict[str, Any] = {}
        for k, v in schema.items():
            if k == "title" and isinstance(v, str):
                continue
            if k == "properties" and isinstance(v, dict):
                out[k] = {pk: _clean_schema(pv) for pk, pv in v.items()}
            elif isinstance(v, dict):
                out[k] = _clean_schema(v)
            elif isinstance(v, list):
                out[k] = [_clean_schema(x) if isinstance(x, dict) else x for x in v]
            else:
                out[k] = v
        return out
    return schema


class Tool:
    """A callable the model can use. Build one with ``@tool``; call ``invoke`` to run it."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout_s: float | None = 30.0,
        retries: int = 0,
        side_effects: bool = False,
        requires_approval: ApprovalRule = False,
        scopes: Sequence[str] = (),
        max_result_chars: int = 16_000,
        examples: Sequence[str] = (),
        result_schema: type[BaseModel] | None = None,
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        doc_desc, arg_docs = _parse_docstring(fn.__doc__ or "")
        self.description = description if description is not None else doc_desc
        self.timeout_s = timeout_s
        self.retries = retries
        self.side_effects = side_effects
        self.requires_approval = requires_approval
        self.scopes = frozenset(scopes)
        self.max_result_chars = max_result_chars
        self.examples = list(examples)
        self.result_schema = result_schema
        self.is_async = inspect.iscoroutinefunction(fn)
        self._context_param: str | None = None
        self._args_model = self._build_args_model(arg_docs)
        self._schema = _clean_schema(self._args_model.model_json_schema())
        self._schema.setdefault("properties", {})
        self._spec = ToolSpec(
            name=self.name, description=self.description, parameters=self._schema, examples=self.examples
        )

    def _build_args_model(self, arg_docs: dict[str, str]) -> type[BaseModel]:
        sig = inspect.signature(self.fn)
        try:
            hints = get_type_hints(self.fn, include_extras=True)
        except Exception:  # unresolved forward refs: fall back to raw annotations
            hints = {k: v.annotation for k, v in sig.parameters.items()}
        fields: dict[str, Any] = {}
        for pname, param in sig.parameters.items():
            ann = hints.get(pname, Any)
            if ann is ToolContext or ann == "ToolContext":
                self._context_param = pname
                continue
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if ann is inspect.Parameter.empty:
                ann = Any
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[pname] = (ann, Field(default, description=arg_docs.get(pname) or None))
        model: type[BaseModel] = create_model(
            f"{self.name}_args", __config__=ConfigDict(extra="forbid"), **fields
        )
        return model

    @property
    def parameters(self) -> dict[str, Any]:
        return self._schema

    def spec(self) -> ToolSpec:
        """The ``ToolSpec`` a model is shown."""
        return self._spec

    def needs_approval(self, arguments: dict[str, Any]) -> bool:
        rule = self.requires_approval
        return bool(rule(arguments)) if callable(rule) else bool(rule)

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Validate and coerce the model's arguments; raise ``ToolValidationError`` with a fixable message."""
        try:
            model = self._args_model.model_validate(arguments)
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(arguments)'}: {err['msg']}" for err in e.errors()
            )
            raise ToolValidationError(f"invalid arguments for {self.name}: {problems}") from None
        return {k: getattr(model, k) for k in model.model_fields_set | set(self._required())}

    def _required(self) -> list[str]:
        return [k for k, f in self._args_model.model_fields.items() if f.is_required()]

    async def invoke(self, arguments: dict[str, Any], ctx: ToolContext | None = None) -> Any:
        """Validate ``arguments`` and run the tool (sync tools run in a worker thread)."""
        kwargs = self.validate(arguments)
        if self._context_param is not None:
            kwargs[self._context_param] = ctx
        if self.is_async:
            return await self.fn(**kwargs)
        import asyncio

        return await asyncio.to_thread(self.fn, **kwargs)

    async def __call__(self, **kwargs: Any) -> Any:
        return await self.invoke(kwargs)

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_s: float | None = 30.0,
    retries: int = 0,
    side_effects: bool = False,
    requires_approval: ApprovalRule = False,
    scopes: Sequence[str] = (),
    max_result_chars: int = 16_000,
    examples: Sequence[str] = (),
    result_schema: type[BaseModel] | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None, /, **settings: Any
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Turn a function into a ``Tool``. Use bare (``@tool``) or with settings (``@tool(timeout_s=5)``).

    Settings: ``timeout_s``, ``retries``, ``side_effects`` (the tool gets an idempotency key in its
    ``ToolContext``), ``requires_approval`` (bool or a predicate on the arguments), ``scopes``
    (permissions the caller must hold), ``max_result_chars`` (longer results are truncated with a
    marker), ``examples`` (requests that should route to this tool), ``result_schema``.
    """
    if fn is not None:
        return Tool(fn, **settings)

    def wrap(f: Callable[..., Any]) -> Tool:
        return Tool(f, **settings)

    return wrap
