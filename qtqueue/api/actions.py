"""The local API's actions: small async functions over a `TaskQueue`, registered by name.

Each action is `async def action(queue, params) -> dict` and returns JSON-ready data. `ACTIONS`
maps the action names to them; `run_action` takes a request `{"action": ..., "params": {...}}`,
runs it and wraps the outcome as `{"ok": true, "result": ...}` or
`{"ok": false, "error": QueueError.to_dict()}` — it never raises for bad input.

The command line runs these same functions, in-process when no engine runs and through the
engine's server (`POST /api`) when one does, so both paths behave alike.

Params are checked by a pydantic model per action: an unknown key, a missing or mistyped value
is a QueueError with a VALIDATION_* code naming the field. Wherever a `task_id` is taken, a
unique prefix of at least `MIN_PREFIX_LEN` characters of the id is accepted too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, Literal

from pydantic import Field, field_validator

from qtqueue.api.params import NoParams, Params, parse_params
from qtqueue.api.schedule_actions import queue_actions as _schedule_actions
from qtqueue.api.settings_actions import queue_actions as _settings_actions
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import (
    ACTIVE,
    UNFINISHED,
    Priority,
    Task,
    TaskStatus,
    TaskType,
    documented_task_type,
    parse_task_type,
)
from qtqueue.engine.queue import TaskQueue
from qtqueue.engine.validation import ENGINE_FIELDS, check_task_id, is_task_id

logger = logging.getLogger(__name__)

__all__ = [
    "ACTIONS",
    "MIN_PREFIX_LEN",
    "Action",
    "resolve_task_id",
    "run_action",
]

Action = Callable[[TaskQueue, dict[str, Any]], Awaitable[dict[str, Any]]]

#: The shortest task id prefix accepted in place of a full id.
MIN_PREFIX_LEN = 4
#: How much of each log `include_logs` returns when the request does not say.
DEFAULT_LOG_TAIL_BYTES = 2048
_MAX_LOG_TAIL_BYTES = 1024 * 1024
_MAX_ROWS = 1_000_000_000
#: An ambiguous prefix's error lists this many of the ids it matches.
_MAX_MATCHES_SHOWN = 20


class _TaskRef(Params):
    task_id: str = Field(..., min_length=1, description="A task id or a unique prefix of it")


class _LogOptions(Params):
    include_logs: bool = False
    log_tail_bytes: int = Field(DEFAULT_LOG_TAIL_BYTES, ge=0, le=_MAX_LOG_TAIL_BYTES)


class QueueStatusParams(_LogOptions):
    """`queue_status`: detailed adds the full statistics and the unfinished tasks."""

    detailed: bool = False


class TaskStatusParams(_TaskRef, _LogOptions):
    """`queue_task_status`: detailed adds the full task and its status transitions."""

    detailed: bool = False


class ManageParams(_TaskRef):
    """`queue_manage`: one control action on one task."""

    action: Literal["pause", "resume", "retry", "cancel", "remove"]


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

    @field_validator("status", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class TypesParams(Params):
    """`types`: all task types, or only the one named."""

    name: str | None = None


class ReadLogParams(_TaskRef):
    """`read_log`: the retained log, or its last `tail_bytes`."""

    tail_bytes: int | None = Field(None, ge=0)


class CleanupParams(Params):
    """`cleanup`: finished tasks older than this (default: the queue's retention period)."""

    older_than_s: float | None = Field(None, ge=0)


class SendInputParams(_TaskRef):
    """`send_input`: text for a running interactive command's stdin."""

    text: str = ""
    newline: bool = Field(True, description="Add a newline after the text")
    eof: bool = Field(False, description="Close the command's stdin afterwards")


class RejectParams(_TaskRef):
    """`reject_task`: why (shown with the task's QUEUE_REJECTED error)."""

    reason: str = ""


class DeadLettersParams(Params):
    """`requeue_dead_letters` / `purge_dead_letters`: the tasks (ids or unique prefixes), or
    every dead letter with `all` (requeue: also when no ids are given)."""

    ids: list[str] = Field(default_factory=list)
    all: bool = False


class SetQueueParams(Params):
    """`set_queue`: create a named queue or change its settings; a setting given as null is
    cleared, one left out is kept."""

    name: str = Field(..., min_length=1)
    concurrency: int | None = Field(None, ge=1)
    timeout_s: float | None = Field(None, gt=0)
    max_retries: int | None = Field(None, ge=0)
    result_ttl_s: float | None = Field(None, ge=0)


# --------------------------------------------------------------------------- helpers


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


def _brief(task: Task) -> dict[str, Any]:
    """The few fields a status overview shows of one task."""
    return {
        "id": task.id,
        "name": task.name,
        "type": task.type_name,
        "status": task.status.value,
        "progress": task.progress,
        "current_step": task.current_step,
    }


def _task_from_dict(data: object, where: str = "") -> Task:
    """A `Task` from request data, every problem as a VALIDATION_* QueueError."""
    prefix = f"{where}: " if where else ""
    if not isinstance(data, dict):
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT, f"{prefix}a task must be a JSON object"
        )
    owned = sorted(set(data) & ENGINE_FIELDS)
    if owned:
        problem = (
            f"{', '.join(owned)}: set by the engine, not by the caller; leave "
            f"{'it' if len(owned) == 1 else 'them'} out of a new task"
        )
        raise QueueError(TaskErrorCode.VALIDATION_INVALID_PARAMS, prefix + problem, fields=owned)
    if "id" in data:
        check_task_id(data["id"], f"{prefix}id")
    if "task_type" not in data:
        raise QueueError(
            TaskErrorCode.VALIDATION_MISSING_REQUIRED,
            f"{prefix}task_type: required",
            fields=["task_type: required"],
        )
    if "priority" in data:
        try:
            Priority.parse(data["priority"])
        except (KeyError, ValueError, TypeError, AttributeError):
            problem = f"priority: {data['priority']!r} is not low, normal, high, urgent or 0-3"
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS, prefix + problem, fields=[problem]
            ) from None
    try:
        return Task.from_dict(data)
    except (KeyError, ValueError, TypeError) as exc:
        raise QueueError(TaskErrorCode.VALIDATION_INVALID_PARAMS, f"{prefix}{exc}") from None


