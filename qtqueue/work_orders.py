"""The RQ-style design document's work orders, under the document's own names.

`WorkOrderMessage` is the document's message (its "Message Structure" section): what to do
(`task_type`, `title`, `description`, `requirements`), where (`repository_url`, `branch_name`,
`files`, `issue_number`, `pr_number`), how urgent and how watched (`priority`,
`permission_level`), and for how long (`timeout_seconds`, `max_retries`). It is built with
keyword arguments exactly as the document's `test_enqueue_task` builds it; the identity fields
and `created_at`, which the document leaves to the caller, default to fresh UUIDs and now.

`work_order_task(message)` turns one into a qtqueue `Task` of type `work_order` (the
`qtqueue.families.work_order` family runs it: a fresh git worktree of the branch, the
configured agent command in it, the files it changed as the result). What qtqueue's `Task`
already has a field for is that field, not a param, so that one fact lives in one place and
the new-task dialog's own controls edit it: `priority` (critical → URGENT, high → HIGH,
normal → NORMAL, low → LOW), `permission_level` (the same three values as
`Task.permission`), `timeout_seconds` (`timeout_s`), `max_retries` and `retry_count`. The rest
are the task's params (`WORK_ORDER_FIELDS`). `work_order_message(task)` reads one back.

These names are the document's: `TaskType`, `Priority` here are the work order's kinds of work
and its four string priorities, not `qtqueue.TaskType` (task types) nor `qtqueue.Priority`
(the engine's integer priorities).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from qtqueue.core.task import Permission, Task
from qtqueue.core.task import Priority as TaskPriority

logger = logging.getLogger(__name__)

__all__ = [
    "WORK_ORDER_CATEGORY",
    "WORK_ORDER_FIELDS",
    "WORK_ORDER_TYPE",
    "PermissionLevel",
    "Priority",
    "TaskType",
    "WorkOrderMessage",
    "work_order_message",
    "work_order_task",
]

#: The task type that runs a work order (registered by the `work_order` family).
WORK_ORDER_TYPE = "work_order"
#: The category work-order tasks get (per-category concurrency limits key on it).
WORK_ORDER_CATEGORY = "work_order"


class TaskType(StrEnum):
    """The kind of work a work order asks for (the document's `TaskType`)."""

    FEATURE = "feature"
    BUGFIX = "bugfix"
    TEST = "test"
    DOCS = "docs"
    REFACTOR = "refactor"
    REVIEW = "review"


class PermissionLevel(StrEnum):
    """How much a person watches the work: the values of `qtqueue.core.task.Permission`."""

    AUTONOMOUS = "autonomous"
    """It runs unattended."""
    SUPERVISED = "supervised"
    """It runs, and a notice says it started."""
    HUMAN_REQUIRED = "human_required"
    """It waits until a person approves it."""


class Priority(StrEnum):
    """A work order's priority as the document spells it; `task_priority` maps it."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def task_priority(self) -> TaskPriority:
        """The engine's priority: critical → URGENT, high → HIGH, normal → NORMAL, low → LOW."""
        return _TASK_PRIORITY[self]


_TASK_PRIORITY = {
    Priority.LOW: TaskPriority.LOW,
    Priority.NORMAL: TaskPriority.NORMAL,
    Priority.HIGH: TaskPriority.HIGH,
    Priority.CRITICAL: TaskPriority.URGENT,
}
_WORK_PRIORITY = {v: k for k, v in _TASK_PRIORITY.items()}


def _new_id() -> str:
    return str(uuid.uuid4())


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(kw_only=True)
class WorkOrderMessage:
    """Work order message structure (the document's dataclass; keyword arguments only)."""

    # Identity
    id: str = field(default_factory=_new_id)
    """This message's UUID."""
    task_id: str = field(default_factory=_new_id)
    """The task's id in the sender's system (qtqueue gives the task its own UUID)."""
    work_order_id: str = field(default_factory=_new_id)
    """The work order's id: kept in the task's params, shown and searchable."""

    # Classification
    task_type: TaskType
    """The kind of work (feature, bugfix, test, docs, refactor, review)."""
    permission_level: PermissionLevel
    """Unattended, supervised (a notice) or waiting for a person's approval."""
    priority: Priority
    """low, normal, high, critical."""

    # Context
    repository_url: str
    """A local repository path or an unauthenticated URL (file://, http(s)://, ssh://, git://)."""
    branch_name: str
    """The branch (or tag, or commit) the work starts from."""
    issue_number: int | None = None
    pr_number: int | None = None
    files: list[str] = field(default_factory=list)
    """Files the work is about (paths in the repository)."""

    # Instructions
    title: str
    description: str
    requirements: list[str] = field(default_factory=list)

    # Metadata
    created_at: datetime = field(default_factory=_now)
    timeout_seconds: int = 3600
    """Seconds of running time before the work order times out (0: no limit)."""
    max_retries: int = 3
    retry_count: int = 0

    # Additional data
    payload: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Serialize to a JSON-ready dictionary (the document's keys and value forms)."""
        return {
            "id": self.id,
            "task_id": self.task_id,
            "work_order_id": self.work_order_id,
            "task_type": TaskType(self.task_type).value,
            "permission_level": PermissionLevel(self.permission_level).value,
            "priority": Priority(self.priority).value,
            "repository_url": self.repository_url,
            "branch_name": self.branch_name,
            "issue_number": self.issue_number,
            "pr_number": self.pr_number,
            "files": list(self.files),
            "title": self.title,
            "description": self.description,
            "requirements": list(self.requirements),
            "created_at": self.created_at.isoformat(),
            "timeout_seconds": self.timeout_seconds,
            "max_retries": self.max_retries,
            "retry_count": self.retry_count,
            "payload": dict(self.payload),
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkOrderMessage:
        """The message `to_dict` wrote (enums from their values, `created_at` from ISO 8601);
        keys it does not know are an error (ValueError), missing optional ones take their
        defaults."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown work order fields: {', '.join(sorted(unknown))}")
        values = dict(data)
        values["task_type"] = TaskType(values["task_type"])
        values["permission_level"] = PermissionLevel(values["permission_level"])
        values["priority"] = Priority(values["priority"])
        created = values.get("created_at")
        if isinstance(created, str):
            values["created_at"] = datetime.fromisoformat(created)
        for key in ("files", "requirements"):
            if key in values:
                values[key] = list(values[key] or [])
        for key in ("payload", "metadata"):
            if key in values:
                values[key] = dict(values[key] or {})
        return cls(**values)


#: The message fields that are the `work_order` task's params (the rest are `Task` fields, or
#: identity the task has its own of); `work_order_id` is kept as the caller's reference.
WORK_ORDER_FIELDS = (
    "task_type",
    "title",
    "description",
    "repository_url",
    "branch_name",
    "requirements",
    "files",
    "issue_number",
    "pr_number",
    "work_order_id",
    "payload",
    "metadata",
)


def work_order_task(message: WorkOrderMessage, **fields: Any) -> Task:
    """A `work_order` task for `message` (see the module docstring for what maps where);
    `fields` are further `Task` fields (name, tags, depends_on, resources…)."""
    data = message.to_dict()
    params = {key: data[key] for key in WORK_ORDER_FIELDS}
    fields.setdefault("category", WORK_ORDER_CATEGORY)
    return Task(
        WORK_ORDER_TYPE,
        params,
        priority=Priority(message.priority).task_priority,
        permission=Permission(PermissionLevel(message.permission_level).value),
        # Explicit, as the message is: 0 is no time limit (None would be the queue's default).
        timeout_s=float(message.timeout_seconds),
        max_retries=message.max_retries,
        **fields,
    )


def work_order_message(task: Task) -> WorkOrderMessage:
    """The work order a `work_order` task carries, read back (its id and task id are the
    task's; `work_order_id` the one it was added with, else the task's id)."""
    if task.task_type != WORK_ORDER_TYPE:
        raise ValueError(f"task {task.id} is a {task.task_type}, not a {WORK_ORDER_TYPE}")
    p = task.params
    return WorkOrderMessage(
        id=task.id,
        task_id=task.id,
        work_order_id=p.get("work_order_id") or task.id,
        task_type=TaskType(p.get("task_type", TaskType.FEATURE)),
        permission_level=PermissionLevel(Permission(task.permission).value),
        priority=_WORK_PRIORITY[TaskPriority(task.priority)],
        repository_url=p["repository_url"],
        branch_name=p["branch_name"],
        issue_number=p.get("issue_number"),
        pr_number=p.get("pr_number"),
        files=list(p.get("files") or []),
        title=p["title"],
        description=p["description"],
        requirements=list(p.get("requirements") or []),
        created_at=datetime.fromtimestamp(task.created_at, UTC),
        timeout_seconds=round(task.timeout_s or 0),
        max_retries=task.max_retries or 0,
        retry_count=task.retry_count,
        payload=dict(p.get("payload") or {}),
        metadata=dict(p.get("metadata") or {}),
    )
