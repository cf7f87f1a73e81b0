"""The storage contract the engine writes through. Backend-neutral: no SQL leaks out of here.

A store is the single source of truth. The engine keeps a live index of unfinished tasks in
memory and sends the store batches of changes; a batch is applied atomically and is durable when
`apply` returns. Reads return fresh `Task` objects the caller may keep.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from qtqueue.core.task import Task, TaskStatus


@dataclass(slots=True, frozen=True)
class Transition:
    """One status change of one task, kept for statistics and audit."""

    task_id: str
    at: float
    from_status: TaskStatus | None
    to_status: TaskStatus
    task_type: str
    error_code: str | None = None
    duration_s: float | None = None


@dataclass(slots=True)
class WriteBatch:
    """Changes applied in one transaction: all of them become durable together, or none."""

    inserts: list[Task] = field(default_factory=list)
    updates: list[Task] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.inserts or self.updates or self.deletes or self.transitions)


@dataclass(slots=True, frozen=True)
class TaskFilter:
    """Which tasks a listing returns. Empty fields do not filter."""

    statuses: Sequence[TaskStatus] = ()
    category: str | None = None
    tag: str | None = None
    task_type: str | None = None
    dead_letter: bool | None = None
    error_code: str | None = None
    queue: str | None = None
    ids: Sequence[str] = ()
    limit: int | None = None
    offset: int = 0
    newest_first: bool = False
    #: A key of `rows.ORDERS` ("priority", "-created_at"…); None: by `newest_first`.
    order: str | None = None


class ScheduleStore(Protocol):
    """Where schedules persist, as plain records keyed by `storage.schedules.SCHEDULE_COLUMNS`
    (`template` a JSON-ready dict, `paused` a bool, times UNIX seconds). Contracts every
    backend keeps:

    - every write is atomic and durable on return;
    - `load_schedules` returns every schedule, oldest first (by created_at, then id); a record
      whose template cannot be read has `template` None and an `unreadable` key saying why;
    - `delete_schedule` of an unknown id returns False; it never raises for a missing row.
    """

    async def load_schedules(self) -> list[dict[str, Any]]:
        """Every schedule as a record."""

    async def save_schedule(self, record: Mapping[str, Any]) -> None:
        """Insert the schedule, or replace the one with its id."""

    async def delete_schedule(self, schedule_id: str) -> bool:
        """Delete the schedule; whether it existed."""


class QuestionStore(Protocol):
    """Where the questions tasks ask persist, as plain records keyed by
    `storage.questions.QUESTION_COLUMNS` (`Question.to_dict()`). Every write is atomic and
    durable on return; `get_question` of an unknown id returns None; listings are oldest first
    (by created_at, then id)."""

    async def save_question(self, record: Mapping[str, Any]) -> None:
        """Insert the question, or replace the one with its id."""

    async def get_question(self, question_id: str) -> dict[str, Any] | None:
        """The question with that id, or None."""

    async def list_questions(
        self, *, open_only: bool = False, task_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Questions, oldest first (only open ones, only one task's)."""

    async def question_ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        """Up to `limit` question ids that start with `prefix`, in id order."""

    async def close_open_questions(self, status: str, at: float) -> list[dict[str, Any]]:
        """Close every open question as `status`; the records as closed."""


class TaskStore(ScheduleStore, QuestionStore, Protocol):
    """Persistent tasks and their transitions (and, beside them, the schedules).

    Contracts every backend keeps:
    - `apply` is atomic and durable on return; an empty batch is a no-op.
    - `get_task` of an unknown id returns None; it never raises for a missing row.
    - `list_tasks` orders by (created_at, seq) unless `newest_first`.
    - `load_unfinished` returns every task whose status is not terminal, in queue order.
    """

    async def open(self) -> None:
        """Create or migrate the schema; raise QueueError(QUEUE_STORE_CORRUPT) on a bad file."""

    async def close(self) -> None:
        """Flush and release the backend. Idempotent."""

    async def apply(self, batch: WriteBatch) -> None:
        """Apply inserts, updates, deletes and transitions in one durable transaction."""

    async def update_definition(self, task: Task) -> None:
        """Durably write what a person edited of a waiting task (all but its id, creation
        and state); its state changes go through `apply`."""

    async def get_task(self, task_id: str) -> Task | None:
        """The task with that id, or None."""

    async def list_tasks(self, flt: TaskFilter | None = None) -> list[Task]:
        """Tasks matching the filter."""

    async def count_tasks(self, flt: TaskFilter | None = None) -> int:
        """How many tasks match the filter."""

    async def load_unfinished(self) -> list[Task]:
        """Every non-terminal task, for the engine's live index at start."""

    async def max_seq(self) -> int:
        """The highest queue sequence number in use (0 for an empty store)."""

    async def finished_before(
        self,
        cutoff: float,
        queue: str | None = None,
        statuses: Collection[TaskStatus] | None = None,
    ) -> list[str]:
        """Ids of terminal tasks completed before `cutoff` (UNIX seconds), dead letters
        excepted (they stay until cleared by hand); only those of the named queue if `queue`
        is given, only those in `statuses` (terminal ones) if given."""

    async def stats(self, now: float) -> dict[str, Any]:
        """Distributions, performance, retries and recent activity (see get_queue_stats)."""

    async def history(
        self, since: float, bucket_s: float, *, until: float | None = None
    ) -> dict[str, Any]:
        """Outcomes, throughput and queue depth per time bucket from `since`, and duration
        percentiles per task type (see `SqliteTaskStore.history` for the exact figures)."""

    async def get_meta(self, key: str) -> str | None:
        """A small persisted engine setting (e.g. whether the queue is paused), or None."""

    async def set_meta(self, key: str, value: str) -> None:
        """Persist a small engine setting (durable on return)."""

    async def existing_ids(self, ids: list[str]) -> set[str]:
        """Which of `ids` are already stored."""

    async def ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        """Up to `limit` stored ids that start with `prefix`, in id order; found through the
        id index, not by reading every task."""

    async def transitions(self, task_id: str) -> list[Transition]:
        """The status history of one task, oldest first."""

    async def restore_transitions(self) -> int:
        """Add, for every task whose latest transition does not end in its stored status, the
        transition to that status (at its updated_at); how many were added. Transitions are
        written a little after the state they describe, so a crash can lose the last ones."""
