"""Schema migrations for the PostgreSQL backend, applied with yoyo-migrations.

Migrations are plain SQL files in ``keel/store/migrations`` (``NNNN_name.sql``), applied in order,
each once, under yoyo's lock so several workers starting at once do not race. Other packages add
their own migration folders (``migrate(url, extra_dirs=[...])``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from keel.errors import ConfigError, StoreError

__all__ = ["migrate"]

MIGRATIONS = Path(__file__).parent / "migrations"


def _yoyo_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    return url


def migrate(url: str, extra_dirs: Sequence[str | Path] = ()) -> list[str]:
    """Apply pending migrations to the database at ``url``; return the ids applied (in order)."""
    try:
        from yoyo import get_backend, read_migrations
    except ImportError:
        raise ConfigError("migrations need the postgres extra: pip install 'keel[postgres]'") from None
    try:
        backend = get_backend(_yoyo_url(url), migration_table="keel_schema_migrations")
        migrations = read_migrations(str(MIGRATIONS), *map(str, extra_dirs))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        return [m.id for m in pending]
    except ConfigError:
        raise
    except Exception as e:  # yoyo and the driver raise many types; callers need one
        raise StoreError(f"cannot migrate the database: {type(e).__name__}: {e}") from e
