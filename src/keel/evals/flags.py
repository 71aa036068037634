"""Feature flags and canary rollout.

**Flags** come from a dict or a JSON/TOML file. Each flag has a kill switch, per-user and per-tenant
overrides, and a percentage rollout by a stable hash of a key (the user, session or tenant id): the
same key always lands in the same bucket, in every process, so a user never flips between variants::

    # flags.toml
    [flags.new_router]
    percent = 10            # 10% of users get `on`
    key = "user"
    tenants = { acme = true }        # everyone at acme gets it
    users = { "u-42" = false }       # except this user

    flags = Flags.from_file("flags.toml")
    flags.enabled("new_router", user="u-7", tenant="globex")

**Canary** routes runs between a stable and a canary agent by the same bucketing, records the variant
that served each run in the run log (``RunStarted.metadata["variant"]``), keeps live success counts,
and says whether to promote or roll back::

    canary = Canary(stable_agent, canary_agent, percent=5, key="session")
    result = await canary.run("Where is my order?", session_id="s-1")
    decision = canary.decide()          # Decision(action="continue", reason="...") until enough runs

>>> bucket("user-1", "exp") == bucket("user-1", "exp"), 0 <= bucket("user-1", "exp") < 100
(True, True)
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from keel.errors import ConfigError, KeelError
from keel.events import RunStarted

if TYPE_CHECKING:
    from keel.agent import Agent, RunResult
    from keel.evals.results import SuiteResult
    from keel.store.base import RunStore

__all__ = [
    "Canary",
    "Decision",
    "Flag",
    "Flags",
    "VariantStats",
    "bucket",
    "decide_from_eval",
    "decide_live",
    "variant_stats",
]

KeyKind = Literal["user", "session", "tenant"]


def bucket(key: str, salt: str = "") -> float:
    """A stable position in [0, 100) for ``key``: SHA-256, not Python's per-process ``hash``.

    ``salt`` (a flag's name by default) makes each flag's buckets independent of the others'.
    """
    digest = hashlib.sha256(f"{salt}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100.0


class Flag(BaseModel):
    """One flag. Order of precedence: ``enabled`` (kill switch) → ``users`` → ``tenants`` → rollout."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """False serves ``off`` to everyone, overrides included."""
    percent: float = Field(default=100.0, ge=0.0, le=100.0)
    on: Any = True
    off: Any = False
    key: KeyKind = "user"
    """Which id is bucketed for the rollout."""
    users: dict[str, Any] = Field(default_factory=dict)
    """Per-user overrides: ``true``/``false`` serve ``on``/``off``, any other value is served as is."""
    tenants: dict[str, Any] = Field(default_factory=dict)
    salt: str | None = None
    """Defaults to the flag's name; change it to reshuffle who is in the rollout."""

    def value(self, name: str, *, user: str | None, tenant: str | None, session: str | None) -> Any:
        if not self.enabled:
            return self.off
        if user is not None and user in self.users:
            return self._served(self.users[user])
        if tenant is not None and tenant in self.tenants:
            return self._served(self.tenants[tenant])
        if self.percent >= 100.0:
            return self.on
        key = {"user": user, "session": session, "tenant": tenant}[self.key]
        if key is None or self.percent <= 0.0:
            return self.off
        return self.on if bucket(key, self.salt or name) < self.percent else self.off

    def _served(self, override: Any) -> Any:
        # true/false in an override means on/off; any other value is served as is
        if override is True:
            return self.on
        if override is False:
            return self.off
        return override


class Flags:
    """A set of flags from a dict (``{"flags": {name: {...}}}`` or ``{name: {...}}``) or a file.

    >>> f = Flags({"beta": {"percent": 0, "users": {"ann": True}}})
    >>> f.enabled("beta", user="ann"), f.enabled("beta", user="bob"), f.enabled("missing")
    (True, False, False)
    """

    def __init__(self, source: Mapping[str, Any] | None = None) -> None:
        self.path: Path | None = None
        self._mtime: float | None = None
        self.flags: dict[str, Flag] = self._parse(source or {}, "flags")

    @staticmethod
    def _parse(data: Mapping[str, Any], where: str) -> dict[str, Flag]:
        raw = data.get("flags", data)
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: 'flags' must be a table of flag names")
        out = {}
        for name, spec in raw.items():
            try:
                out[str(name)] = Flag.model_validate(spec if spec is not None else {})
            except ValidationError as exc:
                err = exc.errors()[0]
                loc = ".".join(str(p) for p in err["loc"])
                raise ConfigError(f"{where}: flag {name!r}: {loc}: {err['msg']}") from None
        return out

    @classmethod
    def from_file(cls, path: str | Path) -> Flags:
        """Flags from a ``.json`` or ``.toml`` file; ``reload()`` re-reads it when it changes."""
        flags = cls()
        flags.path = Path(path)
        flags.reload(force=True)
        return flags

    def reload(self, *, force: bool = False) -> bool:
        """Re-read the file if it changed since the last read; returns whether it did."""
        if self.path is None:
            return False
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            raise ConfigError(f"no flags file at {self.path}") from None
        if not force and mtime == self._mtime:
            return False
        text = self.path.read_text(encoding="utf-8")
        try:
            if self.path.suffix == ".toml":
                import tomllib

                data: Any = tomllib.loads(text)
            else:
                data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{self.path} is not valid {self.path.suffix[1:] or 'JSON'}: {exc}") from None
        self.flags, self._mtime = self._parse(data, str(self.path)), mtime
        return True

    def set(self, name: str, **fields: Any) -> Flag:
        """Create or change a flag in memory (``flags.set("beta", percent=50)``)."""
        current = self.flags[name].model_dump() if name in self.flags else {}
        self.flags[name] = Flag.model_validate({**current, **fields})
        return self.flags[name]

    def get(
        self,
        name: str,
        default: Any = None,
        *,
        user: str | None = None,
        tenant: str | None = None,
        session: str | None = None,
    ) -> Any:
        """The flag's value for this user/tenant/session; ``default`` for an unknown flag."""
        flag = self.flags.get(name)
        if flag is None:
            return default
        return flag.value(name, user=user, tenant=tenant, session=session)

    def enabled(
        self, name: str, *, user: str | None = None, tenant: str | None = None, session: str | None = None
    ) -> bool:
        """Whether the flag is on for this user/tenant/session (an unknown flag is off)."""
        return bool(self.get(name, False, user=user, tenant=tenant, session=session))


# --------------------------------------------------------------------------------------------------
# Canary
# --------------------------------------------------------------------------------------------------


@dataclass
class VariantStats:
    """Live outcomes of one variant: runs, runs that raised, and finished runs judged unsuccessful."""

    runs: int = 0
    errors: int = 0
    unsuccessful: int = 0

    def record(self, ok: bool, *, error: bool = False) -> None:
        self.runs += 1
        self.errors += error
        self.unsuccessful += (not ok) and not error

    @property
    def failure_rate(self) -> float:
        return (self.errors + self.unsuccessful) / self.runs if self.runs else 0.0

    @property
    def success_rate(self) -> float:
        return 1.0 - self.failure_rate if self.runs else 0.0


@dataclass(frozen=True)
class Decision:
    """What to do with a canary: ``promote`` (serve it to everyone), ``rollback`` (to no one) or
    ``continue`` (not enough evidence yet)."""

    action: Literal["promote", "rollback", "continue"]
    reason: str


def decide_live(
    stable: VariantStats, canary: VariantStats, *, margin: float = 0.02, min_runs: int = 100
) -> Decision:
    """Roll back when the canary fails more often than stable by more than ``margin``; promote once
    it has served ``min_runs`` without doing so.

    >>> decide_live(VariantStats(1000, 10, 0), VariantStats(100, 9, 0)).action
    'rollback'
    """
    if canary.failure_rate > stable.failure_rate + margin and canary.runs >= min(min_runs, 20):
        return Decision(
            "rollback",
            f"canary failure rate {canary.failure_rate:.1%} > stable {stable.failure_rate:.1%} + {margin:.1%} "
            f"over {canary.runs} runs",
        )
    if canary.runs < min_runs:
        return Decision("continue", f"canary has {canary.runs} of the {min_runs} runs needed to decide")
    return Decision(
        "promote",
        f"canary failure rate {canary.failure_rate:.1%} within {margin:.1%} of stable "
        f"{stable.failure_rate:.1%} over {canary.runs} runs",
    )


def decide_from_eval(
    stable: SuiteResult | Mapping[str, Any],
    canary: SuiteResult | Mapping[str, Any],
    *,
    max_resolution_drop: float = 0.02,
    max_latency_ratio: float = 1.5,
) -> Decision:
    """Decide from two eval summaries of the same suite: any policy violation, a resolution rate more
    than ``max_resolution_drop`` below stable's, or a p50 latency over ``max_latency_ratio`` × stable's
    rolls back; otherwise promote."""
    s = stable.summary if hasattr(stable, "summary") else stable
    c = canary.summary if hasattr(canary, "summary") else canary
    if c["policy_violations"] > 0:
        return Decision("rollback", f"canary committed {c['policy_violations']} policy violation(s)")
    rs, rc = s.get("resolution_rate") or 0.0, c.get("resolution_rate") or 0.0
    if rc < rs - max_resolution_drop:
        return Decision("rollback", f"resolution rate fell from {rs:.1%} to {rc:.1%}")
    ls, lc = s["latency"]["p50_s"], c["latency"]["p50_s"]
    if ls and lc and lc > ls * max_latency_ratio:
        return Decision("rollback", f"p50 latency rose from {ls:.2f}s to {lc:.2f}s")
    return Decision("promote", f"resolution {rc:.1%} vs {rs:.1%}, no policy violations")


class Canary:
    """Serve ``percent`` of keys (sessions, users or tenants) from ``canary``, the rest from ``stable``.

    With ``flags`` and ``flag`` the routing is that flag's (its overrides included: e.g. an internal
    tenant always on the canary). ``success(result)`` judges a finished run (default: every finished
    run succeeds; raised errors always count as failures).
    """

    def __init__(
        self,
        stable: Agent[Any],
        canary: Agent[Any],
        percent: float = 5.0,
        *,
        key: KeyKind = "session",
        salt: str = "canary",
        flags: Flags | None = None,
        flag: str | None = None,
        success: Callable[[RunResult[Any]], bool] | None = None,
    ) -> None:
        if (flags is None) != (flag is None):
            raise ConfigError("pass both flags= and flag= to route a canary by a feature flag")
        self.agents = {"stable": stable, "canary": canary}
        self.flags = flags or Flags()
        self.flag = flag or "canary"
        if flags is None:
            self.flags.set(self.flag, percent=percent, key=key, salt=salt)
        self.success = success
        self.stats: dict[str, VariantStats] = {"stable": VariantStats(), "canary": VariantStats()}

    @property
    def percent(self) -> float:
        return self.flags.flags[self.flag].percent

    def set_percent(self, percent: float) -> None:
        """Widen or narrow the rollout (0 rolls back, 100 promotes); buckets stay stable."""
        self.flags.set(self.flag, percent=percent)

    def route(self, *, user: str | None = None, tenant: str | None = None, session: str | None = None) -> str:
        """``"canary"`` or ``"stable"`` for these ids."""
        on = self.flags.enabled(self.flag, user=user, tenant=tenant, session=session)
        return "canary" if on else "stable"

    async def run(
        self,
        message: str,
        *,
        session_id: str | None = None,
        user: str | None = None,
        tenant: str | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> RunResult[Any]:
        """Run ``message`` on the routed agent; the variant is recorded in the run's ``RunStarted``."""
        flag = self.flags.flags[self.flag]
        ids = {"user": user, "tenant": tenant, "session": session_id}
        if ids[flag.key] is None:
            # no key to bucket by: route this one run at random, at the configured share
            ids[flag.key] = uuid.uuid4().hex
        variant = self.route(user=ids["user"], tenant=ids["tenant"], session=ids["session"])
        meta = {**(metadata or {}), "variant": variant, "canary_percent": flag.percent}
        if user is not None:
            meta.setdefault("user", user)
        if tenant is not None:
            meta.setdefault("tenant", tenant)
        try:
            result = await self.agents[variant].run(message, session_id=session_id, metadata=meta, **kwargs)
        except KeelError:
            self.stats[variant].record(False, error=True)
            raise
        self.stats[variant].record(self.success(result) if self.success is not None else True)
        return result

    def decide(self, *, margin: float = 0.02, min_runs: int = 100) -> Decision:
        """``decide_live`` over this process's counts (``variant_stats`` reads them from a store)."""
        return decide_live(self.stats["stable"], self.stats["canary"], margin=margin, min_runs=min_runs)

    def apply(self, decision: Decision) -> None:
        """Act on a decision: promote serves the canary to everyone, rollback to no one."""
        if decision.action == "promote":
            self.set_percent(100.0)
        elif decision.action == "rollback":
            self.set_percent(0.0)


async def variant_stats(store: RunStore, *, limit: int = 10_000) -> dict[str, VariantStats]:
    """Outcomes per variant read back from the run log (every worker's runs, not just this process's):
    a failed run is an error; suspended and running runs are not counted yet."""
    out: dict[str, VariantStats] = {}
    for rec in await store.list_runs(limit=limit):
        if rec.status not in ("finished", "failed") or rec.parent_run_id is not None:
            continue
        first = await store.events(rec.run_id, limit=1)
        variant = first[0].metadata.get("variant") if first and isinstance(first[0], RunStarted) else None
        if isinstance(variant, str):
            out.setdefault(variant, VariantStats()).record(
                rec.status == "finished", error=rec.status == "failed"
            )
    return out
