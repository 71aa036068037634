"""Observability from the event log: metrics (``Metrics``), tracing (``Tracing``), audit (``AuditTrail``).

Each is an observer: ``Agent(observers=[Metrics(), Tracing(), AuditTrail(log)])``.
"""

from keel.observe.audit import AuditTrail
from keel.observe.metrics import Histogram, Metrics
from keel.observe.tracing import Tracing

__all__ = ["AuditTrail", "Histogram", "Metrics", "Tracing"]
