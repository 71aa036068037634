"""SQL connector: let a model query SQLite or PostgreSQL through one guarded, parameterised tool.

Two layers stand between the model and the data:

1. ``keel.security.sqlguard`` parses the statement and refuses writes (when read-only), stacked
   statements, tables outside the allowlist, dangerous functions and injection shapes.
2. The database itself enforces what the parser might miss: SQLite is opened ``mode=ro`` and an
   authorizer denies every write, every table outside the allowlist and every dangerous function;
   PostgreSQL runs each query in a ``READ ONLY`` transaction with a ``statement_timeout``.

Values never go into the query text: the model writes ``?`` (with ``params`` as a list) or
``:name`` (with ``params`` as an object) on both backends. Results come back as JSON-able columns
and rows, capped at ``max_rows`` with a ``truncated`` flag.

>>> db = sql_tool("orders_db", "shop.db", allowed_tables=["orders"])      # doctest: +SKIP
>>> await db.invoke({"query": "SELECT id, status FROM orders WHERE id = ?", "params": [42]})  # doctest: +SKIP
{'columns': ['id', 'status'], 'rows': [[42, 'shipped']], 'row_count': 1, 'truncated': False, ...}
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import decimal
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import BaseModel

from keel.errors import ConfigError, ToolError, redact
from keel.security.sqlguard import DANGEROUS_FUNCTIONS, CheckedSQL, Dialect, SQLRejected, check_sql
from keel.tools._tool import Tool

if TYPE_CHECKING:
    import psycopg

__all__ = ["SQLConnector", "SQLRejected", "SQLResult", "sql_tool"]

Params = Sequence[Any] | Mapping[str, Any] | None


class SQLResult(BaseModel):
    """What a query returns: column names, rows of JSON-able values, and whether rows were cut off.

    ``rows_affected`` is set for writes (``INSERT``/``UPDATE``/``DELETE``).
    """

    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    rows_affected: int | None = None


class SQLConnector:
    """A guarded connection to one database. ``query`` checks, runs and shapes one statement.

    ``dsn_or_connection`` is a SQLite path (``shop.db``, ``sqlite:///shop.db``, ``:memory:``), a
    PostgreSQL URL or key/value DSN (``postgresql://...``, ``host=... dbname=...``), an open
    ``sqlite3.Connection`` (made with ``check_same_thread=False``) or an open ``psycopg.Connection``.
    A connection passed in is used as is, one query at a time, and never closed by Keel.

    >>> db = SQLConnector("shop.db", allowed_tables=["orders"])       # doctest: +SKIP
    >>> (await db.query("SELECT count(*) AS n FROM orders")).rows     # doctest: +SKIP
    [[1204]]
    """

    def __init__(
        self,
        dsn_or_connection: str | os.PathLike[str] | sqlite3.Connection | psycopg.Connection[Any],
        *,
        read_only: bool = True,
        allowed_tables: Iterable[str] | None = None,
        max_rows: int = 200,
        timeout_s: float = 10.0,
    ) -> None:
        if max_rows < 1:
            raise ConfigError("max_rows must be at least 1")
        if timeout_s <= 0:
            raise ConfigError("timeout_s must be positive")
        self.read_only = read_only
        self.allowed_tables = None if allowed_tables is None else frozenset(t.lower() for t in allowed_tables)
        self.max_rows = max_rows
        self.timeout_s = timeout_s
        self._lock = threading.Lock()  # one statement at a time per connection
        self._sqlite: sqlite3.Connection | None = None
        self._pg_conn: psycopg.Connection[Any] | None = None
        self._pg_dsn: str | None = None
        self._owned = True
        self.dialect: Dialect = self._open(dsn_or_connection)

    # -- setup -------------------------------------------------------------------------------------

    def _open(self, target: Any) -> Dialect:
        if isinstance(target, sqlite3.Connection):
            self._sqlite, self._owned = target, False
            return "sqlite"
        if type(target).__module__.startswith("psycopg"):
            if "Async" in type(target).__name__:
                raise ConfigError("pass a DSN string or a sync psycopg.Connection, not an AsyncConnection")
            self._pg_conn, self._owned = target, False
            return "postgres"
        if not isinstance(target, str | os.PathLike):
            raise ConfigError(f"cannot open a database from {type(target).__name__}: pass a path or a DSN")
        text = os.fspath(target)
        if text.startswith(("postgresql://", "postgres://")) or ("dbname=" in text or "host=" in text):
            self._pg_dsn = text
            return "postgres"
        if text.startswith("sqlite:///"):
            text = text[len("sqlite:///") :]  # sqlite:///rel.db and sqlite:////abs.db, as SQLAlchemy
        self._sqlite = self._open_sqlite_file(text)
        return "sqlite"

    def _open_sqlite_file(self, path: str) -> sqlite3.Connection:
        if path == ":memory:":
            return sqlite3.connect(":memory:", check_same_thread=False)
        file = Path(path).expanduser().resolve()
        if not file.is_file():
            raise ConfigError(f"SQLite database {file} does not exist: check the path")
        try:
            if self.read_only:
                uri = f"file:{quote(str(file))}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
                conn.execute("PRAGMA query_only = ON")
                return conn
            return sqlite3.connect(str(file), check_same_thread=False)
        except sqlite3.Error as e:
            raise ConfigError(f"cannot open SQLite database {file}: {e}") from None

    def close(self) -> None:
        """Close the connection Keel opened (a connection passed in is left open)."""
        if self._owned and self._sqlite is not None:
            self._sqlite.close()

    # -- query -------------------------------------------------------------------------------------

    async def query(self, sql: str, params: Params = None) -> SQLResult:
        """Check and run one statement with its parameters.

        Raises ``SQLRejected`` when the guard refuses it and ``ToolError`` when the database fails
        (timeout, missing table, wrong number of parameters ...).
        """
        checked = check_sql(
            sql, dialect=self.dialect, read_only=self.read_only, allowed_tables=self.allowed_tables
        )
        if isinstance(params, str | bytes) or (
            params is not None and not isinstance(params, Sequence | Mapping)
        ):
            raise ToolError(
                "params must be a list (for ? placeholders) or an object (for :name placeholders)"
            )
        return await asyncio.to_thread(self._run_locked, checked, params)

    def _run_locked(self, checked: CheckedSQL, params: Params) -> SQLResult:
        with self._lock:
            if self.dialect == "sqlite":
                return self._run_sqlite(checked, params)
            return self._run_postgres(checked, params)

    # -- SQLite ------------------------------------------------------------------------------------

    def _run_sqlite(self, checked: CheckedSQL, params: Params) -> SQLResult:
        conn = self._sqlite
        assert conn is not None
        deadline = time.monotonic() + self.timeout_s
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
        conn.set_authorizer(self._authorize)
        committed = False
        try:
            cur = conn.execute(checked.sql, _sqlite_params(params))
            result = self._collect(cur, writes=checked.writes)
            if checked.writes:
                conn.set_authorizer(None)  # COMMIT is Keel's, not the model's
                conn.commit()
                committed = True
            return result
        except sqlite3.Error as e:
            raise _sqlite_error(e, self.timeout_s) from None
        finally:
            conn.set_progress_handler(None, 0)
            conn.set_authorizer(None)
            if not committed and conn.in_transaction:
                conn.rollback()

    def _authorize(
        self, action: int, arg1: str | None, arg2: str | None, _db: str | None, source: str | None
    ) -> int:
        """SQLite's own check on every table read, write and function call (does not trust parsing)."""
        ok, deny = sqlite3.SQLITE_OK, sqlite3.SQLITE_DENY
        if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_RECURSIVE):
            return ok
        if action == sqlite3.SQLITE_FUNCTION:
            return deny if (arg2 or "").lower() in DANGEROUS_FUNCTIONS else ok
        if action == sqlite3.SQLITE_READ:
            return ok if self._table_allowed(arg1) or self._table_allowed(source) else deny
        if self.read_only:
            return deny
        if action in (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE):
            return ok if self._table_allowed(arg1) else deny
        if action == sqlite3.SQLITE_TRANSACTION:
            return ok  # the implicit BEGIN Python's sqlite3 issues before a write
        return deny

    def _table_allowed(self, table: str | None) -> bool:
        if not table:
            return False
        return self.allowed_tables is None or table.lower() in self.allowed_tables

    # -- PostgreSQL --------------------------------------------------------------------------------

    def _run_postgres(self, checked: CheckedSQL, params: Params) -> SQLResult:
        import psycopg

        conn = self._pg_conn if self._pg_conn is not None else self._connect_postgres()
        try:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                raise ToolError(
                    "the PostgreSQL connection is inside a transaction: commit or roll it back first"
                )
            try:
                return self._execute_postgres(conn, checked, params)
            except psycopg.errors.QueryCanceled:
                raise ToolError(
                    f"query took longer than {self.timeout_s:g}s and was stopped: narrow it"
                ) from None
            except psycopg.errors.ReadOnlySqlTransaction:
                raise ToolError("the database refused a write: this connection is read-only") from None
            except psycopg.Error as e:
                detail = (e.diag.message_primary if e.diag else None) or str(e)
                raise ToolError(f"database error: {redact(detail, 300)}") from None
        finally:
            if self._pg_conn is None:
                conn.close()

    def _connect_postgres(self) -> psycopg.Connection[Any]:
        import psycopg

        assert self._pg_dsn is not None
        try:
            return psycopg.connect(
                self._pg_dsn, autocommit=False, connect_timeout=max(1, int(self.timeout_s))
            )
        except psycopg.Error as e:
            # The DSN may hold a password: never echo it.
            message = str(e).replace(self._pg_dsn, "<dsn>")
            raise ToolError(f"could not connect to PostgreSQL: {redact(message, 300)}") from None

    def _execute_postgres(
        self, conn: psycopg.Connection[Any], checked: CheckedSQL, params: Params
    ) -> SQLResult:
        """One transaction per statement: READ ONLY and timed out by the server, rolled back unless it writes."""
        import psycopg

        sql = to_psycopg_placeholders(checked.sql)
        bound: Sequence[Any] | Mapping[str, Any] = params if params is not None else ()
        result: SQLResult | None = None
        # transaction() works whether or not the connection is in autocommit mode.
        with conn.transaction():
            with conn.cursor() as setup:
                if self.read_only:
                    setup.execute("SET TRANSACTION READ ONLY")
                timeout = f"{int(self.timeout_s * 1000)}ms"
                setup.execute("SELECT set_config('statement_timeout', %s, true)", [timeout])
            if checked.writes:
                with conn.cursor() as cur:
                    cur.execute(sql, bound)
                    return self._collect(cur, writes=True)
            # A server-side cursor: only max_rows + 1 rows ever cross the wire.
            with conn.cursor(name="keel_sql_tool") as server_cur:
                server_cur.execute(sql, bound)
                result = self._collect(server_cur, writes=False)
            raise psycopg.Rollback()  # a read keeps nothing
        assert result is not None
        return result

    # -- shaping -----------------------------------------------------------------------------------

    def _collect(self, cursor: Any, *, writes: bool) -> SQLResult:
        columns = [str(d[0]) for d in cursor.description or ()]
        fetched: list[Any] = []
        if columns:
            # A write's RETURNING rows are drained so the statement finishes before COMMIT.
            fetched = cursor.fetchall() if writes else cursor.fetchmany(self.max_rows + 1)
        affected = max(cursor.rowcount, 0) if writes else None  # read after fetching: SQLite counts late
        truncated = len(fetched) > self.max_rows
        rows = [[to_jsonable(v) for v in row] for row in fetched[: self.max_rows]]
        return SQLResult(
            columns=columns, rows=rows, row_count=len(rows), truncated=truncated, rows_affected=affected
        )


def _sqlite_error(e: sqlite3.Error, timeout_s: float) -> ToolError:
    text = str(e)
    if "interrupted" in text:
        return ToolError(f"query took longer than {timeout_s:g}s and was stopped: narrow it")
    if "not authorized" in text or "prohibited" in text or "readonly database" in text:
        return ToolError(
            "query rejected by the database: it reads a table or calls a function that is not allowed, "
            "or writes to a read-only database"
        )
    return ToolError(f"database error: {redact(text, 300)}")


def _sqlite_params(params: Params) -> Sequence[Any] | Mapping[str, Any]:
    if params is None:
        return ()
    return params if isinstance(params, Mapping) else tuple(params)


def to_psycopg_placeholders(sql: str) -> str:
    """Rewrite ``?`` / ``:name`` placeholders as psycopg's ``%s`` / ``%(name)s`` and escape other ``%``.

    psycopg's own ``%s`` / ``%(name)s`` are kept, so either style works on PostgreSQL. A bare ``?``
    is always a placeholder: write jsonb's ``?`` operator as ``jsonb_exists(doc, 'key')``.

    >>> to_psycopg_placeholders("SELECT a::int FROM t WHERE b = ? AND c = :c AND d LIKE 'x%'")
    "SELECT a::int FROM t WHERE b = %s AND c = %(c)s AND d LIKE 'x%%'"
    """
    from sqlglot.dialects.dialect import Dialect as SqlglotDialect
    from sqlglot.tokenizer_core import TokenType

    tokens = SqlglotDialect.get_or_raise("postgres").tokenize(sql)
    out: list[str] = []
    pos = 0

    def emit(until: int, replacement: str, resume: int) -> None:
        nonlocal pos
        out.append(sql[pos:until].replace("%", "%%"))
        out.append(replacement)
        pos = resume

    def adjacent(i: int, n: int) -> bool:
        return i + n < len(tokens) and all(tokens[j + 1].start == tokens[j].end + 1 for j in range(i, i + n))

    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.token_type == TokenType.PLACEHOLDER and tok.text == "?":
            emit(tok.start, "%s", tok.end + 1)
        elif tok.token_type == TokenType.COLON and adjacent(i, 1) and tokens[i + 1].text.isidentifier():
            emit(tok.start, f"%({tokens[i + 1].text})s", tokens[i + 1].end + 1)
            i += 1
        elif tok.token_type == TokenType.MOD and adjacent(i, 1) and tokens[i + 1].text == "s":
            emit(tok.start, "%s", tokens[i + 1].end + 1)
            i += 1
        elif (
            tok.token_type == TokenType.MOD
            and adjacent(i, 4)
            and tokens[i + 1].token_type == TokenType.L_PAREN
            and tokens[i + 3].token_type == TokenType.R_PAREN
            and tokens[i + 4].text == "s"
        ):
            emit(tok.start, f"%({tokens[i + 2].text})s", tokens[i + 4].end + 1)
            i += 4
        i += 1
    out.append(sql[pos:].replace("%", "%%"))
    return "".join(out)


def to_jsonable(value: Any) -> Any:
    """Turn a database value into something ``json.dumps`` accepts without losing meaning.

    Decimals become strings (exact), dates ISO strings, bytes base64, UUIDs strings.

    >>> to_jsonable(decimal.Decimal("12.50")), to_jsonable(b"\\x00\\x01")
    ('12.50', 'base64:AAE=')
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return "base64:" + base64.b64encode(bytes(value)).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    return str(value)


def sql_tool(
    name: str,
    dsn_or_connection: str | os.PathLike[str] | sqlite3.Connection | psycopg.Connection[Any],
    *,
    read_only: bool = True,
    allowed_tables: Iterable[str] | None = None,
    max_rows: int = 200,
    timeout_s: float = 10.0,
    description: str | None = None,
) -> Tool:
    """A tool that runs one guarded, parameterised SQL statement per call.

    The model sees ``query`` and ``params``; a refused statement or a database error comes back to
    it as a ``ToolError`` that says what to change.

    >>> orders = sql_tool("orders_db", "postgresql://app@db/shop", allowed_tables=["orders"])  # doctest: +SKIP
    """
    connector = SQLConnector(
        dsn_or_connection,
        read_only=read_only,
        allowed_tables=allowed_tables,
        max_rows=max_rows,
        timeout_s=timeout_s,
    )
    if description is None:
        description = _default_description(connector)

    async def run_sql(query: str, params: list[Any] | dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one SQL statement.

        Args:
            query: exactly one SQL statement; write every value as a ? placeholder (or :name)
            params: the values for the placeholders: a list for ?, an object for :name
        """
        try:
            result = await connector.query(query, params)
        except SQLRejected as e:
            raise ToolError(f"query rejected: {e}") from e
        return result.model_dump()

    return Tool(
        run_sql,
        name=name,
        description=description,
        timeout_s=timeout_s + 5,  # the database's own timeout fires first, with a clearer message
        side_effects=not read_only,
        result_schema=SQLResult,
    )


def _default_description(connector: SQLConnector) -> str:
    engine = "SQLite" if connector.dialect == "sqlite" else "PostgreSQL"
    mode = (
        "read-only SELECT query" if connector.read_only else "SQL statement (SELECT, INSERT, UPDATE, DELETE)"
    )
    tables = f" Tables: {', '.join(sorted(connector.allowed_tables))}." if connector.allowed_tables else ""
    return (
        f"Run one {mode} on the {engine} database.{tables} Put every value in `params` and write ? "
        f"(or :name) in the query; never write values into the query text. Returns columns and up to "
        f"{connector.max_rows} rows; `truncated` is true when there were more."
    )
