"""The SQLite write-ahead log under the engine: what the files on disk hold, and how big the
log may grow. Real queues, real files; the thresholds are shrunk so that small runs cross
them."""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from helpers.queues import QueueFactory
from helpers.waiting import eventually

import qtqueue.storage.wal as wal_policy
from qtqueue.core.task import Task
from qtqueue.engine.events import TaskEvent
from qtqueue.engine.queue import DB_NAME, TaskQueue


async def noop(task_id: str, params: dict[str, Any]) -> None:
    return None


async def queue_watching_its_log(
    make_queue: QueueFactory, data_dir: Path, **kwargs: Any
) -> tuple[TaskQueue, list[int]]:
    """A queue running no-op tasks, and the log file's size after each commit, as it grows."""
    queue = await make_queue(**kwargs)
    queue.register_handler("noop", noop)
    wal = f"{data_dir / DB_NAME}-wal"
    sizes: list[int] = []

    def watch(events: list[TaskEvent]) -> None:
        sizes.append(os.stat(wal).st_size)

    queue.subscribe(watch)
    return queue, sizes


def completed_in_the_database_file_alone(db: Path, tmp_path: Path) -> int:
    """How many completed tasks a copy of the database file holds without its WAL: what a
    backup that copies only queue.db would get."""
    copy = tmp_path / "backup.db"
    shutil.copyfile(db, copy)
    conn = sqlite3.connect(copy)
    try:
        query = "SELECT count(*) FROM tasks WHERE status = 'completed'"
        return int(conn.execute(query).fetchone()[0])
    except sqlite3.OperationalError:  # "no such table": even the schema is still in the log
        return 0
    finally:
        conn.close()
        copy.unlink()


async def test_when_the_queue_goes_quiet_the_database_file_alone_holds_everything(
    make_queue: QueueFactory, data_dir: Path, tmp_path: Path
) -> None:
    """A few tasks write far less than a checkpoint's worth of log; once the queue has been
    quiet for a moment, the log is copied back anyway."""
    queue = await make_queue()
    queue.register_handler("noop", noop)
    await queue.add_tasks([Task("noop") for _ in range(20)])
    await queue.join()
    await eventually(
        lambda: completed_in_the_database_file_alone(data_dir / DB_NAME, tmp_path) == 20,
        timeout_s=10,
        what="the 20 completed tasks in queue.db itself",
    )


async def test_a_long_burst_of_commits_keeps_the_log_bounded(
    make_queue: QueueFactory, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits back to back never give a checkpoint the pause it needs to finish, so the log
    would grow for as long as the burst lasts (about 6 KB per task); the writer waits for a
    checkpoint each time the log has grown by WAL_FOLD_BYTES, and the log starts over."""
    monkeypatch.setattr(wal_policy, "CHECKPOINT_WAL_BYTES", 64 * 1024)
    monkeypatch.setattr(wal_policy, "WAL_FOLD_BYTES", 512 * 1024)
    monkeypatch.setattr(wal_policy, "WAL_SIZE_LIMIT", 256 * 1024)
    queue, sizes = await queue_watching_its_log(make_queue, data_dir)
    await queue.add_tasks([Task("noop") for _ in range(3000)])
    await queue.join()
    stats = await queue.get_queue_stats()
    assert stats["status_distribution"] == {"completed": 3000}
    assert len(sizes) > 1000  # it was watched all along
    assert max(sizes) < 3 * 1024 * 1024, f"the log reached {max(sizes):,} bytes"


async def test_with_full_fsyncs_tasks_added_one_at_a_time_write_inside_the_log_file(
    make_queue: QueueFactory, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With synchronous=FULL a commit that makes the log file longer costs more than one that
    writes inside it (its fdatasync writes the file's new size too). Once the file has its
    size, a steady stream of one-by-one adds starts the log over inside it: only the commit
    that first goes past its end lengthens it, not half of them."""
    monkeypatch.setattr(wal_policy, "FSYNC_CHECKPOINT_WAL_BYTES", 64 * 1024)
    monkeypatch.setattr(wal_policy, "FSYNC_WAL_FOLD_BYTES", 512 * 1024)
    monkeypatch.setattr(wal_policy, "WAL_SIZE_LIMIT", 512 * 1024)
    queue, sizes = await queue_watching_its_log(make_queue, data_dir, synchronous="FULL")
    for _ in range(400):
        await queue.add_task(Task("noop"))
    await queue.join()
    full_from = next(i for i, size in enumerate(sizes) if size >= 512 * 1024)
    after = sizes[full_from:]
    assert len(after) > 200, f"the log reached its size after {full_from} of {len(sizes)}"
    longer = sum(1 for a, b in itertools.pairwise(after) if b > a)
    assert longer < len(after) * 0.2, f"{longer} of {len(after)} commits lengthened the log"
