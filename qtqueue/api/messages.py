"""The API's replies as typed messages: each action builds one of these, and `dump()` gives the
JSON-ready dict that goes on the wire.

The wire format does not change with them: a message dumps its fields in the order declared
here (the order the replies always had), leaves out an optional part nobody asked for (a field
left unset), and carries a task as `Task.to_dict()` makes it. The light client and the window
keep reading plain JSON; the engine side says in one place what each reply holds.

Task dicts, statistics, queue rows, schedule templates and settings values are carried without
re-validating them (`SkipValidation`): the engine made them, and a list of 100,000 tasks costs
nothing more than before.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SkipValidation

from qtqueue.core.errors import QueueError

if TYPE_CHECKING:
    from qtqueue.engine.schedule_rules import Schedule
    from qtqueue.settings import Settings

logger = logging.getLogger(__name__)

__all__ = [
    "CleanupDone",
    "ErrorMessage",
    "ErrorReply",
    "InputSent",
    "LogText",
    "Message",
    "OkReply",
    "QueueList",
    "QueueMessage",
    "QueuePaused",
    "QueueStatus",
    "ScheduleList",
    "ScheduleMessage",
    "ScheduleRecord",
    "ScheduleRemoved",
    "SettingsReply",
    "Stats",
    "StatsSummary",
    "TaskBrief",
    "TaskId",
    "TaskIds",
    "TaskList",
    "TaskMessage",
    "TaskRemoved",
    "TaskStatusReply",
    "TaskSummary",
    "TaskType",
    "TaskTypes",
    "Transition",
]

#: A task as `Task.to_dict()` makes it (JSON-ready; read back with `Task.from_dict`).
TaskDict = SkipValidation[dict[str, Any]]
#: A number carried as the engine gave it (an int stays an int on the wire).
Number = SkipValidation[float]


class Message(BaseModel):
    """Base of every reply: unknown fields refused; `dump()` is what goes on the wire."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def dump(self) -> dict[str, Any]:
        """The JSON-ready dict: declared order, optional parts only where set."""
        return self.model_dump(exclude_unset=True, by_alias=True)


# --------------------------------------------------------------------------- envelopes


class ErrorMessage(Message):
    """A coded error as `QueueError.to_dict()` gives it (`QueueError.from_dict` reads it)."""

    code: str
    message: str
    description: str
    suggestion: str
    retryable: bool
    details: SkipValidation[dict[str, Any]]

    @classmethod
    def of(cls, error: QueueError) -> ErrorMessage:
        """The message for `error`."""
        return cls(**error.to_dict())


class OkReply(Message):
    """`{"ok": true, "result": ...}`: an action's result."""

    ok: Literal[True]
    result: SkipValidation[dict[str, Any]]


class ErrorReply(Message):
    """`{"ok": false, "error": ...}`: why an action was refused or failed."""

    ok: Literal[False]
    error: ErrorMessage


# --------------------------------------------------------------------------- tasks


class TaskMessage(Message):
    """One task's full state (after an action, or as read)."""

    task: TaskDict


class TaskList(Message):
    """Tasks (full dicts) and how many."""

    tasks: list[TaskDict]
    count: int
    total: int | None = None
    """How many match the filters, limit and offset aside (when asked: `with_total`)."""


class TaskId(Message):
    """A task's full id (added, or resolved from a prefix)."""

    id: str


class TaskIds(Message):
    """Several tasks' ids (added at once, requeued, purged)."""

    ids: list[str]


class TaskRemoved(Message):
    """A task deleted for good."""

    task_id: str
    removed: Literal[True]


class LogText(Message):
    """A task's retained log, or its tail."""

    task_id: str
    log: str


class InputSent(Message):
    """Input written to a running command's stdin."""

    task_id: str
    sent: int = Field(alias="bytes")


class TaskBrief(Message):
    """The few fields a status overview shows of one task (and its log tail, if asked)."""

    id: str
    name: str
    type: str
    status: str
    progress: Number
    current_step: str
    log_tail: str | None = None


class Transition(Message):
    """One status change in a task's history."""

    at: Number
    from_status: str | None
    to_status: str
    error_code: str | None
    duration_s: Number | None


class SummaryProgress(Message):
    """How far a task is."""

    percent: Number
    current_step: str


class SummaryTiming(Message):
    """When a task was created, started and finished; how long it ran and waited."""

    created_at: Number
    started_at: Number | None
    completed_at: Number | None
    duration_seconds: Number | None
    waiting_seconds: Number


class SummaryError(Message):
    """A task's error with its code's description and suggested fix."""

    code: str
    message: SkipValidation[str | None]
    description: str
    suggestion: str
    retryable: bool
    details: SkipValidation[dict[str, Any]]


