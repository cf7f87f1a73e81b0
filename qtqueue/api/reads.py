"""The API's reads: the queue's overview and statistics, tasks and their logs, task types.

None changes anything. Each parses its params with its model and replies with a typed message
(`qtqueue.api.messages`), dumped as the JSON the wire has always carried.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import Field, field_validator

from qtqueue.api.messages import (
    LogText,
    QueueStatus,
    Stats,
    TaskBrief,
    TaskId,
    TaskMessage,
    TaskType,
    TaskTypes,
    Transition,
)
from qtqueue.api.params import NoParams, Params, parse_params
from qtqueue.api.task_ids import TaskRef, resolve_task_id
from qtqueue.api.views import summary_message
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.log_streams import strip_marks
from qtqueue.core.task import (
    ACTIVE,
    UNFINISHED,
    Task,
    TaskStatus,
    documented_task_type,
    parse_task_type,
)
from qtqueue.core.task import TaskType as DocumentedType
from qtqueue.engine.queue import TaskQueue
from qtqueue.storage.rows import ORDERS

logger = logging.getLogger(__name__)

#: How much of each log `include_logs` returns when the request does not say.
DEFAULT_LOG_TAIL_BYTES = 2048
_MAX_LOG_TAIL_BYTES = 1024 * 1024
_MAX_ROWS = 1_000_000_000


class _LogOptions(Params):
    include_logs: bool = False
    log_tail_bytes: int = Field(DEFAULT_LOG_TAIL_BYTES, ge=0, le=_MAX_LOG_TAIL_BYTES)


class QueueStatusParams(_LogOptions):
    """`queue_status`: detailed adds the full statistics and the unfinished tasks."""

    detailed: bool = False


class TaskStatusParams(TaskRef, _LogOptions):
    """`queue_task_status`: detailed adds the full task and its status transitions."""

    detailed: bool = False


class ListTasksParams(Params):
    """`list_tasks`: every filter is optional; tasks come oldest first unless newest_first."""

    status: list[TaskStatus] | None = None
    category: str | None = None
    tag: str | None = None
    type: str | None = None
    dead_letter: bool | None = None
    limit: int | None = Field(None, ge=0, le=_MAX_ROWS)
    offset: int = Field(0, ge=0, le=_MAX_ROWS)
    newest_first: bool = False
    queue: str | None = None
    sort: str | None = Field(None, description="created_at, priority, name, status, started_at "
                             'or completed_at; "-" first for descending')  # fmt: skip
    with_total: bool = Field(False, description="Add how many match, limit and offset aside")

    @field_validator("status", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("sort")
    @classmethod
    def _known_order(cls, value: str | None) -> str | None:
        if value is not None and value not in ORDERS:
            raise ValueError(f"not one of {', '.join(ORDERS)}")
        return value


class TypesParams(Params):
    """`types`: all task types, or only the one named."""

    name: str | None = None


class ReadLogParams(TaskRef):
    """`read_log`: the retained log, or its last `tail_bytes`."""

    tail_bytes: int | None = Field(None, ge=0)


def _brief(task: Task) -> TaskBrief:
    """The few fields a status overview shows of one task."""
    return TaskBrief(
        id=task.id,
        name=task.name,
        type=task.type_name,
        status=task.status.value,
        progress=task.progress,
        current_step=task.current_step,
    )


def _task_list(tasks: list[Task], total: int | None = None) -> dict[str, Any]:
    """`TaskList`'s body, built without its model: the task dicts are SkipValidation, so its
    dump would only deep-copy the page (~370 µs for 100 tasks)."""
    out: dict[str, Any] = {"tasks": [t.to_dict() for t in tasks], "count": len(tasks)}
    if total is not None:
        out["total"] = total
    return out


async def queue_status(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Summary and status distribution, and the tasks running now. `detailed` adds the full
    statistics and every unfinished task; `include_logs` adds each running task's log tail."""
    p = parse_params(QueueStatusParams, "queue_status", params)
    stats = Stats.model_validate(await queue.get_queue_stats())
    running = [_brief(t) for t in await queue.list_tasks(status=ACTIVE)]
    if p.include_logs:
        for entry in running:
            entry.log_tail = strip_marks(await queue.read_log(entry.id, p.log_tail_bytes))
    out = QueueStatus(
        summary=stats.summary, status_distribution=stats.status_distribution, running=running
    )
    if p.detailed:
        out.stats = stats
        out.unfinished = [t.to_dict() for t in await queue.list_tasks(status=UNFINISHED)]
    return out.dump()


