"""Specification of recurring schedules: `ScheduleManager` on a real `TaskQueue`.

Occurrences are ordinary tasks: they are counted from the queue's own ADDED events and waited
for with `wait_for`. Times that must be exact come from an injected clock; the tests that let
real time pass use intervals of a fifth of a second.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from helpers.queues import QueueFactory

from qtqueue.core.errors import CATALOG, QueueError, TaskErrorCode
from qtqueue.core.task import Priority, Task, TaskStatus, TaskType
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import TaskQueue
from qtqueue.engine.schedules import (
    MissedPolicy,
    Schedule,
    ScheduleKind,
    ScheduleManager,
    next_cron_time,
    occurrence_id,
    parse_interval_s,
    schedule_tag,
)
from qtqueue.executors import default_registry

C = TaskErrorCode
T0 = 1_700_000_000.0
TICK = {"task_type": "tick", "params": {"n": 1}}
UTC = dt.UTC


async def tick(task_id: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"n": params.get("n")}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Added:
    """Ids of tasks added with a tag, in order, from the queue's events; awaitable counts."""

    def __init__(self, queue: TaskQueue, tag: str) -> None:
        self.ids: list[str] = []
        self._tag = tag
        self._changed = asyncio.Event()
        self.unsubscribe = queue.subscribe(self._on_events)

    def _on_events(self, events: list[TaskEvent]) -> None:
        for e in events:
            if e.kind == EventKind.ADDED and e.task is not None and self._tag in e.task.tags:
                self.ids.append(e.task_id)
                self._changed.set()

    async def until(self, count: int, timeout_s: float = 10.0) -> list[str]:
        async def reached() -> None:
            while len(self.ids) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(reached(), timeout_s)
        return self.ids[:count]


ManagerFactory = Callable[..., Awaitable[tuple[TaskQueue, ScheduleManager]]]


@pytest.fixture
async def open_schedules(make_queue: QueueFactory) -> AsyncIterator[ManagerFactory]:
    """Open a queue (keyword arguments go to TaskQueue) with a "tick" handler registered
    before it starts, and its own ScheduleManager (started and closed with it)."""

    async def make(**kwargs: Any) -> tuple[TaskQueue, ScheduleManager]:
        registry = default_registry(entry_points=False)
        registry.register_handler("tick", tick)
        queue = await make_queue(registry=registry, **kwargs)
        return queue, queue.schedules

    yield make


async def reopen(
    queue: TaskQueue, manager: ScheduleManager, open_schedules: ManagerFactory, **kwargs: Any
) -> tuple[TaskQueue, ScheduleManager]:
    """Stop the engine as an application does (schedules first), then start a new one."""
    await manager.close()
    await queue.close()
    return await open_schedules(**kwargs)


def in_utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=UTC).timestamp()


def assert_error(exc: pytest.ExceptionInfo[QueueError], code: TaskErrorCode, *words: str) -> None:
    assert exc.value.code == code
    assert exc.value.suggestion == CATALOG[code].suggestion
    for word in words:
        assert word in exc.value.message


# --- Intervals and cron expressions -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("45s", 45), ("10m", 600), ("1h30m", 5400), ("2d", 172800), ("1w", 604800),
        ("1.5h", 5400), ("90", 90), (" 10M ", 600), (0.2, 0.2), (3600, 3600),
    ],
)  # fmt: skip
def test_an_interval_is_read_from_units_or_seconds(text: str | float, seconds: float) -> None:
    assert parse_interval_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", "soon", "10x", "m10", "-5m", "1h 30m", "h", "10m-", True, None]
)
def test_a_text_that_is_no_interval_is_a_format_error(text: Any) -> None:
    with pytest.raises(QueueError) as exc:
        parse_interval_s(text)
    assert_error(exc, C.VALIDATION_INVALID_FORMAT, "every:", "is not an interval", "1h30m")


@pytest.mark.parametrize("text", ["0s", "0", "-5", "0.05s", "inf"])
def test_an_interval_must_be_at_least_a_tenth_of_a_second(text: str) -> None:
    with pytest.raises(QueueError) as exc:
        parse_interval_s(text)
    assert_error(exc, C.VALIDATION_INVALID_FORMAT, "at least 0.1 s")


