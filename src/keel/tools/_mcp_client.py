"""Keel's MCP client: connect to an MCP server and use its tools as Keel ``Tool`` objects.

The ``mcp`` SDK is imported only inside the functions that talk to a server, so importing this
module stays cheap and works without the ``mcp`` extra installed.

The SDK runs each connection inside anyio task groups. When a transport fails (the server is
killed, the HTTP server goes away) those groups cancel whichever task entered them. So the
connection lives in a task of its own, ``_own``, and tool calls race that task: a dead server
becomes a typed error for the caller instead of a cancellation of the caller's task.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, TextIO, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

from keel.errors import ConfigError, ToolError, redact
from keel.models.base import ToolSpec
from keel.tools._tool import Tool, ToolContext, ToolValidationError

if TYPE_CHECKING:
    from mcp import Client
    from mcp.client._transport import Transport
    from mcp_types import CallToolResult, ListToolsResult
    from mcp_types import Tool as RemoteToolInfo

__all__ = ["MCPConnectionError", "MCPServer", "MCPTool"]

log = logging.getLogger("keel.tools.mcp")

_T = TypeVar("_T")
_CONNECTION_CLOSED = -32000  # mcp_types.CONNECTION_CLOSED, copied to keep mcp out of import time
_STDERR_TAIL_BYTES = 2_000
_CLOSE_GRACE_S = 8.0  # the SDK's stdio shutdown waits up to ~6 s (stdin close, SIGTERM, SIGKILL)


class MCPConnectionError(ToolError):
    """The MCP server crashed or the connection to it dropped during a call.

    It is a ``ToolError``, so an agent run reports it to the model and carries on; ``stderr_tail``
    holds the (redacted) end of a stdio server's stderr to help find the cause.
    """

    def __init__(self, message: str, *, stderr_tail: str = "") -> None:
        super().__init__(message)
        self.stderr_tail = stderr_tail


def _require_mcp() -> None:
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise ConfigError("MCP support needs the `mcp` package: pip install 'keel[mcp]'") from None


def _leaf_errors(exc: BaseException) -> list[BaseException]:
    """Flatten anyio's nested exception groups into the errors that actually happened."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaf_errors(inner)]
    return [exc]


def _describe(exc: BaseException) -> str:
    leaves = [e for e in _leaf_errors(exc) if not isinstance(e, asyncio.CancelledError)] or [exc]
    return redact("; ".join(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__ for e in leaves), 400)