class SummaryRetry(Message):
    """A task's retries: how many, how many allowed, whether it can be retried now."""

    count: int
    max_retries: int
    can_retry: bool
    dead_letter: bool
    retry_on: SkipValidation[list[str]]
    no_retry_on: SkipValidation[list[str]]
    next_attempt_at: Number | None


class TaskSummary(Message):
    """What a person asks about one task (`views.task_summary`)."""

    id: str
    name: str
    type: str
    category: str
    tags: SkipValidation[list[str]]
    priority: str
    status: str
    progress: SummaryProgress
    timing: SummaryTiming
    error: SummaryError | None
    retry: SummaryRetry
    wait_reason: str
    suspended: bool
    holds_slot: bool
    queue: str
    depends_on: SkipValidation[list[str]]
    allow_dependency_failure: bool
    permission: str
    approved_at: Number | None
    resources: SkipValidation[dict[str, Any]]
    expires_at: Number | None
    result: SkipValidation[dict[str, Any] | None]


class TaskStatusReply(TaskSummary):
    """`queue_task_status`: the summary; `detailed` adds the full task and its status
    history, `include_logs` the log tail."""

    task: TaskDict | None = None
    transitions: list[Transition] | None = None
    log_tail: str | None = None


# --------------------------------------------------------------------------- the queue


class StatsSummary(Message):
    """The engine's figures at the head of the statistics."""

    model_config = ConfigDict(extra="allow")

    total_tasks: int
    max_concurrent_tasks: int
    running_tasks: int
    queue_size: int
    queue_paused: bool
    dead_letters: int


class Stats(Message):
    """`TaskQueue.get_queue_stats`: summary, distributions, performance, retries, activity
    (a figure the store adds later follows them)."""

    model_config = ConfigDict(extra="allow")

    summary: StatsSummary
    status_distribution: SkipValidation[dict[str, int]]
    type_distribution: SkipValidation[dict[str, int]]
    error_distribution: SkipValidation[dict[str, int]]
    performance: SkipValidation[dict[str, Any]]
    retry_statistics: SkipValidation[dict[str, Any]]
    recent_activity: SkipValidation[dict[str, Any]]


class QueueStatus(Message):
    """The overview: summary, status distribution, the tasks running now; `detailed` adds the
    whole statistics and every unfinished task."""

    summary: StatsSummary
    status_distribution: SkipValidation[dict[str, int]]
    running: list[TaskBrief]
    stats: Stats | None = None
    unfinished: list[TaskDict] | None = None


class QueuePaused(Message):
    """Whether the queue starts nothing new."""

    queue_paused: bool


class QueueList(Message):
    """The named queues in drain order, each with its settings and running/waiting counts."""

    queues: list[SkipValidation[dict[str, Any]]]


class QueueMessage(Message):
    """One named queue as `QueueList` shows it."""

    queue: SkipValidation[dict[str, Any]]


class CleanupDone(Message):
    """How many finished tasks were deleted."""

    removed: int


class TaskType(Message):
    """One task type: its family, whether it can run here, its summary and params schema."""

    name: str
    family: str
    available: bool
    summary: str
    params_schema: SkipValidation[dict[str, Any] | None]


class TaskTypes(Message):
    """Every task type (or the one asked for)."""

    types: list[TaskType]


# --------------------------------------------------------------------------- schedules


class ScheduleRecord(Message):
    """One schedule as `Schedule.to_dict()` makes it: every field, enums as their values."""

    name: str
    template: SkipValidation[dict[str, Any]]
    kind: str
    cron: str | None
    interval_s: Number | None
    timezone: str | None
    missed: str
    paused: bool
    next_run_at: Number | None
    last_run_at: Number | None
    last_task_id: str | None
    last_error: str | None
    occurrences: int
    id: str
    created_at: Number
    updated_at: Number

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleRecord:
        """The record of `schedule`."""
        return cls(**schedule.to_dict())


class ScheduleMessage(Message):
    """One schedule after an action, or as read; `run_now` adds the task it added."""

    schedule: ScheduleRecord
    task_id: str | None = None


class ScheduleList(Message):
    """Every schedule, oldest first, and how many."""

    schedules: list[ScheduleRecord]
    count: int


class ScheduleRemoved(Message):
    """A schedule deleted for good (its full id)."""

    schedule_id: str
    removed: Literal[True]


# --------------------------------------------------------------------------- settings


class SettingsReply(Message):
    """`config_get` / `config_set`: every field of `EngineSettings` and of each family's
    settings model (by family name, sorted), as the engine uses them now (JSON values)."""

    engine: SkipValidation[dict[str, Any]]
    families: SkipValidation[dict[str, dict[str, Any]]]

    @classmethod
    def of(cls, settings: Settings) -> SettingsReply:
        """The reply for `settings` (`Settings.to_dict()`)."""
        return cls(**settings.to_dict())
