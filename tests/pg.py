"""A real PostgreSQL server for tests, started with the ``pgserver`` package (PostgreSQL 16 + pgvector).

The server listens only on a unix socket in a fresh temporary directory (no TCP port at all), is
shared by every test module in the session that imports the fixture, and is stopped and deleted
when the last of them is done.

Use it from a test module::

    from pg import new_database, postgres_url  # noqa: F401  (importing registers the fixture)

    def test_something(postgres_url):
        url = new_database(postgres_url)   # an empty database of its own
        ...

``pgserver`` and ``psycopg`` come from the ``postgres`` extra; without them the tests that use
the fixture are skipped with a message saying what to install.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

__all__ = ["new_database", "postgres_url", "start_postgres", "stop_postgres"]

_lock = threading.Lock()
_server: Any = None
_dir: str | None = None
_users = 0
_db_counter = itertools.count(1)


def start_postgres() -> str:
    """Start (or reuse) the session's server and return its ``postgresql://`` URL (unix socket)."""
    global _server, _dir, _users
    pgserver = pytest.importorskip(
        "pgserver", reason="install the postgres extra: pip install 'keel[postgres]'"
    )
    pytest.importorskip("psycopg", reason="install the postgres extra: pip install 'keel[postgres]'")
    with _lock:
        if _server is None:
            # Short path: a unix socket path must stay under ~100 bytes.
            _dir = tempfile.mkdtemp(prefix="keel-pg-")
            _server = pgserver.get_server(_dir, cleanup_mode="delete")
        _users += 1
        return str(_server.get_uri())


def stop_postgres() -> None:
    """Release one user of the server; the last one stops it and deletes its directory."""
    global _server, _dir, _users
    with _lock:
        _users -= 1
        if _users > 0 or _server is None:
            return
        server, directory = _server, _dir
        _server, _dir = None, None
    server.cleanup()
    if directory and os.path.isdir(directory):
        shutil.rmtree(directory, ignore_errors=True)


def new_database(url: str, prefix: str = "t") -> str:
    """Create an empty database on the server at ``url`` and return a URL that points at it."""
    import psycopg

    name = f"{prefix}_{os.getpid()}_{next(_db_counter)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a running PostgreSQL 16 server (unix socket, superuser ``postgres``, no password)."""
    url = start_postgres()
    try:
        yield url
    finally:
        stop_postgres()
