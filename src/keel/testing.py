"""Helpers for testing your own agents without a network: ``ScriptedModel`` and ``call``."""

from keel.models.scripted import ScriptedModel, call

__all__ = ["ScriptedModel", "call"]
