"""The step loop and the patterns (ReAct, Plan-and-Execute, Team)."""

from keel.loop.run import Budget, Pattern, Run, RunConfig, drive
from keel.loop.state import RunState

__all__ = ["Budget", "Pattern", "Run", "RunConfig", "RunState", "drive"]
