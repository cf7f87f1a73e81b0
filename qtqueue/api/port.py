"""The engine port: what the window (and any other face) needs of an engine, as one protocol.

Two implementations fit it: `TaskQueue` itself (the engine in this process) and
`qtqueue.api.remote_engine.RemoteEngine` (an engine of another process, over the local API).
The window types against `EnginePort` only and cannot tell which it has, except through
`owns_engine` and `engine_pid`, which it shows. Reads that the window makes synchronously
(`queue_paused`, `list_queues`, `schedules.list_schedules`, `overview.start_checks`) are
answered from memory: the engine's own state in process, a cache kept by the event stream
remotely. No Qt here.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from qtqueue.core.overview import StartChecks
from qtqueue.core.question import Question
from qtqueue.core.queue_moves import MovePlace
from qtqueue.core.task import Priority, Task, TaskStatus, TaskType
from qtqueue.engine.events import Subscriber
from qtqueue.engine.runner import ShutdownPolicy
from qtqueue.engine.schedule_rules import MissedPolicy, Schedule
from qtqueue.executors import ExecutorRegistry
from qtqueue.settings import Settings

__all__ = [
    "ENGINE_BACK",
    "ENGINE_LOST",
    "EnginePort",
    "EngineSettingsPort",
    "OverviewPort",
    "QuestionsPort",
    "SchedulesPort",
]

#: The detail of the QUEUE event an attached port publishes when its engine stopped answering.
ENGINE_LOST = "engine-lost"
#: ... and when an engine answers again (the state was read anew and published first).
ENGINE_BACK = "engine-back"


class QuestionsPort(Protocol):
    """What running tasks ask, and the answers (`TaskQueue.questions` fits)."""

    async def list(
        self, *, open_only: bool = True, task_id: str | None = None
    ) -> builtins.list[Question]:
        """The questions, oldest first."""
        ...

    async def answer(
        self,
        question_id: str,
        message: str,
        *,
        response_type: str = "answer",
        instructions: Sequence[str] = (),
        generated_by: str = "human",
        responder_id: str | None = None,
    ) -> Question:
        """Answer an open question; returns it as answered."""
        ...


class OverviewPort(Protocol):
    """Why pending tasks wait (`TaskQueue.overview` fits)."""

    def start_checks(self, task_id: str) -> StartChecks | None:
        """The start checks that held the pending task back, None if none did."""
        ...


class SchedulesPort(Protocol):
    """Recurring tasks (`TaskQueue.schedules`, a `ScheduleManager`, fits)."""

    def list_schedules(self) -> list[Schedule]:
        """Every schedule, oldest first."""
        ...

    async def add_schedule(
        self,
        template: Mapping[str, Any] | Task,
        *,
        every: str | float | None = None,
        cron: str | None = None,
        name: str = "",
        timezone: str | None = None,
        missed: MissedPolicy | str = MissedPolicy.RUN_ONCE,
        paused: bool = False,
    ) -> Schedule:
        """Create a schedule."""
        ...

    async def update_schedule(self, ref: str, **changes: Any) -> Schedule:
        """Change the given fields of a schedule."""
        ...

    async def pause_schedule(self, ref: str) -> Schedule:
        """Stop adding tasks until resumed."""
        ...

    async def resume_schedule(self, ref: str) -> Schedule:
        """Add tasks again from the next due time."""
        ...

    async def delete_schedule(self, ref: str) -> str:
        """Delete a schedule; returns its id."""
        ...

    async def run_now(self, ref: str) -> str:
        """Add the schedule's task now; returns the task's id."""
        ...


class EnginePort(Protocol):
    """One engine, as the window sees it: tasks, the queue, questions, schedules, events.

    Every coroutine raises QueueError with a code for what the engine refuses (and
    QUEUE_ENGINE_UNAVAILABLE when a remote engine has gone away).
    """

    #: The data directory the engine works on.
    data_dir: Path
    #: Task types for the window's forms: code, loaded where the window runs.
    registry: ExecutorRegistry
    #: How the engine closes running tasks when it stops (the window's quit question).
    shutdown_policy: ShutdownPolicy

    @property
    def owns_engine(self) -> bool:
        """True where this process runs the engine; False when attached to another's."""
        ...

    @property
    def engine_pid(self) -> int:
        """The process id of the engine."""
        ...

    @property
    def questions(self) -> QuestionsPort:
        """What running tasks ask."""
        ...

    @property
    def overview(self) -> OverviewPort:
        """Why pending tasks wait."""
        ...

    @property
    def schedules(self) -> SchedulesPort:
        """Recurring tasks."""
        ...

    @property
    def queue_paused(self) -> bool:
        """Whether the queue starts nothing new."""
        ...

    def list_queues(self) -> list[dict[str, Any]]:
        """Every named queue with its settings and counts."""
        ...

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Deliver every committed change to `fn` (lists of `TaskEvent`); returns the
        function that stops it."""
        ...

    async def add_task(self, task: Task) -> str:
        """Add a task; returns its id."""
        ...

    async def add_tasks(self, tasks: Iterable[Task]) -> list[str]:
        """Validate all, then add all (all or none); returns their ids."""
        ...

    async def get_task(self, task_id: str) -> Task:
        """One task as it is now."""
        ...

    async def list_tasks(
        self,
        status: TaskStatus | str | Iterable[TaskStatus | str] | None = None,
        *,
        category: str | None = None,
        tag: str | None = None,
        task_type: TaskType | str | None = None,
        dead_letter: bool | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[Task]:
        """Tasks matching the filters, oldest first."""
        ...

    async def pause_task(self, task_id: str) -> Task:
        """Pause a running or pending task."""
        ...

    async def resume_task(self, task_id: str) -> Task:
        """Resume a paused task."""
        ...

    async def cancel_task(self, task_id: str) -> Task:
        """Cancel a task."""
        ...

    async def retry_task(self, task_id: str) -> Task:
        """Run a finished task again."""
        ...

    async def remove_task(self, task_id: str) -> None:
        """Delete a finished task."""
        ...

    async def approve_task(self, task_id: str) -> Task:
        """Approve a task that awaits approval."""
        ...

    async def reject_task(self, task_id: str, reason: str = "") -> Task:
        """Reject a task that awaits approval."""
        ...

    async def send_input(self, task_id: str, text: str | bytes, *, eof: bool = False) -> None:
        """Write to a running interactive command's stdin."""
        ...

    async def move_task(
        self, task_id: str, place: MovePlace | str, before: str | None = None
    ) -> Task:
        """Move a waiting task to the top/up/down/bottom of its queue, or before another."""
        ...

    async def set_priority(self, task_id: str, priority: Priority | int | str) -> Task:
        """Give a waiting task another priority."""
        ...

    async def update_task(self, task_id: str, edited: Task) -> Task:
        """Edit a waiting task (same id), validated as a new task is."""
        ...

    async def requeue_dead_letters(self, ids: Iterable[str] | None = None) -> list[str]:
        """Retry dead letters (all when `ids` is None); returns the ids retried."""
        ...

    async def purge_dead_letters(self, ids: Iterable[str] | None = None) -> list[str]:
        """Delete dead letters (all when `ids` is None); returns the ids deleted."""
        ...

    async def pause_queue(self) -> None:
        """Start nothing new."""
        ...

    async def resume_queue(self) -> None:
        """Start dispatching again."""
        ...

    async def get_queue_stats(self) -> dict[str, Any]:
        """The statistics (`stats` action's reply)."""
        ...

    async def get_history(
        self, since_s: float = 86400, bucket_s: float | None = None
    ) -> dict[str, Any]:
        """Activity over the last `since_s` seconds in buckets."""
        ...

    async def read_log(self, task_id: str, tail_bytes: int | None = None) -> str:
        """A task's retained log (or its last `tail_bytes`)."""
        ...

    def follow_log(self, task_id: str) -> AsyncIterator[str]:
        """The task's log as it grows, until the task is finished."""
        ...


class EngineSettingsPort(Protocol):
    """The engine's settings as the settings dialog reads and changes them. In process:
    `qtqueue.api.local_settings.LocalSettings`; attached: `RemoteEngine.settings` (the
    `config_get` / `config_set` actions)."""

    def current(self) -> Settings:
        """Every setting as the engine uses it now (attached: as last read from it)."""
        ...

    async def change(self, edited: Settings) -> None:
        """Save the fields set in `edited` and apply them to the running engine at once (a
        field saved and not edited here keeps its value)."""
        ...
