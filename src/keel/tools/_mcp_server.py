"""Serve Keel tools over MCP, so any MCP client (Claude Desktop, IDEs, other agents) can call them.

Each tool is listed with its Keel JSON schema and description; a call validates the arguments the
Keel way, runs the tool under its ``timeout_s`` and returns its result as JSON text plus, for
objects, ``structuredContent``. Tool failures become MCP ``isError`` results the caller's model
can read; an unknown tool name is a protocol error, as the MCP specification asks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from keel.errors import ConfigError, ToolError, redact
from keel.tools._tool import Tool, ToolContext, ToolValidationError

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext
    from mcp.server.lowlevel import Server
    from mcp_types import CallToolRequestParams, CallToolResult, ListToolsResult, PaginatedRequestParams
    from starlette.applications import Starlette

__all__ = ["build_mcp_server", "mcp_http_app", "serve_tools_mcp"]

log = logging.getLogger("keel.tools.mcp")


def build_mcp_server(
    tools: Sequence[Tool],
    *,
    name: str = "keel",
    version: str = "",
    instructions: str | None = None,
    deps: Any = None,
) -> Server[Any]:
    """An ``mcp`` low-level ``Server`` exposing ``tools``; run it on any MCP transport.

    ``deps`` reaches tools that take a ``ToolContext`` (as ``ctx.deps``), as in an agent run.

    >>> server = build_mcp_server([add, lookup_order], name="shop")  # doctest: +SKIP
    >>> app = server.streamable_http_app()  # doctest: +SKIP
    """
    try:
        from mcp.server.lowlevel import Server
    except ImportError:
        raise ConfigError("serving tools over MCP needs the `mcp` package: pip install 'keel[mcp]'") from None

    by_name: dict[str, Tool] = {}
    for t in tools:
        if t.name in by_name:
            raise ConfigError(f"two tools are named {t.name!r}; MCP needs unique names, rename one")
        by_name[t.name] = t

    async def on_list_tools(
        ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        from mcp_types import ListToolsResult

        return ListToolsResult(tools=[_describe_tool(t) for t in by_name.values()])

    async def on_call_tool(ctx: ServerRequestContext[Any], params: CallToolRequestParams) -> CallToolResult:
        from mcp import MCPError
        from mcp_types import INVALID_PARAMS

        tool = by_name.get(params.name)
        if tool is None:
            known = ", ".join(sorted(by_name)) or "none"
            raise MCPError(INVALID_PARAMS, f"unknown tool {params.name!r}; this server has: {known}")
        return await _run_tool(tool, dict(params.arguments or {}), _tool_context(name, deps))

    def input_schema(tool_name: str) -> dict[str, Any] | None:
        tool = by_name.get(tool_name)
        return tool.parameters if tool is not None else None

    return Server(
        name,
        version=version,
        instructions=instructions,
        get_tool_input_schema=input_schema,
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
    )


def _tool_context(server_name: str, deps: Any) -> ToolContext:
    """The ``ToolContext`` of one MCP call: there is no run, so each call is its own."""
    call_id = uuid.uuid4().hex
    # MCP has no stable call identity across client retries, and request ids restart at 1 in every
    # session, so each call gets a fresh key: never a false "already done" for a new request.
    return ToolContext(
        run_id=f"mcp-{call_id[:12]}",
        step=0,
        call_index=0,
        call_id=call_id,
        idempotency_key=f"mcp-{call_id}",
        deps=deps,
        metadata={"transport": "mcp", "server": server_name},
    )


def _describe_tool(tool: Tool) -> Any:
    from mcp_types import Tool as MCPToolInfo

    schema = dict(tool.parameters)
    schema.setdefault("type", "object")  # MCP requires an object schema at the root
    output_schema = None
    if tool.result_schema is not None:
        output_schema = tool.result_schema.model_json_schema()
    return MCPToolInfo(
        name=tool.name, description=tool.description or None, input_schema=schema, output_schema=output_schema
    )


async def _run_tool(tool: Tool, arguments: dict[str, Any], ctx: ToolContext) -> CallToolResult:
    """Run one Keel tool and turn what happened into an MCP result (errors included)."""
    try:
        async with asyncio.timeout(tool.timeout_s):
            value = await tool.invoke(arguments, ctx)
    except (ToolValidationError, ToolError) as e:
        return _error_result(str(e))
    except TimeoutError:
        return _error_result(
            f"{tool.name} did not finish within {tool.timeout_s}s; try again or narrow the request"
        )
    except Exception as e:
        log.exception("tool %s raised while serving an MCP call", tool.name)
        return _error_result(f"{tool.name} failed: {type(e).__name__}: {redact(str(e), 300)}")
    return _success_result(value)


def _error_result(text: str) -> CallToolResult:
    from mcp_types import CallToolResult, TextContent

    return CallToolResult(content=[TextContent(text=text)], is_error=True)


def _success_result(value: Any) -> CallToolResult:
    """Text for every client, plus ``structuredContent`` when the value is a JSON object."""
    from mcp_types import CallToolResult, TextContent
    from pydantic_core import to_jsonable_python

    if isinstance(value, str):
        return CallToolResult(content=[TextContent(text=value)])
    data = to_jsonable_python(value, fallback=str)
    text = json.dumps(data, ensure_ascii=False)
    return CallToolResult(
        content=[TextContent(text=text)], structured_content=data if isinstance(data, dict) else None
    )


def mcp_http_app(
    tools: Sequence[Tool],
    *,
    name: str = "keel",
    path: str = "/mcp",
    host: str = "127.0.0.1",
    deps: Any = None,
) -> Starlette:
    """An ASGI app serving ``tools`` over MCP streamable HTTP at ``path``, to mount or run with uvicorn.

    ``host`` is the address the app is served on; for 127.0.0.1 and localhost the SDK turns on
    DNS-rebinding protection (only local ``Host`` and ``Origin`` headers are accepted).

    >>> app = mcp_http_app([add], name="calc")  # doctest: +SKIP
    """
    return build_mcp_server(tools, name=name, deps=deps).streamable_http_app(
        streamable_http_path=path, host=host
    )


async def serve_tools_mcp(
    tools: Sequence[Tool],
    name: str = "keel",
    transport: Literal["stdio", "http"] = "stdio",
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    path: str = "/mcp",
    deps: Any = None,
) -> None:
    """Serve ``tools`` over MCP until the client disconnects (stdio) or the task is cancelled (http).

    >>> import asyncio
    >>> asyncio.run(serve_tools_mcp([add], name="calc"))  # doctest: +SKIP
    >>> # serves http://127.0.0.1:8765/mcp
    >>> asyncio.run(serve_tools_mcp([add], transport="http", port=8765))  # doctest: +SKIP
    """
    if transport not in ("stdio", "http"):
        raise ConfigError(f"unknown MCP transport {transport!r}; use 'stdio' or 'http'")
    server = build_mcp_server(tools, name=name, deps=deps)  # raises ConfigError without the mcp extra
    if transport == "stdio":
        from mcp.server.stdio import stdio_server

        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
        return
    import uvicorn

    app = server.streamable_http_app(streamable_http_path=path, host=host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve()
