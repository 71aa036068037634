"""``keel worker``: loading agents bound to the shared store, choosing backends, the command itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from keel import Agent
from keel.errors import ConfigError
from keel.runtime.cli import load_agents, open_queue, open_store, worker
from keel.store import MemoryStore, SQLiteStore
from keel.testing import ScriptedModel

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

PLAIN = Agent(ScriptedModel(["hi"]), name="plain")


def factory_with_store(store=None) -> Agent:
    return Agent(ScriptedModel(["hi"]), name="bound", store=store)


def factory_without_store() -> Agent:
    return Agent(ScriptedModel(["hi"]), name="rebound")


NOT_AN_AGENT = 42


def test_agents_from_objects_and_factories_share_the_workers_store() -> None:
    store = MemoryStore()
    agents = load_agents(
        f"{__name__}:PLAIN, {__name__}:factory_with_store,{__name__}:factory_without_store", store
    )
    assert set(agents) == {"plain", "bound", "rebound"}
    assert all(a.store is store for a in agents.values())  # any worker can continue any run


def test_bad_agent_specs_say_what_to_fix() -> None:
    store = MemoryStore()
    with pytest.raises(ConfigError, match="not a keel Agent"):
        load_agents(f"{__name__}:NOT_AN_AGENT", store)
    with pytest.raises(ConfigError, match="two agents are named"):
        load_agents(f"{__name__}:PLAIN,{__name__}:PLAIN", store)
    with pytest.raises(ConfigError, match="no agents"):
        load_agents(" , ", store)


async def test_store_urls_and_queue_urls(tmp_path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'runs.db'}")
    assert isinstance(store, SQLiteStore) and (tmp_path / "runs.db").exists()
    await store.close()
    with pytest.raises(ConfigError, match="shared queue"):
        await open_queue("memory://")


@pytest.mark.integration
def test_worker_command_reports_a_bad_agent_in_one_line(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "keel.cli", "worker", "--agents", "no_such_module:agent",
         "--store", str(tmp_path / "runs.db")],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "cannot import 'no_such_module'" in result.stderr
    assert "Traceback" not in result.stderr


def test_worker_command_documents_its_options() -> None:
    result = CliRunner().invoke(worker, ["--help"])
    assert result.exit_code == 0
    for option in ("--agents", "--store", "--queue", "--concurrency", "--tenant-limit", "--lease"):
        assert option in result.output


@pytest.mark.parametrize(("flag", "expected"), [([], True), (["--no-live-deltas"], False)])
def test_worker_command_passes_live_deltas_to_the_worker(monkeypatch, flag, expected) -> None:
    import keel.runtime.cli as cli

    seen: dict = {}

    async def fake_serve_worker(agents, store_url, queue_url=None, **kw):
        seen.update(kw)
        return 0

    monkeypatch.setattr(cli, "serve_worker", fake_serve_worker)
    result = CliRunner().invoke(worker, ["--agents", "m:a", "--store", "postgresql://x/db", *flag])
    assert result.exit_code == 0, result.output
    assert seen["live_deltas"] is expected
