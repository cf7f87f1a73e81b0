"""Events: subscribers hear every change, in order, and only once it is in the store."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

from helpers.gate import Gate
from helpers.waiting import eventually

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import DB_NAME, TaskQueue

S = TaskStatus


class StoreChecker:
    """A subscriber that reads the SQLite file with its own connection while it is called,
    and notes any event the store does not yet reflect. (Transitions, the history behind
    statistics, are written in batches a little later: `history` reads them afterwards.)"""

    def __init__(self, db_path: Path) -> None:
        self.conn = sqlite3.connect(db_path)
        self.events: list[TaskEvent] = []
        self.problems: list[str] = []

    def __call__(self, events: list[TaskEvent]) -> None:
        self.events.extend(events)
        try:
            self._check(events)
        except Exception as exc:  # the bus would only log it: a broken check must fail
            self.problems.append(f"the check itself failed: {exc!r}")

    def _check(self, events: list[TaskEvent]) -> None:
        last: dict[str, TaskEvent] = {}
        for e in events:
            if e.kind in (EventKind.ADDED, EventKind.CHANGED):
                last[e.task_id] = e
            elif e.kind is EventKind.REMOVED:
                row = self.conn.execute("SELECT 1 FROM tasks WHERE id = ?", (e.task_id,))
                if row.fetchone() is not None:
                    self.problems.append(f"{e.task_id} announced removed but still stored")
        for task_id, e in last.items():  # the batch's final state is the stored row
            row = self.conn.execute(
                "SELECT status, progress, updated_at FROM tasks WHERE id = ?", (task_id,)
            ).fetchone()
            assert e.status is not None and e.task is not None
            if row is None:
                self.problems.append(f"{task_id} announced {e.status} but not stored")
            elif (row[0], row[1], row[2]) != (e.status.value, e.task.progress, e.task.updated_at):
                self.problems.append(f"{task_id} announced {e.status} but stored {row}")

    def history(self, task_id: str) -> list[TaskStatus]:
        """The statuses the file's transitions took the task through, in order."""
        rows = self.conn.execute(
            "SELECT to_status FROM task_events WHERE task_rid = "
            "(SELECT rowid FROM tasks WHERE id = ?) ORDER BY id",
            (task_id,),
        )
        return [TaskStatus(r[0]) for r in rows]

    def statuses(self, task_id: str) -> list[tuple[EventKind, TaskStatus | None]]:
        """(kind, status) of the task's events, repeated statuses folded."""
        out: list[tuple[EventKind, TaskStatus | None]] = []
        for e in self.events:
            if e.task_id == task_id and (not out or out[-1][1] != e.status):
                out.append((e.kind, e.status))
        return out


async def test_a_subscriber_sees_added_running_completed_each_already_stored(
    queue: TaskQueue, data_dir: Path
) -> None:
    checker = StoreChecker(data_dir / DB_NAME)
    queue.subscribe(checker)
    try:
        task_id = await queue.add_task(
            Task(TaskType.CUSTOM_COMMAND, {"command": "echo 50%; echo done", "shell": True})
        )
        await queue.wait_for(task_id, timeout_s=10)
        history = checker.history(task_id)  # wait_for wrote it out
    finally:
        checker.conn.close()
    assert checker.statuses(task_id) == [
        (EventKind.ADDED, S.PENDING),
        (EventKind.CHANGED, S.RUNNING),
        (EventKind.CHANGED, S.COMPLETED),
    ]
    assert history == [S.PENDING, S.RUNNING, S.COMPLETED]
    assert checker.problems == []
    snapshots = [e.task for e in checker.events if e.task_id == task_id]
    assert all(t is not None and t.id == task_id for t in snapshots)
    assert any(t is not None and t.progress == 50.0 for t in snapshots)


