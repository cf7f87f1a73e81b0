"""qtqueue: a desktop task manager on an embedded, persistent asyncio queue engine."""

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import OnInterrupt, Permission, Priority, Task, TaskStatus, TaskType
from qtqueue.engine import EventKind, QueueManager, ShutdownPolicy, TaskEvent, TaskQueue

__version__ = "0.1.0"

__all__ = [
    "EventKind",
    "OnInterrupt",
    "Permission",
    "Priority",
    "QueueError",
    "QueueManager",
    "ShutdownPolicy",
    "Task",
    "TaskErrorCode",
    "TaskEvent",
    "TaskQueue",
    "TaskStatus",
    "TaskType",
    "__version__",
]
