"""Task snapshots for the task table's tests (the model and its columns)."""

from __future__ import annotations

from typing import Any

from qtqueue.core.task import Task, TaskStatus, TaskType


def make(
    name: str,
    status: TaskStatus = TaskStatus.PENDING,
    *,
    created: float = 1_000.0,
    duration: float | None = None,
    progress: float = 0.0,
    **kw: Any,
) -> Task:
    """A task snapshot named `name` (a shell command by default)."""
    kw.setdefault("task_type", TaskType.CUSTOM_COMMAND)
    kw.setdefault("params", {"command": name})
    t = Task(name=name, status=status, created_at=created, progress=progress, **kw)
    t.duration_s = duration
    return t


def changed(task: Task, **fields: Any) -> Task:
    """A newer snapshot of `task` (what the engine would publish)."""
    t = task.copy()
    for k, v in fields.items():
        setattr(t, k, v)
    return t