async def test_every_kind_of_change_is_announced_after_it_is_stored(
    queue: TaskQueue, gate: Gate, data_dir: Path
) -> None:
    checker = StoreChecker(data_dir / DB_NAME)
    queue.subscribe(checker)
    try:
        a, b = await queue.add_tasks([Task("gated"), Task("gated")])
        await eventually(lambda: len(gate.running) == 2)
        await queue.pause_task(a)
        await queue.resume_task(a)
        await queue.cancel_task(b)
        await queue.retry_task(b)
        gate.open_all()
        await queue.wait_for(a, timeout_s=10)
        await queue.wait_for(b, timeout_s=10)
        await queue.remove_task(a)
    finally:
        checker.conn.close()
    assert checker.problems == []
    assert checker.statuses(a)[:4] == [
        (EventKind.ADDED, S.PENDING), (EventKind.CHANGED, S.RUNNING),
        (EventKind.CHANGED, S.PAUSED), (EventKind.CHANGED, S.RUNNING),
    ]  # fmt: skip
    assert checker.statuses(a)[-1] == (EventKind.REMOVED, None)
    assert [s for _, s in checker.statuses(b)] == [
        S.PENDING, S.RUNNING, S.CANCELLED, S.PENDING, S.RUNNING, S.COMPLETED,
    ]  # fmt: skip


async def test_queue_events_announce_pause_and_resume_of_the_queue(queue: TaskQueue) -> None:
    seen: list[TaskEvent] = []
    queue.subscribe(seen.extend)
    await queue.pause_queue()
    await queue.resume_queue()
    assert [(e.kind, e.detail) for e in seen] == [
        (EventKind.QUEUE, "paused"), (EventKind.QUEUE, "resumed"),
    ]  # fmt: skip


async def test_unsubscribing_stops_delivery_and_a_failing_subscriber_harms_no_one(
    queue: TaskQueue,
) -> None:
    heard: list[TaskEvent] = []

    def broken(events: list[TaskEvent]) -> None:
        raise RuntimeError("subscriber bug")

    queue.subscribe(broken)
    stop = queue.subscribe(heard.extend)
    first = await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}))
    await queue.wait_for(first, timeout_s=10)
    assert {e.task_id for e in heard} == {first}
    stop()
    second = await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}))
    assert (await queue.wait_for(second, timeout_s=10)).status is S.COMPLETED
    assert second not in {e.task_id for e in heard}


async def test_the_event_stream_yields_the_same_changes(queue: TaskQueue) -> None:
    seen: list[TaskStatus | None] = []

    async def consume() -> None:
        stream = queue.events.stream()  # it subscribes when iteration begins
        try:
            async for event in stream:
                if not seen or seen[-1] != event.status:
                    seen.append(event.status)
                if event.status is S.COMPLETED:
                    return
        finally:
            await stream.aclose()

    consumer = asyncio.ensure_future(consume())
    await eventually(lambda: queue.events.has_subscribers, what="the stream listens")
    task_id = await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}))
    await asyncio.wait_for(consumer, timeout=10)
    assert seen == [S.PENDING, S.RUNNING, S.COMPLETED]
    assert (await queue.get_task(task_id)).status is S.COMPLETED
    assert not queue.events.has_subscribers


async def test_events_serialise_to_json_ready_dicts(queue: TaskQueue) -> None:
    seen: list[dict[str, Any]] = []
    queue.subscribe(lambda events: seen.extend(e.to_dict() for e in events))
    task_id = await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}))
    await queue.wait_for(task_id, timeout_s=10)
    assert json.loads(json.dumps(seen)) == seen
    assert seen[0]["kind"] == "added" and seen[0]["task"]["id"] == task_id


async def test_history_reaches_the_file_by_itself_while_nothing_reads_it(
    queue: TaskQueue, gate: Gate, data_dir: Path
) -> None:
    """Transitions are held back a few tens of milliseconds to be written in batches; with
    the task still running and no one asking for statistics, they still land in the file."""
    checker = StoreChecker(data_dir / DB_NAME)
    try:
        (task_id,) = await queue.add_tasks([Task("gated")])
        await eventually(lambda: task_id in gate.running)
        await eventually(
            lambda: checker.history(task_id) == [S.PENDING, S.RUNNING],
            timeout_s=2,  # well before the engine's first scheduled cleanup, which flushes
            what="the transitions of a running task in the file",
        )
        gate.open_all()
        await queue.wait_for(task_id, timeout_s=10)
    finally:
        checker.conn.close()
