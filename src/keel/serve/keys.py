"""API keys for the HTTP service: create, verify, revoke and list, stored only as salted hashes.

A key reads ``keel_<key id>_<secret>`` (see :mod:`keel.security.secrets`). The service database
keeps the key id, the tenant, the scopes, a name and the scrypt hash of the whole key; the key
itself is shown once, when it is created. ``SQLiteKeyStore`` is the embedded default (a file next
to the run store); ``PostgresKeyStore`` is for several replicas sharing one database.

>>> import asyncio
>>> keys = SQLiteKeyStore(":memory:")
>>> record, secret = asyncio.run(keys.create("acme", {"run", "read"}, name="ci"))
>>> asyncio.run(keys.verify(secret)).tenant
'acme'
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from keel.errors import ConfigError, StoreError
from keel.security.secrets import api_key_id, hash_api_key, new_api_key, verify_api_key

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

__all__ = ["SCOPES", "ApiKey", "KeyStore", "PostgresKeyStore", "SQLiteKeyStore", "open_key_store"]

SCOPES = ("run", "approve", "read", "admin")
"""``run``: start runs and chat completions; ``approve``: decide approvals; ``read``: runs, events,
sessions; ``admin``: manage the tenant's API keys."""

_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored API key, without its secret."""

    key_id: str
    tenant: str
    scopes: frozenset[str]
    name: str
    created: float
    revoked: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "tenant": self.tenant,
            "scopes": sorted(self.scopes),
            "name": self.name,
            "created": self.created,
            "revoked": self.revoked,
        }


def check_new_key(tenant: str, scopes: Iterable[str], name: str) -> frozenset[str]:
    """Validate what a new key is made of; returns the scopes as a set."""
    if not _TENANT.match(tenant):
        raise ConfigError(
            f"tenant {tenant!r} must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    wanted = frozenset(s.strip() for s in scopes if s.strip())
    unknown = wanted - set(SCOPES)
    if not wanted or unknown:
        raise ConfigError(f"scopes must be a non-empty subset of {', '.join(SCOPES)}; got {sorted(wanted)}")
    if len(name) > 200:
        raise ConfigError("a key name is at most 200 characters")
    return wanted


class _VerifiedCache:
    """Remembers which (key, stored hash) pairs verified, so scrypt runs once per key and process.

    The row is still read on every request, so a revocation anywhere takes effect at once.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._items: OrderedDict[str, str] = OrderedDict()
        self._size = size

    @staticmethod
    def _digest(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    def hit(self, secret: str, stored_hash: str) -> bool:
        d = self._digest(secret)
        if self._items.get(d) == stored_hash:
            self._items.move_to_end(d)
            return True
        return False

    def add(self, secret: str, stored_hash: str) -> None:
        self._items[self._digest(secret)] = stored_hash
        if len(self._items) > self._size:
            self._items.popitem(last=False)


@runtime_checkable
class KeyStore(Protocol):
    """Where API keys live. Every method is tenant-aware where a tenant is given."""

    async def create(self, tenant: str, scopes: Iterable[str], name: str = "") -> tuple[ApiKey, str]:
        """Create a key; returns the record and the secret (shown once, never stored)."""
        ...

    async def verify(self, secret: str) -> ApiKey | None:
        """The live key ``secret`` belongs to, or ``None`` (unknown, wrong or revoked)."""
        ...

    async def revoke(self, key_id: str, *, tenant: str | None = None) -> bool:
        """Revoke a key (only within ``tenant`` when given); False when no such live key."""
        ...

    async def list(self, *, tenant: str | None = None) -> list[ApiKey]: ...

    async def ping(self) -> None:
        """Raise ``StoreError`` when the key database cannot be reached."""
        ...

    async def close(self) -> None: ...


class _KeyStoreBase:
    """Verification shared by the backends: parse the id, read the row, check the hash once."""

    def __init__(self) -> None:
        self._verified = _VerifiedCache()

    async def _row(self, key_id: str) -> tuple[ApiKey, str] | None:
        raise NotImplementedError

    async def verify(self, secret: str) -> ApiKey | None:
        key_id = api_key_id(secret)
        if key_id is None:
            return None
        row = await self._row(key_id)
        if row is None:
            return None
        key, stored = row
        if not self._verified.hit(secret, stored):
            # scrypt costs ~40 ms: off the event loop, and once per key per process
            if not await asyncio.to_thread(verify_api_key, secret, stored):
                return None
            self._verified.add(secret, stored)
        return None if key.revoked is not None else key


_SQLITE_SCHEMA = """
create table if not exists api_keys (
    key_id text primary key, tenant text not null, scopes text not null, name text not null,
    hash text not null, created real not null, revoked real
);
create index if not exists api_keys_tenant on api_keys(tenant, created);
"""


def _from_row(row: tuple[Any, ...]) -> tuple[ApiKey, str]:
    key_id, tenant, scopes, name, hashed, created, revoked = row
    return ApiKey(key_id, tenant, frozenset(str(scopes).split(",")), name, created, revoked), str(hashed)


class SQLiteKeyStore(_KeyStoreBase):
    """API keys in a SQLite file (the default: ``keys.db`` next to the run store)."""

    def __init__(self, path: str | Path = ".keel/keys.db") -> None:
        super().__init__()
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("pragma journal_mode=wal")
            self._db.executescript(_SQLITE_SCHEMA)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open the API key database at {self.path}: {e}") from e
        self._lock = threading.Lock()

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                cur = self._db.execute(sql, args)
                return cur.fetchall() if cur.description else [(cur.rowcount,)]
        except sqlite3.Error as e:
            raise StoreError(f"API key database error: {e}") from e

    async def create(self, tenant: str, scopes: Iterable[str], name: str = "") -> tuple[ApiKey, str]:
        wanted = check_new_key(tenant, scopes, name)
        key_id, secret = new_api_key()
        hashed = await asyncio.to_thread(hash_api_key, secret)
        now = time.time()
        self._run(
            "insert into api_keys values (?, ?, ?, ?, ?, ?, null)",
            (key_id, tenant, ",".join(sorted(wanted)), name, hashed, now),
        )
        return ApiKey(key_id, tenant, wanted, name, now), secret

    async def _row(self, key_id: str) -> tuple[ApiKey, str] | None:
        rows = self._run("select * from api_keys where key_id = ?", (key_id,))
        return _from_row(rows[0]) if rows else None

    async def revoke(self, key_id: str, *, tenant: str | None = None) -> bool:
        sql = "update api_keys set revoked = ? where key_id = ? and revoked is null"
        args: tuple[Any, ...] = (time.time(), key_id)
        if tenant is not None:
            sql, args = sql + " and tenant = ?", (*args, tenant)
        return bool(self._run(sql, args)[0][0])

    async def list(self, *, tenant: str | None = None) -> list[ApiKey]:
        if tenant is None:
            rows = self._run("select * from api_keys order by created")
        else:
            rows = self._run("select * from api_keys where tenant = ? order by created", (tenant,))
        return [_from_row(r)[0] for r in rows]

    async def ping(self) -> None:
        self._run("select 1")

    async def close(self) -> None:
        with self._lock:
            self._db.close()


MIGRATIONS = Path(__file__).parent / "migrations"


class PostgresKeyStore(_KeyStoreBase):
    """API keys in PostgreSQL (table ``keel_api_keys``, created by the serve migrations).

    >>> keys = await PostgresKeyStore("postgresql://keel@127.0.0.1/keel").open()  # doctest: +SKIP
    """

    def __init__(self, url: str, *, max_size: int = 4) -> None:
        super().__init__()
        self.url = url
        self._max = max_size
        self._pool: AsyncConnectionPool | None = None

    async def open(self) -> PostgresKeyStore:
        try:
            from psycopg_pool import AsyncConnectionPool
        except ImportError:
            raise ConfigError(
                "PostgresKeyStore needs the postgres extra: pip install 'keel[postgres]'"
            ) from None
        from keel.store.migrate import migrate

        await asyncio.to_thread(migrate, self.url, [MIGRATIONS])
        self._pool = AsyncConnectionPool(self.url, min_size=1, max_size=self._max, open=False)
        await self._pool.open(wait=True)
        return self

    async def _run(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self._pool is None:
            raise StoreError("PostgresKeyStore is not open: call `await keys.open()` first")
        import psycopg

        try:
            async with self._pool.connection() as conn, conn.cursor() as cur:
                await cur.execute(sql, args)
                return list(await cur.fetchall()) if cur.description else [(cur.rowcount,)]
        except psycopg.Error as e:
            raise StoreError(f"API key database error: {type(e).__name__}") from e

    async def create(self, tenant: str, scopes: Iterable[str], name: str = "") -> tuple[ApiKey, str]:
        wanted = check_new_key(tenant, scopes, name)
        key_id, secret = new_api_key()
        hashed = await asyncio.to_thread(hash_api_key, secret)
        now = time.time()
        await self._run(
            "insert into keel_api_keys values (%s, %s, %s, %s, %s, %s, null)",
            (key_id, tenant, ",".join(sorted(wanted)), name, hashed, now),
        )
        return ApiKey(key_id, tenant, wanted, name, now), secret

    async def _row(self, key_id: str) -> tuple[ApiKey, str] | None:
        rows = await self._run("select * from keel_api_keys where key_id = %s", (key_id,))
        return _from_row(rows[0]) if rows else None

    async def revoke(self, key_id: str, *, tenant: str | None = None) -> bool:
        sql = "update keel_api_keys set revoked = %s where key_id = %s and revoked is null"
        args: tuple[Any, ...] = (time.time(), key_id)
        if tenant is not None:
            sql, args = sql + " and tenant = %s", (*args, tenant)
        return bool((await self._run(sql, args))[0][0])

    async def list(self, *, tenant: str | None = None) -> list[ApiKey]:
        if tenant is None:
            rows = await self._run("select * from keel_api_keys order by created")
        else:
            rows = await self._run(
                "select * from keel_api_keys where tenant = %s order by created", (tenant,)
            )
        return [_from_row(r)[0] for r in rows]

    async def ping(self) -> None:
        await self._run("select 1")

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


async def open_key_store(location: str) -> KeyStore:
    """A key store from a location: a ``postgresql://`` URL or a SQLite path (``:memory:`` too)."""
    if location.startswith(("postgres://", "postgresql://")):
        return await PostgresKeyStore(location).open()
    return SQLiteKeyStore(location)
