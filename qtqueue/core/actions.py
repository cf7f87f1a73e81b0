"""Which tasks each user action applies to: the one place this rule lives.

The engine refuses an action on a task it does not apply to (`QUEUE_INVALID_STATE`), the
command line picks the tasks `--all` means with it, and the window enables a toolbar or menu
action only when it applies to every selected task. All three read `applies()` /
`statuses_for()` here, so a status added to `TaskStatus` or a rule changed here changes them
together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from enum import StrEnum

from qtqueue.core.task import (
    ACTIVE,
    RETRYABLE_TERMINAL,
    TERMINAL,
    UNFINISHED,
    Permission,
    Task,
    TaskStatus,
)

logger = logging.getLogger(__name__)


class TaskAction(StrEnum):
    """An action a user takes on one task (its value is the verb the CLI and messages use)."""

    PAUSE = "pause"
    RESUME = "resume"
    RETRY = "retry"
    CANCEL = "cancel"
    REMOVE = "remove"
    APPROVE = "approve"
    REJECT = "reject"
    #: A dead letter (failed for good after its retries) queued again.
    REQUEUE = "requeue"
    #: A new task made to start once this one has completed ("New task after these").
    RUN_AFTER = "run_after"


#: The statuses each action applies to. Approval, rejection and requeueing also look at more
#: than the status: see `applies()`.
ACTION_STATUSES: dict[TaskAction, frozenset[TaskStatus]] = {
    TaskAction.PAUSE: frozenset({TaskStatus.PENDING}) | ACTIVE,
    TaskAction.RESUME: frozenset({TaskStatus.PAUSED}),
    TaskAction.RETRY: RETRYABLE_TERMINAL,
    TaskAction.CANCEL: UNFINISHED,
    TaskAction.REMOVE: TERMINAL,
    TaskAction.APPROVE: UNFINISHED,
    TaskAction.REJECT: UNFINISHED,
    # the engine asks only for the dead-letter mark
    TaskAction.REQUEUE: frozenset(TaskStatus),
    # a dependent of a task that failed or was cancelled would fail at once
    TaskAction.RUN_AFTER: UNFINISHED | {TaskStatus.COMPLETED},
}

#: How each action reads once done ("3 tasks paused").
DONE_WORDS: dict[TaskAction, str] = {
    TaskAction.PAUSE: "paused",
    TaskAction.RESUME: "resumed",
    TaskAction.RETRY: "queued again",
    TaskAction.CANCEL: "cancelled",
    TaskAction.REMOVE: "removed",
    TaskAction.APPROVE: "approved",
    TaskAction.REJECT: "rejected",
    TaskAction.REQUEUE: "queued again",
    TaskAction.RUN_AFTER: "followed",
}


def statuses_for(action: TaskAction) -> frozenset[TaskStatus]:
    """The statuses `action` applies to (a task in any other status refuses it)."""
    return ACTION_STATUSES[action]


def awaits_approval(task: Task) -> bool:
    """A HUMAN_REQUIRED task nobody has approved yet, still unfinished."""
    return (
        task.permission == Permission.HUMAN_REQUIRED
        and task.approved_at is None
        and task.status not in TERMINAL
    )


def _is_dead_letter(task: Task) -> bool:
    return task.dead_letter


#: What an action asks of a task beyond its status.
_TASK_RULES: dict[TaskAction, Callable[[Task], bool]] = {
    TaskAction.APPROVE: awaits_approval,
    TaskAction.REJECT: awaits_approval,
    TaskAction.REQUEUE: _is_dead_letter,
}


def applies(action: TaskAction, task: Task) -> bool:
    """Whether `action` applies to `task` (its status, and for approval, rejection and
    requeueing its permission or dead-letter mark)."""
    if task.status not in ACTION_STATUSES[action]:
        return False
    rule = _TASK_RULES.get(action)
    return rule is None or rule(task)


def applies_to_all(action: TaskAction, tasks: Iterable[Task]) -> bool:
    """Whether there is at least one task and `action` applies to every one of them (what
    the window asks before it enables an action for a selection)."""
    seen = False
    for task in tasks:
        if not applies(action, task):
            return False
        seen = True
    return seen


def applicable_to_all(tasks: Iterable[Task]) -> frozenset[TaskAction]:
    """The actions that apply to every one of `tasks` (none for no task). One walk over the
    tasks, however many actions: a selection of 100,000 rows stays cheap to re-check."""
    statuses: set[TaskStatus] = set()
    failing: set[TaskAction] = set()
    for task in tasks:
        statuses.add(task.status)
        for action, rule in _TASK_RULES.items():
            if action not in failing and not rule(task):
                failing.add(action)
    if not statuses:
        return frozenset()
    return frozenset(
        action
        for action, allowed in ACTION_STATUSES.items()
        if action not in failing and statuses <= allowed
    )
