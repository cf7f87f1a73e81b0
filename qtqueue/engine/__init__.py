"""Asyncio orchestration: the TaskQueue, dispatch, retries, events, statistics. No Qt."""

from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.manager import QueueManager
from qtqueue.engine.queue import ShutdownPolicy, TaskQueue

__all__ = ["EventKind", "QueueManager", "ShutdownPolicy", "TaskEvent", "TaskQueue"]
