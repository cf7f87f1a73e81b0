"""The task list's status choices (the sidebar's and the status filter's) and how many tasks
each holds: `STATUS_FILTERS` says what each choice keeps, `count_tasks()` counts them all, with
the categories and tags, in one pass over the rows."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from qtqueue.core.actions import awaits_approval
from qtqueue.core.task import ACTIVE, TERMINAL, UNFINISHED, Task, TaskStatus

logger = logging.getLogger(__name__)

#: The key of the choice that shows dead letters (failed for good after their retries).
DEAD_LETTERS = "dead_letters"
#: The key of the choice that shows the tasks with an open question.
QUESTIONS = "questions"
#: The key of the choice that shows every task.
ALL = "all"

#: Whether a task belongs to a choice: (task, now, ids of the tasks asking a question).
Matcher = Callable[[Task, float, Collection[str]], bool]


def is_scheduled(task: Task, now: float) -> bool:
    """A waiting task held until a later time (its `run_at` is still to come)."""
    return task.status == TaskStatus.PENDING and task.run_at is not None and task.run_at > now


@dataclass(frozen=True)
class StatusFilter:
    """One status choice: its `key`, its label in the sidebar and in the status filter, its
    icon, what it keeps (`statuses`, or else `test`; neither: every task) and whether the
    sidebar has a row for it."""

    key: str
    label: str
    combo_label: str
    icon: str | None
    statuses: frozenset[TaskStatus] | None = None
    test: Matcher | None = field(default=None, compare=False)
    tooltip: str = ""
    in_sidebar: bool = True

    @property
    def keeps_all(self) -> bool:
        """Whether the choice keeps every task."""
        return self.statuses is None and self.test is None

    def matches(self, task: Task, now: float, asking: Collection[str]) -> bool:
        """Whether `task` belongs to the choice (`asking`: the tasks with an open question)."""
        if self.statuses is not None:
            return task.status in self.statuses
        return self.test is None or self.test(task, now, asking)


STATUS_FILTERS: tuple[StatusFilter, ...] = (
    StatusFilter(ALL, "All", "All tasks", None, tooltip="Every task in the queue"),
    StatusFilter(
        "unfinished",
        "Unfinished",
        "Unfinished",
        None,
        statuses=UNFINISHED,
        tooltip="Not finished yet: waiting, running or paused",
        in_sidebar=False,
    ),
    StatusFilter(
        "running",
        "Running",
        "Running",
        "status-running",
        statuses=ACTIVE,
        tooltip="Being worked on now",
    ),
    StatusFilter(
        "waiting",
        "Waiting",
        "Waiting",
        "status-pending",
        test=lambda t, now, _asking: t.status == TaskStatus.PENDING and not is_scheduled(t, now),
        tooltip="Waiting for a free slot, a dependency, approval or resources",
    ),
    StatusFilter(
        "approval",
        "Awaiting approval",
        "Awaiting approval",
        "approve",
        test=lambda t, _now, _asking: awaits_approval(t),
        tooltip="Waiting until someone approves them",
    ),
    StatusFilter(
        "scheduled",
        "Scheduled",
        "Scheduled",
        "schedule",
        test=lambda t, now, _asking: is_scheduled(t, now),
        tooltip="Waiting for their start time",
    ),
    StatusFilter(
        "paused",
        "Paused",
        "Paused",
        "status-paused",
        statuses=frozenset({TaskStatus.PAUSED}),
        tooltip="Paused by someone; they go on when resumed",
    ),
    StatusFilter(
        "finished",
        "Finished",
        "Finished",
        None,
        statuses=TERMINAL,
        tooltip="Completed, failed, timed out or cancelled",
        in_sidebar=False,
    ),
    StatusFilter(
        "completed",
        "Completed",
        "Completed",
        "status-completed",
        statuses=frozenset({TaskStatus.COMPLETED}),
        tooltip="Finished successfully",
    ),
    StatusFilter(
        "failed",
        "Failed",
        "Failed or timed out",
        "status-failed",
        statuses=frozenset({TaskStatus.FAILED, TaskStatus.TIMEOUT}),
        tooltip="Failed or timed out",
    ),
    StatusFilter(
        "cancelled",
        "Cancelled",
        "Cancelled",
        "status-cancelled",
        statuses=frozenset({TaskStatus.CANCELLED}),
        tooltip="Cancelled by someone",
    ),
    StatusFilter(
        DEAD_LETTERS,
        "Dead letters",
        "Dead letters",
        "dead-letter",
        test=lambda t, _now, _asking: t.dead_letter,
        tooltip="Failed for good after their retries",
    ),
    StatusFilter(
        QUESTIONS,
        "Questions",
        "Questions",
        None,
        test=lambda t, _now, asking: t.id in asking,
        tooltip="Running tasks that wait for your answer",
    ),
)
#: The choices by key.
BY_KEY: dict[str, StatusFilter] = {f.key: f for f in STATUS_FILTERS}


@dataclass
class TaskCounts:
    """How many tasks each status choice (by key), category and tag holds, and when the
    first scheduled task's time comes (None: none waits for one), moving it to Waiting."""

    statuses: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    tags: Counter[str] = field(default_factory=Counter)
    next_due: float | None = None


def count_tasks(
    tasks: Iterable[Task], asking: Collection[str], now: float | None = None
) -> TaskCounts:
    """Count every choice, category and tag in one pass (100,000 tasks: a few tens of ms)."""
    now = time.time() if now is None else now
    by_status: Counter[TaskStatus] = Counter()
    categories: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    scheduled = approval = dead = questions = total = 0
    next_due: float | None = None
    pending = TaskStatus.PENDING
    for t in tasks:
        total += 1
        status = t.status
        by_status[status] += 1
        categories[t.category] += 1
        if t.tags:
            tags.update(t.tags)
        if status == pending and t.run_at is not None and t.run_at > now:
            scheduled += 1
            if next_due is None or t.run_at < next_due:
                next_due = t.run_at
        if t.approved_at is None and awaits_approval(t):
            approval += 1
        if t.dead_letter:
            dead += 1
        if asking and t.id in asking:
            questions += 1
    counts = TaskCounts(categories=categories, tags=tags, next_due=next_due)
    special = {
        ALL: total,
        "waiting": by_status[pending] - scheduled,
        "approval": approval,
        "scheduled": scheduled,
        DEAD_LETTERS: dead,
        QUESTIONS: questions,
    }
    for f in STATUS_FILTERS:
        if f.statuses is not None:
            counts.statuses[f.key] = sum(by_status[x] for x in f.statuses)
        else:
            counts.statuses[f.key] = special[f.key]
    return counts
