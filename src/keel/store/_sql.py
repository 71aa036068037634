"""The read queries the SQL run stores share (SQLite and PostgreSQL differ only in placeholders).

>>> runs_query("runs", "?", session_id="s1", status=None, tenant="acme", limit=10)[1]
('s1', 'acme', 10)
"""

from __future__ import annotations

__all__ = ["RUN_COLUMNS", "events_query", "runs_query"]

RUN_COLUMNS = "run_id, agent, session_id, parent_run_id, status, created, updated, tenant, last_seq"
"""The ``runs`` columns in ``RunRecord`` field order, so a row becomes ``RunRecord(*row)``."""


def events_query(
    table: str, mark: str, run_id: str, after_seq: int, limit: int | None
) -> tuple[str, tuple[object, ...]]:
    """SQL and parameters for ``RunStore.events``: the ``data`` of events after ``after_seq``, in order.

    ``mark`` is the driver's placeholder (``?`` for sqlite3, ``%s`` for psycopg).

    >>> events_query("events", "?", "r1", 3, None)
    ('select data from events where run_id = ? and seq > ? order by seq', ('r1', 3))
    """
    q = f"select data from {table} where run_id = {mark} and seq > {mark} order by seq"
    args: tuple[object, ...] = (run_id, after_seq)
    if limit is not None:
        q += f" limit {mark}"
        args = (*args, limit)
    return q, args


def runs_query(
    table: str,
    mark: str,
    *,
    session_id: str | None,
    status: str | None,
    tenant: str | None,
    limit: int,
) -> tuple[str, tuple[object, ...]]:
    """SQL and parameters for ``RunStore.list_runs``: matching runs, oldest first, at most ``limit``.

    >>> runs_query("keel_runs", "%s", session_id=None, status="failed", tenant=None, limit=5)[0].split(" from ")[1]
    'keel_runs where status = %s order by created limit %s'
    """
    where: list[str] = []
    args: list[object] = []
    for col, val in (("session_id", session_id), ("status", status), ("tenant", tenant)):
        if val is not None:
            where.append(f"{col} = {mark}")
            args.append(val)
    q = f"select {RUN_COLUMNS} from {table}" + (" where " + " and ".join(where) if where else "")
    return q + f" order by created limit {mark}", (*args, limit)
