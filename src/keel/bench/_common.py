"""Pieces the benchmark suites share: a one-turn agent pattern, trace serialisation, progress."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from keel.errors import ConfigError

if TYPE_CHECKING:
    from keel.events import Event, Message
    from keel.loop.run import Run

__all__ = ["OneTurn", "Progress", "events_json", "messages_json", "require", "stderr_progress"]

Progress = Callable[[str], None]


def stderr_progress(line: str) -> None:
    """The default progress sink: one line per item on stderr (stdout is kept for ``--json``)."""
    print(line, file=sys.stderr, flush=True)


class OneTurn:
    """A pattern that takes exactly one model turn and stops, leaving tool calls unexecuted.

    Benchmarks that grade the *call* (BFCL) need the agent's tool path (routing, grammar-filled
    arguments, grounding check) but not the call's execution or a final answer.
    """

    name = "one_turn"

    async def step(self, run: Run) -> None:
        msg = await run.model_turn()
        run.finish(msg.content)


def events_json(events: Sequence[Event]) -> list[dict[str, Any]]:
    """A run's events as plain JSON values (for trace files)."""
    return [ev.model_dump(mode="json", exclude_none=True) for ev in events]


def messages_json(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [m.model_dump(mode="json", exclude_none=True) for m in messages]


def require(module: str, package: str, extra: str = "bench") -> None:
    """Raise ``ConfigError`` with the install command when ``module`` is not importable."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ConfigError(
            f"this benchmark needs the `{package}` package: pip install 'keel[{extra}]' "
            f"(or see docs/benchmarks.md for the exact install steps)"
        )
