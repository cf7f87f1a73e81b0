"""Recurring schedules over time: `ScheduleManager` turns each due schedule into a task.

`ScheduleManager` keeps the schedules of one queue (what a schedule is, and the rules of its
times and template, are in `schedule_rules`). It persists every change before announcing it (a
SCHEDULE_CHANGED event whose `detail` is the schedule's id), and arms one timer for the earliest
due time — it never polls. At each due time it adds the template as an ordinary task, tagged
`schedule:<schedule id>`, through the `TaskSink` it was handed (the queue facade), so
validation, persistence and events are the queue's own. It never imports the facade.

Occurrence n of a schedule has a task id derived from the schedule's id and n
(`occurrence_id`). A crash between adding an occurrence and saving the schedule therefore
cannot repeat it: at the next start the manager finds the task and counts it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.schedule_rules import (
    MIN_INTERVAL_S,
    MIN_PREFIX_LEN,
    SCHEDULE_TAG_PREFIX,
    TEMPLATE_FIELDS,
    MissedPolicy,
    Schedule,
    ScheduleKind,
    by_age,
    by_due_time,
    check_zone,
    missed_policy,
    next_cron_time,
    occurrence_id,
    occurrence_task,
    parse_interval_s,
    readable_schedule,
    schedule_name,
    schedule_tag,
    timing,
    validated_template,
)
from qtqueue.storage.base import ScheduleStore

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_WAIT_S",
    "MIN_INTERVAL_S",
    "MIN_PREFIX_LEN",
    "RETRY_S",
    "SCHEDULE_TAG_PREFIX",
    "TEMPLATE_FIELDS",
    "MissedPolicy",
    "Schedule",
    "ScheduleKind",
    "ScheduleManager",
    "TaskSink",
    "next_cron_time",
    "occurrence_id",
    "parse_interval_s",
    "schedule_tag",
]

# A timer may fire a hair before the wall clock reaches its time (the loop's clock is
# monotonic); a schedule due within this margin counts as due.
_EARLY_S = 0.005
#: The timer never waits longer than this before looking again: the loop's monotonic clock
#: stands still while the machine sleeps, and the wall clock can be set, so a far-off due
#: time is re-aimed from the wall clock at least this often.
MAX_WAIT_S = 300.0
#: After a pass over due schedules failed (e.g. the disk is full), the next one waits this long.
RETRY_S = 5.0


class EventPublisher(Protocol):
    """Where the manager announces a change."""

    def publish(self, events: list[TaskEvent]) -> None:
        """Hand one batch of events to every subscriber."""


class TaskSink(Protocol):
    """What the schedule manager needs from the queue it adds tasks to (the facade hands
    itself in)."""

    @property
    def clock(self) -> Callable[[], float]:
        """The queue's wall clock (UNIX seconds)."""

    @property
    def started(self) -> bool:
        """Whether the queue is open."""

    @property
    def dispatching(self) -> bool:
        """Whether the queue runs tasks (False: the command line without an engine)."""

    @property
    def events(self) -> EventPublisher:
        """The queue's event bus."""

    def validate_task(self, task: Task) -> Task:
        """The queue's checks of a new task; QueueError if it would be refused."""

    def default_name(self, task_type: str, params: Mapping[str, Any]) -> str:
        """The name a task of that type with those params gets when it is given none."""

    async def add_task(self, task: Task) -> str:
        """Add a task durably; its id. QueueError if it is refused."""

    async def get_task(self, task_id: str) -> Task:
        """The task with that id; QueueError QUEUE_TASK_NOT_FOUND if there is none."""


class ScheduleManager:
    """The schedules of one queue (a `TaskSink`), kept in a `ScheduleStore`.

    ```
    # start() after the queue's start, and close() before the queue's close
    async with ScheduleManager(queue, store=queue.store) as schedules:
        s = await schedules.add_schedule(
            {"task_type": "custom_command", "params": {"command": "backup.sh"}},
            cron="0 3 * * *",
        )
    ```

    On a queue opened with `dispatch=False` (the command line without an engine) schedules can
    be added, changed and listed, but nothing falls due: the next engine's manager catches up
    at its start. Schedule references (`ref`) are an id, a unique id prefix of at least
    MIN_PREFIX_LEN characters, or a unique name; an unknown one is QUEUE_SCHEDULE_NOT_FOUND.
    Changes are serialised: one at a time, each durable before the call returns.
    """

    def __init__(self, queue: TaskSink, *, store: ScheduleStore) -> None:
        self.queue = queue
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
        """The queue's wall clock."""
        return self.queue.clock

    @property
    def started(self) -> bool:
        """Whether `start` ran (and `close` did not since)."""
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
                s = readable_schedule(record)
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
        return [s.copy() for s in sorted(self._schedules.values(), key=by_age)]

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
                TaskErrorCode.QUEUE_SCHEDULE_NOT_FOUND,
                f"no schedule {ref!r} (give its id, a unique prefix of {MIN_PREFIX_LEN}+ "
                "characters, or its name)",
                schedule=ref,
            )
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            f"{ref!r} matches {len(matches)} schedules "
            f"({', '.join(s.id for s in sorted(matches, key=by_age))}); give its id",
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
            kind, spec = timing(every, cron)
            check_zone(timezone)
            s = Schedule(
                name="",
                template=self._validated_template(template),
                kind=kind,
                cron=spec if kind == ScheduleKind.CRON else None,
                interval_s=spec if kind == ScheduleKind.INTERVAL else None,
                timezone=timezone or None,
                missed=missed_policy(missed),
                paused=bool(paused),
                created_at=now,
            )
            s.name = schedule_name(name, s.template, self.queue.default_name)
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
                s.name = schedule_name(changes["name"] or "", s.template, self.queue.default_name)
            if "missed" in changes:
                s.missed = missed_policy(changes["missed"])
            retime = bool({"every", "cron", "timezone"} & set(changes))
            if changes.get("every") is not None or changes.get("cron") is not None:
                s.kind, spec = timing(changes.get("every"), changes.get("cron"))
                s.cron = spec if s.kind == ScheduleKind.CRON else None
                s.interval_s = spec if s.kind == ScheduleKind.INTERVAL else None
            if "timezone" in changes:
                check_zone(changes["timezone"])
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
        return validated_template(template, self.queue.validate_task)

    async def _submit(self, s: Schedule, now: float, *, raise_errors: bool) -> str | None:
        """Add the schedule's next occurrence (updating `s`, not saving it). A failure is kept
        in `s.last_error`, and raised if `raise_errors`."""
        task_id = occurrence_id(s.id, s.occurrences + 1)
        try:
            await self.queue.add_task(occurrence_task(s, task_id))
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
                    for s in sorted(self._schedules.values(), key=by_due_time)
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
