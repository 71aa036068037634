"""Unit tests for the SQL guard: hostile statements are refused with the right reason, legitimate ones pass."""

from __future__ import annotations

import pytest

from keel.errors import KeelError
from keel.security.sqlguard import SQLRejected, check_sql

ALLOWED = ["orders", "customers", "products", "order_items"]

# (dialect, query, expected reason). Every one must be refused with allowed_tables=ALLOWED, read-only.
HOSTILE = [
    # stacked statements
    ("sqlite", "SELECT 1; DROP TABLE orders", "multiple_statements"),
    ("postgres", "SELECT * FROM orders WHERE id = 1; DELETE FROM orders", "multiple_statements"),
    ("sqlite", "SELECT 1;;", "multiple_statements"),
    # writes and DDL
    ("sqlite", "INSERT INTO orders (id) VALUES (1)", "write_in_read_only"),
    ("postgres", "UPDATE orders SET status = 'x' WHERE id = 1", "write_in_read_only"),
    ("sqlite", "DELETE FROM orders WHERE id = 1", "write_in_read_only"),
    ("postgres", "DROP TABLE orders", "statement_kind"),
    ("sqlite", "ALTER TABLE orders ADD COLUMN x INT", "statement_kind"),
    ("postgres", "CREATE TABLE t (a int)", "statement_kind"),
    ("postgres", "TRUNCATE orders", "statement_kind"),
    ("sqlite", "ATTACH DATABASE '/tmp/evil.db' AS evil", "statement_kind"),
    ("sqlite", "PRAGMA writable_schema = 1", "statement_kind"),
    ("postgres", "COPY orders TO '/tmp/orders.csv'", "statement_kind"),
    ("postgres", "GRANT ALL ON orders TO public", "statement_kind"),
    ("postgres", "SET ROLE postgres", "statement_kind"),
    ("postgres", "DO $$ BEGIN PERFORM 1; END $$", "statement_kind"),
    ("postgres", "BEGIN", "statement_kind"),
    ("sqlite", "VACUUM INTO '/tmp/copy.db'", "statement_kind"),
    ("sqlite", "REPLACE INTO orders (id) VALUES (1)", "statement_kind"),
    # writes hidden inside a read
    ("postgres", "WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d", "write_in_read_only"),
    (
        "postgres",
        "WITH u AS (UPDATE orders SET status = 'x' WHERE id = 1 RETURNING id) SELECT id FROM u",
        "write_in_read_only",
    ),
    ("postgres", "SELECT * INTO stolen FROM orders", "write_in_read_only"),
    ("postgres", "SELECT * FROM orders WHERE id = 1 FOR UPDATE", "write_in_read_only"),
    # tables outside the allowlist, and credential catalogs
    ("sqlite", "SELECT * FROM users", "table_not_allowed"),
    ("sqlite", "SELECT name FROM products UNION SELECT password FROM users", "table_not_allowed"),
    ("sqlite", "SELECT sql FROM sqlite_master", "table_not_allowed"),
    ("postgres", "SELECT * FROM orders WHERE id IN (SELECT id FROM audit.payments)", "table_not_allowed"),
    ("postgres", "SELECT usename, passwd FROM pg_shadow", "table_not_allowed"),
    ("postgres", "SELECT * FROM information_schema.tables", "table_not_allowed"),
    # dangerous functions
    ("sqlite", "SELECT load_extension('/tmp/evil.so')", "function_not_allowed"),
    ("postgres", "SELECT pg_read_file('/etc/passwd')", "function_not_allowed"),
    ("postgres", "SELECT pg_catalog.pg_sleep(10)", "function_not_allowed"),
    ("postgres", "SELECT * FROM orders WHERE id = 1 AND pg_sleep(5) IS NOT NULL", "function_not_allowed"),
    ("postgres", "SELECT * FROM dblink('host=evil', 'SELECT 1') AS t(a int)", "function_not_allowed"),
    ("postgres", "SELECT lo_import('/etc/passwd')", "function_not_allowed"),
    ("postgres", "SELECT query_to_xml('DELETE FROM orders', true, true, '')", "function_not_allowed"),
    ("postgres", "SELECT set_config('default_transaction_read_only', 'off', false)", "function_not_allowed"),
    ("postgres", "SELECT nextval('orders_id_seq')", "function_not_allowed"),
    # injection shapes
    ("sqlite", "SELECT * FROM customers WHERE name = '' OR '1'='1'", "tautology"),
    ("postgres", "SELECT * FROM customers WHERE id = 5 OR 1=1", "tautology"),
    ("sqlite", "SELECT * FROM customers WHERE email = 'a@b.c' OR TRUE", "tautology"),
    ("sqlite", "SELECT * FROM customers WHERE id = 5 OR (2 > 1)", "tautology"),
    ("sqlite", "SELECT * FROM customers WHERE name = 'admin' --' AND pw = 'x'", "comment"),
    ("postgres", "SELECT * FROM customers WHERE id = 1 /* AND tenant = 7 */", "comment"),
    ("sqlite", "/* hi */ SELECT * FROM customers", "comment"),
    ("sqlite", "SELECT * FROM customers WHERE name = 'O''Brien'' OR ''1''=''1'", "suspicious_literal"),
    ("sqlite", "SELECT * FROM customers WHERE note = 'x--'", "suspicious_literal"),
    # junk
    ("sqlite", "", "empty"),
    ("sqlite", "-- just a comment", "comment"),
    ("sqlite", "SELECT * FROM WHERE", "syntax"),
    ("sqlite", "SELECT '\x00'", "syntax"),
]

