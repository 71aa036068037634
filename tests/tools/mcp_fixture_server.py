"""A tiny third-party-style MCP server for Keel's MCP tests, written with the ``mcp`` SDK only.

It knows nothing about Keel: it is what a user would point ``MCPServer.stdio`` / ``MCPServer.http``
at. Tools cover the paths the client must handle: structured output, plain text, a tool that raises
(an MCP ``isError`` result), a slow tool (timeouts) and one that reports its process id (so a test
can kill the server mid-session).

Run it::

    python mcp_fixture_server.py                          # stdio
    python mcp_fixture_server.py --http --port 8765       # streamable HTTP on 127.0.0.1:8765/mcp
    python mcp_fixture_server.py --fail-startup           # print to stderr and exit 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

server = MCPServer("fixture", instructions="Test server for Keel's MCP client.")

USERS = {
    "ada@example.com": {"user_id": "u_ada", "name": "Ada Lovelace", "plan": "pro"},
    "alan@example.com": {"user_id": "u_alan", "name": "Alan Turing", "plan": "free"},
}


class User(BaseModel):
    user_id: str
    name: str
    plan: str


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def find_user(email: str = Field(description="The customer's email address")) -> User:
    """Find a customer by email."""
    if email.lower() not in USERS:
        raise ValueError(f"no user with email {email}")
    return User(**USERS[email.lower()])


@server.tool(structured_output=False)
def shout(text: str, times: int = 1) -> str:
    """Upper-case a text, repeated ``times`` times."""
    return " ".join([text.upper()] * times)


@server.tool(structured_output=False)
def fail(reason: str) -> str:
    """Always fails with the given reason."""
    # The SDK's ToolError is the documented way to show the message to the caller.
    raise ToolError(f"fixture failure: {reason}")


@server.tool(structured_output=False)
async def sleep(seconds: float) -> str:
    """Sleep, then answer."""
    await asyncio.sleep(seconds)
    return f"slept {seconds}"


@server.tool(structured_output=False)
def request_header(name: str, ctx: Context) -> str:
    """A header of the HTTP request that carried this call ('' over stdio)."""
    return str((ctx.headers or {}).get(name, ""))


@server.tool()
def get_pid() -> int:
    """The server's process id."""
    return os.getpid()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--fail-startup", action="store_true")
    args = parser.parse_args()
    if args.fail_startup:
        print("fixture: cannot open database (password=hunter2hunter2)", file=sys.stderr, flush=True)
        raise SystemExit(3)
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.port)
    else:
        server.run()


if __name__ == "__main__":
    main()
