"""Specification of the group-commit writer: no change is dropped, and one bad change never
fails the others that shared its transaction. A real SQLite file each, no mocks."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from helpers.store_rows import make_task
from helpers.waiting import eventually

from qtqueue.core.errors import QueueError
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import TaskQueue
from qtqueue.engine.writer import GroupCommitWriter
from qtqueue.storage import SqliteTaskStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteTaskStore]:
    s = SqliteTaskStore(tmp_path / "queue.db")
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def stored(path: Path) -> dict[str, str]:
    """Every task's status as another connection reads it from the file."""
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT id, status FROM tasks").fetchall())


async def test_a_value_the_store_cannot_hold_fails_only_its_own_task(
    store: SqliteTaskStore,
) -> None:
    published: list[TaskEvent] = []
    writer = GroupCommitWriter(store, published.extend)
    running = make_task(1, status=TaskStatus.RUNNING)
    await writer.insert(running)

    # One batch: nine good adds, a finished task, and an add SQLite refuses (2**63 overflows
    # its 64-bit integers), all registered before the flusher runs.
    good = [make_task(n) for n in range(10, 19)]
    bad = make_task(99, max_retries=2**63)
    running.status = TaskStatus.COMPLETED
    futures = [writer.insert(t, TaskEvent(EventKind.ADDED, t.id)) for t in good]
    futures.append(writer.insert(bad, TaskEvent(EventKind.ADDED, bad.id)))
    futures.append(writer.update(running, TaskEvent(EventKind.CHANGED, running.id)))
    await asyncio.gather(*futures)

    rows = stored(store.path)
    assert all(rows.get(t.id) == "pending" for t in good)
    assert rows[running.id] == "completed"
    assert bad.id not in rows
    refusal = writer.take_refusal(bad.id)
    assert isinstance(refusal, OverflowError)
    assert all(writer.take_refusal(t.id) is None for t in good)
    announced = {e.task_id for e in published}
    assert bad.id not in announced
    assert {t.id for t in good} | {running.id} <= announced


async def test_a_batch_the_store_refuses_whole_is_written_once_it_can_be(
    store: SqliteTaskStore, caplog: pytest.LogCaptureFixture
) -> None:
    writer = GroupCommitWriter(store, lambda events: None)
    task = make_task(1)
    await writer.insert(task)
    await store.db.execute("PRAGMA busy_timeout=20")

    # Another program holds the database's write lock: every write fails for now.
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    task.status = TaskStatus.RUNNING
    with caplog.at_level(logging.WARNING, logger="qtqueue.engine.writer"):
        fut = writer.update(task)
        await eventually(lambda: "trying again" in caplog.text, what="a failed write")
    assert not fut.done()
    other.execute("ROLLBACK")
    other.close()

    await fut
    assert stored(store.path)[task.id] == "running"


async def test_bad_adds_among_many_concurrent_ones_fail_alone(queue: TaskQueue) -> None:
    # The probe that found it: 40 adds the store cannot hold among 400 concurrent valid ones,
    # while commands finish. Before, 9 valid adds failed, finished tasks stayed "running" in
    # the file and one task failed with another request's error.
    def good(n: int) -> Task:
        return Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, name=f"good {n}")

    def bad(n: int) -> Task:
        return Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, max_retries=2**63)

    calls = [queue.add_task(good(n) if n % 11 else bad(n)) for n in range(440)]
    results = await asyncio.gather(*calls, return_exceptions=True)

    errors = [r for r in results if isinstance(r, BaseException)]
    ids = [r for r in results if isinstance(r, str)]
    assert len(errors) == 40
    assert all(isinstance(e, QueueError) and e.code.startswith("VALIDATION_") for e in errors)
    assert len(ids) == 400
    for task_id in ids:
        done = await queue.wait_for(task_id, timeout_s=60)
        assert done.status == TaskStatus.COMPLETED, (done.name, done.error)
    await queue.close()
    rows = stored(queue.data_dir / "queue.db")
    assert len(rows) == 400
    assert set(rows.values()) == {"completed"}


@pytest.mark.parametrize("synchronous", ["NORMAL", "FULL"])
async def test_tasks_added_one_at_a_time_while_they_run_cost_one_commit_each(
    make_queue: Any, synchronous: str
) -> None:
    # A caller that awaits each add_task, as a script or the CLI does. Before, every task cost
    # three commits (three fsyncs with FULL): its insert, its claim and its end, each alone,
    # because the id check before the insert waited for the connection's thread. Now the claim
    # and the end of the tasks added before it share the next add's transaction.
    queue = await make_queue(synchronous=synchronous)

    async def noop(task_id: str, params: dict[str, Any]) -> None:
        return None

    queue.register_handler("noop", noop)
    commits: list[str] = []
    db = queue.store.db
    await db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    n = 60
    ids = [await queue.add_task(Task("noop")) for _ in range(n)]
    await queue.join(timeout_s=60)
    await db.set_trace_callback(None)

    for task_id in ids:
        assert (await queue.get_task(task_id)).status is TaskStatus.COMPLETED
    assert len(commits) <= n * 1.25, f"{len(commits)} commits for {n} tasks"


async def test_single_adds_made_at_the_same_time_share_one_commit(make_queue: Any) -> None:
    # Eight HTTP clients each adding one task: the adds that reach the engine in one turn of
    # the loop are made durable by one transaction, and each caller hears only after it.
    queue = await make_queue()
    await queue.pause_queue()
    commits: list[str] = []
    db = queue.store.db
    await db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    adds = [queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"})) for _ in range(8)]
    ids = await asyncio.gather(*adds)
    await db.set_trace_callback(None)

    assert len(commits) == 1, commits
    assert set(stored(queue.data_dir / "queue.db")) == set(ids)