def test_the_next_cron_time_is_strictly_after_the_given_time() -> None:
    assert next_cron_time("0 3 * * *", in_utc(2024, 1, 1, 2, 59, 59), "UTC") == in_utc(
        2024, 1, 1, 3
    )
    assert next_cron_time("0 3 * * *", in_utc(2024, 1, 1, 3), "UTC") == in_utc(2024, 1, 2, 3)
    assert next_cron_time("*/15 * * * *", in_utc(2024, 1, 1, 3, 7), "UTC") == in_utc(
        2024, 1, 1, 3, 15
    )
    assert next_cron_time("@hourly", in_utc(2024, 1, 1, 3, 7), "UTC") == in_utc(2024, 1, 1, 4)
    assert next_cron_time("0 9 * * mon", in_utc(2024, 1, 3), "UTC") == in_utc(2024, 1, 8, 9)


def test_a_cron_expression_is_read_in_its_time_zone_across_a_dst_change() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    before = dt.datetime(2024, 3, 30, 3, 0, tzinfo=paris).timestamp()
    first = next_cron_time("0 3 * * *", before, "Europe/Paris")
    # Paris moved its clocks forward on 31 March: 03:00 came 23 hours after the previous one.
    assert first - before == 23 * 3600
    assert next_cron_time("0 3 * * *", before, "America/New_York") == in_utc(2024, 3, 30, 7)


def test_without_a_time_zone_a_cron_expression_is_read_in_local_time() -> None:
    after = dt.datetime(2024, 5, 1, 12, 0).timestamp()  # naive: this machine's local time
    assert next_cron_time("0 3 * * *", after) == dt.datetime(2024, 5, 2, 3, 0).timestamp()


@pytest.mark.parametrize(
    "expression",
    ["61 * * * *", "bogus", "* * *", "0 3 * * * *", "0 0 31 2 *", "*/0 * * * *", "", "@often"],
)
def test_a_bad_cron_expression_is_a_format_error(expression: str) -> None:
    with pytest.raises(QueueError) as exc:
        next_cron_time(expression, T0)
    assert_error(exc, C.VALIDATION_INVALID_FORMAT, "cron:")


def test_an_unknown_time_zone_is_a_format_error() -> None:
    with pytest.raises(QueueError) as exc:
        next_cron_time("0 3 * * *", T0, "Mars/Olympus_Mons")
    assert_error(exc, C.VALIDATION_INVALID_FORMAT, "timezone:", "IANA")


def test_an_interval_stays_on_its_grid_when_it_is_late() -> None:
    s = Schedule("s", dict(TICK), ScheduleKind.INTERVAL, interval_s=10, next_run_at=100.0)
    assert s.following(99.0) == 100.0
    assert s.following(100.0) == 110.0
    assert s.following(125.0) == 130.0
    s.next_run_at = None
    assert s.following(125.0) == 135.0


# --- Occurrences are ordinary tasks -----------------------------------------------------------


async def test_an_interval_schedule_adds_ordinary_tasks_that_run_and_complete(
    open_schedules: ManagerFactory,
) -> None:
    queue, schedules = await open_schedules()
    s = await schedules.add_schedule(
        {**TICK, "tags": ["nightly"], "priority": "high"}, every=0.2, name="ticker"
    )
    added = Added(queue, schedule_tag(s.id))

    ids = await added.until(3)
    await schedules.pause_schedule(s.id)

    assert ids == [occurrence_id(s.id, n) for n in (1, 2, 3)]
    for task_id in ids:
        task = await queue.wait_for(task_id, timeout_s=10)
        assert task.status == TaskStatus.COMPLETED
        assert task.result == {"n": 1}
        assert task.tags == ["nightly", schedule_tag(s.id)]
        assert task.name == "ticker"
        assert task.priority == Priority.HIGH
    assert [t.id for t in await queue.list_tasks(tag=schedule_tag(s.id))] == added.ids
    now = schedules.get_schedule(s.id)
    assert now.occurrences == len(added.ids)
    assert now.last_task_id == added.ids[-1]
    assert now.last_error is None