def _safe_url(url: str) -> str:
    """The URL without credentials or query string, fit for error messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass(frozen=True)
class _StdioTarget:
    command: str
    args: tuple[str, ...]
    env: Mapping[str, str] | None
    cwd: str | None

    @property
    def label(self) -> str:
        return redact(shlex.join([Path(self.command).name, *self.args]), 200)

    def open(self, stderr: IO[str] | None) -> Transport:
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        params = StdioServerParameters(
            command=self.command, args=list(self.args), env=dict(self.env or {}), cwd=self.cwd
        )
        return (
            stdio_client(params, errlog=cast(TextIO, stderr)) if stderr is not None else stdio_client(params)
        )


@dataclass(frozen=True)
class _HttpTarget:
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return _safe_url(self.url)

    async def open(self, stack: AsyncExitStack) -> Transport:
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        # The SDK's own defaults: a short connect timeout, a long read for held-open SSE streams.
        http = httpx2.AsyncClient(headers=dict(self.headers), timeout=httpx2.Timeout(30.0, read=300.0))
        await stack.enter_async_context(http)
        return streamable_http_client(self.url, http_client=http)


class MCPServer:
    """A connection to one MCP server, whose tools Keel agents can call.

    Build it with :meth:`stdio` (start a local command) or :meth:`http` (streamable HTTP), open it
    with ``async with``, then hand ``await server.list_tools()`` to an agent. Each tool keeps the
    server's JSON schema as is; calls go to the server and come back as the tool's result.

    >>> async def main():  # doctest: +SKIP
    ...     async with MCPServer.stdio("uvx", ["mcp-server-time"]) as server:
    ...         tools = await server.list_tools()
    ...         print(await tools[0].invoke({"timezone": "UTC"}))

    ``timeout_s`` bounds each call (and each listing); ``connect_timeout_s`` bounds start-up.
    Start-up failures raise ``ConfigError`` (with the stderr tail of a stdio server); a server that
    dies later makes calls raise :class:`MCPConnectionError`, a ``ToolError``.
    """

    def __init__(
        self,
        target: _StdioTarget | _HttpTarget,
        *,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 30.0,
    ) -> None:
        self._target = target
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._closing = asyncio.Event()
        self._failure: BaseException | None = None
        self._stderr: IO[str] | None = None

    @classmethod
    def stdio(
        cls,
        command: str,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        *,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 30.0,
    ) -> MCPServer:
        """A server started as a subprocess that speaks MCP over its stdin and stdout.

        ``env`` is added to a minimal inherited environment (``HOME``, ``PATH``, ``USER`` ...), as
        the SDK does, so secrets in the parent's environment are not passed on by accident.

        >>> server = MCPServer.stdio("python", ["-m", "my_server"], env={"LOG_LEVEL": "debug"})
        >>> server.label
        'python -m my_server'
        """
        target = _StdioTarget(
            command, tuple(args), dict(env) if env else None, os.fspath(cwd) if cwd else None
        )
        return cls(target, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s)

    @classmethod
    def http(
        cls,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 30.0,
    ) -> MCPServer:
        """A server reached over MCP's streamable HTTP transport (usually ``http://host:port/mcp``).

        >>> MCPServer.http("http://127.0.0.1:8000/mcp?key=s3cret", {"Authorization": "Bearer x"}).label
        'http://127.0.0.1:8000/mcp'
        """
        return cls(
            _HttpTarget(url, dict(headers or {})), timeout_s=timeout_s, connect_timeout_s=connect_timeout_s
        )

    @property
    def label(self) -> str:
        """How errors name this server: the command line or the URL, without secrets."""
        return self._target.label

    @property
    def connected(self) -> bool:
        """True between a successful ``connect`` and the server's exit or ``aclose``."""
        return self._client is not None and self._task is not None and not self._task.done()

    async def __aenter__(self) -> MCPServer:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------------------------------
    # Lifecycle
    # ------------------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Start or reach the server and finish the MCP handshake; ``async with`` calls it."""
        _require_mcp()
        if self._task is not None:
            raise ConfigError(
                f"MCP server {self.label} was already connected; use a new MCPServer to reconnect"
            )
        if isinstance(self._target, _StdioTarget):
            self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        self._task = asyncio.create_task(self._own(), name=f"keel-mcp:{self.label}")
        ready = asyncio.create_task(self._ready.wait())
        try:
            await asyncio.wait(
                {self._task, ready}, timeout=self.connect_timeout_s, return_when="FIRST_COMPLETED"
            )
        except BaseException:
            await self.aclose()
            raise
        finally:
            ready.cancel()
        if self.connected:
            return
        timed_out = not self._task.done()
        await self._stop()
        error = self._startup_error(timed_out)  # before aclose, which drops the captured stderr
        await self.aclose()
        raise error

    async def _own(self) -> None:
        """Hold the SDK client open until ``_stop``; runs as its own task (see module docstring)."""
        from mcp import Client

        try:
            async with AsyncExitStack() as stack:
                if isinstance(self._target, _StdioTarget):
                    transport = self._target.open(self._stderr)
                else:
                    transport = await self._target.open(stack)
                client = await stack.enter_async_context(Client(transport, cache=None))
                self._client = client
                self._ready.set()
                await self._closing.wait()
        except BaseException as exc:  # recorded for the caller; this task is ours alone
            if not self._closing.is_set():
                self._failure = exc
                if self._ready.is_set():
                    log.warning("MCP server %s stopped: %s", self.label, _describe(exc))
        finally:
            self._client = None

    async def _stop(self) -> None:
        """End the connection task: the SDK closes stdin, then sends SIGTERM, then SIGKILL."""
        self._closing.set()
        task = self._task
        if task is not None and not task.done():
            done, _ = await asyncio.wait({task}, timeout=_CLOSE_GRACE_S)
            if not done:
                task.cancel()
                with suppress(BaseException):
                    await task

    async def aclose(self) -> None:
        """Close the session and stop a stdio server; safe to call more than once."""
        await self._stop()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    async def _mark_disconnected(self, reason: str) -> None:
        """The server went away under us: remember why and reap it, so stderr is complete."""
        if self._failure is None:
            self._failure = ConnectionError(reason)
        await self._stop()

    def stderr_tail(self) -> str:
        """The last ~2 KB a stdio server wrote to stderr, redacted ("" for HTTP servers)."""
        if self._stderr is None or self._stderr.closed:
            return ""
        fd = self._stderr.fileno()
        size = os.fstat(fd).st_size
        start = max(0, size - _STDERR_TAIL_BYTES)
        # pread leaves the offset alone: the child process writes through the same open file.
        raw = os.pread(fd, size - start, start).decode("utf-8", errors="replace")
        return redact(raw.strip(), _STDERR_TAIL_BYTES)

    def _startup_error(self, timed_out: bool) -> ConfigError:
        tail = self.stderr_tail()
        if timed_out:
            what = f"did not finish the MCP handshake within {self.connect_timeout_s}s"
        elif isinstance(self._target, _StdioTarget) and self._failed_with(FileNotFoundError):
            what = f"could not be started: command {self._target.command!r} not found"
        else:
            what = f"failed to start ({_describe(self._failure) if self._failure else 'no reason given'})"
        if isinstance(self._target, _StdioTarget):
            hint = "Run the command by hand to see why" + (
                f"; its stderr ended with:\n{tail}" if tail else "."
            )
        else:
            hint = "Check that the server is running at that URL and that the headers are right."
        return ConfigError(f"MCP server {self.label} {what}. {hint}")

    def _failed_with(self, kind: type[BaseException]) -> bool:
        return self._failure is not None and any(isinstance(e, kind) for e in _leaf_errors(self._failure))

    # ------------------------------------------------------------------------------------------
    # Requests
    # ------------------------------------------------------------------------------------------

    def _disconnected(self) -> MCPConnectionError:
        tail = self.stderr_tail()
        if self._failure is None and self._task is not None:
            message = f"MCP server {self.label} was closed; open a new MCPServer with `async with` to use it."
        elif self._failure is None:
            message = f"MCP server {self.label} is not connected yet; use `async with server:` first."
        else:
            message = (
                f"MCP server {self.label} disconnected ({_describe(self._failure)}); "
                "the tool is unavailable until the server is restarted."
            )
        if tail:
            message += f" Its stderr ended with:\n{tail}"
        return MCPConnectionError(message, stderr_tail=tail)

    async def _request(self, op: Callable[[Client], Awaitable[_T]], what: str, timeout_s: float | None) -> _T:
        """Run one SDK request, racing the connection task so a dead server cannot hang the caller."""
        client, task = self._client, self._task
        if client is None or task is None or task.done():
            raise self._disconnected()
        call = asyncio.ensure_future(op(client))
        try:
            done, _ = await asyncio.wait({call, task}, timeout=timeout_s, return_when="FIRST_COMPLETED")
        except BaseException:
            call.cancel()
            raise
        if call in done:
            return await self._result_of(call)
        call.cancel()
        with suppress(BaseException):
            await call
        if task.done():
            raise self._disconnected()
        raise ToolError(
            f"{what} on MCP server {self.label} did not answer within {timeout_s}s; try again later"
        )

    async def _result_of(self, call: asyncio.Future[_T]) -> _T:
        from mcp import MCPError

        try:
            return call.result()
        except MCPError as e:
            if e.code == _CONNECTION_CLOSED:
                await self._mark_disconnected(e.message)
                raise self._disconnected() from None
            raise ToolError(f"MCP server {self.label} rejected the request: {redact(e.message)}") from None
        except Exception as e:  # e.g. a result that breaks the protocol's schema
            raise ToolError(
                f"MCP server {self.label} sent an answer Keel cannot use: {_describe(e)}"
            ) from None

    async def list_tools(self, *, prefix: str = "", timeout_s: float | None = None) -> list[Tool]:
        """The server's tools as Keel tools; ``prefix`` keeps names apart when using several servers.

        >>> tools = await server.list_tools(prefix="crm_")  # doctest: +SKIP
        >>> tools[0].name, tools[0].remote_name  # doctest: +SKIP
        ('crm_find_user', 'find_user')
        """
        infos: list[RemoteToolInfo] = []
        cursor: str | None = None
        while True:
            page = await self._request(_list_page(cursor), "listing tools", timeout_s or self.timeout_s)
            infos.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                return [MCPTool.from_info(self, info, name=prefix + info.name) for info in infos]

    async def call_tool(
        self, name: str, arguments: Mapping[str, Any] | None = None, *, timeout_s: float | None = None
    ) -> Any:
        """Call tool ``name`` on the server and return its content (see :func:`result_content`).

        An MCP error result raises ``ToolError`` with the server's text, so the model sees it.
        """
        timeout = timeout_s or self.timeout_s
        result: CallToolResult = await self._request(
            lambda c: c.call_tool(name, dict(arguments or {})), f"tool {name!r}", timeout
        )
        return result_content(name, result)

    def __repr__(self) -> str:
        state = "connected" if self.connected else "closed"
        return f"MCPServer({self.label!r}, {state})"


