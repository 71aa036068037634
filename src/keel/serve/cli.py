"""``keel serve`` and ``keel keys``. This module is imported by every ``keel`` command, so it imports
nothing heavy at the top (FastAPI and uvicorn load only when ``serve`` runs).

Authentication defaults to ``auto``: required, except when the server binds a loopback address
and no API key exists yet (local development). ``[serve] auth = true`` forces it on.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from keel.errors import KeelError

__all__ = ["keys", "serve"]

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str) -> NoReturn:
    click.echo(f"keel: {message}", err=True)
    sys.exit(2)


def _config_path(path: str | None) -> str | None:
    if path is not None:
        return path
    return "keel.toml" if Path("keel.toml").is_file() else None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _count_keys(location: str) -> int:
    from keel.serve.keys import open_key_store

    store = await open_key_store(location)
    try:
        return len(await store.list())
    finally:
        await store.close()


@click.command()
@click.option("--config", "config_path", default=None, help="keel.toml (default: ./keel.toml if present).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers-in-process", type=int, default=None, help="In-process workers (embedded mode).")
@click.option("--mode", type=click.Choice(["embedded", "production"]), default=None)
@click.option("--log-level", default="info", show_default=True)
def serve(
    config_path: str | None,
    host: str,
    port: int,
    workers_in_process: int | None,
    mode: str | None,
    log_level: str,
) -> None:
    """Serve the configured agents over HTTP (OpenAPI at /openapi.json)."""
    from keel.serve.config import load_config, raw_auth_setting

    path = _config_path(config_path)
    try:
        config = load_config(path, workers_in_process=workers_in_process, mode=mode)
        if raw_auth_setting(path) == "auto":
            config.auth = not _is_loopback(host) or asyncio.run(_count_keys(config.key_store_location())) > 0
        from keel.serve.app import create_app

        app = create_app(config)
    except KeelError as e:
        _fail(str(e))
    try:
        import uvicorn
    except ImportError:
        _fail("keel serve needs the serve extra: pip install 'keel[serve]'")
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    if not config.auth:
        click.echo(
            f"keel: authentication is OFF (loopback {host}, no API keys yet); "
            "create a key with `keel keys create` to turn it on",
            err=True,
        )
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower())


def _key_store_options(fn: F) -> F:
    @click.option(
        "--config", "config_path", default=None, help="keel.toml (default: ./keel.toml if present)."
    )
    @click.option("--db", default=None, help="The key database: a SQLite path or postgresql:// URL.")
    @functools.wraps(fn)
    def wrapper(*args: Any, config_path: str | None, db: str | None, **kwargs: Any) -> Any:
        from keel.serve.config import load_config

        try:
            location = db or load_config(_config_path(config_path)).key_store_location()
        except KeelError as e:
            _fail(str(e))
        return fn(*args, location=location, **kwargs)

    return wrapper  # type: ignore[return-value]


def _with_store(location: str, action: Callable[[Any], Any]) -> Any:
    from keel.serve.keys import open_key_store

    async def go() -> Any:
        store = await open_key_store(location)
        try:
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except KeelError as e:
        _fail(str(e))


@click.group()
def keys() -> None:
    """Create, list and revoke API keys (stored as salted hashes)."""


@keys.command("create")
@click.option("--tenant", required=True, help="The tenant the key acts for.")
@click.option(
    "--scopes", default="run,read", show_default=True, help="Comma-separated: run,approve,read,admin."
)
@click.option("--name", default="", help="A label for the key.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_key_store_options
def create_key(tenant: str, scopes: str, name: str, as_json: bool, location: str) -> None:
    """Create a key; its secret is printed once and never stored."""
    record, secret = _with_store(location, lambda s: s.create(tenant, scopes.split(","), name))
    if as_json:
        click.echo(json.dumps({**record.as_dict(), "key": secret}))
        return
    click.echo(
        f"key id:  {record.key_id}\ntenant:  {record.tenant}\nscopes:  {','.join(sorted(record.scopes))}"
    )
    click.echo(f"key:     {secret}")
    click.echo("Store the key now: it cannot be shown again.", err=True)


@keys.command("revoke")
@click.argument("key_id")
@_key_store_options
def revoke_key(key_id: str, location: str) -> None:
    """Revoke a key at once (every replica refuses it on its next request)."""
    if not _with_store(location, lambda s: s.revoke(key_id)):
        _fail(f"no live key {key_id!r}: see `keel keys list`")
    click.echo(f"revoked {key_id}")


@keys.command("list")
@click.option("--tenant", default=None, help="Only this tenant's keys.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@_key_store_options
def list_keys(tenant: str | None, as_json: bool, location: str) -> None:
    """List keys (never their secrets)."""
    found = _with_store(location, lambda s: s.list(tenant=tenant))
    if as_json:
        click.echo(json.dumps([k.as_dict() for k in found]))
        return
    for k in found:
        state = "revoked" if k.revoked else "live"
        click.echo(f"{k.key_id}  {k.tenant:<16} {','.join(sorted(k.scopes)):<24} {state:<8} {k.name}")
