"""What a schedule is, and the pure rules about it: when it recurs and what it may hold.

`Schedule` is one recurring task (a template, a cron expression in a time zone or an interval,
a missed-run policy). The functions here are free of IO and of the engine: the next cron or
interval time, the checks on a schedule's fields and template (with the queue's own task check
handed in), and the task each occurrence becomes. `ScheduleManager` (engine/schedules.py)
applies them over time.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter  # type: ignore[import-untyped]

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.recurrence import timing_words
from qtqueue.core.task import Task, new_task_id, parse_task_type

logger = logging.getLogger(__name__)

__all__ = [
    "MIN_INTERVAL_S",
    "MIN_PREFIX_LEN",
    "SCHEDULE_TAG_PREFIX",
    "TEMPLATE_FIELDS",
    "MissedPolicy",
    "Schedule",
    "ScheduleKind",
    "bad_format",
    "by_age",
    "by_due_time",
    "check_zone",
    "missed_policy",
    "next_cron_time",
    "occurrence_id",
    "occurrence_task",
    "parse_interval_s",
    "readable_schedule",
    "schedule_name",
    "schedule_tag",
    "template_of",
    "timing",
    "validated_template",
]

#: Occurrence tasks carry the tag `schedule:<schedule id>`.
SCHEDULE_TAG_PREFIX = "schedule:"
#: The shortest interval accepted: anything shorter would flood the table.
MIN_INTERVAL_S = 0.1
#: The shortest schedule id prefix accepted in place of the full id.
MIN_PREFIX_LEN = 4
#: Task fields that make no sense repeated: absolute times and ids of other tasks.
_NOT_RECURRING = frozenset({"run_at", "expires_at", "depends_on"})
#: Task fields a schedule's template may set: those a caller sets on a task (the fields before
#: `id`), less the ones above.
TEMPLATE_FIELDS: tuple[str, ...] = tuple(
    f.name
    for f in dataclasses.fields(Task)[: [f.name for f in dataclasses.fields(Task)].index("id")]
    if f.name not in _NOT_RECURRING
)
_CRON_NICKNAMES = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_INTERVAL_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_INTERVAL_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)([smhdw])")
# Occurrence ids are uuid5(namespace, "<schedule id>/<n>"): fixed for ever, never regenerate.
_OCCURRENCE_NS = uuid.UUID("5c7e0c8e-3b55-4d0e-9a57-0d3c2f1e6b41")


class ScheduleKind(StrEnum):
    """How a schedule recurs."""

    CRON = "cron"
    INTERVAL = "interval"


class MissedPolicy(StrEnum):
    """What happens at start to occurrences that fell due while no engine ran.

    RUN_ONCE: add one occurrence now, however many were missed. SKIP: add none. Either way the
    next run moves to the first due time in the future.
    """

    RUN_ONCE = "run_once"
    SKIP = "skip"


def schedule_tag(schedule_id: str) -> str:
    """The tag every occurrence of the schedule carries."""
    return f"{SCHEDULE_TAG_PREFIX}{schedule_id}"


def occurrence_id(schedule_id: str, n: int) -> str:
    """The task id of the schedule's `n`th occurrence (1-based); the same on every run."""
    return str(uuid.uuid5(_OCCURRENCE_NS, f"{schedule_id}/{n}"))


def bad_format(field_name: str, message: str, **details: Any) -> QueueError:
    """The VALIDATION_INVALID_FORMAT error for one field, its message led by the field."""
    return QueueError(
        TaskErrorCode.VALIDATION_INVALID_FORMAT,
        f"{field_name}: {message}",
        field=field_name,
        **details,
    )


def parse_interval_s(value: str | float) -> float:
    """An interval in seconds from a number of seconds or a text such as "45s", "10m",
    "1h30m", "2d", "1.5h", "90" (seconds). QueueError VALIDATION_INVALID_FORMAT if it is not
    one, or is shorter than MIN_INTERVAL_S."""
    if isinstance(value, bool):
        seconds = math.nan
    elif isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _interval_text_s(value.strip().lower())
    else:
        seconds = math.nan
    if math.isnan(seconds):
        raise bad_format(
            "every", f"{value!r} is not an interval (e.g. 45s, 10m, 1h30m, 2d)", value=str(value)
        )
    if not math.isfinite(seconds) or seconds < MIN_INTERVAL_S:
        raise bad_format(
            "every",
            f"{value!r} is out of range: an interval is at least {MIN_INTERVAL_S:g} s",
            value=str(value),
        )
    return seconds


def _interval_text_s(text: str) -> float:
    """Seconds in "1h30m" / "90"; NaN when the text is not an interval."""
    try:
        return float(text)
    except ValueError:
        pass
    total, end = 0.0, 0
    for part in _INTERVAL_PART.finditer(text):
        if part.start() != end:
            return math.nan
        total += float(part.group(1)) * _INTERVAL_UNITS[part.group(2)]
        end = part.end()
    return total if text and end == len(text) else math.nan


