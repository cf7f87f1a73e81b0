"""Recurring schedules: a task template that becomes an ordinary task at each due time.

A `Schedule` holds what a user sets on a task (its template), when it recurs (a cron
expression in a time zone, or an interval) and what happens to occurrences missed while no
engine ran (`MissedPolicy`). `ScheduleManager` keeps the schedules of one `TaskQueue`: it
persists every change before announcing it (a SCHEDULE_CHANGED event whose `detail` is the
schedule's id), and arms one timer for the earliest due time — it never polls. At each due time
it adds the template as an ordinary task, tagged `schedule:<schedule id>`, through
`TaskQueue.add_task`, so validation, persistence and events are the queue's own.

Occurrence n of a schedule has a task id derived from the schedule's id and n
(`occurrence_id`). A crash between adding an occurrence and saving the schedule therefore
cannot repeat it: at the next start the manager finds the task and counts it.
"""

from __future__ import annotations

import asyncio
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
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter  # type: ignore[import-untyped]

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.recurrence import timing_words
from qtqueue.core.task import Task, new_task_id, parse_task_type, summarize_params
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.storage.schedules import ScheduleStore, SqliteScheduleStore
from qtqueue.storage.sqlite import SqliteTaskStore

if TYPE_CHECKING:
    from qtqueue.engine.queue import TaskQueue

logger = logging.getLogger(__name__)

