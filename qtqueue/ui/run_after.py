""" "Run after" as the new task form checks it, before the engine sees the task.

The engine refuses a dependency on an unknown id (QUEUE_TASK_NOT_FOUND) and fails a task at
once when a dependency failed, was cancelled or timed out (QUEUE_DEPENDENCY_FAILED). The form
asks the same of the tasks the window already shows, so the user corrects the field while
everything else they typed is still there. A unique prefix (as `qtqueue show` takes one) is
resolved to the full id.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import ENDED_IN_WORDS, RETRYABLE_TERMINAL, Task
from qtqueue.engine.schedules import MIN_PREFIX_LEN

logger = logging.getLogger(__name__)

#: How many candidates an ambiguous prefix names.
CANDIDATES_SHOWN = 3


class TaskLookup(Protocol):
    """The tasks the window knows (its table model)."""

    def task_by_id(self, task_id: str) -> Task | None: ...

    def tasks(self) -> list[Task]: ...


def _label(task: Task) -> str:
    short = task.id if len(task.id) <= 16 else f"{task.id[:12]}…"
    return f"“{task.name}” ({short})" if task.name else task.id


def _find(ref: str, lookup: TaskLookup) -> Task:
    """The task `ref` names: its id, or a unique prefix of at least MIN_PREFIX_LEN characters."""
    exact = lookup.task_by_id(ref)
    if exact is not None:
        return exact
    if len(ref) < MIN_PREFIX_LEN:
        raise QueueError(
            TaskErrorCode.QUEUE_TASK_NOT_FOUND,
            f"no task has the id “{ref}” (a shortened id needs at least {MIN_PREFIX_LEN} "
            "characters). Copy the id from the table's ID column or the detail pane.",
            dependency_id=ref,
        )
    matches = [t for t in lookup.tasks() if t.id.startswith(ref)]
    if not matches:
        raise QueueError(
            TaskErrorCode.QUEUE_TASK_NOT_FOUND,
            f"no task has an id starting with “{ref}”. "
            "Copy the id from the table's ID column or the detail pane.",
            dependency_id=ref,
        )
    if len(matches) > 1:
        shown = ", ".join(_label(t) for t in matches[:CANDIDATES_SHOWN])
        more = len(matches) - CANDIDATES_SHOWN
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            f"“{ref}” is the start of {len(matches)} task ids ({shown}"
            f"{f' and {more} more' if more > 0 else ''}): type more of the id.",
            dependency_id=ref,
            matches=[t.id for t in matches[:20]],
        )
    return matches[0]


def resolve_run_after(
    refs: Sequence[str], lookup: TaskLookup, *, allow_failed: bool = False
) -> list[str]:
    """The full ids of the tasks `refs` name, in order, without repeats. QueueError for the
    first that the engine would refuse or fail the task over: QUEUE_TASK_NOT_FOUND (unknown),
    VALIDATION_INVALID_FORMAT (a prefix of several ids), QUEUE_DEPENDENCY_FAILED (it ended
    without completing, unless `allow_failed`)."""
    ids: list[str] = []
    for ref in refs:
        task = _find(ref, lookup)
        if task.status in RETRYABLE_TERMINAL and not allow_failed:
            raise QueueError(
                TaskErrorCode.QUEUE_DEPENDENCY_FAILED,
                f"{_label(task)} {ENDED_IN_WORDS[task.status]}, so a task run "
                "after it would fail at once. Retry that task first, or remove it from "
                "“Run after”.",
                dependency_id=task.id,
                dependency_status=task.status.value,
            )
        if task.id not in ids:
            ids.append(task.id)
    return ids
