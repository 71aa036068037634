"""Public benchmarks for Keel: BFCL, tau2-bench retail (over MCP) and the Bitext support KB.

Run them with ``keel bench SUITE`` (see :mod:`keel.bench.cli` and ``docs/benchmarks.md``); the
suites' data come from PyPI packages (the ``bench`` extra) or the shared data folder, never from the
network at run time. Every suite yields :class:`ItemResult` rows, summarised by :func:`summarize`
into the public ``--json`` object.

>>> from keel.bench import ItemResult, summarize
>>> summarize("demo", "m", [ItemResult("1", "c", True)])["score"]
1.0
"""

from keel.bench.results import ItemResult, percentile, read_jsonl, summarize, write_jsonl

__all__ = ["ItemResult", "percentile", "read_jsonl", "summarize", "write_jsonl"]