__all__ = [
    "MIN_INTERVAL_S",
    "SCHEDULE_TAG_PREFIX",
    "MissedPolicy",
    "Schedule",
    "ScheduleKind",
    "ScheduleManager",
    "next_cron_time",
    "occurrence_id",
    "parse_interval_s",
    "schedule_tag",
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
# A timer may fire a hair before the wall clock reaches its time (the loop's clock is
# monotonic); a schedule due within this margin counts as due.
_EARLY_S = 0.005
#: The timer never waits longer than this before looking again: the loop's monotonic clock
#: stands still while the machine sleeps, and the wall clock can be set, so a far-off due
#: time is re-aimed from the wall clock at least this often.
MAX_WAIT_S = 300.0
#: After a pass over due schedules failed (e.g. the disk is full), the next one waits this long.
RETRY_S = 5.0


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


def _bad_format(field_name: str, message: str, **details: Any) -> QueueError:
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
        raise _bad_format(
            "every", f"{value!r} is not an interval (e.g. 45s, 10m, 1h30m, 2d)", value=str(value)
        )
    if not math.isfinite(seconds) or seconds < MIN_INTERVAL_S:
        raise _bad_format(
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


def _zone(name: str | None) -> ZoneInfo | None:
    """The IANA time zone of that name; None (the machine's local time) for None or ""."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _bad_format(
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
        raise _bad_format(
            "cron",
            f"{expression!r} is not a cron expression: give five fields (minute hour "
            'day-of-month month day-of-week, e.g. "0 3 * * *") or @hourly, @daily, @weekly…',
            value=str(expression),
        )
    zone = _zone(timezone)
    # A naive start is local time: croniter then works in local wall-clock time and
    # `timestamp()` maps its answer back through the machine's own DST rules.
    start = (
        datetime.fromtimestamp(after, zone) if zone is not None else datetime.fromtimestamp(after)
    )
    try:
        found = croniter(expr.lower(), start).get_next(datetime)
    except (CroniterError, ValueError, KeyError) as exc:
        raise _bad_format(
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


def _readable_schedule(record: dict[str, Any]) -> Schedule | None:
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


def _timing(every: str | float | None, cron: str | None) -> tuple[ScheduleKind, Any]:
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


def _missed_policy(value: MissedPolicy | str) -> MissedPolicy:
    try:
        return MissedPolicy(value)
    except ValueError:
        raise _bad_format(
            "missed", f"{value!r} is not one of run_once, skip", value=str(value)
        ) from None


class ScheduleManager:
    """The schedules of one `TaskQueue`.

    ```
    async with ScheduleManager(queue) as schedules:  # start() after the queue's start, and
        s = await schedules.add_schedule(            # close() before the queue's close
            {"task_type": "custom_command", "params": {"command": "backup.sh"}},
            cron="0 3 * * *",
        )
    ```

    On a queue opened with `dispatch=False` (the command line without an engine) schedules can
    be added, changed and listed, but nothing falls due: the next engine's manager catches up
    at its start. Schedule references (`ref`) are an id, a unique id prefix of at least
    MIN_PREFIX_LEN characters, or a unique name; an unknown one is QUEUE_TASK_NOT_FOUND.
    Changes are serialised: one at a time, each durable before the call returns.
    """

    def __init__(self, queue: TaskQueue, *, store: ScheduleStore | None = None) -> None:
        self.queue = queue
        if store is None:
            if not isinstance(queue.store, SqliteTaskStore):
                raise TypeError("ScheduleManager needs a ScheduleStore for this task store")
            store = SqliteScheduleStore(queue.store)
        self.store = store
        self._schedules: dict[str, Schedule] = {}
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop  # set by start()
        self._timer_at: float | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._started = False
        self._closing = False

    @property
    def clock(self) -> Callable[[], float]:
        return self.queue.clock

    @property
    def started(self) -> bool:
        return self._started

    @property
    def armed_at(self) -> float | None:
        """The due time the timer is armed for (None: no timer)."""
        return self._timer_at if self._timer is not None else None

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> ScheduleManager:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Load the schedules; on a dispatching queue, count occurrences added just before a
        crash, catch up on missed ones by each schedule's policy, and arm the timer."""
        if self._started:
            return
        if not self.queue.started:
            raise QueueError(TaskErrorCode.QUEUE_ENGINE_UNAVAILABLE, "the queue is not open")
        self._closing = False
        # Captured here: Qt (qasync) may call back into us outside the loop's run.
        self._loop = asyncio.get_running_loop()
        async with self._lock:
            for record in await self.store.load_schedules():
                s = _readable_schedule(record)
                if s is not None:
                    self._schedules[s.id] = s
            self._started = True
            if self.queue.dispatching:
                now = self.clock()
                for s in list(self._schedules.values()):
                    if await self._recover(s, now):
                        await self._save(s, now)
        self._arm()
        logger.info("%d schedules loaded", len(self._schedules))

    async def close(self) -> None:
        """Stop the timer and wait for a change in progress to finish. Idempotent."""
        if not self._started:
            return
        self._closing = True
        self._disarm()
        # A pass already started finishes (one it has not started yet sees `_closing`).
        await asyncio.gather(*self._background, return_exceptions=True)
        async with self._lock:
            self._schedules.clear()
            self._started = False

    async def _recover(self, s: Schedule, now: float) -> bool:
        """Count occurrences added before a crash let the schedule be saved, then apply the
        missed policy. Whether `s` changed."""
        changed = False
        while True:
            try:
                task = await self.queue.get_task(occurrence_id(s.id, s.occurrences + 1))
            except QueueError:
                break
            self._count(s, task.id, task.created_at)
            if s.next_run_at is not None and s.next_run_at <= task.created_at:
                s.next_run_at = s.following(task.created_at)
            changed = True
        if s.paused or s.next_run_at is None or s.next_run_at > now + _EARLY_S:
            return changed
        if s.missed == MissedPolicy.RUN_ONCE:
            logger.info("schedule %s (%s) missed a run while closed; running it once", s.id, s.name)
            await self._submit(s, now, raise_errors=False)
        else:
            logger.info("schedule %s (%s) missed a run while closed; skipped", s.id, s.name)
        s.next_run_at = s.following(now)
        return True

    # ------------------------------------------------------------------ reading

    def list_schedules(self) -> list[Schedule]:
        """Every schedule (copies), oldest first."""
        self._require_started()
        return [s.copy() for s in sorted(self._schedules.values(), key=_age)]

    def get_schedule(self, ref: str) -> Schedule:
        """A copy of one schedule."""
        return self._find(ref).copy()

    def _find(self, ref: str) -> Schedule:
        self._require_started()
        found = self._schedules.get(ref)
        if found is not None:
            return found
        by_prefix = (
            [s for s in self._schedules.values() if s.id.startswith(ref)]
            if len(ref) >= MIN_PREFIX_LEN
            else []
        )
        matches = by_prefix or [s for s in self._schedules.values() if s.name == ref]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise QueueError(
                TaskErrorCode.QUEUE_TASK_NOT_FOUND,
                f"no schedule {ref!r} (give its id, a unique prefix of {MIN_PREFIX_LEN}+ "
                "characters, or its name)",
                schedule=ref,
            )
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            f"{ref!r} matches {len(matches)} schedules "
            f"({', '.join(s.id for s in sorted(matches, key=_age))}); give its id",
            schedule=ref,
        )

    def _require_started(self) -> None:
        if not self._started or self._closing:
            raise QueueError(
                TaskErrorCode.QUEUE_ENGINE_UNAVAILABLE, "the schedule manager is not running"
            )

    # ------------------------------------------------------------------ changing

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
        """Create a schedule; returns it once durable. Give exactly one of `every` (seconds,
        or a text such as "10m" or "1h30m") and `cron` (read in `timezone`, default local
        time). The template is validated as `TaskQueue.add_task` validates a task, with the
        same QueueError; nothing is added until the first due time."""
        async with self._lock:
            self._require_started()
            now = self.clock()
            kind, spec = _timing(every, cron)
            _zone(timezone)
            s = Schedule(
                name="",
                template=self._validated_template(template),
                kind=kind,
                cron=spec if kind == ScheduleKind.CRON else None,
                interval_s=spec if kind == ScheduleKind.INTERVAL else None,
                timezone=timezone or None,
                missed=_missed_policy(missed),
                paused=bool(paused),
                created_at=now,
            )
            s.name = self._name(name, s.template)
            s.next_run_at = s.following(now)
            await self._save(s, now)
            logger.info("schedule %s (%s) added: %s", s.id, s.name, s.summary)
        self._arm()
        return s.copy()

    async def update_schedule(self, ref: str, **changes: Any) -> Schedule:
        """Change a schedule: any of name, template, every, cron, timezone, missed (every or
        cron also switches the kind). A change of timing restarts it from now. Returns the
        schedule once durable."""
        unknown = sorted(set(changes) - {"name", "template", "every", "cron", "timezone", "missed"})
        if unknown:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS,
                f"cannot change {', '.join(unknown)} (name, template, every, cron, timezone "
                "and missed can be changed)",
                fields=unknown,
            )
        async with self._lock:
            current = self._find(ref)
            now = self.clock()
            s = current.copy()
            if "template" in changes:
                s.template = self._validated_template(changes["template"])
            if "name" in changes:
                s.name = self._name(changes["name"] or "", s.template)
            if "missed" in changes:
                s.missed = _missed_policy(changes["missed"])
            retime = bool({"every", "cron", "timezone"} & set(changes))
            if changes.get("every") is not None or changes.get("cron") is not None:
                s.kind, spec = _timing(changes.get("every"), changes.get("cron"))
                s.cron = spec if s.kind == ScheduleKind.CRON else None
                s.interval_s = spec if s.kind == ScheduleKind.INTERVAL else None
            if "timezone" in changes:
                _zone(changes["timezone"])
                s.timezone = changes["timezone"] or None
            if retime:
                s.next_run_at = None
                s.next_run_at = s.following(now)
            await self._save(s, now)
        self._arm()
        return s.copy()

    async def pause_schedule(self, ref: str) -> Schedule:
        """Stop adding occurrences until `resume_schedule`. Survives restarts."""
        return await self._set_paused(ref, True)

    async def resume_schedule(self, ref: str) -> Schedule:
        """Start again from the next due time after now (what fell due meanwhile is not run)."""
        return await self._set_paused(ref, False)

    async def _set_paused(self, ref: str, paused: bool) -> Schedule:
        async with self._lock:
            s = self._find(ref).copy()
            if s.paused != paused:
                now = self.clock()
                s.paused = paused
                if not paused:
                    s.next_run_at = s.following(now)
                await self._save(s, now)
        self._arm()
        return s.copy()

    async def delete_schedule(self, ref: str) -> str:
        """Delete a schedule for good (its occurrences stay, as ordinary tasks); its id."""
        async with self._lock:
            s = self._find(ref)
            await self.store.delete_schedule(s.id)
            del self._schedules[s.id]
            self._announce(s.id)
            logger.info("schedule %s (%s) deleted", s.id, s.name)
        self._arm()
        return s.id

    async def run_now(self, ref: str) -> str:
        """Add one occurrence now, whatever the schedule's state; its next due time stays.
        Returns the new task's id; the queue's QueueError if the task cannot be added."""
        async with self._lock:
            s = self._find(ref).copy()
            now = self.clock()
            task_id = await self._submit(s, now, raise_errors=True)
            await self._save(s, now)
        assert task_id is not None
        return task_id

    # ------------------------------------------------------------------ internals

    def _validated_template(self, template: Mapping[str, Any] | Task) -> dict[str, Any]:
        """The template as JSON-ready Task fields, checked as add_task checks a task."""
        if isinstance(template, Task):
            full = template.to_dict()
            data = {k: full[k] for k in TEMPLATE_FIELDS}
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
            raise _bad_format("template", f"not JSON data: {exc}") from None
        if "task_type" not in data:
            raise QueueError(
                TaskErrorCode.VALIDATION_MISSING_REQUIRED,
                "template: task_type: required",
                fields=["task_type: required"],
            )
        task = Task(**{**data, "task_type": parse_task_type(str(data["task_type"]))})
        # The queue's own checks, on a throwaway copy: the same QueueError add_task would raise.
        self.queue.validate_task(task)
        defaults = task.to_dict()
        return {k: data[k] if k in data else defaults[k] for k in TEMPLATE_FIELDS}

    @staticmethod
    def _name(name: str, template: Mapping[str, Any]) -> str:
        if not isinstance(name, str):
            raise _bad_format("name", "must be text")
        return (
            name.strip()
            or str(template.get("name") or "")
            or summarize_params(template["task_type"], template.get("params") or {})
        )

    def _occurrence(self, s: Schedule, task_id: str) -> Task:
        data = json.loads(json.dumps(s.template))
        data["tags"] = [*data.get("tags", []), schedule_tag(s.id)]
        data["name"] = data.get("name") or s.name
        try:
            return Task.from_dict({**data, "id": task_id})
        except (KeyError, ValueError, TypeError) as exc:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS, f"template: {exc}", field="template"
            ) from None

    async def _submit(self, s: Schedule, now: float, *, raise_errors: bool) -> str | None:
        """Add the schedule's next occurrence (updating `s`, not saving it). A failure is kept
        in `s.last_error`, and raised if `raise_errors`."""
        task_id = occurrence_id(s.id, s.occurrences + 1)
        try:
            await self.queue.add_task(self._occurrence(s, task_id))
        except QueueError as exc:
            if await self._exists(task_id):  # added before, but the schedule was not saved
                self._count(s, task_id, now)
                return task_id
            s.last_error = f"{exc.code.value}: {exc.message}"
            logger.warning("schedule %s (%s): occurrence not added: %s", s.id, s.name, exc)
            if raise_errors:
                raise
            return None
        self._count(s, task_id, now)
        s.last_error = None
        return task_id

    async def _exists(self, task_id: str) -> bool:
        try:
            await self.queue.get_task(task_id)
        except QueueError:
            return False
        return True

    @staticmethod
    def _count(s: Schedule, task_id: str, at: float) -> None:
        s.occurrences += 1
        s.last_task_id = task_id
        s.last_run_at = at

    async def _save(self, s: Schedule, now: float) -> None:
        """Persist `s`, then make it the current state and announce it."""
        s.updated_at = now
        await self.store.save_schedule(s.to_dict())
        self._schedules[s.id] = s
        self._announce(s.id)

    def _announce(self, schedule_id: str) -> None:
        self.queue.events.publish([TaskEvent(EventKind.SCHEDULE_CHANGED, "", detail=schedule_id)])

    # ------------------------------------------------------------------ the timer

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_at = None

    def _arm(self, min_delay_s: float = 0.0) -> None:
        """Arm the one timer for the earliest due time of an active schedule (or none), at
        most MAX_WAIT_S ahead."""
        self._disarm()
        if not self._started or self._closing or not self.queue.dispatching:
            return
        due = [
            s.next_run_at
            for s in self._schedules.values()
            if not s.paused and s.next_run_at is not None
        ]
        if not due:
            return
        at = min(due)
        loop = self._loop
        self._timer_at = at
        delay = min(max(min_delay_s, at - self.clock()), MAX_WAIT_S)
        self._timer = loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        job = self._loop.create_task(self._run_due(), name="schedules due")
        self._background.add(job)
        job.add_done_callback(self._job_done)

    def _job_done(self, job: asyncio.Task[None]) -> None:
        self._background.discard(job)
        if not job.cancelled() and job.exception() is not None:
            logger.error("adding scheduled tasks failed", exc_info=job.exception())

    async def _run_due(self) -> None:
        """Add one occurrence of every schedule now due, and move each to its next time."""
        retry_in = 0.0
        try:
            async with self._lock:
                if self._closing or not self._started:
                    return
                now = self.clock()
                due = [
                    s.copy()
                    for s in sorted(self._schedules.values(), key=_due_order)
                    if not s.paused
                    and s.next_run_at is not None
                    and s.next_run_at <= now + _EARLY_S
                ]
                for s in due:
                    await self._submit(s, now, raise_errors=False)
                    s.next_run_at = s.following(max(now, s.next_run_at or now))
                    await self._save(s, now)
        except Exception:
            # Never spin on a failure: what was not saved is due again after RETRY_S.
            logger.exception("adding scheduled tasks failed; trying again in %g s", RETRY_S)
            retry_in = RETRY_S
        finally:
            self._arm(retry_in)


def _age(s: Schedule) -> tuple[float, str]:
    return (s.created_at, s.id)


def _due_order(s: Schedule) -> tuple[float, float, str]:
    return (s.next_run_at if s.next_run_at is not None else math.inf, s.created_at, s.id)
