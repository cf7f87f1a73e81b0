"""Specification of the SQLite store as a `ScheduleStore`: schedules kept beside the tasks, on
the task store's own connection, without disturbing anything the task store holds."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from helpers.store_rows import as_stored

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.storage import SqliteTaskStore, Transition, WriteBatch
from qtqueue.storage.base import ScheduleStore
from qtqueue.storage.schedules import SCHEDULE_COLUMNS

FIXTURES = Path(__file__).parent / "fixtures"
T0 = 1_700_000_000.0


def record(n: int, **fields: Any) -> dict[str, Any]:
    """A schedule record as the engine writes it (`Schedule.to_dict()`)."""
    base: dict[str, Any] = {
        "id": f"20000000-0000-4000-8000-{n:012d}",
        "name": f"schedule {n}",
        "template": {
            "task_type": "custom_command",
            "params": {"command": "df", "args": ["-h"], "nested": {"a": [1, 2]}},
            "tags": ["nightly"],
            "priority": "high",
        },
        "kind": "interval",
        "cron": None,
        "interval_s": 600.0,
        "timezone": None,
        "missed": "run_once",
        "paused": False,
        "next_run_at": T0 + 600 + n,
        "last_run_at": None,
        "last_task_id": None,
        "last_error": None,
        "occurrences": 0,
        "created_at": T0 + n,
        "updated_at": T0 + n,
    }
    return {**base, **fields}


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[SqliteTaskStore, ScheduleStore]]:
    tasks = SqliteTaskStore(tmp_path / "queue.db")
    await tasks.open()
    try:
        yield tasks, tasks
    finally:
        await tasks.close()


async def test_a_saved_schedule_loads_back_as_it_was_written(
    stores: tuple[SqliteTaskStore, ScheduleStore],
) -> None:
    _, schedules = stores
    cron = record(
        2, kind="cron", cron="0 3 * * *", interval_s=None, timezone="Europe/Paris",
        missed="skip", paused=True, last_run_at=T0 + 5, last_task_id="t-5",
        last_error="QUEUE_UNKNOWN_TASK_TYPE: gone", occurrences=5,
    )  # fmt: skip
    await schedules.save_schedule(cron)
    await schedules.save_schedule(record(1))

    loaded = await schedules.load_schedules()

    assert loaded == [record(1), cron]  # oldest first
    assert set(loaded[0]) == set(SCHEDULE_COLUMNS)
    assert loaded[1]["paused"] is True


async def test_saving_an_existing_id_replaces_it_and_deleting_reports_whether_it_existed(
    stores: tuple[SqliteTaskStore, ScheduleStore],
) -> None:
    _, schedules = stores
    await schedules.save_schedule(record(1))
    changed = record(1, name="renamed", occurrences=3, next_run_at=None, paused=True)
    await schedules.save_schedule(changed)
    assert await schedules.load_schedules() == [changed]

    assert await schedules.delete_schedule(changed["id"]) is True
    assert await schedules.delete_schedule(changed["id"]) is False
    assert await schedules.load_schedules() == []


async def test_schedule_writes_beside_task_batches_leave_every_task_intact(
    stores: tuple[SqliteTaskStore, ScheduleStore],
) -> None:
    tasks, schedules = stores
    batches = [
        as_stored(
            [Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, seq=b * 10 + i) for i in range(10)]
        )
        for b in range(20)
    ]

    async def write_tasks() -> None:
        for batch in batches:  # small batches: the store commits them inline when it can
            await tasks.apply(
                WriteBatch(
                    inserts=batch,
                    transitions=[
                        Transition(t.id, T0, None, TaskStatus.PENDING, t.type_name) for t in batch
                    ],
                )
            )

    async def write_schedules() -> None:
        for n in range(40):
            await schedules.save_schedule(record(n))
            if n % 3 == 0:
                await schedules.delete_schedule(record(n)["id"])

    await asyncio.gather(write_tasks(), write_schedules())

    stored = await tasks.list_tasks()
    assert sorted(t.id for t in stored) == sorted(t.id for batch in batches for t in batch)
    assert await tasks.count_tasks() == 200
    assert [r["id"] for r in await schedules.load_schedules()] == [
        record(n)["id"] for n in range(40) if n % 3
    ]
    assert len(await tasks.transitions(batches[7][3].id)) == 1


async def test_a_version_1_database_gains_an_empty_schedules_table(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    shutil.copyfile(FIXTURES / "v1.db", path)
    tasks = SqliteTaskStore(path)
    await tasks.open()
    try:
        schedules: ScheduleStore = tasks
        assert await schedules.load_schedules() == []
        before = await tasks.list_tasks()
        await schedules.save_schedule(record(1))
        assert await schedules.load_schedules() == [record(1)]
        assert await tasks.list_tasks() == before
    finally:
        await tasks.close()
