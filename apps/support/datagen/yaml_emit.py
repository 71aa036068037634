"""A tiny, deterministic YAML writer for scenario files.

Strings and leaf lists are written as JSON, which every YAML parser reads the same way, so the output
does not depend on a YAML library's version and round-trips exactly through ``yaml.safe_load``.
"""

from __future__ import annotations

import json
from typing import Any


def _leaf(value: Any) -> bool:
    if isinstance(value, dict | list):
        return not value or (isinstance(value, list) and all(not isinstance(v, dict) for v in value))
    return True


def _scalar(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _lines(obj: Any, indent: int) -> list[str]:
    pad = " " * indent
    out: list[str] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if _leaf(value):
                out.append(f"{pad}{key}: {_scalar(value)}")
            else:
                out.append(f"{pad}{key}:")
                out.extend(_lines(value, indent + 2))
    else:
        for item in obj:
            if _leaf(item):
                out.append(f"{pad}- {_scalar(item)}")
                continue
            inner = _lines(item, indent + 2)
            out.append(f"{pad}- {inner[0].lstrip()}")
            out.extend(inner[1:])
    return out


def dump(obj: dict[str, Any]) -> str:
    """YAML text for a mapping of mappings, lists and JSON scalars.

    Example::

        >>> dump({"a": [{"b": 1, "c": ["x"]}]})
        'a:\\n  - b: 1\\n    c: ["x"]\\n'
    """
    return "\n".join(_lines(obj, 0)) + "\n"