async def test_occurrences_come_on_the_interval_grid_from_the_creation_time(
    open_schedules: ManagerFactory,
) -> None:
    queue, schedules = await open_schedules()
    s = await schedules.add_schedule(TICK, every=0.2)
    added = Added(queue, schedule_tag(s.id))
    await added.until(2)
    await schedules.pause_schedule(s.id)
    created = [(await queue.get_task(i)).created_at for i in added.ids[:2]]
    assert created[0] >= s.created_at + 0.2
    assert created[1] >= s.created_at + 0.4
    assert schedules.get_schedule(s.id).next_run_at == pytest.approx(
        s.created_at + 0.2 * (schedules.get_schedule(s.id).occurrences + 1)
    )


async def test_run_now_adds_one_occurrence_and_keeps_the_next_due_time(
    open_schedules: ManagerFactory,
) -> None:
    queue, schedules = await open_schedules()
    s = await schedules.add_schedule(TICK, cron="0 3 * * *", paused=True)

    task_id = await schedules.run_now(s.id[:8])

    assert task_id == occurrence_id(s.id, 1)
    assert (await queue.wait_for(task_id, timeout_s=10)).status == TaskStatus.COMPLETED
    after = schedules.get_schedule(s.id)
    assert (after.occurrences, after.last_task_id, after.paused) == (1, task_id, True)
    assert after.next_run_at == s.next_run_at


# --- The one timer --------------------------------------------------------------------------


async def test_one_timer_is_armed_for_the_earliest_due_time_and_follows_every_change(
    open_schedules: ManagerFactory,
) -> None:
    queue, schedules = await open_schedules()
    assert schedules.armed_at is None
    hourly = await schedules.add_schedule(TICK, every="1h")
    daily = await schedules.add_schedule(TICK, every="1d")
    assert schedules.armed_at == hourly.next_run_at

    await schedules.pause_schedule(hourly.id)
    assert schedules.armed_at == daily.next_run_at
    resumed = await schedules.resume_schedule(hourly.id)
    assert schedules.armed_at == resumed.next_run_at == hourly.next_run_at

    edited = await schedules.update_schedule(daily.id, every="10m")
    assert edited.next_run_at is not None and edited.next_run_at < hourly.next_run_at  # type: ignore[operator]
    assert schedules.armed_at == edited.next_run_at

    await schedules.delete_schedule(daily.id)
    assert schedules.armed_at == hourly.next_run_at
    await schedules.pause_schedule(hourly.id)
    assert schedules.armed_at is None
    assert await queue.list_tasks() == []


async def test_a_paused_schedule_has_no_timer_and_resumes_from_the_next_due_time(
    open_schedules: ManagerFactory,
) -> None:
    clock = Clock()
    queue, schedules = await open_schedules(clock=clock)
    s = await schedules.add_schedule(TICK, every="1m")
    assert s.next_run_at == T0 + 60

    paused = await schedules.pause_schedule(s.id)
    assert paused.paused and schedules.armed_at is None
    clock.now = T0 + 150
    resumed = await schedules.resume_schedule(s.id)
    assert not resumed.paused
    assert resumed.next_run_at == T0 + 180  # nothing for the time it was paused
    assert schedules.armed_at == T0 + 180
    assert await queue.list_tasks() == []


async def test_a_deleted_schedule_adds_nothing_more_and_its_tasks_stay(
    open_schedules: ManagerFactory,
) -> None:
    queue, schedules = await open_schedules()
    s = await schedules.add_schedule(TICK, every=0.2, name="short-lived")
    added = Added(queue, schedule_tag(s.id))
    await added.until(1)

    assert await schedules.delete_schedule("short-lived") == s.id

    assert schedules.armed_at is None
    assert schedules.list_schedules() == []
    assert await schedules.store.load_schedules() == []
    with pytest.raises(QueueError) as exc:
        schedules.get_schedule(s.id)
    assert exc.value.code == C.QUEUE_SCHEDULE_NOT_FOUND
    for task_id in added.ids:
        assert (await queue.wait_for(task_id, timeout_s=10)).status == TaskStatus.COMPLETED


