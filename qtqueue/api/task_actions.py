"""The API's actions on tasks: add, control (pause, resume, retry, cancel, remove), approve or
reject, input to a running command, dead letters requeued or purged.

Each parses its params with its model, names tasks by id or unique prefix
(`qtqueue.api.task_ids`) and replies with a typed message (`qtqueue.api.messages`).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import Field

from qtqueue.api.messages import InputSent, TaskId, TaskIds, TaskMessage, TaskRemoved
from qtqueue.api.params import Params, parse_params
from qtqueue.api.task_ids import TaskRef, resolve_task_id
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Priority, Task
from qtqueue.engine.queue import TaskQueue
from qtqueue.engine.schedule_rules import SCHEDULE_TAG_PREFIX
from qtqueue.engine.validation import ENGINE_FIELDS, check_task_id

logger = logging.getLogger(__name__)


class ManageParams(TaskRef):
    """`queue_manage`: one control action on one task."""

    action: Literal["pause", "resume", "retry", "cancel", "remove"]


class SendInputParams(TaskRef):
    """`send_input`: text for a running interactive command's stdin."""

    text: str = ""
    newline: bool = Field(True, description="Add a newline after the text")
    eof: bool = Field(False, description="Close the command's stdin afterwards")


class RejectParams(TaskRef):
    """`reject_task`: why (shown with the task's QUEUE_REJECTED error)."""

    reason: str = ""


class DeadLettersParams(Params):
    """`requeue_dead_letters` / `purge_dead_letters`: the tasks (ids or unique prefixes), or
    every dead letter with `all` (requeue: also when no ids are given)."""

    ids: list[str] = Field(default_factory=list)
    all: bool = False


def task_from_dict(data: object, where: str = "") -> Task:
    """A `Task` from request data, every problem as a VALIDATION_* QueueError."""
    prefix = f"{where}: " if where else ""
    if not isinstance(data, dict):
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT, f"{prefix}a task must be a JSON object"
        )
    owned = sorted(set(data) & ENGINE_FIELDS)
    if owned:
        problem = (
            f"{', '.join(owned)}: set by the engine, not by the caller; leave "
            f"{'it' if len(owned) == 1 else 'them'} out of a new task"
        )
        raise QueueError(TaskErrorCode.VALIDATION_INVALID_PARAMS, prefix + problem, fields=owned)
    creator = data.get("created_by")
    if isinstance(creator, str) and creator.startswith(SCHEDULE_TAG_PREFIX):
        problem = f"created_by: {creator[:80]!r} names a schedule; only a schedule adds as one"
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS, prefix + problem, fields=["created_by"]
        )
    if "id" in data:
        check_task_id(data["id"], f"{prefix}id")
    if "task_type" not in data:
        raise QueueError(
            TaskErrorCode.VALIDATION_MISSING_REQUIRED,
            f"{prefix}task_type: required",
            fields=["task_type: required"],
        )
    if "priority" in data:
        try:
            if isinstance(data["priority"], bool):  # JSON true is not priority 1
                raise TypeError(data["priority"])
            Priority.parse(data["priority"])
        except (KeyError, ValueError, TypeError, AttributeError):
            problem = f"priority: {data['priority']!r} is not low, normal, high, urgent or 0-3"
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS, prefix + problem, fields=[problem]
            ) from None
    try:
        return Task.from_dict(data)
    except (KeyError, ValueError, TypeError) as exc:
        raise QueueError(TaskErrorCode.VALIDATION_INVALID_PARAMS, f"{prefix}{exc}") from None


async def _resolve_dependencies(queue: TaskQueue, tasks: list[Task]) -> None:
    """Let `depends_on` name tasks by unique prefix, like every other task id here (ids of the
    batch's own tasks stand as given)."""
    own = {t.id for t in tasks}
    for t in tasks:
        if isinstance(t.depends_on, list):
            t.depends_on = [
                d if not isinstance(d, str) or d in own else await resolve_task_id(queue, d)
                for d in t.depends_on
            ]


