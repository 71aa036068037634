"""The ``keel bench --json`` summary keys: a public contract, pinned here once for the bench tests."""

CONTRACT = frozenset(
    {"suite", "model", "n", "score", "per_category", "latency_p50_s", "latency_p95_s", "tokens", "failures"}
)
