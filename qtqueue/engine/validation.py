"""A new task's own fields checked, with no IO: what `TaskQueue` refuses before anything is stored.

Every field a caller sets is held to what the store can keep and what is surely not a mistake:
whole numbers within SQLite's signed 64-bit INTEGER (and far below it: `MAX_RETRIES`), finite
times within the years a calendar can show, durations of at most `MAX_DURATION_S`, bounded text.
The bounds live in one pydantic spec (`TaskFieldSpec`); `check_fields` applies it together with
the conversions the engine makes (priority names, enum values, datetimes to UNIX seconds).

A batch of new tasks must not depend on each other in a cycle (`check_acyclic`).

Task ids are the other rule kept here: a client-given id matches `TASK_ID_PATTERN` (generated
ids are UUIDs, which do); a log file is named after the id only when it does
(`log_file_name`), so no id — even one stored before this rule — can name a path outside the
logs directory.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.json_limits import encodable as _encodable
from qtqueue.core.json_limits import storable_json_problem
from qtqueue.core.task import OnInterrupt, Permission, Priority, Task

__all__ = [
    "CALLER_FIELDS",
    "ENGINE_FIELDS",
    "MAX_DURATION_S",
    "MAX_RETRIES",
    "MAX_TIMESTAMP",
    "TASK_ID_PATTERN",
    "TaskFieldSpec",
    "check_acyclic",
    "check_fields",
    "check_raw_params",
    "check_task_id",
    "is_task_id",
    "log_file_name",
    "storable_json_problem",
]

#: What a task id is: a letter or digit, then up to 63 letters, digits, `_`, `.` or `-`.
TASK_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_TASK_ID = re.compile(TASK_ID_PATTERN)
#: More automatic retries than this is surely a typo (and would run for ever).
MAX_RETRIES = 1000
#: The longest duration a task may name (timeouts, backoff intervals, TTL): 400 days.
MAX_DURATION_S = 400 * 86400.0
#: The last second of the year 9999: later times cannot be shown as dates.
MAX_TIMESTAMP = 253402300799.0
_MAX_TEXT = 1000
_MAX_LABEL = 200
_MAX_TAGS = 100
_MAX_BACKOFF_STEPS = 100
_MAX_DEPENDENCIES = 10000

# Callers set the fields up to `id`; the engine owns every field after it (see `Task`).
_NAMES = [f.name for f in dataclasses.fields(Task)]
#: The fields a caller may give when adding a task.
CALLER_FIELDS = frozenset(_NAMES[: _NAMES.index("id") + 1])
#: The fields only the engine sets (status, pid, result, times…): refused in a new task.
ENGINE_FIELDS = frozenset(_NAMES) - CALLER_FIELDS

_Seconds = Annotated[float, Field(ge=0, le=MAX_DURATION_S, allow_inf_nan=False)]
_PositiveSeconds = Annotated[float, Field(gt=0, le=MAX_DURATION_S, allow_inf_nan=False)]
_Time = Annotated[float, Field(ge=0, le=MAX_TIMESTAMP, allow_inf_nan=False)]
_Label = Annotated[str, StringConstraints(min_length=1, max_length=_MAX_LABEL, pattern=r"\S")]
_TaskId = Annotated[str, StringConstraints(pattern=f"^{TASK_ID_PATTERN}$")]


class TaskFieldSpec(BaseModel):
    """The range of each plain field a caller sets (strict: no text for numbers, no bools)."""

    model_config = ConfigDict(strict=True, extra="ignore")

    name: str = Field(max_length=_MAX_TEXT)
    category: _Label
    tags: list[Annotated[str, Field(max_length=_MAX_LABEL)]] = Field(max_length=_MAX_TAGS)
    max_retries: Annotated[int, Field(ge=0, le=MAX_RETRIES)] | None
    retry_backoff: _Seconds | list[_Seconds] = Field(union_mode="left_to_right")
    timeout_s: _Seconds | None
    run_at: _Time | None
    expires_at: _Time | None
    ttl_s: _PositiveSeconds | None
    depends_on: list[_TaskId] = Field(max_length=_MAX_DEPENDENCIES)
    resources: dict[str, Any]
    allow_dependency_failure: bool
    queue: _Label | None
    created_by: str = Field(max_length=_MAX_LABEL)


def is_task_id(value: object) -> bool:
    """True if `value` is text that matches `TASK_ID_PATTERN`."""
    return isinstance(value, str) and _TASK_ID.fullmatch(value) is not None


def check_task_id(value: object, what: str = "id") -> str:
    """`value` if it is a valid task id, else VALIDATION_INVALID_FORMAT naming `what`."""
    if not is_task_id(value):
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            f"{what}: {_shown(value)} is not a task id (1 to 64 letters, digits, '_', '.' "
            "or '-', starting with a letter or digit)",
            field=what,
        )
    assert isinstance(value, str)
    return value


def log_file_name(task_id: str) -> str:
    """The name of a task's log file inside the logs directory: `<id>.log` for a valid id, a
    digest of anything else (an id stored before ids were checked), never a path."""
    if is_task_id(task_id):
        return f"{task_id}.log"
    digest = hashlib.sha256(str(task_id).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"_id-{digest}.log"


def check_fields(task: Task) -> list[str]:
    """Check and normalise `task`'s own fields in place: priority, permission and on_interrupt
    become their enums, datetimes become UNIX seconds. Returns one "field: problem" line per
    bad field (empty: all good). Params and anything that needs the queue are checked apart."""
    problems: list[str] = []
    try:
        if isinstance(task.priority, bool) or not isinstance(task.priority, (str, int)):
            raise TypeError
        task.priority = Priority.parse(task.priority)
    except (KeyError, ValueError, TypeError):
        problems.append(f"priority: {_shown(task.priority)} is not low, normal, high or urgent")
    for label, enum in (("permission", Permission), ("on_interrupt", OnInterrupt)):
        value = getattr(task, label)
        try:
            setattr(task, label, enum(value))
        except (ValueError, TypeError):
            choices = ", ".join(e.value for e in enum)
            problems.append(f"{label}: {_shown(value)} is not one of {choices}")
    for label in ("run_at", "expires_at"):
        value = getattr(task, label)
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None:
                value = value.astimezone()  # naive: the machine's local time
            setattr(task, label, value.timestamp())
    problem = storable_json_problem(task.resources)
    if problem is not None:
        problems.append(f"resources: holds {problem}")
    values = {name: getattr(task, name) for name in TaskFieldSpec.model_fields}
    try:
        TaskFieldSpec.model_validate(values)
    except ValidationError as exc:
        problems += _spec_problems(exc)
    texts = [("name", task.name), ("category", task.category), ("queue", task.queue)]
    texts.append(("created_by", task.created_by))
    if isinstance(task.tags, list):
        texts += [("tags", tag) for tag in task.tags]
    for label, text in texts:
        if isinstance(text, str) and not _encodable(text):
            problems.append(f"{label}: not valid Unicode text")
    return problems


_FRIENDLY = {
    "category": "must be a non-empty string",
    "queue": "must be a non-empty name",
    "tags": "must be a list of strings",
    "depends_on": "must be a list of task ids",
    "resources": "must be an object",
    "allow_dependency_failure": "must be true or false",
    "name": "must be a string",
}


def check_acyclic(batch: list[Task]) -> None:
    """QUEUE_DEPENDENCY_CYCLE if the dependencies among a batch of new tasks form a cycle.
    Stored and live tasks only depend on tasks older than themselves, so a cycle can only
    run through the batch."""
    in_batch = {t.id: t for t in batch}
    state: dict[str, int] = {}  # 1: being visited, 2: done
    for root in batch:
        if state.get(root.id):
            continue
        path = [root.id]
        stack = [iter(root.depends_on)]
        state[root.id] = 1
        while stack:
            dep = next(stack[-1], None)
            if dep is None:
                stack.pop()
                state[path.pop()] = 2
            elif dep in in_batch:
                if state.get(dep) == 1:
                    cycle = [*path[path.index(dep) :], dep]
                    raise QueueError(
                        TaskErrorCode.QUEUE_DEPENDENCY_CYCLE,
                        "the dependencies form a cycle: " + " -> ".join(cycle),
                        cycle=cycle,
                    )
                if not state.get(dep):
                    state[dep] = 1
                    path.append(dep)
                    stack.append(iter(in_batch[dep].depends_on))


def check_raw_params(params: object) -> None:
    """Refuse params the store could not keep as given (see `storable_json_problem`), before
    a params model sees them: a model would quietly turn NaN into null and a lone surrogate
    into U+FFFD."""
    problem = storable_json_problem(params)
    if problem is not None:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"params: holds {problem}",
            fields=[f"params: holds {problem}"],
        )


def _spec_problems(exc: ValidationError) -> list[str]:
    """One line per field, in words a user knows (the first error of each field)."""
    out: dict[str, str] = {}
    for err in exc.errors():
        field = str(err["loc"][0])
        if field in out:
            continue
        where = ".".join([field, *(str(p) for p in err["loc"][1:] if isinstance(p, int))])
        detail = err["msg"]
        if field in ("run_at", "expires_at"):
            detail = f"must be a datetime or UNIX seconds from 0 to {MAX_TIMESTAMP:.0f}, got"
            detail += f" {_shown(err['input'])}"
        elif field == "retry_backoff":
            detail = (
                f"must be seconds from 0 to {MAX_DURATION_S:.0f} or a list of such intervals"
                f" (intervals must be numbers >= 0), got {_shown(err['input'])}"
            )
        elif field == "timeout_s":
            detail = (
                f"must be a number of seconds from 0 (no timeout) to {MAX_DURATION_S:.0f}, or "
                f"null for its queue's default, got {_shown(err['input'])}"
            )
        elif field == "ttl_s":
            detail = (
                f"must be a number of seconds > 0 and at most {MAX_DURATION_S:.0f}, got "
                f"{_shown(err['input'])}"
            )
        elif field == "max_retries":
            detail = (
                f"must be a whole number from 0 (run once) to {MAX_RETRIES}, or null for its "
                f"queue's default, got {_shown(err['input'])}"
            )
        elif field in _FRIENDLY:
            detail = f"{_FRIENDLY[field]} ({detail})"
        out[field] = f"{where}: {detail}"
    return list(out.values())


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
