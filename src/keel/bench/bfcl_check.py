"""BFCL's own AST checker, loaded without the leaderboard's model-handler dependencies.

``bfcl_eval.eval_checker.ast_eval.ast_checker`` imports ``bfcl_eval.constants.model_config`` only to
read ``MODEL_CONFIG_MAPPING[model].underscore_to_dot``, and that module imports every provider SDK
(anthropic, openai, cohere, google-genai ...), which ``pip install --no-deps bfcl-eval`` leaves out.
So while the checker is imported, a stand-in ``model_config`` answers ``underscore_to_dot=False``
for every model. That is exact for Keel: the runners map sanitised tool names (``math_factorial``)
back to BFCL's names (``math.factorial``) before checking, so no name conversion is wanted. The
stand-in is removed from ``sys.modules`` right after, so a full install still sees the real module.

The relevance rule of ``eval_runner`` (which imports the handlers too) is mirrored in
:func:`is_function_call_output`: an irrelevance item passes when the model made no call.

>>> is_function_call_output([{"f": {"a": 1}}]), is_function_call_output([]), is_function_call_output([{}])
(True, False, False)
"""

from __future__ import annotations

import copy
import functools
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from keel.errors import ConfigError

__all__ = ["check_calls", "corrupt", "gold_calls", "is_function_call_output", "load_ast_checker"]

_STUB = "bfcl_eval.constants.model_config"


@dataclass(frozen=True)
class _NoUnderscoreToDot:
    underscore_to_dot: bool = False


class _AnyModel(dict[str, _NoUnderscoreToDot]):
    def __missing__(self, key: str) -> _NoUnderscoreToDot:
        return _NoUnderscoreToDot()


@functools.lru_cache(maxsize=1)
def load_ast_checker() -> tuple[Callable[..., dict[str, Any]], Any]:
    """``(ast_checker, Language.PYTHON)`` from the installed ``bfcl-eval``.

    Raises ``ConfigError`` with the install command when ``bfcl-eval`` is missing.
    """
    try:
        from bfcl_eval.constants.enums import Language  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigError(
            "BFCL needs the `bfcl-eval` package: pip install --no-deps 'bfcl-eval==2026.3.23' "
            "(its own dependencies are not needed for scoring; see docs/benchmarks.md)"
        ) from None
    own_stub = _STUB not in sys.modules
    if own_stub:
        stub = types.ModuleType(_STUB)
        stub.MODEL_CONFIG_MAPPING = _AnyModel()  # type: ignore[attr-defined]
        sys.modules[_STUB] = stub
    try:
        from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker  # type: ignore[import-untyped]
    finally:
        if own_stub:
            sys.modules.pop(_STUB, None)
    return ast_checker, Language.PYTHON


def is_function_call_output(decoded: Any) -> bool:
    """BFCL's test for "the model called a function": a non-empty ``[{name: {args}}]`` list.

    Mirrors ``is_function_calling_format_output`` + ``is_empty_output`` in ``bfcl_eval.utils``.
    """
    if not isinstance(decoded, list) or not decoded:
        return False
    for item in decoded:
        if not isinstance(item, dict) or len(item) != 1 or not isinstance(next(iter(item.values())), dict):
            return False
    return not (len(decoded) == 1 and len(decoded[0]) == 0)


def check_calls(
    category: str, functions: list[dict[str, Any]], decoded: list[dict[str, Any]], ground_truth: Any
) -> tuple[bool, str]:
    """Grade one item the way ``bfcl evaluate`` does; returns ``(ok, why)``.

    ``decoded`` is ``[{bfcl_function_name: {argument: value}}]``; ``ground_truth`` is the item's
    ``possible_answer`` list (ignored for irrelevance categories).
    """
    if "irrelevance" in category:
        if is_function_call_output(decoded):
            return False, "irrelevance_error: made a call where none fits " + _calls_text(decoded)
        return True, ""
    ast_checker, python = load_ast_checker()
    result = ast_checker(functions, decoded, ground_truth, python, category, "keel")
    if result.get("valid"):
        return True, ""
    errors = result.get("error") or []
    detail = str(errors[0]) if errors else ""
    return False, f"{result.get('error_type', 'invalid')}: {detail}"[:400]


def _calls_text(decoded: list[dict[str, Any]]) -> str:
    return ", ".join(next(iter(d)) for d in decoded if d)[:200]


def gold_calls(
    ground_truth: list[dict[str, dict[str, list[Any]]]], functions: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The calls a perfect model would make: the first accepted non-empty value of every parameter.

    With ``functions``, an optional parameter the function's document does not declare is left
    out (a few answers name parameters of a sibling function).

    >>> gold_calls([{"math.hypot": {"x": [4], "y": [5], "z": ["", 0]}}])
    [{'math.hypot': {'x': 4, 'y': 5, 'z': 0}}]
    """
    declared = {f["name"]: f.get("parameters", {}).get("properties", {}) for f in functions or []}
    out = []
    for call in ground_truth:
        ((name, params),) = call.items()
        if name in declared:
            params = {k: v for k, v in params.items() if k in declared[name] or "" not in v}
        out.append({name: _first_options(params)})
    return out


def _first_options(params: dict[str, Any]) -> dict[str, Any]:
    """Dict-typed values hold their own ``{key: [options]}`` (and lists of them): recurse.

    The first non-empty option is taken, so a parameter whose answers start with ``""`` but that
    the function requires is still given.
    """
    args: dict[str, Any] = {}
    for k, opts in params.items():
        given = [o for o in opts if o != ""] if isinstance(opts, list) else []
        if not given:
            continue
        v = given[0]
        if _is_option_dict(v):
            v = _first_options(v)
        elif isinstance(v, list) and v and all(_is_option_dict(x) for x in v):
            v = [_first_options(x) for x in v]
        args[k] = v
    return args


def _is_option_dict(v: Any) -> bool:
    return isinstance(v, dict) and bool(v) and all(isinstance(x, list) for x in v.values())


def corrupt(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The gold calls with one argument value changed, which the checker must reject.

    >>> corrupt([{"f": {"n": 5, "unit": "cm"}}])
    [{'f': {'n': 7924, 'unit': 'cm'}}]
    """
    out = copy.deepcopy(calls)
    for call in out:
        args = next(iter(call.values()))
        for k, v in args.items():
            if isinstance(v, bool):
                args[k] = not v
            elif isinstance(v, int | float):
                args[k] = v + 7919
            elif isinstance(v, str):
                args[k] = v + " zz-not-this"
            elif isinstance(v, list):
                args[k] = [*v, "zz-extra"]
            elif isinstance(v, dict):
                args[k] = {**v, "zz_extra": "zz"}
            else:
                continue
            return out
    return [{"zz_not_a_function": {}}]
