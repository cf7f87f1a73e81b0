"""The API's actions on the waiting order: move a waiting task (`move_task`), give it another
priority (`set_priority`), edit it (`update_task`). The command line (`qtqueue move`), the
attached window and the REST routes all reach the engine through these."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import Field

from qtqueue.api.messages import TaskMessage
from qtqueue.api.params import parse_params
from qtqueue.api.task_actions import task_from_dict
from qtqueue.api.task_ids import TaskRef, resolve_task_id
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.queue_moves import MovePlace
from qtqueue.engine.editing import EDITABLE
from qtqueue.engine.queue import TaskQueue

logger = logging.getLogger(__name__)


class MoveParams(TaskRef):
    """`move_task`: where the waiting task goes in its named queue."""

    place: str = Field(
        ...,
        description="top, up, down, bottom or before",
        json_schema_extra={"enum": [p.value for p in MovePlace]},
    )
    before: str | None = Field(
        None, description="With place 'before': the waiting task (id or prefix) it goes before"
    )


class PriorityParams(TaskRef):
    """`set_priority`: the waiting task's new priority."""

    priority: str | int = Field(..., description="low, normal, high, urgent or 0-3")


class UpdateParams(TaskRef):
    """`update_task`: the waiting task's changed fields, merged over its current ones."""

    task: dict[str, Any] = Field(
        ..., description="The fields to change (as add_task takes them); those left out stay"
    )
    updated_at: float | None = Field(
        None,
        description="The task's updated_at the edit started from: if the task changed since, "
        "the edit is refused (QUEUE_TASK_CHANGED) rather than undoing that change",
    )


async def move_task(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Move a waiting task to the top/up/down/bottom of its queue or before another:
    `{"task": ...}` as moved."""
    p = parse_params(MoveParams, "move_task", params)
    task_id = await resolve_task_id(queue, p.task_id)
    before = None if p.before is None else await resolve_task_id(queue, p.before)
    return TaskMessage(task=(await queue.move_task(task_id, p.place, before)).to_dict()).dump()


async def set_priority(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Give a waiting task another priority: `{"task": ...}` as changed."""
    p = parse_params(PriorityParams, "set_priority", params)
    task_id = await resolve_task_id(queue, p.task_id)
    return TaskMessage(task=(await queue.set_priority(task_id, p.priority)).to_dict()).dump()


async def update_task(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Edit a waiting task (same id): `{"task": ...}` as saved. `task` holds the fields to
    change, merged over the task's current ones (a body of only `{"name": ...}` renames it);
    they are checked as `add_task` checks a new task. An `id` in it, if any, must be the
    task's own; `updated_at` (optional) guards against undoing a change made meanwhile."""
    p = parse_params(UpdateParams, "update_task", params)
    task_id = await resolve_task_id(queue, p.task_id)
    fields = dict(p.task)
    if fields.get("id", task_id) != task_id:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"task.id {fields['id']!r} is not the edited task's id {task_id}: leave it out",
            fields=["task.id"],
        )
    fields.pop("id", None)
    current = await queue.get_task(task_id)
    merged = {k: v for k, v in current.to_dict().items() if k in MERGED}
    if "ttl_s" in fields and "expires_at" not in fields:
        merged.pop("expires_at", None)  # a new time to live sets the expiry again
    if merged.get("timeout_s") is None:
        merged["timeout_s"] = 0  # stored None is "no timeout"; None in a task: queue default
    edited = task_from_dict({**merged, **fields, "id": task_id}, "task")
    if p.updated_at is not None:
        edited.updated_at = p.updated_at
    return TaskMessage(task=(await queue.update_task(task_id, edited)).to_dict()).dump()


#: The task's current fields an edit starts from (those the body names replace them).
MERGED = (*EDITABLE, "depends_on", "permission", "allow_dependency_failure")


#: The actions on the waiting order by action name.
ORDER_ACTIONS = {
    "move_task": move_task,
    "set_priority": set_priority,
    "update_task": update_task,
}
