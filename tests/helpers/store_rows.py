"""Tasks as a test writes them straight into a store: fixed ids, times and queue order."""

from __future__ import annotations

from typing import Any

from qtqueue.core.task import Task, TaskType

NOW = 1_700_000_000.0


def as_stored(tasks: list[Task]) -> list[Task]:
    """`tasks` as a store holds them: where a task left its queue or retry budget unset (for
    the engine to fill in when it is added), the default queue and no retries, the values every
    task had before queues gave defaults."""
    for t in tasks:
        t.queue = "default" if t.queue is None else t.queue
        t.max_retries = 0 if t.max_retries is None else t.max_retries
    return tasks


def make_task(n: int, **fields: Any) -> Task:
    """Task number `n`: fixed id, created `n` seconds after NOW, queue order `n`; as the
    engine stores an added task, its queue and retry budget are set (no retries)."""
    fields.setdefault("task_type", TaskType.CUSTOM_COMMAND)
    fields.setdefault("queue", "default")
    fields.setdefault("max_retries", 0)
    fields.setdefault("params", {"command": "true"})
    return Task(
        id=fields.pop("id", f"00000000-0000-0000-0000-{n:012d}"),
        created_at=NOW + n,
        updated_at=NOW + n,
        seq=n,
        **fields,
    )