async def queue_task_status(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """`views.summary_message`; `detailed` adds the full task (`task`) and its status
    history (`transitions`); `include_logs` adds the log tail (`log_tail`)."""
    p = parse_params(TaskStatusParams, "queue_task_status", params)
    task_id = await resolve_task_id(queue, p.task_id)
    out = await summary_message(queue, task_id)
    if p.detailed:
        out.task = (await queue.get_task(task_id)).to_dict()
        out.transitions = [
            Transition(
                at=tr.at,
                from_status=tr.from_status.value if tr.from_status is not None else None,
                to_status=tr.to_status.value,
                error_code=tr.error_code,
                duration_s=tr.duration_s,
            )
            for tr in await queue.transitions(task_id)
        ]
    if p.include_logs:
        out.log_tail = strip_marks(await queue.read_log(task_id, p.log_tail_bytes))
    return out.dump()


async def list_tasks(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Tasks matching the filters (status: one or a list), as full task dicts."""
    p = parse_params(ListTasksParams, "list_tasks", params)
    tasks = await queue.list_tasks(
        p.status,
        category=p.category,
        tag=p.tag,
        task_type=p.type,
        dead_letter=p.dead_letter,
        limit=p.limit,
        offset=p.offset,
        newest_first=p.newest_first,
        queue=p.queue,
        order=p.sort,
    )
    if not p.with_total:
        return _task_list(tasks)
    total = await queue.count_tasks(
        p.status, category=p.category, tag=p.tag, task_type=p.type,
        dead_letter=p.dead_letter, queue=p.queue,
    )  # fmt: skip
    return _task_list(tasks, total)


async def get_task(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """One task's full current state: `{"task": ...}`."""
    p = parse_params(TaskRef, "get_task", params)
    task_id = await resolve_task_id(queue, p.task_id)
    return TaskMessage(task=(await queue.get_task(task_id)).to_dict()).dump()


async def resolve_id(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """The full id for an id or a unique prefix: `{"id": ...}`."""
    p = parse_params(TaskRef, "resolve_id", params)
    return TaskId(id=await resolve_task_id(queue, p.task_id)).dump()


async def stats(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """`TaskQueue.get_queue_stats`: summary, distributions, performance, retries, activity."""
    parse_params(NoParams, "stats", params)
    return Stats.model_validate(await queue.get_queue_stats()).dump()


async def types(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Every task type and registered handler: name, family, whether an executor is
    installed, its summary and its params' JSON schema (None without an executor)."""
    p = parse_params(TypesParams, "types", params)
    names = [tt.value for tt in DocumentedType]
    names += sorted(e.name for e in queue.registry if e.name not in set(names))
    if p.name is not None:
        parsed = parse_task_type(p.name)
        wanted = parsed.value if isinstance(parsed, DocumentedType) else parsed
        if wanted not in names:
            raise QueueError(
                TaskErrorCode.QUEUE_UNKNOWN_TASK_TYPE,
                f"no task type {p.name!r}",
                task_type=p.name,
            )
        names = [wanted]
    out = []
    for name in names:
        executor = queue.registry.get(name)
        out.append(
            TaskType(
                name=name,
                family=_family_name(queue, name),
                available=executor is not None and not queue.registry.unavailable_error(name),
                summary=executor.describe() if executor is not None else "",
                params_schema=executor.schema() if executor is not None else None,
            )
        )
    return TaskTypes(types=out).dump()


def _family_name(queue: TaskQueue, name: str) -> str:
    documented = documented_task_type(name)
    if documented is not None:
        return documented.family
    family = queue.registry.family_of(name)
    return family.name if family is not None else "handler"


async def read_log(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """A task's retained log as text: `{"task_id": ..., "log": ...}`, with its stderr marks
    (`qtqueue.core.log_streams`: a reader that shows it to a person strips them)."""
    p = parse_params(ReadLogParams, "read_log", params)
    task_id = await resolve_task_id(queue, p.task_id)
    return LogText(task_id=task_id, log=await queue.read_log(task_id, p.tail_bytes)).dump()


async def list_dead_letters(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Tasks that failed for good after using up their retries, as full task dicts."""
    parse_params(NoParams, "list_dead_letters", params)
    return _task_list(await queue.list_dead_letters())


#: The reads by action name.
READS = {
    "queue_status": queue_status,
    "queue_task_status": queue_task_status,
    "list_tasks": list_tasks,
    "get_task": get_task,
    "resolve_id": resolve_id,
    "stats": stats,
    "types": types,
    "read_log": read_log,
    "list_dead_letters": list_dead_letters,
}
