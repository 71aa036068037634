"""SQL guard: decide whether a model-written statement may run, before it reaches the database.

The model writes SQL; values travel separately as parameters. The guard parses the statement with
``sqlglot`` in the target dialect and refuses, with a reason the model can act on:

* more than one statement (``SELECT 1; DROP TABLE x``);
* statement kinds that are never allowed (DDL, ``ATTACH``, ``PRAGMA``, ``COPY``, ``GRANT``, ``SET``,
  transaction control, anything sqlglot cannot parse into a known statement);
* any write (``INSERT``/``UPDATE``/``DELETE``/``MERGE``, ``SELECT ... INTO``, ``FOR UPDATE``) when
  the policy is read-only, including writes hidden in CTEs and subqueries;
* ``UPDATE``/``DELETE`` without a ``WHERE`` clause, even when writes are allowed;
* tables outside the allowlist (CTE names are not tables), and sensitive catalogs always;
* functions that read files, sleep, open connections or run SQL of their own (``load_extension``,
  ``pg_read_file``, ``pg_sleep``, ``dblink``, ``lo_import``, ``query_to_xml`` ...);
* the shapes of classic injection: comments (``--``, ``/* */``), quotes inside string literals,
  and always-true ``OR`` conditions (``' OR '1'='1``).

The guard is one layer. The connectors in ``keel.tools.sql`` add a second that does not depend on
parsing: a read-only connection or transaction, an authorizer on SQLite, and a statement timeout.

>>> check_sql("SELECT name FROM customers WHERE id = ?", dialect="sqlite").tables
frozenset({'customers'})
>>> try:
...     check_sql("SELECT 1; DROP TABLE customers", dialect="sqlite")
... except SQLRejected as e:
...     print(e.reason, "-", e)
multiple_statements - multiple statements: send exactly one statement per call
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from keel.errors import KeelError

__all__ = [
    "DANGEROUS_FUNCTIONS",
    "SENSITIVE_TABLES",
    "CheckedSQL",
    "Dialect",
    "SQLRejected",
    "check_sql",
]

Dialect = Literal["sqlite", "postgres"]

MAX_SQL_CHARS = 20_000

# Functions that touch the file system, the network, other sessions, server settings, or run SQL
# text of their own (which would bypass every check here). Matched on the unqualified name.
DANGEROUS_FUNCTIONS: frozenset[str] = frozenset(
    {
        # SQLite: extensions and the CLI's file helpers
        "load_extension", "readfile", "writefile", "edit", "fts3_tokenizer",
        # PostgreSQL: server files and directories
        "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_ls_logdir",
        "pg_ls_waldir", "pg_ls_tmpdir", "pg_ls_archive_statusdir", "pg_file_write", "pg_file_rename",
        "pg_file_unlink", "pg_logdir_ls",
        # large objects: import/export server files
        "lo_import", "lo_export", "lo_get", "lo_put", "lo_create", "lo_creat", "lo_unlink",
        "lo_from_bytea", "lo_open", "lo_write",
        # sleeping / locking: denial of service
        "pg_sleep", "pg_sleep_for", "pg_sleep_until", "sleep", "pg_advisory_lock",
        "pg_advisory_xact_lock", "pg_advisory_lock_shared", "pg_try_advisory_lock",
        # other connections and dynamic SQL
        "dblink", "dblink_exec", "dblink_connect", "dblink_connect_u", "dblink_send_query",
        "dblink_open", "dblink_fetch", "query_to_xml", "query_to_xml_and_xmlschema",
        "query_to_xmlschema", "cursor_to_xml", "table_to_xml", "database_to_xml", "schema_to_xml",
        # server administration and settings
        "set_config", "pg_reload_conf", "pg_rotate_logfile", "pg_terminate_backend",
        "pg_cancel_backend", "pg_switch_wal", "pg_promote", "pg_create_restore_point",
        "pg_notify", "pg_backend_pid", "pg_execute_server_program",
        # sequences write even inside SELECT
        "nextval", "setval",
    }
)  # fmt: skip

# Catalogs that expose credentials or other sessions' queries; refused even without an allowlist.
SENSITIVE_TABLES: frozenset[str] = frozenset(
    {
        "pg_authid", "pg_shadow", "pg_user_mapping", "pg_user_mappings", "pg_hba_file_rules",
        "pg_ident_file_mappings", "pg_file_settings", "pg_stat_activity", "pg_settings",
        "pg_largeobject", "pg_stat_statements",
    }
)  # fmt: skip

# Schemas that mean "the default one": an allowlist entry ``orders`` also matches ``main.orders``.
_DEFAULT_SCHEMAS = {"sqlite": {"main"}, "postgres": {"public"}}


class SQLRejected(KeelError):
    """The SQL guard refused a statement. ``reason`` is a short code; the message says what to change.

    Codes: ``empty``, ``too_long``, ``syntax``, ``multiple_statements``, ``comment``,
    ``statement_kind``, ``write_in_read_only``, ``unbounded_write``, ``table_not_allowed``,
    ``function_not_allowed``, ``suspicious_literal``, ``tautology``.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CheckedSQL:
    """A statement the guard accepted: its text, the tables it names and whether it writes."""

    sql: str
    dialect: Dialect
    tables: frozenset[str]
    writes: bool


