"""Two Keel tools served over MCP with ``serve_tools_mcp``; Keel's MCP tests start it as a subprocess.

python mcp_keel_tools_server.py                      # stdio
python mcp_keel_tools_server.py --http --port 8766   # streamable HTTP on 127.0.0.1:8766/mcp
"""

from __future__ import annotations

import argparse
import asyncio

from keel.errors import ToolError
from keel.tools import ToolContext, tool
from keel.tools.mcp import serve_tools_mcp

ORDERS = {
    "#W1001": {"order_id": "#W1001", "status": "delivered", "total": 42.5},
    "#W1002": {"order_id": "#W1002", "status": "pending", "total": 7.0},
}


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b


@tool(timeout_s=5)
async def lookup_order(order_id: str, ctx: ToolContext) -> dict[str, object]:
    """Look up an order by its id.

    Args:
        order_id: the order id, with its leading '#'
    """
    if order_id not in ORDERS:
        raise ToolError(f"no order {order_id}; order ids look like #W1001")
    return {**ORDERS[order_id], "served_by": ctx.metadata["server"]}


TOOLS = [add, lookup_order]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    transport = "http" if args.http else "stdio"
    asyncio.run(serve_tools_mcp(TOOLS, name="keel-test", transport=transport, port=args.port))


if __name__ == "__main__":
    main()
