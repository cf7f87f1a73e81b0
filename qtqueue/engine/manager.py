"""QueueManager: one-call helpers for the common task kinds, on top of a TaskQueue.

Each helper's task gets its family's category (`Family.category`) unless it names one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from qtqueue.core.task import ACTIVE, Priority, Task, TaskStatus, TaskType
from qtqueue.executors import ExecutorRegistry


class TaskAdder(Protocol):
    """What the helpers need of a queue (a `TaskQueue` is one): this part never imports the
    facade it sits on."""

    registry: ExecutorRegistry

    async def add_task(self, task: Task) -> str:
        """Add `task`; its id once durable."""

    async def list_tasks(
        self, status: TaskStatus | str | Iterable[TaskStatus | str] | None = None
    ) -> list[Task]:
        """The tasks in `status`."""

    async def get_queue_stats(self) -> dict[str, Any]:
        """The stats summary and distributions."""


class QueueManager:
    """Shortcuts that build the right `Task` and add it. Each returns the new task's id."""

    def __init__(self, queue: TaskAdder) -> None:
        self.queue = queue

    async def add_generic_task(
        self, task_type: TaskType | str, params: dict[str, Any], **fields: Any
    ) -> str:
        """Any type with its params; `fields` are other Task fields (name, priority, tags…)."""
        return await self.queue.add_task(Task(task_type=task_type, params=params, **fields))

    async def _add_in_family(
        self, task_type: TaskType, params: dict[str, Any], fields: dict[str, Any]
    ) -> str:
        family = self.queue.registry.family_of(task_type)
        if family is not None and family.category:
            fields.setdefault("category", family.category)
        return await self.add_generic_task(task_type, params, **fields)

    async def add_push_task(self, image_name: str, tag: str = "latest", **fields: Any) -> str:
        """Push `image_name:tag` (a DOCKER_PUSH task)."""
        return await self._add_in_family(
            TaskType.DOCKER_PUSH, {"image_name": image_name, "tag": tag}, fields
        )

    async def add_custom_script_task(
        self, script_path: str, script_args: list[str] | None = None, **fields: Any
    ) -> str:
        """Run the script at `script_path` with `script_args` (a CUSTOM_SCRIPT task)."""
        return await self._add_in_family(
            TaskType.CUSTOM_SCRIPT,
            {"script_path": script_path, "script_args": list(script_args or [])},
            fields,
        )

    async def add_custom_command_task(
        self, command: str, args: list[str] | None = None, shell: bool = False, **fields: Any
    ) -> str:
        """Run `command` with `args`, through /bin/sh if `shell` (a CUSTOM_COMMAND task)."""
        return await self._add_in_family(
            TaskType.CUSTOM_COMMAND,
            {"command": command, "args": list(args or []), "shell": shell},
            fields,
        )

    async def add_system_monitor_task(self, monitor_type: str = "general", **fields: Any) -> str:
        """Sample the machine once (a SYSTEM_MONITOR task, LOW priority unless given):
        "general" is CPU, load, memory and disk; "cpu", "memory", … one of them; "all" every
        one."""
        fields.setdefault("priority", Priority.LOW)
        return await self._add_in_family(
            TaskType.SYSTEM_MONITOR, {"monitor_type": monitor_type}, fields
        )

    async def get_queue_status(self) -> dict[str, Any]:
        """The queue's statistics as `get_queue_stats` gives them — `summary` (total_tasks,
        running_tasks, queue_size…), `performance` (success_rate in percent,
        average_duration_seconds…), `status_distribution`, `type_distribution`,
        `error_distribution`, `retry_statistics`, `recent_activity` — plus `running`: the
        tasks an executor holds now (paused ones included), each id, name, status, progress."""
        stats = await self.queue.get_queue_stats()
        held = await self.queue.list_tasks(status=[*ACTIVE, TaskStatus.PAUSED])
        running = [
            {"id": t.id, "name": t.name, "status": t.status.value, "progress": t.progress}
            for t in held
        ]
        return {**stats, "running": running}