# Legitimate read queries that must pass read-only with ALLOWED.
LEGITIMATE = [
    ("sqlite", "SELECT id, status FROM orders WHERE id = ?"),
    ("sqlite", "SELECT * FROM customers WHERE email = :email"),
    ("postgres", "SELECT * FROM orders WHERE customer_id = %s AND status = %(status)s"),
    (
        "postgres",
        "SELECT c.name, count(o.id) AS n FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.name ORDER BY n DESC LIMIT 10",
    ),
    (
        "postgres",
        "WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '7 days') SELECT count(*) FROM recent",
    ),
    (
        "sqlite",
        "SELECT p.name, sum(i.qty) FROM order_items i JOIN products p ON p.id = i.product_id GROUP BY p.name HAVING sum(i.qty) > 5",
    ),
    ("sqlite", "SELECT * FROM products WHERE name LIKE '%chair%' AND price BETWEEN 10 AND 100"),
    ("postgres", "SELECT id FROM orders WHERE status IN ('open', 'pending') OR total > 100"),
    ("sqlite", "SELECT * FROM main.orders WHERE id = 1 OR customer_id IS NULL"),
    (
        "postgres",
        "SELECT id, upper(status), coalesce(note, '') FROM public.orders WHERE id = ? UNION ALL SELECT id, 'x', '' FROM customers",
    ),
    ("sqlite", "SELECT id FROM orders WHERE 1 = 1 AND status = ?;"),
    (
        "postgres",
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT o.id FROM n JOIN orders o ON o.id = n.i",
    ),
]


@pytest.mark.parametrize(("dialect", "query", "reason"), HOSTILE, ids=[q[:50] for _, q, _ in HOSTILE])
def test_hostile_query_is_rejected_with_reason(dialect, query, reason):
    with pytest.raises(SQLRejected) as info:
        check_sql(query, dialect=dialect, read_only=True, allowed_tables=ALLOWED)
    assert info.value.reason == reason, str(info.value)
    assert isinstance(info.value, KeelError)
    assert str(info.value)  # a message the model can act on


@pytest.mark.parametrize(("dialect", "query"), LEGITIMATE, ids=[q[:50] for _, q in LEGITIMATE])
def test_legitimate_query_passes(dialect, query):
    checked = check_sql(query, dialect=dialect, read_only=True, allowed_tables=ALLOWED)
    assert not checked.writes
    assert checked.tables  # every legitimate query here names at least one table
    assert {t.split(".")[-1] for t in checked.tables} <= set(ALLOWED)


def test_table_sets_are_large_enough():
    assert len(HOSTILE) >= 25
    assert len(LEGITIMATE) >= 10


def test_cte_names_are_not_tables():
    checked = check_sql(
        "WITH big AS (SELECT * FROM orders WHERE total > 100) SELECT * FROM big", allowed_tables=["orders"]
    )
    assert checked.tables == {"orders"}


def test_no_allowlist_allows_any_table_but_not_credential_catalogs():
    assert check_sql("SELECT * FROM anything", dialect="postgres").tables == {"anything"}
    with pytest.raises(SQLRejected) as info:
        check_sql("SELECT rolpassword FROM pg_authid", dialect="postgres")
    assert info.value.reason == "table_not_allowed"


def test_schema_qualified_allowlist_entry_is_exact():
    assert check_sql("SELECT * FROM audit.log", dialect="postgres", allowed_tables=["audit.log"]).tables == {
        "audit.log"
    }
    with pytest.raises(SQLRejected):
        check_sql("SELECT * FROM other.log", dialect="postgres", allowed_tables=["audit.log"])


def test_writes_allowed_when_not_read_only():
    checked = check_sql(
        "UPDATE orders SET status = ? WHERE id = ?",
        dialect="postgres",
        read_only=False,
        allowed_tables=ALLOWED,
    )
    assert checked.writes and checked.tables == {"orders"}
    assert check_sql("INSERT INTO orders (id) VALUES (?)", read_only=False).writes
    assert check_sql(
        "WITH d AS (DELETE FROM orders WHERE id = 1 RETURNING id) SELECT id FROM d",
        dialect="postgres",
        read_only=False,
    ).tables == {"orders"}


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("DELETE FROM orders", "unbounded_write"),
        ("UPDATE orders SET status = 'x'", "unbounded_write"),
        ("DROP TABLE orders", "statement_kind"),
        ("INSERT INTO users (id) VALUES (1)", "table_not_allowed"),
        ("CREATE TABLE x (a int)", "statement_kind"),
    ],
)
def test_writable_mode_still_refuses_ddl_unbounded_writes_and_other_tables(query, reason):
    with pytest.raises(SQLRejected) as info:
        check_sql(query, dialect="postgres", read_only=False, allowed_tables=ALLOWED)
    assert info.value.reason == reason


def test_quote_inside_string_is_allowed_nowhere_but_params_are():
    # The same value is fine as a parameter: the guard never sees it.
    assert check_sql("SELECT * FROM customers WHERE name = ?", allowed_tables=ALLOWED)
    with pytest.raises(SQLRejected):
        check_sql("SELECT * FROM customers WHERE name = 'O''Brien'", allowed_tables=ALLOWED)


def test_too_long_query_is_rejected():
    query = "SELECT id FROM orders WHERE id IN (" + ", ".join(["1"] * 10_000) + ")"
    with pytest.raises(SQLRejected) as info:
        check_sql(query, allowed_tables=ALLOWED)
    assert info.value.reason == "too_long"
