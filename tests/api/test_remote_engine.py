"""The attached window's engine port (`RemoteEngine`) and the parts it is made of
(`remote_ports`, `remote_tasks`), against a real engine on a real SQLite file served over the
local API: what the window reads and changes arrives in the engine, and what the engine
changes shows in the port's caches."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from helpers.queues import QueueFactory
from helpers.waiting import eventually

from qtqueue.api.remote_engine import RemoteEngine, attach
from qtqueue.api.remote_ports import (
    RemoteOverview,
    RemoteQuestions,
    RemoteSchedules,
    RemoteSettings,
)
from qtqueue.api.remote_tasks import RemoteTasks, new_task_fields
from qtqueue.api.server import ApiServer
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.queue import TaskQueue

TRUE = Task("custom_command", {"command": "true"}, name="quick")


@pytest.fixture
async def engine(make_queue: QueueFactory) -> AsyncIterator[tuple[TaskQueue, RemoteEngine]]:
    """A paused engine (what is added waits) and a port attached to it."""
    queue = await make_queue(max_concurrent=3)
    await queue.pause_queue()
    async with ApiServer(queue):
        attached = await attach(queue.data_dir, queue.registry)
        assert attached is not None
        try:
            yield queue, attached
        finally:
            await attached.close()


async def test_the_port_is_made_of_its_parts(engine: tuple[TaskQueue, RemoteEngine]) -> None:
    _, attached = engine
    assert isinstance(attached, RemoteTasks)
    assert isinstance(attached.questions, RemoteQuestions)
    assert isinstance(attached.overview, RemoteOverview)
    assert isinstance(attached.schedules, RemoteSchedules)
    assert isinstance(attached.settings, RemoteSettings)
    assert "status" not in new_task_fields(TRUE) and new_task_fields(TRUE)["name"] == "quick"


async def test_tasks_and_the_queue_change_in_the_engine(
    engine: tuple[TaskQueue, RemoteEngine],
) -> None:
    queue, attached = engine
    assert attached.queue_paused and attached.settings.current().engine.max_concurrent == 3

    task_id = await attached.add_task(TRUE)
    assert (await queue.get_task(task_id)).status is TaskStatus.PENDING
    assert [t.id for t in await attached.list_tasks(TaskStatus.PENDING)] == [task_id]
    assert (await attached.cancel_task(task_id)).status is TaskStatus.CANCELLED
    assert (await queue.get_task(task_id)).status is TaskStatus.CANCELLED
    assert await attached.questions.list() == []

    await attached.resume_queue()
    assert not attached.queue_paused and not queue.queue_paused
    await queue.pause_queue()  # another face pauses it: the stream tells the port
    await eventually(lambda: attached.queue_paused, what="the port sees the pause")


async def test_schedules_are_cached_from_the_engine(
    engine: tuple[TaskQueue, RemoteEngine],
) -> None:
    queue, attached = engine
    added = await attached.schedules.add_schedule(TRUE, every="1h", name="hourly")
    assert [s.name for s in attached.schedules.list_schedules()] == ["hourly"]
    assert (await attached.schedules.pause_schedule(added.id)).paused
    assert [s.paused for s in queue.schedules.list_schedules()] == [True]

    await attached.schedules.delete_schedule(added.id)
    assert attached.schedules.list_schedules() == []
    assert queue.schedules.list_schedules() == []