async def add_task(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Add one task (params: a task dict as `Task.from_dict` takes it) → `{"id": ...}`, or
    several at once, all or none (params: `{"tasks": [...]}`) → `{"ids": [...]}`.
    `depends_on` may name tasks by unique id prefix. `created_by` is free text (who adds:
    by default the user the engine runs as) but never `schedule:…`, which only a schedule's
    occurrences carry."""
    if "tasks" in params:
        if len(params) != 1:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_FORMAT,
                "give either one task's fields or 'tasks' (a list), not both",
            )
        items = params["tasks"]
        if not isinstance(items, list) or not items:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_FORMAT, "tasks: must be a non-empty list"
            )
        tasks = [task_from_dict(item, f"tasks[{i}]") for i, item in enumerate(items)]
        await _resolve_dependencies(queue, tasks)
        return TaskIds(ids=await queue.add_tasks(tasks)).dump()
    task = task_from_dict(params)
    await _resolve_dependencies(queue, [task])
    return TaskId(id=await queue.add_task(task)).dump()


async def queue_manage(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Pause, resume, retry, cancel or remove one task. Returns `{"task": ...}` as it is after
    the action, or `{"task_id": ..., "removed": true}`."""
    p = parse_params(ManageParams, "queue_manage", params)
    task_id = await resolve_task_id(queue, p.task_id)
    if p.action == "remove":
        await queue.remove_task(task_id)
        return TaskRemoved(task_id=task_id, removed=True).dump()
    control = {
        "pause": queue.pause_task,
        "resume": queue.resume_task,
        "retry": queue.retry_task,
        "cancel": queue.cancel_task,
    }[p.action]
    return TaskMessage(task=(await control(task_id)).to_dict()).dump()


async def approve_task(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Approve a task that awaits approval: `{"task": ...}` as it is after."""
    p = parse_params(TaskRef, "approve_task", params)
    task_id = await resolve_task_id(queue, p.task_id)
    return TaskMessage(task=(await queue.approve_task(task_id)).to_dict()).dump()


async def reject_task(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Reject a task that awaits approval (it ends CANCELLED, QUEUE_REJECTED): `{"task": ...}`."""
    p = parse_params(RejectParams, "reject_task", params)
    task_id = await resolve_task_id(queue, p.task_id)
    return TaskMessage(task=(await queue.reject_task(task_id, p.reason)).to_dict()).dump()


async def send_input(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Write a line (or, without `newline`, the bare text) to a running interactive command's
    stdin: `{"task_id": ..., "bytes": n}`."""
    p = parse_params(SendInputParams, "send_input", params)
    task_id = await resolve_task_id(queue, p.task_id)
    data = (p.text + "\n" if p.newline else p.text).encode()
    await queue.send_input(task_id, data, eof=p.eof)
    return InputSent(task_id=task_id, bytes=len(data)).dump()


async def _chosen_dead_letters(
    queue: TaskQueue, p: DeadLettersParams, action: str
) -> list[str] | None:
    if p.all and p.ids:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS, f"{action}: give ids or all, not both"
        )
    if p.all or not p.ids:
        return None
    return [await resolve_task_id(queue, i) for i in p.ids]


async def requeue_dead_letters(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Retry the given dead-lettered tasks, or every one (no ids, or `all`): `{"ids": [...]}`."""
    p = parse_params(DeadLettersParams, "requeue_dead_letters", params)
    chosen = await _chosen_dead_letters(queue, p, "requeue_dead_letters")
    return TaskIds(ids=await queue.requeue_dead_letters(chosen)).dump()


async def purge_dead_letters(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Delete the given dead-lettered tasks (or every one, with `all`): `{"ids": [...]}`."""
    p = parse_params(DeadLettersParams, "purge_dead_letters", params)
    if not (p.ids or p.all):
        raise QueueError(
            TaskErrorCode.VALIDATION_MISSING_REQUIRED,
            "purge_dead_letters: give ids, or all: true to delete every dead letter",
        )
    chosen = await _chosen_dead_letters(queue, p, "purge_dead_letters")
    return TaskIds(ids=await queue.purge_dead_letters(chosen)).dump()


#: The actions on tasks by action name.
TASK_ACTIONS = {
    "queue_manage": queue_manage,
    "add_task": add_task,
    "send_input": send_input,
    "approve_task": approve_task,
    "reject_task": reject_task,
    "requeue_dead_letters": requeue_dead_letters,
    "purge_dead_letters": purge_dead_letters,
}
