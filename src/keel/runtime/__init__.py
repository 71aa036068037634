"""Runtime: the run queue and the stateless workers that advance runs step by step."""

from keel.runtime.queue import PRIORITIES, InProcessQueue, Job, RunQueue
from keel.runtime.worker import Worker

__all__ = ["PRIORITIES", "InProcessQueue", "Job", "RunQueue", "Worker"]
