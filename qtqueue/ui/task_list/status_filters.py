"""The task list's status choices (the sidebar's and the status filter's) and how many tasks
each holds: `STATUS_FILTERS` says what each choice keeps, `count_tasks()` counts them all, with
the categories and tags, in one pass over the rows."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from itertools import chain

from qtqueue.core.actions import awaits_approval
from qtqueue.core.task import ACTIVE, TERMINAL, UNFINISHED, Permission, Task, TaskStatus

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


_PENDING = TaskStatus.PENDING

#: The choices with a status set that holds each status (a task in it counts there).
_STATUS_KEYS: dict[TaskStatus, tuple[str, ...]] = {
    status: (ALL, *(f.key for f in STATUS_FILTERS if f.statuses and status in f.statuses))
    for status in TaskStatus
}


def choice_keys(task: Task, now: float, asking: Collection[str]) -> tuple[str, ...]:
    """The keys of every status choice that holds `task` ("all" included)."""
    status = task.status
    keys = _STATUS_KEYS[status]
    extra: list[str] = []
    if status is _PENDING:
        run_at = task.run_at
        extra.append("scheduled" if run_at is not None and run_at > now else "waiting")
    if (
        task.permission is Permission.HUMAN_REQUIRED
        and task.approved_at is None
        and status not in TERMINAL
    ):
        extra.append("approval")
    if task.dead_letter:
        extra.append(DEAD_LETTERS)
    if asking and task.id in asking:
        extra.append(QUESTIONS)
    return (*keys, *extra) if extra else keys


class LiveCounts:
    """`TaskCounts` kept current task by task: what each task added is remembered, so a
    changed or removed task costs only its own share (100,000 tasks, one changed: no pass
    over the rest). `asking` are the tasks with an open question."""

    def __init__(self) -> None:
        self.counts = TaskCounts()
        self._asking: frozenset[str] = frozenset()
        # What each task added: its choices, category and tags.
        self._added: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {}
        self._due: dict[str, float] = {}  # scheduled tasks: their start time

    def reset(
        self, tasks: Iterable[Task], asking: Collection[str] = (), now: float | None = None
    ) -> None:
        """Count `tasks` anew (one pass; the tasks sharing their choices are counted as one)."""
        now = time.time() if now is None else now
        self._asking = asking = frozenset(asking)
        self._added = added = {}
        self._due = due = {}
        by_keys: Counter[tuple[str, ...]] = Counter()
        for t in tasks:
            keys = choice_keys(t, now, asking)
            added[t.id] = (keys, t.category, tuple(t.tags) if t.tags else ())
            by_keys[keys] += 1
            if t.run_at is not None and t.run_at > now and t.status is _PENDING:
                due[t.id] = t.run_at
        statuses: Counter[str] = Counter()
        for keys, n in by_keys.items():
            for key in keys:
                statuses[key] += n
        self.counts = TaskCounts(
            statuses,
            Counter(category for _keys, category, _tags in added.values()),
            Counter(chain.from_iterable(tags for _keys, _category, tags in added.values())),
            min(due.values()) if due else None,
        )

    def update(self, tasks: Iterable[Task], now: float | None = None) -> None:
        """Count these snapshots in place of what their tasks counted before (new ones too)."""
        now = time.time() if now is None else now
        counts, added, due, asking = self.counts, self._added, self._due, self._asking
        for t in tasks:
            if t.id in added:
                self._drop(t.id)
            keys = choice_keys(t, now, asking)
            tags = tuple(t.tags) if t.tags else ()
            added[t.id] = (keys, t.category, tags)
            counts.statuses.update(keys)
            counts.categories[t.category] += 1
            if tags:
                counts.tags.update(tags)
            if t.run_at is not None and t.run_at > now and t.status is _PENDING:
                due[t.id] = t.run_at
        counts.next_due = min(due.values()) if due else None

    def remove(self, task_ids: Iterable[str]) -> None:
        """Forget what these tasks counted."""
        for task_id in task_ids:
            self._drop(task_id)
        self.counts.next_due = min(self._due.values()) if self._due else None

    def set_asking(self, asking: Collection[str], task_by_id: Callable[[str], Task | None]) -> None:
        """The tasks with an open question changed: count those that came or went again."""
        new = frozenset(asking)
        moved = self._asking ^ new
        self._asking = new
        self.update(t for t in map(task_by_id, moved) if t is not None)

    def due_now(self, task_by_id: Callable[[str], Task | None], now: float | None = None) -> None:
        """Count the scheduled tasks whose time came as waiting."""
        now = time.time() if now is None else now
        came = [i for i, at in self._due.items() if at <= now]
        self.update((t for t in map(task_by_id, came) if t is not None), now)

    def _drop(self, task_id: str) -> None:
        entry = self._added.pop(task_id, None)
        self._due.pop(task_id, None)
        if entry is None:
            return
        keys, category, tags = entry
        counts = self.counts
        counts.statuses.subtract(keys)
        counts.categories[category] -= 1
        if tags:
            counts.tags.subtract(tags)


def count_tasks(
    tasks: Iterable[Task], asking: Collection[str], now: float | None = None
) -> TaskCounts:
    """Count every choice, category and tag in one pass over `tasks`."""
    live = LiveCounts()
    live.reset(tasks, asking, now)
    return live.counts