def _list_page(cursor: str | None) -> Callable[[Client], Awaitable[ListToolsResult]]:
    def op(client: Client) -> Awaitable[ListToolsResult]:
        return client.list_tools(cursor=cursor)

    return op


def result_content(name: str, result: CallToolResult) -> Any:
    """What a tool call returns to Keel: ``structuredContent`` when given, else the text joined.

    Non-text blocks (images, audio, binary resources) become short placeholders, since a Keel
    tool result is JSON. An ``isError`` result raises ``ToolError`` with the server's text.
    """
    from mcp_types import EmbeddedResource, ResourceLink, TextContent, TextResourceContents

    parts: list[str] = []
    for block in result.content:
        if isinstance(block, TextContent):
            parts.append(block.text)
        elif isinstance(block, EmbeddedResource):
            res = block.resource
            parts.append(
                res.text if isinstance(res, TextResourceContents) else f"[binary resource {res.uri}]"
            )
        elif isinstance(block, ResourceLink):
            parts.append(f"[resource link {block.uri}]")
        else:
            parts.append(f"[{block.type} {block.mime_type}, {len(block.data)} base64 chars]")
    text = "\n".join(parts)
    if result.is_error:
        raise ToolError(text or f"MCP tool {name!r} reported an error without details")
    if result.structured_content is not None:
        return result.structured_content
    return text


