"""A Keel tool defined by a JSON schema alone, for benchmarks whose functions have no Python body.

BFCL gives function documents, not functions; the benchmark only needs the model to *call* them.
``Tool.__init__`` derives everything from a Python signature, so (as ``MCPTool`` does) the attributes
the rest of Keel reads are filled in directly.

>>> t = SchemaTool("get_weather", "Weather for a city.", {"type": "object", "properties": {"city": {"type": "string"}}})
>>> t.spec().parameters["properties"]["city"]
{'type': 'string'}
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from keel.models.base import ToolSpec
from keel.tools._tool import Tool, ToolContext

__all__ = ["SchemaTool"]

Handler = Callable[[dict[str, Any]], Awaitable[Any]]


async def _no_body(arguments: dict[str, Any]) -> Any:
    return {"ok": True}


class SchemaTool(Tool):
    """A tool whose schema is given as is; ``handler`` (async, gets the arguments) runs on invoke."""

    def __init__(
        self,
        name: str,
        description: str,
        parameters: dict[str, Any],
        *,
        handler: Handler | None = None,
        examples: list[str] | None = None,
        side_effects: bool = False,
    ) -> None:
        self.fn = self._call
        self.handler = handler or _no_body
        self.name = name
        self.description = description
        self.timeout_s = 60.0
        self.retries = 0
        self.side_effects = side_effects
        self.requires_approval = False
        self.scopes = frozenset()
        self.max_result_chars = 16_000
        self.examples = list(examples or [])
        self.result_schema = None
        self.is_async = True
        self._context_param = None
        self._schema = parameters
        self._spec = ToolSpec(
            name=name, description=description, parameters=parameters, examples=self.examples
        )

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Arguments pass through: the local model fills them under the schema's grammar already."""
        return dict(arguments)

    def _required(self) -> list[str]:
        req = self._schema.get("required", [])
        return [str(r) for r in req] if isinstance(req, list) else []

    async def invoke(self, arguments: dict[str, Any], ctx: ToolContext | None = None) -> Any:
        return await self.handler(self.validate(arguments))

    async def _call(self, **arguments: Any) -> Any:
        return await self.handler(arguments)

    def __repr__(self) -> str:
        return f"SchemaTool({self.name!r})"