def check_sql(
    sql: str,
    *,
    dialect: Dialect = "sqlite",
    read_only: bool = True,
    allowed_tables: Iterable[str] | None = None,
) -> CheckedSQL:
    """Check one model-written statement; return what was learned or raise ``SQLRejected``.

    ``allowed_tables`` names the tables the statement may touch (case-insensitive; ``orders``
    also matches ``public.orders`` / ``main.orders``; ``None`` allows every table except the
    sensitive catalogs).

    >>> check_sql("UPDATE orders SET status = ? WHERE id = ?", read_only=False).writes
    True
    >>> try:
    ...     check_sql("SELECT * FROM users WHERE name = '' OR '1'='1'")
    ... except SQLRejected as e:
    ...     print(e.reason)
    tautology
    """
    import sqlglot
    from sqlglot import exp

    if not sql or not sql.strip():
        raise SQLRejected("empty query: send one SQL statement", reason="empty")
    if len(sql) > MAX_SQL_CHARS:
        raise SQLRejected(f"query longer than {MAX_SQL_CHARS} characters: simplify it", reason="too_long")
    if "\x00" in sql:
        raise SQLRejected("query contains a NUL byte: remove it", reason="syntax")
    _check_tokens(sql, dialect)
    try:
        statements = [s for s in sqlglot.parse(sql, dialect=dialect) if s is not None]
    except sqlglot.errors.SqlglotError as e:
        first = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise SQLRejected(f"could not parse the query as {dialect} SQL ({first}): fix the syntax",
                          reason="syntax") from None  # fmt: skip
    if len(statements) != 1:
        raise SQLRejected(
            "multiple statements: send exactly one statement per call", reason="multiple_statements"
        )
    stmt = statements[0]
    writes = _check_statement_kind(stmt, read_only)
    _check_nodes(stmt, read_only)
    if writes and isinstance(stmt, exp.Update | exp.Delete) and stmt.args.get("where") is None:
        raise SQLRejected(
            f"{stmt.key.upper()} without WHERE would touch every row: add a WHERE clause",
            reason="unbounded_write",
        )
    tables = _check_tables(stmt, dialect, allowed_tables)
    return CheckedSQL(sql=sql, dialect=dialect, tables=tables, writes=writes)


def _check_tokens(sql: str, dialect: Dialect) -> None:
    """Refuse comments, stacked statements and quote-carrying literals, which parsing hides."""
    from sqlglot.dialects.dialect import Dialect as SqlglotDialect
    from sqlglot.errors import SqlglotError
    from sqlglot.tokenizer_core import TokenType

    try:
        tokens = SqlglotDialect.get_or_raise(dialect).tokenize(sql)
    except SqlglotError as e:
        first = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise SQLRejected(
            f"could not read the query ({first}): check quotes and brackets", reason="syntax"
        ) from None
    if not tokens:
        raise SQLRejected("the query is only a comment: send one SQL statement", reason="comment")
    for i, tok in enumerate(tokens):
        if tok.comments:
            raise SQLRejected(
                "comments (-- or /* */) are not allowed: they are how injected SQL cuts off the rest "
                "of a statement; remove them",
                reason="comment",
            )
        if tok.token_type == TokenType.SEMICOLON and i != len(tokens) - 1:
            raise SQLRejected(
                "multiple statements: send exactly one statement per call", reason="multiple_statements"
            )
        # After a COMMAND token (VACUUM, CALL ...) the tokenizer keeps the rest as one string;
        # the statement-kind check refuses those, with a better message.
        after_command = i > 0 and tokens[i - 1].token_type == TokenType.COMMAND
        if (
            tok.token_type in (TokenType.STRING, TokenType.NATIONAL_STRING)
            and not after_command
            and ("'" in tok.text or "--" in tok.text or "/*" in tok.text)
        ):
            raise SQLRejected(
                "a string literal contains a quote or comment marker, which looks like injected SQL: "
                "pass values as parameters (? or :name) instead of writing them into the query",
                reason="suspicious_literal",
            )


def _check_statement_kind(stmt: object, read_only: bool) -> bool:
    """Allow only queries (and plain DML when writes are allowed); return whether it writes."""
    from sqlglot import exp

    if isinstance(stmt, exp.Query | exp.Values):
        return False
    if isinstance(stmt, exp.Insert | exp.Update | exp.Delete | exp.Merge):
        if read_only:
            raise SQLRejected(
                f"{stmt.key.upper()} is a write and this database is read-only: use SELECT",
                reason="write_in_read_only",
            )
        return True
    kind = _describe(stmt)
    raise SQLRejected(
        f"{kind} statements are not allowed: only "
        + ("SELECT queries" if read_only else "SELECT, INSERT, UPDATE, DELETE and MERGE")
        + " may run here",
        reason="statement_kind",
    )


