"""The agents a service serves, by name: from ``keel.toml`` targets and ``keel.agents`` entry points.

A target is ``"module:attr"`` where ``attr`` is an ``Agent`` or a zero-argument factory of one.
Every served agent writes to the service's run store, whatever store it was built with.

>>> from keel import Agent
>>> from keel.testing import ScriptedModel
>>> reg = AgentRegistry({"echo": Agent(ScriptedModel(["hi"]))})
>>> reg.names(), reg.describe("echo")["pattern"]
(['echo'], 'react')
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from keel.errors import ConfigError, KeelError

if TYPE_CHECKING:
    from keel.agent import Agent
    from keel.store.base import RunStore

__all__ = ["AgentRegistry", "build_agent"]


def build_agent(name: str, source: Any) -> Agent[Any]:
    """Turn a configured source (``Agent``, factory, ``"module:attr"``, entry point) into an ``Agent``."""
    from keel.agent import Agent

    obj = source
    if isinstance(obj, str):
        from keel.cli import load_object

        obj = load_object(obj)
    elif _is_entry_point(obj):
        # duck-typed: a distribution found by the ``importlib_metadata`` backport's finder yields
        # the backport's EntryPoint class, not the standard library's
        try:
            obj = obj.load()
        except (ImportError, AttributeError) as e:
            raise ConfigError(f"agent {name!r}: cannot load entry point {obj.value!r}: {e}") from None
    if not isinstance(obj, Agent) and callable(obj):
        try:
            obj = obj()
        except KeelError:
            raise
        except Exception as e:  # a user's factory may raise anything; say which agent broke
            raise ConfigError(f"agent {name!r}: its factory raised {type(e).__name__}: {e}") from e
    if not isinstance(obj, Agent):
        got = type(obj).__module__ + "." + type(obj).__qualname__
        raise ConfigError(
            f"agent {name!r}: {source!r} is not a keel Agent nor a factory returning one (got {got})"
        )
    return obj


def _is_entry_point(obj: Any) -> bool:
    return callable(getattr(obj, "load", None)) and isinstance(getattr(obj, "group", None), str)


def _entry_point_agents() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group="keel.agents")}


class AgentRegistry:
    """Served agents by name."""

    def __init__(self, agents: Mapping[str, Agent[Any]]) -> None:
        self._agents = dict(agents)
        self._model_ok: set[str] = set()

    @classmethod
    def from_sources(cls, sources: Mapping[str, Any], *, entry_points: bool = True) -> AgentRegistry:
        """Build every agent now, so a broken target fails at start-up rather than on a request."""
        merged: dict[str, Any] = {}
        if entry_points:
            merged.update(_entry_point_agents())
        merged.update(sources)
        return cls({name: build_agent(name, src) for name, src in merged.items()})

    def check_worker_names(self) -> None:
        """Workers in other processes (``keel worker``) know agents by ``Agent.name``: it must be the
        name the API serves the agent under, or their jobs would find no agent."""
        for name, agent in self._agents.items():
            if agent.name != name:
                raise ConfigError(
                    f"agent {name!r} is named {agent.name!r}: in production mode give it name={name!r} "
                    "so that `keel worker` processes find it"
                )

    def bind(self, store: RunStore) -> None:
        """Make every agent read and write ``store`` (the service's run store)."""
        for agent in self._agents.values():
            agent.store = store

    def get(self, name: str) -> Agent[Any] | None:
        return self._agents.get(name)

    def names(self) -> list[str]:
        return sorted(self._agents)

    def as_mapping(self) -> dict[str, Agent[Any]]:
        return dict(self._agents)

    def describe(self, name: str) -> dict[str, Any]:
        agent = self._agents[name]
        spec = getattr(agent, "_model_spec", None)  # the string as configured; no model is built
        model = spec if isinstance(spec, str) else getattr(spec, "name", type(spec).__name__)
        return {
            "name": name,
            "model": model,
            "pattern": agent.pattern.name,
            "tools": sorted(agent.tools),
        }

    async def check_models(self) -> dict[str, str]:
        """Each agent's model can be constructed (weights found, keys present). Nothing is loaded:
        providers build lazily. Returns name -> ``"ok"`` or the error; successes are remembered."""
        out: dict[str, str] = {}
        for name, agent in self._agents.items():
            if name in self._model_ok:
                out[name] = "ok"
                continue
            try:
                model = await asyncio.to_thread(getattr, agent, "model")
                if not model.name or model.profile is None:
                    raise ConfigError("the model has no name or profile")
            except KeelError as e:
                out[name] = f"{type(e).__name__}: {e}"
                continue
            self._model_ok.add(name)
            out[name] = "ok"
        return out
