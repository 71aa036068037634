"""The SQL connector against real databases: a SQLite file and a PostgreSQL server (pgserver).

The same cases run on both backends through the ``backend`` fixture.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from keel.errors import ConfigError, ToolError
from keel.security.sqlguard import CheckedSQL, SQLRejected
from keel.tools import sql as sql_module
from keel.tools.sql import SQLConnector, sql_tool, to_jsonable, to_psycopg_placeholders
from pg import new_database, postgres_url  # noqa: F401  (registers the session fixture)

N_ORDERS = 300
CUSTOMERS = [(1, "Ann Lee", "ann@example.com"), (2, "Bob O'Hara", "bob@example.com"), (3, "Cy Diaz", None)]
SCHEMA = [
    "DROP VIEW IF EXISTS open_orders",
    "DROP TABLE IF EXISTS orders",
    "DROP TABLE IF EXISTS customers",
    "DROP TABLE IF EXISTS secrets",
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, status TEXT, total_cents INTEGER)",
    "CREATE TABLE secrets (id INTEGER PRIMARY KEY, api_key TEXT)",
    "CREATE VIEW open_orders AS SELECT id, customer_id FROM orders WHERE status = 'open'",
]


def _orders() -> list[tuple[int, int, str, int]]:
    statuses = ["open", "shipped", "cancelled"]
    return [(i, i % 3 + 1, statuses[i % 3], i * 100) for i in range(1, N_ORDERS + 1)]


@dataclass
class Backend:
    name: str
    dsn: str
    fetch: Callable[[str], list[tuple[Any, ...]]]


def _sqlite_backend(path: str) -> Backend:
    with sqlite3.connect(path) as conn:
        for stmt in SCHEMA:
            conn.execute(stmt)
        conn.executemany("INSERT INTO customers VALUES (?, ?, ?)", CUSTOMERS)
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", _orders())
        conn.execute("INSERT INTO secrets VALUES (1, 'sk-live-1234567890')")
    conn.close()

    def fetch(query: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(path) as c:
            return c.execute(query).fetchall()

    return Backend("sqlite", path, fetch)


def _postgres_backend(url: str) -> Backend:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for stmt in SCHEMA:
            conn.execute(stmt)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO customers VALUES (%s, %s, %s)", CUSTOMERS)
            cur.executemany("INSERT INTO orders VALUES (%s, %s, %s, %s)", _orders())
        conn.execute("INSERT INTO secrets VALUES (1, 'sk-live-1234567890')")

    def fetch(query: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(url) as c:
            return c.execute(query).fetchall()

    return Backend("postgres", url, fetch)


@pytest.fixture(scope="module")
def pg_database(postgres_url):
    return new_database(postgres_url, prefix="sqltool")


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.integration),
        pytest.param("postgres", marks=pytest.mark.integration),
    ]
)
def backend(request, tmp_path) -> Backend:
    if request.param == "sqlite":
        return _sqlite_backend(str(tmp_path / "shop.db"))
    return _postgres_backend(request.getfixturevalue("pg_database"))


# -- reading ----------------------------------------------------------------------------------------


async def test_select_with_positional_params(backend):
    db = sql_tool("shop", backend.dsn, allowed_tables=["orders", "customers"])
    out = await db.invoke(
        {
            "query": "SELECT id, status FROM orders WHERE customer_id = ? AND total_cents > ? ORDER BY id",
            "params": [2, 29000],
        }
    )
    expected = [[i, s] for i, c, s, t in _orders() if c == 2 and t > 29000]
    assert out["columns"] == ["id", "status"]
    assert out["rows"] == expected and out["row_count"] == len(expected) > 0
    assert out["truncated"] is False
    json.dumps(out)


async def test_select_with_named_params_and_literal_percent(backend):
    db = sql_tool("shop", backend.dsn, allowed_tables=["customers"])
    out = await db.invoke(
        {
            "query": "SELECT name FROM customers WHERE email LIKE '%@example.com' AND id <> :skip ORDER BY id",
            "params": {"skip": 1},
        }
    )
    assert out["rows"] == [["Bob O'Hara"]]


async def test_values_with_quotes_are_data_not_sql(backend):
    db = sql_tool("shop", backend.dsn, allowed_tables=["customers"])
    hostile = await db.invoke(
        {"query": "SELECT id FROM customers WHERE name = ?", "params": ["x' OR '1'='1"]}
    )
    assert hostile["rows"] == []
    quoted = await db.invoke({"query": "SELECT id FROM customers WHERE name = ?", "params": ["Bob O'Hara"]})
    assert quoted["rows"] == [[2]]


@pytest.mark.parametrize(("max_rows", "truncated"), [(50, True), (N_ORDERS, False), (1000, False)])
async def test_rows_are_capped_with_truncated_flag(backend, max_rows, truncated):
    db = sql_tool("shop", backend.dsn, max_rows=max_rows)
    out = await db.invoke({"query": "SELECT id FROM orders ORDER BY id"})
    assert out["truncated"] is truncated
    assert out["row_count"] == min(max_rows, N_ORDERS)
    assert [r[0] for r in out["rows"]] == list(range(1, min(max_rows, N_ORDERS) + 1))


async def test_view_in_allowlist_reads_its_base_table(backend):
    db = sql_tool("shop", backend.dsn, allowed_tables=["open_orders"])
    out = await db.invoke({"query": "SELECT count(*) FROM open_orders"})
    assert out["rows"] == [[sum(1 for o in _orders() if o[2] == "open")]]


async def test_concurrent_queries_on_one_connector(backend):
    db = SQLConnector(backend.dsn, allowed_tables=["orders"])
    results = await asyncio.gather(
        *(db.query("SELECT count(*) FROM orders WHERE customer_id = ?", [c]) for c in (1, 2, 3) * 4)
    )
    expected = {c: sum(1 for o in _orders() if o[1] == c) for c in (1, 2, 3)}
    assert [r.rows[0][0] for r in results] == [expected[c] for c in (1, 2, 3) * 4]
    db.close()


# -- refusing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("SELECT 1; DROP TABLE orders", "multiple statements"),
        ("DELETE FROM orders WHERE id = 1", "read-only"),
        ("SELECT * FROM secrets", "not allowed"),
        ("SELECT * FROM customers WHERE name = '' OR '1'='1'", "always-true"),
        ("SELECT * FROM customers WHERE id = 1 -- AND tenant = 2", "comments"),
    ],
)
async def test_hostile_queries_reach_the_model_as_tool_errors(backend, query, fragment):
    db = sql_tool("shop", backend.dsn, allowed_tables=["orders", "customers"])
    with pytest.raises(ToolError, match="query rejected") as info:
        await db.invoke({"query": query})
    assert fragment in str(info.value)
    assert isinstance(info.value.__cause__, SQLRejected)
    assert backend.fetch("SELECT count(*) FROM orders") == [(N_ORDERS,)]


async def test_dangerous_function_is_rejected(backend):
    func = "load_extension('/tmp/x.so')" if backend.name == "sqlite" else "pg_read_file('/etc/passwd')"
    db = sql_tool("shop", backend.dsn)
    with pytest.raises(ToolError, match=r"function .* is not allowed"):
        await db.invoke({"query": f"SELECT {func}"})


async def test_database_refuses_writes_even_if_the_guard_is_fooled(backend, monkeypatch):
    # Simulate a parser bug: the guard calls a DELETE a read. The database layer must still refuse.
    def fooled(sql, **_kw):
        return CheckedSQL(sql=sql, dialect=backend.name, tables=frozenset(), writes=False)

    monkeypatch.setattr(sql_module, "check_sql", fooled)
    db = SQLConnector(backend.dsn)
    with pytest.raises(ToolError):
        await db.query("DELETE FROM orders WHERE id > ?", [0])
    with pytest.raises(ToolError):
        await db.query("UPDATE orders SET status = 'x' WHERE id = 1")
    assert backend.fetch("SELECT count(*) FROM orders") == [(N_ORDERS,)]
    assert backend.fetch("SELECT status FROM orders WHERE id = 1") == [("shipped",)]


async def test_slow_query_times_out(backend):
    db = sql_tool("shop", backend.dsn, timeout_s=0.5)
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    start = time.monotonic()
    with pytest.raises(ToolError, match=r"longer than 0.5s"):
        await db.invoke({"query": endless})
    assert time.monotonic() - start < 5
    # The connector is usable afterwards.
    assert (await db.invoke({"query": "SELECT count(*) FROM customers"}))["rows"] == [[3]]


async def test_database_errors_become_tool_errors(backend):
    db = sql_tool("shop", backend.dsn)
    with pytest.raises(ToolError, match="database error"):
        await db.invoke({"query": "SELECT * FROM no_such_table"})
    with pytest.raises(ToolError):
        await db.invoke({"query": "SELECT id FROM orders WHERE id = ? AND status = ?", "params": [1]})


# -- writing ----------------------------------------------------------------------------------------


async def test_writes_when_allowed(backend):
    db = sql_tool("shop", backend.dsn, read_only=False, allowed_tables=["orders"])
    assert db.side_effects
    out = await db.invoke(
        {"query": "UPDATE orders SET status = ? WHERE customer_id = ?", "params": ["held", 3]}
    )
    expected = sum(1 for o in _orders() if o[1] == 3)
    assert out["rows_affected"] == expected
    assert backend.fetch("SELECT count(*) FROM orders WHERE status = 'held'") == [(expected,)]
    ins = await db.invoke(
        {
            "query": "INSERT INTO orders (id, customer_id, status, total_cents) VALUES (?, ?, ?, ?) RETURNING id",
            "params": [9999, 1, "open", 5],
        }
    )
    assert ins["rows"] == [[9999]] and ins["rows_affected"] == 1
    assert backend.fetch("SELECT total_cents FROM orders WHERE id = 9999") == [(5,)]
    with pytest.raises(ToolError, match="WHERE"):
        await db.invoke({"query": "DELETE FROM orders"})
    with pytest.raises(ToolError, match="not allowed"):
        await db.invoke({"query": "INSERT INTO secrets (id, api_key) VALUES (2, ?)", "params": ["x"]})
    assert backend.fetch("SELECT count(*) FROM secrets") == [(1,)]


async def test_failed_write_is_rolled_back(backend):
    db = SQLConnector(backend.dsn, read_only=False)
    with pytest.raises(ToolError):  # duplicate primary key
        await db.query(
            "INSERT INTO orders (id, customer_id, status, total_cents) VALUES (?, 1, 'open', 1), (1, 1, 'open', 1)",
            [5000],
        )
    assert backend.fetch("SELECT count(*) FROM orders WHERE id = 5000") == [(0,)]


# -- connections ------------------------------------------------------------------------------------


async def test_existing_connection_is_used_and_left_open(backend):
    if backend.name == "sqlite":
        conn: Any = sqlite3.connect(backend.dsn, check_same_thread=False)
    else:
        import psycopg

        conn = psycopg.connect(backend.dsn)
    db = SQLConnector(conn, allowed_tables=["customers"])
    assert db.dialect == backend.name
    assert (await db.query("SELECT name FROM customers WHERE id = ?", [1])).rows == [["Ann Lee"]]
    db.close()
    assert conn.execute("SELECT count(*) FROM customers").fetchone() == (3,)  # still open
    conn.close()


@pytest.mark.integration
@pytest.mark.parametrize("query", ["SELECT api_key FROM secrets", "SELECT load_extension('x')"])
async def test_sqlite_authorizer_holds_even_if_the_guard_is_fooled(tmp_path, query):
    db = SQLConnector(_sqlite_backend(str(tmp_path / "shop.db")).dsn, allowed_tables=["customers"])
    checked = CheckedSQL(sql=query, dialect="sqlite", tables=frozenset(), writes=False)
    with pytest.raises(ToolError, match="not allowed"):
        await asyncio.to_thread(db._run_locked, checked, None)


@pytest.mark.integration
async def test_bad_postgres_dsn_never_echoes_password(tmp_path):
    db = SQLConnector(f"postgresql://bob:s3cretpassw0rd@/shop?host={tmp_path}")
    with pytest.raises(ToolError, match="could not connect") as info:
        await db.query("SELECT 1")
    assert "s3cretpassw0rd" not in str(info.value)


def test_missing_sqlite_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        SQLConnector(tmp_path / "nope.db")


@pytest.mark.integration
def test_read_only_sqlite_connection_cannot_write(tmp_path):
    path = _sqlite_backend(str(tmp_path / "shop.db")).dsn
    db = SQLConnector(path)
    assert db._sqlite is not None
    with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only|query_only"):
        db._sqlite.execute("DELETE FROM orders")


# -- PostgreSQL types --------------------------------------------------------------------------------


@pytest.mark.integration
async def test_postgres_values_are_json_able(postgres_url):
    db = sql_tool("pg", postgres_url)
    out = await db.invoke(
        {
            "query": "SELECT 12.50::numeric AS price, DATE '2024-03-01' AS day, '\\x0001'::bytea AS raw, "
            "'7d444840-9dc0-11d1-b245-5ffdce74fad2'::uuid AS id, interval '90 seconds' AS span, "
            "'{\"a\": [1, 2]}'::jsonb AS doc, ARRAY[1, 2] AS nums"
        }
    )
    assert out["rows"] == [
        [
            "12.50",
            "2024-03-01",
            "base64:AAE=",
            "7d444840-9dc0-11d1-b245-5ffdce74fad2",
            90.0,
            {"a": [1, 2]},
            [1, 2],
        ]
    ]
    json.dumps(out)


# -- unit tests (no database) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("SELECT * FROM t WHERE a = ?", "SELECT * FROM t WHERE a = %s"),
        ("SELECT * FROM t WHERE a = :a AND b = :b", "SELECT * FROM t WHERE a = %(a)s AND b = %(b)s"),
        (
            "SELECT a::text FROM t WHERE b LIKE 'x%' AND c % 2 = 0",
            "SELECT a::text FROM t WHERE b LIKE 'x%%' AND c %% 2 = 0",
        ),
        ("SELECT * FROM t WHERE a = %s AND b = %(b)s", "SELECT * FROM t WHERE a = %s AND b = %(b)s"),
        ("SELECT ':x', '?' FROM t", "SELECT ':x', '?' FROM t"),
    ],
)
def test_placeholders_are_rewritten_for_psycopg(src, expected):
    assert to_psycopg_placeholders(src) == expected


def test_to_jsonable_is_exact_and_json_safe():
    import datetime as dt
    import decimal
    import uuid

    value = [
        decimal.Decimal("0.10"),
        dt.datetime(2024, 1, 2, 3, 4, 5),
        b"\xff",
        uuid.UUID(int=1),
        {"k": (1, 2)},
    ]
    out = to_jsonable(value)
    assert out == [
        "0.10",
        "2024-01-02T03:04:05",
        "base64:/w==",
        "00000000-0000-0000-0000-000000000001",
        {"k": [1, 2]},
    ]
    json.dumps(out)


@pytest.mark.integration
def test_tool_spec_tells_the_model_how_to_call_it(tmp_path):
    path = _sqlite_backend(str(tmp_path / "shop.db")).dsn
    spec = sql_tool("shop", path, allowed_tables=["orders"], max_rows=7).spec()
    assert spec.name == "shop"
    assert spec.parameters["required"] == ["query"]
    assert set(spec.parameters["properties"]) == {"query", "params"}
    assert "SQLite" in spec.description and "orders" in spec.description and "7 rows" in spec.description


def test_dsn_kinds(tmp_path):
    assert SQLConnector("postgresql://u@/db?host=/nowhere").dialect == "postgres"
    assert SQLConnector("host=/nowhere dbname=x").dialect == "postgres"
    assert SQLConnector(":memory:", read_only=False).dialect == "sqlite"
    with pytest.raises(ConfigError):
        SQLConnector(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        SQLConnector(":memory:", max_rows=0)


async def test_params_must_be_list_or_object():
    db = SQLConnector(":memory:", read_only=False)
    with pytest.raises(ToolError, match="params must be"):
        await db.query("SELECT ?", "abc")  # type: ignore[arg-type]
    with pytest.raises(SQLRejected):
        await db.query("SELECT 1; SELECT 2")
