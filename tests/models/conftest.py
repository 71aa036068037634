"""Fixtures for the model tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from wire_server import WireServer


@pytest.fixture
def server() -> Iterator[WireServer]:
    """A scripted HTTP server on a free 127.0.0.1 port, stopped after the test."""
    with WireServer() as s:
        yield s
