"""Tools: ``@tool`` for typed Python functions, execution, connectors (http, sql, files) and MCP."""

from keel.tools._tool import Tool, ToolContext, ToolValidationError, tool

__all__ = ["Tool", "ToolContext", "ToolValidationError", "tool"]
