"""Helpers of the backup tests: a big sparse tree, and a backup started then paused while it
reads its files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers.waiting import eventually

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue


def sparse_tree(src: Path, count: int) -> Path:
    """`count` sparse files of 16 MiB in `src` (f00, f01, ...): much to read and compress,
    no disk used."""
    src.mkdir()
    for i in range(count):
        with open(src / f"f{i:02d}", "wb") as f:
            f.truncate(16 << 20)
    return src


async def paused_backup(queue: TaskQueue, params: dict[str, Any]) -> Task:
    """Add a backup, pause it once it reports bytes, and return it paused."""
    task_id = await queue.add_task(Task(TaskType.SYSTEM_BACKUP, params, max_retries=0))

    async def running() -> bool:
        t = await queue.get_task(task_id)
        return t.status is TaskStatus.RUNNING and t.progress > 0

    async def paused() -> Task | None:
        t = await queue.get_task(task_id)
        return t if t.status is TaskStatus.PAUSED else None

    await eventually(running, 30, "the backup reports bytes")
    await queue.pause_task(task_id)
    return await eventually(paused, 30, "the backup pauses")