async def test_editing_the_timing_restarts_it_from_now_and_other_edits_keep_it(
    open_schedules: ManagerFactory,
) -> None:
    clock = Clock()
    _, schedules = await open_schedules(clock=clock)
    s = await schedules.add_schedule(TICK, every="1h", missed="skip")
    clock.now = T0 + 600

    renamed = await schedules.update_schedule(
        s.id, name="renamed", missed="run_once", template={**TICK, "params": {"n": 2}}
    )
    assert (renamed.name, renamed.missed, renamed.template["params"]) == (
        "renamed",
        MissedPolicy.RUN_ONCE,
        {"n": 2},
    )
    assert renamed.next_run_at == T0 + 3600

    cron = await schedules.update_schedule(s.id, cron="0 3 * * *", timezone="UTC")
    assert cron.kind == ScheduleKind.CRON and cron.interval_s is None
    assert cron.next_run_at == next_cron_time("0 3 * * *", T0 + 600, "UTC")
    assert schedules.armed_at == cron.next_run_at
    [stored] = await schedules.store.load_schedules()
    assert Schedule.from_dict(stored) == schedules.get_schedule(s.id)


# --- Restarts ---------------------------------------------------------------------------------


async def test_a_schedule_survives_a_restart_paused_or_not(open_schedules: ManagerFactory) -> None:
    queue, schedules = await open_schedules()
    active = await schedules.add_schedule(TICK, cron="0 3 * * *", name="active")
    held = await schedules.add_schedule(TICK, every="1h", name="held")
    await schedules.pause_schedule(held.id)

    queue, schedules = await reopen(queue, schedules, open_schedules)

    assert [s.name for s in schedules.list_schedules()] == ["active", "held"]
    assert schedules.get_schedule("held").paused
    assert schedules.get_schedule("active") == active
    assert schedules.armed_at == active.next_run_at


@pytest.mark.parametrize(("policy", "expected"), [("run_once", 1), ("skip", 0)])
async def test_occurrences_missed_while_closed_run_once_or_are_skipped(
    open_schedules: ManagerFactory, policy: str, expected: int
) -> None:
    clock = Clock()
    queue, schedules = await open_schedules(clock=clock)
    s = await schedules.add_schedule(TICK, every="1m", missed=policy)
    held = await schedules.add_schedule(TICK, every="1m", paused=True)

    clock.now = T0 + 630  # ten due times pass while no engine runs
    queue, schedules = await reopen(queue, schedules, open_schedules, clock=clock)

    tasks = await queue.list_tasks(tag=schedule_tag(s.id))
    assert [t.id for t in tasks] == [occurrence_id(s.id, 1)][:expected]
    for t in tasks:
        assert (await queue.wait_for(t.id, timeout_s=10)).status == TaskStatus.COMPLETED
    after = schedules.get_schedule(s.id)
    assert after.occurrences == expected
    assert after.next_run_at == T0 + 660  # the next due time in the future, on the grid
    assert schedules.armed_at == T0 + 660
    assert await queue.list_tasks(tag=schedule_tag(held.id)) == []


async def test_an_occurrence_added_just_before_a_crash_is_not_added_again(
    open_schedules: ManagerFactory,
) -> None:
    clock = Clock()
    queue, schedules = await open_schedules(clock=clock)
    s = await schedules.add_schedule(TICK, every="1m", missed="run_once")
    # The engine added occurrence 1 at its due time, then died before saving the schedule.
    clock.now = T0 + 60
    crash_task = Task("tick", {"n": 1}, id=occurrence_id(s.id, 1), tags=[schedule_tag(s.id)])
    await queue.add_task(crash_task)

    clock.now = T0 + 70
    queue, schedules = await reopen(queue, schedules, open_schedules, clock=clock)

    assert [t.id for t in await queue.list_tasks(tag=schedule_tag(s.id))] == [crash_task.id]
    after = schedules.get_schedule(s.id)
    assert (after.occurrences, after.last_task_id) == (1, crash_task.id)
    assert after.next_run_at == T0 + 120


