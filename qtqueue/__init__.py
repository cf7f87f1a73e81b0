"""qtqueue: a desktop task manager on an embedded, persistent asyncio queue engine.

The names below are exported lazily (PEP 562): `import qtqueue` alone, or any of its
subpackages (`qtqueue.cli` above all), loads neither the engine nor pydantic; the first use of
`qtqueue.TaskQueue` imports the engine.

`get_task_queue()` (the SQLite-queue document's name) is the process's default queue, made on
first call; `qtqueue.queue_manager.queue_manager` the universal queue document's helpers over it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qtqueue.core.errors import QueueError, TaskErrorCode
    from qtqueue.core.task import (
        DockerTask,
        OnInterrupt,
        Permission,
        Priority,
        Task,
        TaskStatus,
        TaskType,
    )
    from qtqueue.engine import EventKind, QueueManager, ShutdownPolicy, TaskEvent, TaskQueue
    # (`get_task_queue`, `register_default_handlers`: typed through `qtqueue.task_queue`,
    # which an import here would make the command line's to the import contracts)

#: The installed distribution's version (its package metadata: pyproject.toml's, or the copy a
#: packaged build carries), read on first use: `importlib.metadata` costs a command's start.
__version__: str

#: Each exported name and the module that defines it.
_EXPORTS = {
    "QueueError": "qtqueue.core.errors",
    "TaskErrorCode": "qtqueue.core.errors",
    "DockerTask": "qtqueue.core.task",
    "OnInterrupt": "qtqueue.core.task",
    "Permission": "qtqueue.core.task",
    "Priority": "qtqueue.core.task",
    "Task": "qtqueue.core.task",
    "TaskStatus": "qtqueue.core.task",
    "TaskType": "qtqueue.core.task",
    "EventKind": "qtqueue.engine",
    "QueueManager": "qtqueue.engine",
    "ShutdownPolicy": "qtqueue.engine",
    "TaskEvent": "qtqueue.engine",
    "TaskQueue": "qtqueue.engine",
    "get_task_queue": "qtqueue.task_queue",
    "register_default_handlers": "qtqueue.task_queue",
}

__all__ = [
    "DockerTask",
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
    "get_task_queue",
    "register_default_handlers",
]


def _installed_version() -> str:
    """The version in qtqueue's package metadata ("unknown" when it is not installed)."""
    from importlib import metadata

    try:
        return metadata.version("qtqueue")
    except metadata.PackageNotFoundError:
        return "unknown"


def __getattr__(name: str) -> Any:
    """Import an exported name on first use."""
    if name == "__version__":
        version = globals()["__version__"] = _installed_version()
        return version
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qtqueue' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, "__version__"})