def _describe(stmt: object) -> str:
    from sqlglot import exp

    if isinstance(stmt, exp.Command):
        return str(stmt.this).split()[0].upper() if stmt.this else "unknown"
    if isinstance(stmt, exp.Expression):
        return stmt.key.upper()
    return type(stmt).__name__


def _forbidden_node_types(read_only: bool) -> tuple[type, ...]:
    from sqlglot import exp

    always: tuple[type, ...] = (
        exp.Create, exp.Drop, exp.Alter, exp.TruncateTable, exp.Attach, exp.Detach, exp.Pragma,
        exp.Copy, exp.Grant, exp.Revoke, exp.Command, exp.Transaction, exp.Commit, exp.Rollback,
        exp.Use, exp.LoadData, exp.Analyze, exp.Cache, exp.Uncache, exp.Refresh, exp.Kill,
        exp.Comment, exp.Execute, exp.Declare, exp.Into,
    )  # fmt: skip
    if read_only:
        return (*always, exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Lock)
    return always


def _check_nodes(stmt: object, read_only: bool) -> None:
    """Walk the whole tree: hidden writes, forbidden kinds, dangerous functions, tautologies."""
    from sqlglot import exp

    assert isinstance(stmt, exp.Expression)
    forbidden = _forbidden_node_types(read_only)
    for node in stmt.walk():
        if node is not stmt and isinstance(node, forbidden):
            where = (
                "inside a CTE or subquery " if isinstance(node, exp.Insert | exp.Update | exp.Delete) else ""
            )
            what = "SELECT ... INTO" if isinstance(node, exp.Into) else _describe(node)
            if isinstance(node, exp.Lock):
                what = "FOR UPDATE/SHARE locking"
            raise SQLRejected(
                f"{what} {where}is not allowed here" + (": this database is read-only" if read_only else ""),
                reason="write_in_read_only"
                if read_only and not isinstance(node, exp.Command)
                else "statement_kind",
            )
        if isinstance(node, exp.Func):
            name = _function_name(node)
            if name in DANGEROUS_FUNCTIONS:
                raise SQLRejected(
                    f"function {name}() is not allowed: it can read files, wait, reach other servers "
                    "or change settings",
                    reason="function_not_allowed",
                )
        if isinstance(node, exp.Or):
            for side in (node.left, node.right):
                if _is_constant(side):
                    raise SQLRejected(
                        f"always-true OR condition ({side.sql()}): pass values as parameters",
                        reason="tautology",
                    )


def _function_name(node: object) -> str:
    from sqlglot import exp

    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    assert isinstance(node, exp.Func)
    return node.sql_name().lower()


def _is_constant(node: object) -> bool:
    """True for a condition that names no column or parameter: ``1``, ``TRUE``, ``'1'='1'``, ``2>1``."""
    from sqlglot import exp

    assert isinstance(node, exp.Expression)
    while isinstance(node, exp.Paren) and isinstance(node.this, exp.Expression):
        node = node.this
    # Functions count as constants: ``OR lower('a') = 'a'`` is the same trick in disguise.
    dynamic = (exp.Column, exp.Placeholder, exp.Parameter, exp.Query, exp.Star)
    if any(isinstance(n, dynamic) for n in node.walk()):
        return False
    # A constant on its own (``OR 1``) or a comparison of constants (``OR 'a'='a'``).
    return isinstance(node, exp.Literal | exp.Boolean | exp.Predicate | exp.Binary | exp.Not | exp.Func)


def _check_tables(stmt: object, dialect: Dialect, allowed_tables: Iterable[str] | None) -> frozenset[str]:
    from sqlglot import exp

    assert isinstance(stmt, exp.Expression)
    cte_names = {str(cte.alias_or_name).lower() for cte in stmt.find_all(exp.CTE)}
    allowed = None if allowed_tables is None else {t.lower() for t in allowed_tables}
    defaults = _DEFAULT_SCHEMAS[dialect]
    seen: set[str] = set()
    for table in stmt.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function; the function check covers it
        name = str(table.name).lower()
        schema = str(table.db).lower()
        if not schema and name in cte_names:
            continue
        full = f"{schema}.{name}" if schema else name
        seen.add(full)
        if name in SENSITIVE_TABLES:
            raise SQLRejected(f"table {full} holds credentials or other sessions' data: it cannot be queried",
                              reason="table_not_allowed")  # fmt: skip
        if allowed is None:
            continue
        ok = full in allowed or ((not schema or schema in defaults) and name in allowed)
        if not ok:
            raise SQLRejected(
                f"table {full} is not allowed: use one of {', '.join(sorted(allowed)) or '(none)'}",
                reason="table_not_allowed",
            )
    return frozenset(seen)
