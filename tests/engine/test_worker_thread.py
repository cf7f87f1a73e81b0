"""start_worker() / stop_worker(): the engine on a thread of its own for plain programs, or
scheduled on the running loop (engine/worker_thread.py)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry

S = TaskStatus


def _queue(data_dir: Path, **kwargs: object) -> TaskQueue:
    return TaskQueue(data_dir, registry=default_registry(entry_points=False), **kwargs)  # type: ignore[arg-type]


def _engine_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "qtqueue-engine"]


async def _holds_the_directory(data_dir: Path) -> TaskErrorCode | None:
    other = _queue(data_dir, lock_timeout_s=0)
    try:
        await other.start()
    except QueueError as exc:
        return exc.code  # type: ignore[return-value]
    await other.close()
    return None


def test_a_plain_program_runs_the_engine_on_a_thread_until_it_stops_it(data_dir: Path) -> None:
    queue = _queue(data_dir)
    assert queue.start_worker() is None  # returns once the queue is open
    assert queue.started and queue.worker.running and len(_engine_threads()) == 1
    assert asyncio.run(_holds_the_directory(data_dir)) is TaskErrorCode.QUEUE_ENGINE_LOCKED
    task_id = asyncio.run(queue.add_task(Task("custom_command", {"command": "true"})))
    assert asyncio.run(queue.wait_for(task_id, 10)).status is S.COMPLETED
    queue.start_worker()  # already running: nothing more
    assert len(_engine_threads()) == 1
    queue.stop_worker()
    assert not queue.started and not queue.worker.running and _engine_threads() == []
    assert asyncio.run(_holds_the_directory(data_dir)) is None  # released
    queue.stop_worker()  # stopped already: nothing to do


def test_start_worker_raises_what_opening_raised_and_leaves_no_thread(data_dir: Path) -> None:
    async def main() -> None:
        async with _queue(data_dir):  # the directory is taken
            blocked = _queue(data_dir, lock_timeout_s=0)
            with pytest.raises(QueueError) as raised:
                await asyncio.to_thread(blocked.start_worker)
            assert raised.value.code is TaskErrorCode.QUEUE_ENGINE_LOCKED
            assert not blocked.worker.running and _engine_threads() == []

    asyncio.run(main())


async def test_inside_a_running_loop_start_worker_schedules_the_start(data_dir: Path) -> None:
    queue = _queue(data_dir)
    starting = queue.start_worker()
    assert isinstance(starting, asyncio.Task)
    await starting
    assert queue.started and not queue.worker.running  # on this loop, no thread
    stopping = queue.stop_worker()
    assert isinstance(stopping, asyncio.Task)
    await stopping
    assert not queue.started
