"""keel.toml, agent targets, entry points, and the `keel keys` / `keel serve` command helpers."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap

import pytest
from click.testing import CliRunner

from keel import Agent
from keel.errors import ConfigError
from keel.serve import load_config
from keel.serve.cli import _is_loopback, keys
from keel.serve.config import raw_auth_setting
from keel.serve.keys import SQLiteKeyStore
from keel.serve.registry import AgentRegistry, build_agent

AGENTS_MODULE = """
from keel import Agent
from keel.testing import ScriptedModel

bot = Agent(ScriptedModel(["object"]), name="bot")

def make_bot():
    return Agent(ScriptedModel(["factory"]), name="made")

not_an_agent = 42

def broken():
    raise RuntimeError("no database")
"""


@pytest.fixture
def agents_module(tmp_path, monkeypatch):
    name = f"serve_test_agents_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(AGENTS_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_keel_toml_sets_agents_limits_and_serve_options(tmp_path, agents_module) -> None:
    path = tmp_path / "keel.toml"
    path.write_text(
        textwrap.dedent(f"""
        [serve]
        store = "{tmp_path}/runs.db"
        auth = "auto"
        max_message_chars = 100
        [serve.limits]
        key_requests_per_minute = 5
        tenant_tokens_per_minute = 1000
        [agents.bot]
        target = "{agents_module}:bot"
        [agents.made]
        target = "{agents_module}:make_bot"
        """)
    )
    cfg = load_config(path, workers_in_process=3)
    assert cfg.agents == {"bot": f"{agents_module}:bot", "made": f"{agents_module}:make_bot"}
    assert (cfg.limits.key_requests_per_minute, cfg.limits.tenant_tokens_per_minute) == (5, 1000)
    assert cfg.limits.tenant_requests_per_minute == 3000  # defaults kept
    assert cfg.max_message_chars == 100 and cfg.in_process_workers == 3
    assert cfg.key_store_location() == str(tmp_path / "keys.db")
    assert raw_auth_setting(path) == "auto" and cfg.auth is True
    reg = AgentRegistry.from_sources(cfg.agents, entry_points=False)
    assert reg.names() == ["bot", "made"]
    assert reg.get("made").name == "made" and reg.get("bot").name == "bot"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[serve]\nstor = 'x'", "unknown \\[serve\\] keys"),
        ("[serve.limits]\nrpm = 1", "unknown \\[serve.limits\\] keys"),
        ("[agents.x]\ntarget = 'nocolon'", "module:attribute"),
        ("[serve]\nmode = 'cluster'", "mode must be"),
        ("[serve\n", "not valid TOML"),
    ],
)
def test_bad_configuration_fails_with_a_clear_message(tmp_path, text, match) -> None:
    path = tmp_path / "keel.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_targets_that_are_not_agents_fail_at_start_up(agents_module) -> None:
    with pytest.raises(ConfigError, match="not a keel Agent"):
        build_agent("x", f"{agents_module}:not_an_agent")
    with pytest.raises(ConfigError, match="factory raised RuntimeError: no database"):
        build_agent("x", f"{agents_module}:broken")
    with pytest.raises(ConfigError, match="cannot import"):
        build_agent("x", "no_such_module_anywhere:bot")


def test_agents_come_from_entry_points_and_config_wins(tmp_path, agents_module, monkeypatch) -> None:
    dist = tmp_path / "serve_test_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: serve-test-plugin\nVersion: 1.0\n")
    plugged = f"plugged_{tmp_path.name}"  # unique: other tests' plugins may still be on sys.path
    (dist / "entry_points.txt").write_text(
        f"[keel.agents]\n{plugged} = {agents_module}:make_bot\nbot = {agents_module}:make_bot\n"
    )
    reg = AgentRegistry.from_sources({"bot": f"{agents_module}:bot"})
    assert {plugged, "bot"} <= set(reg.names())
    assert isinstance(reg.get(plugged), Agent) and reg.get(plugged).name == "made"
    assert reg.get("bot").name == "bot"  # the configured target beats the entry point
    assert plugged not in AgentRegistry.from_sources({}, entry_points=False).names()


def test_loopback_detection_for_auth_auto() -> None:
    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and _is_loopback("localhost")
    assert not _is_loopback("0.0.0.0") and not _is_loopback("10.1.2.3") and not _is_loopback("example.com")


def test_keel_keys_commands_create_list_and_revoke(tmp_path) -> None:
    db = str(tmp_path / "keys.db")
    runner = CliRunner()
    made = runner.invoke(
        keys, ["create", "--db", db, "--tenant", "acme", "--scopes", "run,approve", "--json"]
    )
    assert made.exit_code == 0, made.output
    created = json.loads(made.stdout)
    assert created["tenant"] == "acme" and created["scopes"] == ["approve", "run"]
    store = SQLiteKeyStore(db)
    assert asyncio.run(store.verify(created["key"])).key_id == created["key_id"]
    listed = runner.invoke(keys, ["list", "--db", db])
    assert (
        created["key_id"] in listed.output and "live" in listed.output and created["key"] not in listed.output
    )
    assert runner.invoke(keys, ["revoke", "--db", db, created["key_id"]]).exit_code == 0
    assert asyncio.run(store.verify(created["key"])) is None
    again = runner.invoke(keys, ["revoke", "--db", db, created["key_id"]])
    assert again.exit_code == 2 and "no live key" in again.output
    bad = runner.invoke(keys, ["create", "--db", db, "--tenant", "acme", "--scopes", "root"])
    assert bad.exit_code == 2 and "scopes must be" in bad.output
    asyncio.run(store.close())


def test_entry_points_of_the_importlib_metadata_backport_load_too(agents_module) -> None:
    # a distribution found by the backport's finder yields the backport's EntryPoint class
    backport = pytest.importorskip("importlib_metadata")
    ep = backport.EntryPoint(name="made", value=f"{agents_module}:make_bot", group="keel.agents")
    assert build_agent("made", ep).name == "made"
    broken = backport.EntryPoint(name="x", value=f"{agents_module}:nothing_here", group="keel.agents")
    with pytest.raises(ConfigError, match="cannot load entry point"):
        build_agent("x", broken)
