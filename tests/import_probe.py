"""Which heavy optional dependencies an import pulled in.

Shared by ``tests/test_import_light.py`` (which fails on any) and ``benchmarks/imports/run.py``
(which tables them), so both check the same list. Standard library only: the benchmark runs it
under the anchors' interpreter too.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

__all__ = ["HEAVY", "heavy_among"]

HEAVY = (
    "llama_cpp",
    "numpy",
    "torch",
    "onnxruntime",
    "tokenizers",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "httpcore",
    "psycopg",
    "mcp",
    "openai",
    "anthropic",
    "sqlite_vec",
    "sqlglot",
    "pypdf",
    "faiss",
)
"""Top-level packages that Keel imports only inside the functions that need them."""


def heavy_among(modules: Iterable[str], heavy: Collection[str] = HEAVY) -> list[str]:
    """The names in ``modules`` (e.g. ``sys.modules``) whose top-level package is ``heavy``, sorted.

    >>> heavy_among(["json", "numpy", "numpy.linalg", "keel"])
    ['numpy', 'numpy.linalg']
    """
    return sorted(m for m in modules if m.split(".")[0] in heavy)
