"""`keel ingest` and `keel search` in a subprocess: bad files are reported and skipped."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def keel(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keel.cli", *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def test_ingest_then_search(tmp_path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "returns.md").write_text("# Returns\n\nYou can return items within 30 days of delivery.\n")
    (docs / "shipping.md").write_text("# Shipping\n\nStandard shipping takes 5 to 7 business days.\n")
    (docs / "broken.pdf").write_bytes(b"\x00\x01 not a pdf")
    out = keel("ingest", str(docs), "--index", "kb", "--home", str(tmp_path / "home"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "index kb: 2 chunks" in out.stdout and "1 skipped" in out.stdout
    assert "broken.pdf" in out.stderr
    found = keel("search", "--index", "kb", "--home", str(tmp_path / "home"), "-k", "1", "how long do returns take",
                 cwd=tmp_path)  # fmt: skip
    assert found.returncode == 0 and "30 days" in found.stdout and "Shipping" not in found.stdout
    missing = keel("search", "--index", "nope", "--home", str(tmp_path / "home"), "x", cwd=tmp_path)
    assert missing.returncode != 0 and "keel ingest" in missing.stderr