def check_zone(name: str | None) -> ZoneInfo | None:
    """The IANA time zone of that name; None (the machine's local time) for None or ""."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise bad_format(
            "timezone",
            f"{name!r} is not a known time zone (an IANA name such as Europe/Paris or UTC; "
            "leave it out for this machine's local time)",
            value=name,
        ) from None


def next_cron_time(expression: str, after: float, timezone: str | None = None) -> float:
    """The first time strictly after `after` (UNIX seconds) that the cron expression names,
    read in `timezone` (an IANA name; None: the machine's local time).

    Takes five fields (minute hour day-of-month month day-of-week) or one of @hourly, @daily,
    @midnight, @weekly, @monthly, @yearly, @annually. QueueError VALIDATION_INVALID_FORMAT for
    anything else, and for an expression that never matches (February 31st).
    """
    expr = " ".join(expression.split()) if isinstance(expression, str) else ""
    if not (expr.lower() in _CRON_NICKNAMES or len(expr.split()) == 5):
        raise bad_format(
            "cron",
            f"{expression!r} is not a cron expression: give five fields (minute hour "
            'day-of-month month day-of-week, e.g. "0 3 * * *") or @hourly, @daily, @weekly…',
            value=str(expression),
        )
    zone = check_zone(timezone)
    # A naive start is local time: croniter then works in local wall-clock time and
    # `timestamp()` maps its answer back through the machine's own DST rules.
    start = (
        datetime.fromtimestamp(after, zone) if zone is not None else datetime.fromtimestamp(after)
    )
    try:
        found = croniter(expr.lower(), start).get_next(datetime)
    except (CroniterError, ValueError, KeyError) as exc:
        raise bad_format(
            "cron", f"{expression!r} is not a valid cron expression: {exc}", value=expression
        ) from None
    return float(found.timestamp())


@dataclass(slots=True)
class Schedule:
    """One recurring task. Times are UNIX seconds."""

    name: str
    """What the user calls it; occurrences without a name of their own take it."""
    template: dict[str, Any]
    """The task to add at each due time: JSON-ready Task fields (see TEMPLATE_FIELDS)."""
    kind: ScheduleKind
    """Cron or interval."""
    cron: str | None = None
    """The cron expression (kind CRON)."""
    interval_s: float | None = None
    """Seconds between occurrences (kind INTERVAL)."""
    timezone: str | None = None
    """The IANA zone a cron expression is read in; None: the machine's local time."""
    missed: MissedPolicy = MissedPolicy.RUN_ONCE
    """What happens at start to occurrences that fell due while no engine ran."""
    paused: bool = False
    """A paused schedule adds nothing; resuming it starts from the next due time."""
    next_run_at: float | None = None
    """When the next occurrence is due."""
    last_run_at: float | None = None
    """When the latest occurrence was added."""
    last_task_id: str | None = None
    """The task id of the latest occurrence."""
    last_error: str | None = None
    """Why the latest due occurrence could not be added ("CODE: message"), or None."""
    occurrences: int = 0
    """How many occurrences were added so far (run-now ones included)."""
    id: str = field(default_factory=new_task_id)
    """A UUID, unique for ever."""
    created_at: float = 0.0
    updated_at: float = 0.0

    def copy(self) -> Schedule:
        """An independent copy, safe to hand to callers."""
        return dataclasses.replace(self, template=json.loads(json.dumps(self.template)))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (enums as their values)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["kind"] = self.kind.value
        out["missed"] = self.missed.value
        out["template"] = json.loads(json.dumps(self.template))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schedule:
        """The inverse of `to_dict`."""
        kwargs = dict(data)
        kwargs["kind"] = ScheduleKind(kwargs["kind"])
        kwargs["missed"] = MissedPolicy(kwargs.get("missed", MissedPolicy.RUN_ONCE))
        kwargs["paused"] = bool(kwargs.get("paused", False))
        return cls(**kwargs)

    def following(self, after: float) -> float:
        """The first due time strictly after `after`: the cron expression's next match, or
        the next point of the interval's grid (which runs through `next_run_at`)."""
        if self.kind == ScheduleKind.CRON:
            assert self.cron is not None
            return next_cron_time(self.cron, after, self.timezone)
        assert self.interval_s is not None
        base = self.next_run_at
        if base is None:
            return after + self.interval_s
        if base > after:
            return base
        return base + (math.floor((after - base) / self.interval_s) + 1) * self.interval_s

    @property
    def summary(self) -> str:
        """When it recurs, in words ("every 10m", "cron 0 3 * * * (Europe/Paris)")."""
        return timing_words(self.kind, self.cron, self.timezone, self.interval_s)


def readable_schedule(record: dict[str, Any]) -> Schedule | None:
    """The schedule a stored record holds, or None (logged, naming it) for one that cannot be
    read, so that one damaged schedule never stops the engine or the others; its row stays in
    the store untouched."""
    problem = record.pop("unreadable", None)
    if problem is None:
        try:
            schedule = Schedule.from_dict(record)
            if not isinstance(schedule.template, dict):
                raise TypeError("its task template is not an object")
            return schedule
        except (KeyError, TypeError, ValueError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
    logger.error(
        "schedule %s cannot be read and is left out (%s); its row is kept in the store",
        record.get("id"),
        problem,
    )
    return None


def timing(every: str | float | None, cron: str | None) -> tuple[ScheduleKind, Any]:
    """(kind, interval seconds or cron expression) from exactly one of `every` and `cron`."""
    if every is not None and cron is not None:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            "give either every (an interval) or cron (an expression), not both",
            fields=["every", "cron"],
        )
    if every is not None:
        return ScheduleKind.INTERVAL, parse_interval_s(every)
    if cron is not None:
        return ScheduleKind.CRON, " ".join(str(cron).split())
    raise QueueError(
        TaskErrorCode.VALIDATION_MISSING_REQUIRED,
        'every or cron: required (an interval such as "10m", or a cron expression such as '
        '"0 3 * * *")',
        fields=["every", "cron"],
    )


def missed_policy(value: MissedPolicy | str) -> MissedPolicy:
    """The policy named `value`; QueueError VALIDATION_INVALID_FORMAT for another word."""
    try:
        return MissedPolicy(value)
    except ValueError:
        raise bad_format(
            "missed", f"{value!r} is not one of run_once, skip", value=str(value)
        ) from None


def template_of(task: Task) -> dict[str, Any]:
    """The JSON-ready fields of `task` that a schedule's template keeps (TEMPLATE_FIELDS)."""
    full = task.to_dict()
    return {k: full[k] for k in TEMPLATE_FIELDS}


def validated_template(
    template: Mapping[str, Any] | Task, check_task: Callable[[Task], object]
) -> dict[str, Any]:
    """The template as JSON-ready Task fields (every one of TEMPLATE_FIELDS, defaults filled
    in), checked as a task is: its own QueueError for a field a schedule cannot set or for data
    that is not JSON, then `check_task` (the queue's own checks) on a throwaway task."""
    if isinstance(template, Task):
        data = template_of(template)
    elif isinstance(template, Mapping):
        data = dict(template)
    else:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            "template: must be an object of task fields",
            field="template",
        )
    refused = sorted(set(data) - set(TEMPLATE_FIELDS))
    if refused:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"template: a schedule's task cannot set {', '.join(refused)} "
            f"(it can set {', '.join(TEMPLATE_FIELDS)})",
            fields=refused,
        )
    try:
        data = json.loads(json.dumps(data))
    except (TypeError, ValueError) as exc:
        raise bad_format("template", f"not JSON data: {exc}") from None
    if "task_type" not in data:
        raise QueueError(
            TaskErrorCode.VALIDATION_MISSING_REQUIRED,
            "template: task_type: required",
            fields=["task_type: required"],
        )
    task = Task(**{**data, "task_type": parse_task_type(str(data["task_type"]))})
    check_task(task)
    defaults = task.to_dict()
    return {k: data[k] if k in data else defaults[k] for k in TEMPLATE_FIELDS}