# --------------------------------------------------------------------------- actions


async def queue_status(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Summary and status distribution, and the tasks running now. `detailed` adds the full
    statistics and every unfinished task; `include_logs` adds each running task's log tail."""
    p = parse_params(QueueStatusParams, "queue_status", params)
    stats = await queue.get_queue_stats()
    running = await queue.list_tasks(status=ACTIVE)
    out: dict[str, Any] = {
        "summary": stats["summary"],
        "status_distribution": stats["status_distribution"],
        "running": [_brief(t) for t in running],
    }
    if p.include_logs:
        for entry in out["running"]:
            entry["log_tail"] = await queue.read_log(entry["id"], p.log_tail_bytes)
    if p.detailed:
        out["stats"] = stats
        out["unfinished"] = [t.to_dict() for t in await queue.list_tasks(status=UNFINISHED)]
    return out


async def queue_task_status(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """`TaskQueue.get_task_summary`; `detailed` adds the full task (`task`) and its status
    history (`transitions`); `include_logs` adds the log tail (`log_tail`)."""
    p = parse_params(TaskStatusParams, "queue_task_status", params)
    task_id = await resolve_task_id(queue, p.task_id)
    out = await queue.get_task_summary(task_id)
    if p.detailed:
        out["task"] = (await queue.get_task(task_id)).to_dict()
        out["transitions"] = [
            {
                "at": tr.at,
                "from_status": tr.from_status.value if tr.from_status is not None else None,
                "to_status": tr.to_status.value,
                "error_code": tr.error_code,
                "duration_s": tr.duration_s,
            }
            for tr in await queue.transitions(task_id)
        ]
    if p.include_logs:
        out["log_tail"] = await queue.read_log(task_id, p.log_tail_bytes)
    return out


async def queue_manage(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Pause, resume, retry, cancel or remove one task. Returns `{"task": ...}` as it is after
    the action, or `{"task_id": ..., "removed": true}`."""
    p = parse_params(ManageParams, "queue_manage", params)
    task_id = await resolve_task_id(queue, p.task_id)
    if p.action == "remove":
        await queue.remove_task(task_id)
        return {"task_id": task_id, "removed": True}
    control = {
        "pause": queue.pause_task,
        "resume": queue.resume_task,
        "retry": queue.retry_task,
        "cancel": queue.cancel_task,
    }[p.action]
    return {"task": (await control(task_id)).to_dict()}


async def _resolve_dependencies(queue: TaskQueue, tasks: list[Task]) -> None:
    """Let `depends_on` name tasks by unique prefix, like every other task id here (ids of the
    batch's own tasks stand as given)."""
    own = {t.id for t in tasks}
    for t in tasks:
        if isinstance(t.depends_on, list):
            t.depends_on = [
                d if not isinstance(d, str) or d in own else await resolve_task_id(queue, d)
                for d in t.depends_on
            ]


async def add_task(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Add one task (params: a task dict as `Task.from_dict` takes it) → `{"id": ...}`, or
    several at once, all or none (params: `{"tasks": [...]}`) → `{"ids": [...]}`.
    `depends_on` may name tasks by unique id prefix."""
    if "tasks" in params:
        if len(params) != 1:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_FORMAT,
                "give either one task's fields or 'tasks' (a list), not both",
            )
        items = params["tasks"]
        if not isinstance(items, list) or not items:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_FORMAT, "tasks: must be a non-empty list"
            )
        tasks = [_task_from_dict(item, f"tasks[{i}]") for i, item in enumerate(items)]
        await _resolve_dependencies(queue, tasks)
        return {"ids": await queue.add_tasks(tasks)}
    task = _task_from_dict(params)
    await _resolve_dependencies(queue, [task])
    return {"id": await queue.add_task(task)}


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
    )
    return {"tasks": [t.to_dict() for t in tasks], "count": len(tasks)}


async def get_task(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """One task's full current state: `{"task": ...}`."""
    p = parse_params(_TaskRef, "get_task", params)
    task_id = await resolve_task_id(queue, p.task_id)
    return {"task": (await queue.get_task(task_id)).to_dict()}


async def resolve_id(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """The full id for an id or a unique prefix: `{"id": ...}`."""
    p = parse_params(_TaskRef, "resolve_id", params)
    return {"id": await resolve_task_id(queue, p.task_id)}


async def stats(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """`TaskQueue.get_queue_stats`: summary, distributions, performance, retries, activity."""
    parse_params(NoParams, "stats", params)
    return await queue.get_queue_stats()


async def types(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Every task type and registered handler: name, family, whether an executor is
    installed, its summary and its params' JSON schema (None without an executor)."""
    p = parse_params(TypesParams, "types", params)
    names = [tt.value for tt in TaskType]
    names += sorted(e.name for e in queue.registry if e.name not in set(names))
    if p.name is not None:
        parsed = parse_task_type(p.name)
        wanted = parsed.value if isinstance(parsed, TaskType) else parsed
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
            {
                "name": name,
                "family": _family_name(queue, name),
                "available": executor is not None and not queue.registry.unavailable_error(name),
                "summary": executor.describe() if executor is not None else "",
                "params_schema": executor.schema() if executor is not None else None,
            }
        )
    return {"types": out}


def _family_name(queue: TaskQueue, name: str) -> str:
    documented = documented_task_type(name)
    if documented is not None:
        return documented.family
    family = queue.registry.family_of(name)
    return family.name if family is not None else "handler"


async def read_log(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """A task's retained log as text: `{"task_id": ..., "log": ...}`."""
    p = parse_params(ReadLogParams, "read_log", params)
    task_id = await resolve_task_id(queue, p.task_id)
    return {"task_id": task_id, "log": await queue.read_log(task_id, p.tail_bytes)}


async def pause_queue(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Start nothing new until `resume_queue` (running tasks go on)."""
    parse_params(NoParams, "pause_queue", params)
    await queue.pause_queue()
    return {"queue_paused": queue.queue_paused}


async def resume_queue(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Start dispatching again."""
    parse_params(NoParams, "resume_queue", params)
    await queue.resume_queue()
    return {"queue_paused": queue.queue_paused}


async def approve_task(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Approve a task that awaits approval: `{"task": ...}` as it is after."""
    p = parse_params(_TaskRef, "approve_task", params)
    task_id = await resolve_task_id(queue, p.task_id)
    return {"task": (await queue.approve_task(task_id)).to_dict()}


async def reject_task(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Reject a task that awaits approval (it ends CANCELLED, QUEUE_REJECTED): `{"task": ...}`."""
    p = parse_params(RejectParams, "reject_task", params)
    task_id = await resolve_task_id(queue, p.task_id)
    return {"task": (await queue.reject_task(task_id, p.reason)).to_dict()}


async def send_input(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Write a line (or, without `newline`, the bare text) to a running interactive command's
    stdin: `{"task_id": ..., "bytes": n}`."""
    p = parse_params(SendInputParams, "send_input", params)
    task_id = await resolve_task_id(queue, p.task_id)
    data = (p.text + "\n" if p.newline else p.text).encode()
    await queue.send_input(task_id, data, eof=p.eof)
    return {"task_id": task_id, "bytes": len(data)}


async def _chosen_dead_letters(
    queue: TaskQueue, p: DeadLettersParams, action: str
) -> list[str] | None:
    if p.all and p.ids:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS, f"{action}: give ids or all, not both"
        )
    if p.all or not p.ids:
        return None
    return [await resolve_task_id(queue, i) for i in p.ids]


async def list_dead_letters(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Tasks that failed for good after using up their retries, as full task dicts."""
    parse_params(NoParams, "list_dead_letters", params)
    tasks = await queue.list_dead_letters()
    return {"tasks": [t.to_dict() for t in tasks], "count": len(tasks)}


async def requeue_dead_letters(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Retry the given dead-lettered tasks, or every one (no ids, or `all`): `{"ids": [...]}`."""
    p = parse_params(DeadLettersParams, "requeue_dead_letters", params)
    chosen = await _chosen_dead_letters(queue, p, "requeue_dead_letters")
    return {"ids": await queue.requeue_dead_letters(chosen)}


async def purge_dead_letters(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Delete the given dead-lettered tasks (or every one, with `all`): `{"ids": [...]}`."""
    p = parse_params(DeadLettersParams, "purge_dead_letters", params)
    if not (p.ids or p.all):
        raise QueueError(
            TaskErrorCode.VALIDATION_MISSING_REQUIRED,
            "purge_dead_letters: give ids, or all: true to delete every dead letter",
        )
    chosen = await _chosen_dead_letters(queue, p, "purge_dead_letters")
    return {"ids": await queue.purge_dead_letters(chosen)}


async def list_queues(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """The named queues in drain order, with their settings and running/waiting counts."""
    parse_params(NoParams, "list_queues", params)
    return {"queues": queue.list_queues()}


async def set_queue(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Create or change a named queue: `{"queue": ...}` as `list_queues` shows it."""
    p = parse_params(SetQueueParams, "set_queue", params)
    changes = p.model_dump(exclude_unset=True, exclude={"name"})
    return {"queue": await queue.set_queue(p.name, **changes)}


async def cleanup(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Delete finished tasks older than `older_than_s`: `{"removed": n}`."""
    p = parse_params(CleanupParams, "cleanup", params)
    return {"removed": await queue.cleanup(p.older_than_s)}


#: Every action by name. Read-only.
ACTIONS: Mapping[str, Action] = MappingProxyType(
    {
        "queue_status": queue_status,
        "queue_task_status": queue_task_status,
        "queue_manage": queue_manage,
        "add_task": add_task,
        "list_tasks": list_tasks,
        "get_task": get_task,
        "resolve_id": resolve_id,
        "stats": stats,
        "types": types,
        "read_log": read_log,
        "pause_queue": pause_queue,
        "resume_queue": resume_queue,
        "send_input": send_input,
        "approve_task": approve_task,
        "reject_task": reject_task,
        "list_dead_letters": list_dead_letters,
        "requeue_dead_letters": requeue_dead_letters,
        "purge_dead_letters": purge_dead_letters,
        "list_queues": list_queues,
        "set_queue": set_queue,
        "cleanup": cleanup,
        **_schedule_actions(lambda queue: queue.schedules),
        **_settings_actions(),
    }
)


def _parse_request(request: object) -> tuple[str, dict[str, Any]]:
    if not isinstance(request, dict):
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            'a request must be a JSON object: {"action": NAME, "params": {...}}',
        )
    unknown = sorted(set(request) - {"action", "params"})
    if unknown:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            f"unknown request key(s): {', '.join(map(str, unknown))}"
            ' (a request is {"action": NAME, "params": {...}})',
        )
    name = request.get("action")
    if not isinstance(name, str) or not name:
        raise QueueError(
            TaskErrorCode.VALIDATION_MISSING_REQUIRED, "action: required (the action's name)"
        )
    params = request.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise QueueError(TaskErrorCode.VALIDATION_INVALID_FORMAT, "params: must be a JSON object")
    if name not in ACTIONS:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"unknown action {name!r} (available: {', '.join(sorted(ACTIONS))})",
            action=name,
        )
    return name, params


async def run_action(queue: TaskQueue, request: object) -> dict[str, Any]:
    """Run one request and wrap its outcome; never raises for bad input.

    A QueueError becomes `{"ok": false, "error": ...}` with its code; any other exception is
    logged and reported as INTERNAL_ERROR with its message.
    """
    name = "?"
    try:
        name, params = _parse_request(request)
        result = await ACTIONS[name](queue, params)
    except QueueError as exc:
        return {"ok": False, "error": exc.to_dict()}
    except Exception as exc:
        logger.exception("action %s failed", name)
        error = QueueError(
            TaskErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}", action=name
        )
        return {"ok": False, "error": error.to_dict()}
    return {"ok": True, "result": result}