async def test_an_occurrence_the_queue_refuses_is_noted_and_the_schedule_moves_on(
    open_schedules: ManagerFactory, make_queue: QueueFactory
) -> None:
    clock = Clock()
    queue, schedules = await open_schedules(clock=clock)
    s = await schedules.add_schedule(TICK, every="1m")
    await schedules.close()
    await queue.close()

    clock.now = T0 + 90
    queue = await make_queue(clock=clock)  # "tick" is not registered any more
    schedules = queue.schedules  # it caught up when the queue started
    after = schedules.get_schedule(s.id)
    assert after.last_error is not None
    assert after.last_error.startswith("QUEUE_UNKNOWN_TASK_TYPE: ")
    assert (after.occurrences, after.next_run_at) == (0, T0 + 120)
    assert schedules.armed_at == T0 + 120
    assert await queue.list_tasks() == []


async def test_without_dispatching_schedules_are_kept_and_the_next_engine_catches_up(
    open_schedules: ManagerFactory,
) -> None:
    clock = Clock()
    queue, offline = await open_schedules(dispatch=False, clock=clock)  # the CLI, no engine
    s = await offline.add_schedule(TICK, every="1m")
    assert offline.armed_at is None
    clock.now = T0 + 600
    await offline.close()
    async with ScheduleManager(queue, store=queue.store) as reopened:
        assert reopened.armed_at is None
        assert reopened.get_schedule(s.id).next_run_at == T0 + 60
        assert await queue.list_tasks() == []

    queue, engine = await reopen(queue, offline, open_schedules, clock=clock)

    assert [t.id for t in await queue.list_tasks()] == [occurrence_id(s.id, 1)]
    assert engine.get_schedule(s.id).next_run_at == T0 + 660


# --- Validation -----------------------------------------------------------------------------


async def test_a_template_is_validated_as_add_task_validates_a_task(
    open_schedules: ManagerFactory,
) -> None:
    queue, schedules = await open_schedules()
    bad_templates: list[dict[str, Any]] = [
        {"task_type": "custom_command", "params": {}},
        {"task_type": "custom_command", "params": {"command": "true", "no_such": 1}},
        {"task_type": "no_such_type", "params": {}},
        {**TICK, "priority": "whenever"},
        {**TICK, "max_retries": -1},
    ]
    for template in bad_templates:
        with pytest.raises(QueueError) as as_task:
            await queue.add_task(Task(**template))
        with pytest.raises(QueueError) as as_schedule:
            await schedules.add_schedule(template, every="1h")
        assert as_schedule.value.code == as_task.value.code
        assert as_schedule.value.message == as_task.value.message

    assert schedules.list_schedules() == []
    assert await schedules.store.load_schedules() == []
    assert await queue.list_tasks() == []


@pytest.mark.parametrize(
    ("kwargs", "code", "words"),
    [
        ({"every": "10x"}, C.VALIDATION_INVALID_FORMAT, ["every:"]),
        ({"cron": "61 * * * *"}, C.VALIDATION_INVALID_FORMAT, ["cron:"]),
        ({"cron": "@daily", "timezone": "Mars/X"}, C.VALIDATION_INVALID_FORMAT, ["timezone:"]),
        ({"every": "1h", "timezone": "Mars/X"}, C.VALIDATION_INVALID_FORMAT, ["timezone:"]),
        ({"every": "1h", "missed": "sometimes"}, C.VALIDATION_INVALID_FORMAT, ["missed:"]),
        ({"every": "1h", "cron": "0 3 * * *"}, C.VALIDATION_INVALID_PARAMS, ["not both"]),
        ({}, C.VALIDATION_MISSING_REQUIRED, ["every or cron"]),
    ],
)  # fmt: skip
async def test_bad_timing_is_refused_with_a_code_and_a_suggestion(
    open_schedules: ManagerFactory, kwargs: dict[str, Any], code: TaskErrorCode, words: list[str]
) -> None:
    _, schedules = await open_schedules()
    with pytest.raises(QueueError) as exc:
        await schedules.add_schedule(TICK, **kwargs)
    assert_error(exc, code, *words)
    assert schedules.list_schedules() == []
    assert schedules.armed_at is None


async def test_a_template_may_not_set_absolute_times_or_other_tasks(
    open_schedules: ManagerFactory,
) -> None:
    _, schedules = await open_schedules()
    for extra in ({"run_at": T0}, {"depends_on": ["x"]}, {"id": "fixed"}, {"status": "failed"}):
        with pytest.raises(QueueError) as exc:
            await schedules.add_schedule({**TICK, **extra}, every="1h")
        assert_error(exc, C.VALIDATION_INVALID_PARAMS, "cannot set", next(iter(extra)))