def schedule_name(
    name: str, template: Mapping[str, Any], default_name: Callable[[str, Mapping[str, Any]], str]
) -> str:
    """The name a schedule goes by: `name`, else its template's name, else `default_name` of
    the template's type and params (the queue's: its registry's family name keys)."""
    if not isinstance(name, str):
        raise bad_format("name", "must be text")
    return (
        name.strip()
        or str(template.get("name") or "")
        or default_name(str(template["task_type"]), template.get("params") or {})
    )


def occurrence_task(s: Schedule, task_id: str) -> Task:
    """The task the schedule's occurrence with that id is: its template, tagged
    `schedule:<id>`, named after the schedule when the template names none."""
    data = json.loads(json.dumps(s.template))
    data["tags"] = [*data.get("tags", []), schedule_tag(s.id)]
    data["name"] = data.get("name") or s.name
    data["created_by"] = f"schedule:{s.id}"
    try:
        return Task.from_dict({**data, "id": task_id})
    except (KeyError, ValueError, TypeError) as exc:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS, f"template: {exc}", field="template"
        ) from None


def by_age(s: Schedule) -> tuple[float, str]:
    """Sort key: oldest first."""
    return (s.created_at, s.id)


def by_due_time(s: Schedule) -> tuple[float, float, str]:
    """Sort key: soonest due first (never-due last), then oldest."""
    return (s.next_run_at if s.next_run_at is not None else math.inf, s.created_at, s.id)