class MCPTool(Tool):
    """A tool that lives on an MCP server. Its schema is the server's ``inputSchema``, unchanged.

    Built by :meth:`MCPServer.list_tools`; ``remote_name`` is the name on the server, ``name``
    may carry a prefix. Arguments are checked against the schema with ``jsonschema`` before the
    call, so the model gets a precise, fixable message without a round trip.
    """

    def __init__(
        self,
        server: MCPServer,
        remote_name: str,
        *,
        name: str | None = None,
        description: str = "",
        parameters: dict[str, Any],
        output_schema: dict[str, Any] | None = None,
        timeout_s: float | None = None,
        side_effects: bool = True,
    ) -> None:
        # Tool.__init__ derives everything from a Python signature; a remote tool has only its
        # JSON schema, so the attributes Tool's other methods read are filled in here instead.
        self.fn = self._call_remote
        self.server = server
        self.remote_name = remote_name
        self.name = name or remote_name
        self.description = description
        self.timeout_s = timeout_s if timeout_s is not None else server.timeout_s
        self.retries = 0
        self.side_effects = side_effects
        self.requires_approval = False
        self.scopes = frozenset()
        self.max_result_chars = 16_000
        self.examples = []
        self.result_schema = None
        self.output_schema = output_schema
        self.is_async = True
        self._context_param = None
        self._schema = parameters
        self._spec = ToolSpec(name=self.name, description=description, parameters=parameters)
        self._validator = _compile_validator(self.name, parameters)

    @classmethod
    def from_info(cls, server: MCPServer, info: RemoteToolInfo, *, name: str | None = None) -> MCPTool:
        """Wrap one entry of a ``tools/list`` answer."""
        hints = info.annotations
        # MCP's default is "may have side effects"; only an explicit read-only hint says otherwise.
        read_only = bool(hints and hints.read_only_hint)
        return cls(
            server,
            info.name,
            name=name,
            description=info.description or (info.title or ""),
            parameters=info.input_schema,
            output_schema=info.output_schema,
            side_effects=not read_only,
        )

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Check ``arguments`` against the server's schema; raise ``ToolValidationError`` if they fail."""
        if self._validator is None:
            return dict(arguments)
        try:
            errors = sorted(self._validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
        except Exception as exc:  # an unresolvable $ref and the like: let the server judge
            log.debug("cannot validate arguments of %s locally: %s", self.name, exc)
            return dict(arguments)
        if errors:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e.absolute_path) or '(arguments)'}: {e.message}" for e in errors
            )
            raise ToolValidationError(f"invalid arguments for {self.name}: {problems}")
        return dict(arguments)

    def _required(self) -> list[str]:
        required = self._schema.get("required", [])
        return [str(r) for r in required] if isinstance(required, list) else []

    async def invoke(self, arguments: dict[str, Any], ctx: ToolContext | None = None) -> Any:
        """Validate ``arguments`` and call the tool on its server; ``ctx`` is not sent."""
        return await self._call_remote(**self.validate(arguments))

    async def _call_remote(self, **arguments: Any) -> Any:
        return await self.server.call_tool(self.remote_name, arguments, timeout_s=self.timeout_s)

    def __repr__(self) -> str:
        return f"MCPTool({self.name!r} on {self.server.label!r})"


def _compile_validator(name: str, schema: dict[str, Any]) -> Any:
    """A ``jsonschema`` validator for ``schema`` (2020-12 unless ``$schema`` says otherwise), or None."""
    try:
        from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
        from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]
        from jsonschema.validators import validator_for  # type: ignore[import-untyped]
    except ImportError:  # jsonschema comes with mcp; without it the server does the checking
        return None
    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as e:
        log.warning("MCP tool %s has an invalid input schema (%s); arguments go unchecked", name, e.message)
        return None
    return cls(schema)