async def test_a_refused_edit_leaves_the_schedule_as_it_was(open_schedules: ManagerFactory) -> None:
    _, schedules = await open_schedules()
    s = await schedules.add_schedule(TICK, every="1h")
    for changes in (
        {"every": "never"},
        {"template": {"task_type": "custom_command", "params": {}}},
        {"cron": "0 3 * * *", "every": "1h"},
        {"kind": "cron"},
    ):
        with pytest.raises(QueueError):
            await schedules.update_schedule(s.id, **changes)
    assert schedules.get_schedule(s.id) == s
    assert [Schedule.from_dict(r) for r in await schedules.store.load_schedules()] == [s]
    assert schedules.armed_at == s.next_run_at


async def test_schedules_are_found_by_id_prefix_or_name(open_schedules: ManagerFactory) -> None:
    _, schedules = await open_schedules()
    a = await schedules.add_schedule(TICK, every="1h", name="twin")
    b = await schedules.add_schedule(TICK, every="1h", name="twin")
    assert schedules.get_schedule(a.id[:6]).id == a.id
    with pytest.raises(QueueError) as ambiguous:
        schedules.get_schedule("twin")
    assert ambiguous.value.code == C.VALIDATION_INVALID_FORMAT
    assert a.id in ambiguous.value.message and b.id in ambiguous.value.message
    with pytest.raises(QueueError) as missing:
        await schedules.pause_schedule("nope")
    assert missing.value.code == C.QUEUE_SCHEDULE_NOT_FOUND


async def test_a_template_can_be_a_task_and_the_name_defaults_to_its_summary(
    open_schedules: ManagerFactory,
) -> None:
    _, schedules = await open_schedules()
    task = Task(TaskType.CUSTOM_COMMAND, {"command": "df", "args": ["-h"]}, category="disk")
    s = await schedules.add_schedule(task, cron="@daily")
    assert s.name == "df -h"
    assert s.template["category"] == "disk"
    assert s.template["params"] == {"command": "df", "args": ["-h"]}
    assert "id" not in s.template and "run_at" not in s.template


# --- Events ---------------------------------------------------------------------------------


async def test_every_change_is_announced_once_durable(open_schedules: ManagerFactory) -> None:
    queue, schedules = await open_schedules()
    seen: list[tuple[str, int]] = []

    def on_events(events: list[TaskEvent]) -> None:
        for e in events:
            if e.kind == EventKind.SCHEDULE_CHANGED:
                assert e.task_id == ""
                seen.append((e.detail, len(schedules.list_schedules())))

    queue.subscribe(on_events)
    s = await schedules.add_schedule(TICK, every="1h")
    await schedules.pause_schedule(s.id)
    await schedules.update_schedule(s.id, name="x")
    await schedules.delete_schedule(s.id)
    assert seen == [(s.id, 1), (s.id, 1), (s.id, 1), (s.id, 0)]


async def test_a_schedule_row_that_cannot_be_read_is_left_out_and_the_rest_runs(
    make_queue: QueueFactory, data_dir: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import sqlite3

    queue = await make_queue()
    good = await queue.schedules.add_schedule(
        {"task_type": TaskType.CUSTOM_COMMAND.value, "params": {"command": "true"}}, every=3600
    )
    garbled = await queue.schedules.add_schedule(
        {"task_type": TaskType.CUSTOM_COMMAND.value, "params": {"command": "true"}}, every=60
    )
    await queue.close()
    with sqlite3.connect(data_dir / "queue.db") as conn:  # damage the second one's row
        conn.execute("UPDATE schedules SET template = '{not json' WHERE id = ?", (garbled.id,))

    queue = await make_queue()
    assert [s.id for s in queue.schedules.list_schedules()] == [good.id]
    assert f"schedule {garbled.id} cannot be read" in caplog.text
    added = await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}))
    assert (await queue.wait_for(added, timeout_s=20)).status is TaskStatus.COMPLETED
    with sqlite3.connect(data_dir / "queue.db") as conn:  # kept as it was, for a person
        assert conn.execute("SELECT count(*) FROM schedules").fetchone() == (2,)
