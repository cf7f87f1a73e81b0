"""Task ids in requests: a full id or a unique prefix of at least `MIN_PREFIX_LEN`
characters (the engine's rule, the one schedules and the window follow), resolved the same way
by every action that takes one."""

from __future__ import annotations

import logging

from pydantic import Field

from qtqueue.api.params import Params
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.engine.queue import TaskQueue
from qtqueue.engine.schedule_rules import MIN_PREFIX_LEN
from qtqueue.engine.validation import is_task_id

logger = logging.getLogger(__name__)

__all__ = ["MIN_PREFIX_LEN", "TaskRef", "resolve_task_id"]

#: An ambiguous prefix's error lists this many of the ids it matches.
_MAX_MATCHES_SHOWN = 20


class TaskRef(Params):
    """The params of an action on one task: its id, or a unique prefix of it."""

    task_id: str = Field(..., min_length=1, description="A task id or a unique prefix of it")


async def resolve_task_id(queue: TaskQueue, task_id: str) -> str:
    """The full id of the task that `task_id` names: the id itself, or a unique prefix of at
    least MIN_PREFIX_LEN characters. QUEUE_TASK_NOT_FOUND if none matches;
    VALIDATION_INVALID_FORMAT if the prefix is ambiguous."""
    try:
        return (await queue.get_task(task_id)).id
    except QueueError as exc:
        if exc.code != TaskErrorCode.QUEUE_TASK_NOT_FOUND:
            raise
    if len(task_id) < MIN_PREFIX_LEN:
        raise QueueError(
            TaskErrorCode.QUEUE_TASK_NOT_FOUND,
            f"no task with id {task_id!r} (a prefix needs at least {MIN_PREFIX_LEN} characters)",
            task_id=task_id,
        )
    if not is_task_id(task_id):  # no valid id starts with it
        raise QueueError(
            TaskErrorCode.QUEUE_TASK_NOT_FOUND, f"no task with id {task_id!r}", task_id=task_id
        )
    matches = await queue.ids_with_prefix(task_id, _MAX_MATCHES_SHOWN + 1)
    if not matches:
        raise QueueError(
            TaskErrorCode.QUEUE_TASK_NOT_FOUND, f"no task with id {task_id}", task_id=task_id
        )
    if len(matches) > 1:
        shown = ", ".join(matches[:5]) + (", …" if len(matches) > 5 else "")
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            f"task id prefix {task_id!r} matches {_count(matches)} tasks ({shown}); "
            "give more of it",
            task_id=task_id,
            matches=matches[:_MAX_MATCHES_SHOWN],
        )
    return matches[0]


def _count(matches: list[str]) -> str:
    return (
        f"more than {_MAX_MATCHES_SHOWN}"
        if len(matches) > _MAX_MATCHES_SHOWN
        else str(len(matches))
    )
