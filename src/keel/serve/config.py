"""Configuration of the HTTP service: a ``ServeConfig`` built in Python or read from ``keel.toml``.

A minimal ``keel.toml``::

    [serve]
    mode = "embedded"              # or "production": steps run on external workers only
    store = ".keel/keel.db"        # a SQLite path, or postgresql://...
    auth = "auto"                  # true, false, or "auto": off only on 127.0.0.1 with no keys yet

    [serve.limits]
    key_requests_per_minute = 600
    tenant_tokens_per_minute = 200000

    [agents.support]
    target = "apps.support.agent:build_agent"   # an Agent, or a zero-argument factory of one

Apps add their own pages and endpoints with ``[serve] routers = ["apps.support.webapp:router"]``
(FastAPI ``APIRouter`` objects, mounted next to the API).

>>> cfg = ServeConfig(store=":memory:")
>>> cfg.key_store_location()
':memory:'
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from keel.errors import ConfigError

if TYPE_CHECKING:
    from keel.runtime.queue import RunQueue
    from keel.serve.keys import KeyStore
    from keel.store.base import RunStore

__all__ = ["RateLimits", "ServeConfig", "load_config"]


@dataclass
class RateLimits:
    """Token-bucket limits; ``None`` switches a limit off. Buckets hold a minute's worth (burst)."""

    key_requests_per_minute: float | None = 600
    tenant_requests_per_minute: float | None = 3000
    key_tokens_per_minute: float | None = None
    tenant_tokens_per_minute: float | None = None


@dataclass
class ServeConfig:
    """Everything ``create_app`` needs. Every field has a working default for local use.

    ``queue_factory`` builds the ``RunQueue``: a callable (sync or async), ``"module:attr"`` naming
    one, or a shared queue's URL (``"postgresql://..."``, see ``keel worker``). In ``production``
    mode it is required and the API runs no steps itself.
    """

    agents: Mapping[str, Any] = field(default_factory=dict)
    """Name -> ``Agent``, zero-argument factory, or ``"module:attr"``."""
    entry_points: bool = True
    """Also register the agents of the ``keel.agents`` entry-point group (configured names win)."""
    mode: Literal["embedded", "production"] = "embedded"
    store: RunStore | str = ".keel/keel.db"
    keys: KeyStore | str | None = None
    """The API key database; default: ``keys.db`` next to a SQLite store, the same PostgreSQL URL."""
    auth: bool = True
    workers_in_process: int | None = None
    """In-process workers: default 1 in embedded mode; production mode allows none."""
    worker_concurrency: int = 4
    queue_factory: Callable[[], RunQueue] | str | None = None
    limits: RateLimits = field(default_factory=RateLimits)
    redis_url: str | None = None
    """Keep rate-limit buckets in Redis (shared by replicas) instead of in process."""
    max_body_bytes: int = 1 << 20
    max_message_chars: int = 32_000
    wait_timeout_s: float = 300.0
    """How long a non-streaming request waits for its run before answering 202 with its status."""
    keepalive_s: float = 15.0
    title: str = "Keel"
    routers: Sequence[Any] = ()
    """Extra FastAPI ``APIRouter`` objects (or ``"module:attr"`` naming one) that apps mount next to the API."""

    def __post_init__(self) -> None:
        if self.mode not in ("embedded", "production"):
            raise ConfigError(f"mode must be 'embedded' or 'production', not {self.mode!r}")
        if self.mode == "production":
            if self.workers_in_process:
                raise ConfigError(
                    "production mode runs no steps in the API process: drop --workers-in-process "
                    "and start workers with `keel worker`"
                )
            if self.queue_factory is None:
                raise ConfigError(
                    "production mode needs a run queue: set [serve] queue = 'module:factory' in keel.toml "
                    "(or ServeConfig(queue_factory=...))"
                )
        if isinstance(self.routers, str):
            raise ConfigError('routers must be a list: routers = ["module:router"]')
        if self.max_body_bytes < 1024 or self.max_message_chars < 1:
            raise ConfigError("max_body_bytes must be at least 1024 and max_message_chars at least 1")

    @property
    def in_process_workers(self) -> int:
        if self.mode == "production":
            return 0
        return 1 if self.workers_in_process is None else self.workers_in_process

    def key_store_location(self) -> str:
        """Where the API keys live when ``keys`` names no store object."""
        if isinstance(self.keys, str):
            return self.keys
        store = self.store
        if isinstance(store, str):
            if store.startswith(("postgres://", "postgresql://")) or store == ":memory:":
                return store
            return str(Path(store).parent / "keys.db")
        return ":memory:"


_SERVE_KEYS = {f.name for f in fields(ServeConfig)} - {"agents", "limits", "queue_factory"}


def _agents_from_toml(table: Mapping[str, Any]) -> dict[str, str]:
    agents: dict[str, str] = {}
    for name, spec in table.items():
        target = spec.get("target") if isinstance(spec, Mapping) else spec
        if not isinstance(target, str) or ":" not in target:
            raise ConfigError(f'[agents.{name}] needs target = "module:attribute"')
        agents[name] = target
    return agents


def load_config(path: str | Path | None = None, **overrides: Any) -> ServeConfig:
    """Read ``keel.toml`` (or start from defaults when ``path`` is None) and apply ``overrides``.

    ``auth = "auto"`` is kept as the string ``"auto"`` in ``overrides``-free form; the CLI resolves
    it (see ``keel serve``). Unknown keys are an error, so a typo never passes silently.
    """
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as e:
            raise ConfigError(f"cannot read {path}: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path} is not valid TOML: {e}") from None
    serve = dict(data.get("serve", {}))
    kwargs: dict[str, Any] = {}
    limits = serve.pop("limits", {})
    queue = serve.pop("queue", None)
    unknown = set(serve) - _SERVE_KEYS
    if unknown:
        raise ConfigError(f"unknown [serve] keys {sorted(unknown)}; known: {sorted(_SERVE_KEYS | {'queue'})}")
    kwargs.update(serve)
    try:
        kwargs["limits"] = RateLimits(**limits)
    except TypeError:
        known = [f.name for f in fields(RateLimits)]
        raise ConfigError(f"unknown [serve.limits] keys in {sorted(limits)}; known: {known}") from None
    if queue is not None:
        kwargs["queue_factory"] = queue
    kwargs["agents"] = _agents_from_toml(data.get("agents", {}))
    kwargs.update({k: v for k, v in overrides.items() if v is not None})
    if kwargs.get("auth") == "auto":
        kwargs["auth"] = True  # callers that know the bind address resolve "auto" before this
    return ServeConfig(**kwargs)


def raw_auth_setting(path: str | Path | None) -> bool | str:
    """The ``[serve] auth`` value as written (``"auto"`` when absent)."""
    if path is None:
        return "auto"
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return "auto"
    value = data.get("serve", {}).get("auth", "auto")
    return value if isinstance(value, bool) else "auto"
