"""A page of tasks of one status, and their count, come from an index (issue 15, "Speed").

`GET /tasks/?status=completed&limit=100` on 100,000 tasks read every row for its total and
sorted the tasks of a batch (they share one `created_at`); now SQLite searches the partial
index `tasks_finished` (finished statuses) or `tasks_open` (unfinished ones), both in the
listing's order, as its own query plan says.
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers.store_rows import NOW, make_task

from qtqueue.core.task import TERMINAL, Task, TaskStatus
from qtqueue.storage import SqliteTaskStore, TaskFilter, WriteBatch
from qtqueue.storage.migrations import MIGRATIONS
from qtqueue.storage.rows import FINISHED_ONLY, SELECT, where_clause

S = TaskStatus
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteTaskStore]:
    s = SqliteTaskStore(tmp_path / "queue.db")
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def _made(n: int, created_at: float, **fields: object) -> Task:
    return dataclasses.replace(make_task(n, **fields), created_at=created_at)


async def _fill(store: SqliteTaskStore) -> None:
    """Tasks 1-30 share one created_at (one batch), completed and failed alternating; tasks
    31-40 are pending, created before them; 41 runs."""
    batch = [
        _made(n, NOW + 100, status=S.COMPLETED if n % 2 else S.FAILED, completed_at=NOW + 101)
        for n in range(30, 0, -1)
    ]
    pending = [_made(n, NOW + n - 40) for n in range(31, 41)]
    running = [make_task(41, status=S.RUNNING, started_at=NOW + 50)]
    await store.apply(WriteBatch(inserts=[*batch, *pending, *running]))


def _plan(path: Path, flt: TaskFilter, sql_head: str, tail: str = "") -> str:
    where, args = where_clause(flt)
    with sqlite3.connect(path) as db:
        rows = db.execute(f"EXPLAIN QUERY PLAN {sql_head}{where}{tail}", args).fetchall()
    return " | ".join(str(r[-1]) for r in rows)


@pytest.mark.parametrize(
    ("statuses", "index"),
    [((S.COMPLETED,), "tasks_finished"), ((S.PENDING,), "tasks_open"),
     ((S.PENDING, S.RUNNING), "tasks_open")],
)  # fmt: skip
@pytest.mark.parametrize("newest_first", [False, True])
async def test_a_page_of_one_status_is_read_from_an_index_in_order_without_a_sort(
    store: SqliteTaskStore,
    tmp_path: Path,
    statuses: tuple[TaskStatus, ...],
    index: str,
    newest_first: bool,
) -> None:
    await _fill(store)
    flt = TaskFilter(statuses=statuses, limit=5, newest_first=newest_first)
    page = await store.list_tasks(flt)
    every = sorted(
        (t for t in await store.list_tasks() if t.status in statuses),
        key=lambda t: (t.created_at, t.seq),
        reverse=newest_first,
    )
    assert [t.id for t in page] == [t.id for t in every[:5]]
    assert await store.count_tasks(TaskFilter(statuses=statuses)) == len(every)

    order = " ORDER BY created_at DESC, seq DESC" if newest_first else " ORDER BY created_at, seq"
    plan = _plan(tmp_path / "queue.db", flt, SELECT, order + " LIMIT 5")
    assert f"USING INDEX {index}" in plan and "TEMP B-TREE" not in plan, plan


async def test_the_count_of_a_finished_status_reads_only_the_index(
    store: SqliteTaskStore, tmp_path: Path
) -> None:
    await _fill(store)
    assert await store.count_tasks(TaskFilter(statuses=(S.COMPLETED,))) == 15
    assert await store.count_tasks(TaskFilter(statuses=(S.COMPLETED, S.FAILED))) == 30
    plan = _plan(
        tmp_path / "queue.db", TaskFilter(statuses=(S.COMPLETED,)), "SELECT count(*) FROM tasks"
    )
    assert "COVERING INDEX tasks_finished" in plan, plan


async def test_a_task_that_ends_or_is_retried_moves_between_the_pages(
    store: SqliteTaskStore,
) -> None:
    """The partial indexes follow a task's status: what a page and its total show is what
    the rows say, at every step of a run, a failure and a retry."""
    task = make_task(1)
    await store.apply(WriteBatch(inserts=[task]))

    async def where() -> dict[str, int]:
        return {
            s.value: await store.count_tasks(TaskFilter(statuses=(s,)))
            for s in (S.PENDING, S.RUNNING, S.FAILED, S.COMPLETED)
            if [t.id for t in await store.list_tasks(TaskFilter(statuses=(s,), limit=10))]
        }

    assert await where() == {"pending": 1}
    for status, completed_at in ((S.RUNNING, None), (S.FAILED, NOW + 5), (S.PENDING, None),
                                 (S.RUNNING, None), (S.COMPLETED, NOW + 9)):  # fmt: skip
        task.status, task.completed_at = status, completed_at
        await store.apply(WriteBatch(updates=[task]))
        assert await where() == {status.value: 1}


def test_the_finished_only_term_is_the_index_s_own_where_over_every_finished_status() -> None:
    """SQLite uses a partial index only for a query holding its WHERE word for word."""
    assert any(FINISHED_ONLY in step and "tasks_finished" in step for step in MIGRATIONS)
    named = {s.strip(" '") for s in FINISHED_ONLY.split("(")[1].rstrip(")").split(",")}
    assert named == {s.value for s in TERMINAL}


async def test_a_store_of_an_older_version_gets_the_indexes(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    shutil.copy(FIXTURES / "v5.db", path)
    store = SqliteTaskStore(path)
    await store.open()
    try:
        finished = await store.count_tasks(TaskFilter(statuses=tuple(TERMINAL)))
        listed = await store.list_tasks(TaskFilter(statuses=tuple(TERMINAL)))
    finally:
        await store.close()
    assert finished == len(listed) > 0
    with sqlite3.connect(path) as db:
        indexes = {
            r[0]: r[1] for r in db.execute("SELECT name, sql FROM sqlite_master WHERE type='index'")
        }
    assert "tasks_finished" in indexes
    assert "(created_at, seq)" in indexes["tasks_open"]
    assert "(created_at, seq)" in indexes["tasks_created_at"]
