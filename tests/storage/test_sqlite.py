"""Specification of `SqliteTaskStore`: a real SQLite file per test, no mocks."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from helpers.store_rows import NOW, make_task

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import (
    OnInterrupt,
    Permission,
    Priority,
    Task,
    TaskStatus,
    TaskType,
)
from qtqueue.storage import SqliteTaskStore, TaskFilter, Transition, WriteBatch
from qtqueue.storage.migrations import SCHEMA_VERSION
from qtqueue.storage.rows import SELECT, task_from_row

S = TaskStatus


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteTaskStore]:
    s = SqliteTaskStore(tmp_path / "queue.db")
    await s.open()
    try:
        yield s
    finally:
        await s.close()


# --- Opening ----------------------------------------------------------------------------------


async def test_a_fresh_file_is_created_at_the_current_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "queue.db"
    store = SqliteTaskStore(path)
    await store.open()
    try:
        assert await store.list_tasks() == []
        assert await store.max_seq() == 0
        assert await store.get_meta("queue_paused") is None
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert {"tasks", "task_events", "meta"} <= tables


async def test_reopening_keeps_the_data_and_close_is_idempotent(tmp_path: Path) -> None:
    store = SqliteTaskStore(tmp_path / "queue.db")
    await store.open()
    await store.apply(WriteBatch(inserts=[make_task(1)]))
    await store.set_meta("queue_paused", "1")
    await store.close()
    await store.close()
    again = SqliteTaskStore(tmp_path / "queue.db")
    await again.open()
    try:
        assert await again.get_task(make_task(1).id) == make_task(1)
        assert await again.get_meta("queue_paused") == "1"
    finally:
        await again.close()


def test_an_unknown_synchronous_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SqliteTaskStore(tmp_path / "queue.db", synchronous="sometimes")


async def test_a_file_of_random_bytes_is_refused_as_corrupt_and_left_untouched(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queue.db"
    garbage = random.Random(1234).randbytes(16384)
    path.write_bytes(garbage)
    store = SqliteTaskStore(path)
    with pytest.raises(QueueError) as raised:
        await store.open()
    err = raised.value
    assert err.code is TaskErrorCode.QUEUE_STORE_CORRUPT
    assert str(path) in err.message
    assert err.suggestion  # the user is told what to do
    assert err.details["path"] == str(path)
    assert path.read_bytes() == garbage
    await store.close()  # closing a store that never opened is harmless


async def test_an_sqlite_file_of_another_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    conn.close()
    store = SqliteTaskStore(path)
    with pytest.raises(QueueError) as raised:
        await store.open()
    assert raised.value.code is TaskErrorCode.QUEUE_STORE_CORRUPT
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT body FROM notes").fetchall() == [("keep me",)]
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    conn.close()


async def test_a_file_from_a_newer_qtqueue_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE tasks (id TEXT PRIMARY KEY, future_column BLOB)")
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    store = SqliteTaskStore(path)
    with pytest.raises(QueueError) as raised:
        await store.open()
    err = raised.value
    assert err.code is TaskErrorCode.QUEUE_STORE_CORRUPT
    assert "newer" in err.message and "upgrade" in err.message
    assert err.details["schema_version"] == 99
    with sqlite3.connect(path) as conn:  # not migrated, not damaged
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 99
        columns = [r[1] for r in conn.execute("PRAGMA table_info(tasks)")]
    conn.close()
    assert columns == ["id", "future_column"]


@pytest.mark.parametrize("user_version", [0, 99], ids=["another-program", "newer-qtqueue"])
async def test_a_refused_sqlite_file_is_left_byte_for_byte_as_it_was(
    tmp_path: Path, user_version: int
) -> None:
    path = tmp_path / "queue.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute(f"PRAGMA user_version = {user_version}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(QueueError):
        await SqliteTaskStore(path).open()
    assert path.read_bytes() == before


# --- Writing ----------------------------------------------------------------------------------


def _every_field_set(n: int, task_type: TaskType | str) -> Task:
    return make_task(
        n,
        task_type=task_type,
        params={"command": "echo", "args": ["ä", "😀"], "nested": {"a": [1, 2.5, None, True]}},
        name="a name with 'quotes' and \"more\"",
        category="system",
        tags=["x", "y z"],
        priority=Priority.URGENT,
        max_retries=4,
        retry_backoff=[0.25, 1.0],
        timeout_s=30.5,
        run_at=NOW + 100,
        expires_at=NOW + 200,
        depends_on=["00000000-0000-0000-0000-000000000001"],
        resources={"cpu_cores": 2, "memory_gb": 0.5, "disk_path": "/tmp"},
        permission=Permission.HUMAN_REQUIRED,
        on_interrupt=OnInterrupt.REQUEUE,
        status=S.FAILED,  # finished: an unfinished task is stored without completed_at
        progress=42.5,
        current_step="Step 2/7: compiling",
        started_at=NOW + 10,
        completed_at=NOW + 20,
        duration_s=9.75,
        error="it broke",
        error_code="SYSTEM_COMMAND_FAILED",
        error_details={"exit_code": 3, "output_tail": ["a", "b"]},
        retry_count=2,
        dead_letter=True,
        result={"exit_code": 0, "lines": ["ok"]},
        paused_from=S.BUILDING,
        wait_reason="waiting for a slot",
        pid=31337,
    )


@pytest.mark.parametrize("task_type", [TaskType.CUSTOM_COMMAND, "acme.deploy"])
async def test_every_field_round_trips(store: SqliteTaskStore, task_type: TaskType | str) -> None:
    task = _every_field_set(5, task_type)
    await store.apply(WriteBatch(inserts=[task]))
    assert await store.get_task(task.id) == task
    assert await store.list_tasks() == [task]


async def test_an_unfinished_task_is_stored_without_completed_at_and_loads_as_unfinished(
    store: SqliteTaskStore,
) -> None:
    """The index of unfinished tasks is keyed on completed_at being NULL, so a stray
    completed_at on a paused or pending task must never hide it from a restart."""
    task = make_task(1, status=S.PAUSED, paused_from=S.PENDING, completed_at=NOW + 5)
    other = make_task(2, status=S.PENDING)
    await store.apply(WriteBatch(inserts=[task, other]))
    other.status, other.completed_at = S.RUNNING, NOW + 6
    await store.apply(WriteBatch(updates=[other]))
    assert [t.id for t in await store.load_unfinished()] == [task.id, other.id]
    assert [(t.status, t.completed_at) for t in await store.load_unfinished()] == [
        (S.PAUSED, None), (S.RUNNING, None),
    ]  # fmt: skip
    other.status, other.completed_at = S.COMPLETED, NOW + 7
    await store.apply(WriteBatch(updates=[other]))
    assert [t.id for t in await store.load_unfinished()] == [task.id]
    assert (await store.get_task(other.id)).completed_at == NOW + 7  # type: ignore[union-attr]


async def test_an_update_writes_only_what_changed_and_the_row_stays_whole(
    store: SqliteTaskStore, tmp_path: Path
) -> None:
    """Updates set only the columns that differ from the last commit; a row read back from
    the file (not from the store's memory) matches the task after every step."""
    task = make_task(1)
    await store.apply(WriteBatch(inserts=[task]))
    statements: list[str] = []
    store.db._conn.set_trace_callback(statements.append)
    steps = [
        {"status": S.RUNNING, "started_at": NOW + 1, "pid": 42},
        {"progress": 50.0, "current_step": "Step 1/2"},
        {"status": S.PAUSED, "paused_from": S.RUNNING},
        {"status": S.RUNNING, "paused_from": None},
        {"status": S.FAILED, "completed_at": NOW + 3, "error": "boom", "error_code": "X",
         "error_details": {"exit_code": 1}, "pid": None},
        {"status": S.PENDING, "completed_at": None, "error": None, "error_code": None,
         "error_details": {}, "retry_count": 1, "progress": 0.0, "current_step": ""},
        {"status": S.COMPLETED, "completed_at": NOW + 9, "result": {"exit_code": 0}},
    ]  # fmt: skip
    for changes in steps:
        for name, value in changes.items():
            setattr(task, name, value)
        await store.apply(WriteBatch(updates=[task]))
        conn = sqlite3.connect(store.path)
        try:
            row = conn.execute(f"{SELECT} WHERE id = ?", (task.id,)).fetchone()
        finally:
            conn.close()
        assert task_from_row(row) == task, changes
    updates = [sql for sql in statements if sql.startswith("UPDATE tasks")]
    assert len(updates) == len(steps)
    # The claim sets neither seq nor completed_at, the columns of the index tasks_open.
    assert updates[0].startswith("UPDATE tasks SET status = 'running', started_at = ")
    assert "completed_at" not in updates[0] and "seq" not in updates[0]
    assert "completed_at" in updates[4]


async def test_a_task_with_defaults_round_trips(store: SqliteTaskStore) -> None:
    task = make_task(1)
    await store.apply(WriteBatch(inserts=[task]))
    assert await store.get_task(task.id) == task


async def test_an_update_persists_every_field_that_changes_while_a_task_lives(
    store: SqliteTaskStore,
) -> None:
    await store.apply(WriteBatch(inserts=[make_task(3)]))
    changed = _every_field_set(3, TaskType.CUSTOM_COMMAND)
    await store.apply(WriteBatch(updates=[changed]))
    got = await store.get_task(changed.id)
    assert got is not None
    written_once = {
        "params",
        "name",
        "category",
        "tags",
        "max_retries",
        "retry_backoff",
        "timeout_s",
        "expires_at",
        "depends_on",
        "resources",
        "permission",
        "on_interrupt",
        "task_type",
        "created_at",
    }
    for field, value in changed.to_dict().items():
        if field not in written_once:
            assert got.to_dict()[field] == value, field


async def test_a_batch_is_atomic_a_duplicate_id_fails_all_of_it(store: SqliteTaskStore) -> None:
    existing = make_task(1)
    await store.apply(WriteBatch(inserts=[existing]))
    moved = existing.copy()
    moved.status = S.RUNNING
    batch = WriteBatch(
        inserts=[make_task(2), make_task(3), make_task(2)],
        updates=[moved],
        transitions=[Transition(make_task(2).id, NOW, None, S.PENDING, "custom_command")],
        deletes=[],
    )
    with pytest.raises(sqlite3.IntegrityError):
        await store.apply(batch)
    assert await store.list_tasks() == [existing]
    assert await store.transitions(make_task(2).id) == []
    # The store is still usable afterwards.
    await store.apply(WriteBatch(inserts=[make_task(4)]))
    assert [t.id for t in await store.list_tasks()] == [existing.id, make_task(4).id]


async def test_inserting_an_id_that_is_already_stored_fails_the_batch(
    store: SqliteTaskStore,
) -> None:
    await store.apply(WriteBatch(inserts=[make_task(1)]))
    with pytest.raises(sqlite3.IntegrityError):
        await store.apply(WriteBatch(inserts=[make_task(2), make_task(1, name="again")]))
    assert [t.id for t in await store.list_tasks()] == [make_task(1).id]


async def test_an_empty_batch_is_a_no_op(store: SqliteTaskStore) -> None:
    assert not WriteBatch()
    await store.apply(WriteBatch())
    assert await store.list_tasks() == []


async def test_delete_removes_the_task_and_its_history(store: SqliteTaskStore) -> None:
    a, b = make_task(1), make_task(2)
    await store.apply(
        WriteBatch(
            inserts=[a, b],
            transitions=[
                Transition(a.id, NOW, None, S.PENDING, "custom_command"),
                Transition(b.id, NOW, None, S.PENDING, "custom_command"),
            ],
        )
    )
    await store.apply(WriteBatch(deletes=[a.id]))
    assert await store.get_task(a.id) is None
    assert await store.transitions(a.id) == []
    assert len(await store.transitions(b.id)) == 1


async def test_transitions_are_kept_in_order(store: SqliteTaskStore) -> None:
    t = make_task(1)
    history = [
        Transition(t.id, NOW, None, S.PENDING, "custom_command"),
        Transition(t.id, NOW + 1, S.PENDING, S.RUNNING, "custom_command"),
        Transition(t.id, NOW + 2, S.RUNNING, S.FAILED, "custom_command", "SYSTEM_TIMEOUT", 1.0),
    ]
    await store.apply(WriteBatch(inserts=[t], transitions=history[:2]))
    await store.apply(WriteBatch(transitions=history[2:]))
    assert await store.transitions(t.id) == history


# --- Reading ----------------------------------------------------------------------------------


async def test_get_task_of_an_unknown_id_is_none(store: SqliteTaskStore) -> None:
    assert await store.get_task("no-such-id") is None


@pytest.fixture
async def catalogue(store: SqliteTaskStore) -> SqliteTaskStore:
    """Six tasks of different statuses, categories, tags and types."""
    tasks = [
        make_task(
            1, status=S.COMPLETED, category="docker", tags=["prod", "web"], completed_at=NOW + 50
        ),
        make_task(2, status=S.PENDING, category="system", tags=["web"]),
        make_task(
            3,
            status=S.FAILED,
            category="docker",
            tags=["prod"],
            dead_letter=True,
            task_type=TaskType.SYSTEM_MONITOR,
            completed_at=NOW + 60,
        ),
        make_task(4, status=S.RUNNING, category="system", tags=[]),
        make_task(5, status=S.PAUSED, category="general", tags=["prodx"], task_type="acme.deploy"),
        make_task(6, status=S.TIMEOUT, category="system", tags=["prod"], completed_at=NOW + 70),
    ]
    # Inserted out of order: listings order by creation, not by insertion.
    await store.apply(WriteBatch(inserts=tasks[3:]))
    await store.apply(WriteBatch(inserts=tasks[:3]))
    return store


async def _ids(store: SqliteTaskStore, **flt: Any) -> list[int]:
    return [int(t.id[-12:]) for t in await store.list_tasks(TaskFilter(**flt))]


async def test_list_tasks_orders_by_creation_and_filters(catalogue: SqliteTaskStore) -> None:
    s = catalogue
    assert await _ids(s) == [1, 2, 3, 4, 5, 6]
    assert await _ids(s, statuses=[S.PENDING]) == [2]
    assert await _ids(s, statuses=[S.FAILED, S.TIMEOUT, S.COMPLETED]) == [1, 3, 6]
    assert await _ids(s, category="docker") == [1, 3]
    assert await _ids(s, category="nothing") == []
    assert await _ids(s, tag="prod") == [1, 3, 6]  # an exact tag, not "prodx"
    assert await _ids(s, tag="web") == [1, 2]
    assert await _ids(s, task_type="system_monitor") == [3]
    assert await _ids(s, task_type="acme.deploy") == [5]
    assert await _ids(s, dead_letter=True) == [3]
    assert await _ids(s, dead_letter=False) == [1, 2, 4, 5, 6]
    assert await _ids(s, ids=[make_task(5).id, make_task(2).id]) == [2, 5]
    assert await _ids(s, category="system", tag="prod") == [6]


async def test_list_tasks_pages_and_sorts_newest_first(catalogue: SqliteTaskStore) -> None:
    s = catalogue
    assert await _ids(s, limit=2) == [1, 2]
    assert await _ids(s, limit=2, offset=2) == [3, 4]
    assert await _ids(s, limit=10, offset=5) == [6]
    assert await _ids(s, newest_first=True) == [6, 5, 4, 3, 2, 1]
    assert await _ids(s, newest_first=True, limit=2, offset=1) == [5, 4]
    assert await _ids(s, newest_first=True, category="docker") == [3, 1]


async def test_counts_and_helpers(catalogue: SqliteTaskStore) -> None:
    s = catalogue
    assert await s.count_tasks() == 6
    assert await s.count_tasks(TaskFilter(category="system")) == 3
    assert await s.count_tasks(TaskFilter(dead_letter=True)) == 1
    assert [int(t.id[-12:]) for t in await s.load_unfinished()] == [2, 4, 5]
    assert await s.max_seq() == 6
    assert await s.existing_ids([make_task(1).id, "nope", make_task(6).id]) == {
        make_task(1).id, make_task(6).id,
    }  # fmt: skip
    assert await s.existing_ids([]) == set()
    # Finished before a cutoff: terminal tasks only, by completion time; never a dead letter
    # (task 3), which stays until it is cleared by hand.
    assert sorted(await s.finished_before(NOW + 65)) == [make_task(1).id]
    assert sorted(await s.finished_before(NOW + 1000)) == sorted(make_task(n).id for n in (1, 6))


async def test_existing_ids_handles_more_ids_than_one_query_holds(store: SqliteTaskStore) -> None:
    tasks = [make_task(n) for n in range(1, 1201)]
    await store.apply(WriteBatch(inserts=tasks))
    asked = [t.id for t in tasks[::2]] + [f"missing-{n}" for n in range(600)]
    assert await store.existing_ids(asked) == {t.id for t in tasks[::2]}


async def test_meta_values_persist_and_overwrite(store: SqliteTaskStore) -> None:
    assert await store.get_meta("k") is None
    await store.set_meta("k", "1")
    await store.set_meta("k", "0")
    assert await store.get_meta("k") == "0"


# --- Statistics -------------------------------------------------------------------------------


def _life(
    task: Task, start: float, *steps: tuple[TaskStatus, float, str | None, float | None]
) -> list[Transition]:
    """Transitions from creation at `start` through (status, seconds later, code, duration)."""
    out = [Transition(task.id, start, None, S.PENDING, task.type_name)]
    prev = S.PENDING
    for status, later, code, duration in steps:
        out.append(Transition(task.id, start + later, prev, status, task.type_name, code, duration))
        prev = status
    return out


async def test_stats_on_a_known_history(store: SqliteTaskStore) -> None:
    now = NOW + 10 * 86400
    t1 = make_task(1, status=S.COMPLETED, retry_count=2, max_retries=5)
    t2 = make_task(2, status=S.COMPLETED)
    t3 = make_task(
        3,
        status=S.FAILED,
        task_type=TaskType.SYSTEM_MONITOR,
        error_code="NETWORK_TIMEOUT",
        retry_count=1,
        max_retries=1,
    )
    t4 = make_task(
        4, status=S.TIMEOUT, task_type=TaskType.CUSTOM_SCRIPT, error_code="SYSTEM_TIMEOUT"
    )
    t5 = make_task(5, status=S.CANCELLED)
    t6 = make_task(6, status=S.PENDING)
    t7 = make_task(7, status=S.COMPLETED)
    history = [
        *_life(t1, now - 600, (S.RUNNING, 10, None, None), (S.COMPLETED, 12, None, 2.0)),
        *_life(t2, now - 5 * 3600, (S.RUNNING, 1, None, None), (S.COMPLETED, 5, None, 4.0)),
        *_life(t3, now - 300, (S.RUNNING, 1, None, None), (S.FAILED, 2, "NETWORK_TIMEOUT", 1.0)),
        *_life(t4, now - 200, (S.RUNNING, 1, None, None), (S.TIMEOUT, 9, "SYSTEM_TIMEOUT", 8.0)),
        *_life(t5, now - 100, (S.CANCELLED, 1, None, None)),
        *_life(t6, now - 50),
        *_life(t7, now - 3 * 86400, (S.RUNNING, 1, None, None), (S.COMPLETED, 7, None, 6.0)),
    ]
    await store.apply(WriteBatch(inserts=[t1, t2, t3, t4, t5, t6, t7], transitions=history))

    stats = await store.stats(now)

    assert stats["status_distribution"] == {
        "completed": 3, "failed": 1, "timeout": 1, "cancelled": 1, "pending": 1,
    }  # fmt: skip
    assert stats["type_distribution"] == {
        "custom_command": 5,
        "system_monitor": 1,
        "custom_script": 1,
    }
    assert stats["error_distribution"] == {"NETWORK_TIMEOUT": 1, "SYSTEM_TIMEOUT": 1}
    perf = stats["performance"]
    assert perf["completed_tasks"] == 3
    assert perf["failed_tasks"] == 2  # failed and timed out
    assert perf["cancelled_tasks"] == 1
    assert perf["success_rate"] == pytest.approx(60.0)
    assert perf["average_duration_seconds"] == pytest.approx(4.0)  # completed runs only
    assert stats["retry_statistics"] == {
        "total_retries": 3, "tasks_with_retries": 2, "tasks_at_max_retries": 1,
    }  # fmt: skip
    assert stats["recent_activity"]["last_hour"] == {
        "created": 5, "completed": 1, "failed": 1, "timeout": 1, "cancelled": 1,
    }  # fmt: skip
    assert stats["recent_activity"]["last_24_hours"] == {
        "created": 6, "completed": 2, "failed": 1, "timeout": 1, "cancelled": 1,
    }  # fmt: skip


async def test_tasks_whose_outcome_is_not_in_the_history_yet_count_in_the_success_rate(
    store: SqliteTaskStore,
) -> None:
    """Three tasks: one completed and one failed with their whole history written, and one
    just completed whose completion transition is still held back (its state is written)."""
    done = make_task(1, status=S.COMPLETED, completed_at=NOW + 5, duration_s=2.0)
    failed = make_task(2, status=S.FAILED, completed_at=NOW + 6, error_code="X")
    just_done = make_task(3, status=S.COMPLETED, completed_at=NOW + 9, duration_s=1.0)
    kind = "custom_command"
    await store.apply(
        WriteBatch(
            inserts=[done, failed, just_done],
            transitions=[
                Transition(done.id, NOW + 1, None, S.PENDING, kind),
                Transition(done.id, NOW + 5, S.PENDING, S.COMPLETED, kind, None, 2.0),
                Transition(failed.id, NOW + 2, None, S.PENDING, kind),
                Transition(failed.id, NOW + 6, S.PENDING, S.FAILED, kind, "X", 1.0),
                Transition(just_done.id, NOW + 3, None, S.PENDING, kind),
                Transition(just_done.id, NOW + 8, S.PENDING, S.RUNNING, kind),
            ],
        )
    )

    stats = await store.stats(NOW + 10)

    dist, perf = stats["status_distribution"], stats["performance"]
    assert dist == {"completed": 2, "failed": 1}
    assert (perf["completed_tasks"], perf["failed_tasks"]) == (dist["completed"], dist["failed"])
    assert perf["success_rate"] == pytest.approx(100.0 * 2 / 3)
    assert perf["average_duration_seconds"] == pytest.approx(2.0)  # of the written completion


async def test_stats_of_an_empty_store(store: SqliteTaskStore) -> None:
    stats = await store.stats(NOW)
    assert stats["status_distribution"] == {}
    assert stats["performance"]["success_rate"] == 0.0
    assert stats["performance"]["average_duration_seconds"] == 0.0
    assert stats["retry_statistics"] == {
        "total_retries": 0, "tasks_with_retries": 0, "tasks_at_max_retries": 0,
    }  # fmt: skip
    assert stats["recent_activity"]["last_hour"] == {
        "created": 0, "completed": 0, "failed": 0, "timeout": 0, "cancelled": 0,
    }  # fmt: skip


async def test_restore_transitions_adds_the_missing_last_step_of_each_history(
    store: SqliteTaskStore,
) -> None:
    """As after a crash that lost the latest transitions: one task has none at all, one
    stops before its completion, one is complete. Each history then ends in its task's
    stored status, and a second pass adds nothing."""
    fresh = make_task(1, status=S.PENDING)
    done = make_task(2, status=S.COMPLETED, completed_at=NOW + 9, duration_s=2.5)
    done.updated_at = NOW + 9
    whole = make_task(3, status=S.FAILED, completed_at=NOW + 8, error_code="X")
    await store.apply(
        WriteBatch(
            inserts=[fresh, done, whole],
            transitions=[
                Transition(done.id, NOW + 2, None, S.PENDING, "custom_command"),
                Transition(done.id, NOW + 3, S.PENDING, S.RUNNING, "custom_command"),
                Transition(whole.id, NOW + 3, None, S.PENDING, "custom_command"),
                Transition(whole.id, NOW + 8, S.PENDING, S.FAILED, "custom_command", "X", 1.0),
            ],
        )
    )
    assert await store.restore_transitions() == 2
    assert await store.transitions(fresh.id) == [
        Transition(fresh.id, NOW + 1, None, S.PENDING, "custom_command")
    ]
    assert (await store.transitions(done.id))[-1] == Transition(
        done.id, NOW + 9, S.RUNNING, S.COMPLETED, "custom_command", None, 2.5
    )
    assert len(await store.transitions(whole.id)) == 2
    assert (await store.stats(NOW + 10))["performance"]["completed_tasks"] == 1
    assert await store.restore_transitions() == 0


# --- Id prefixes ------------------------------------------------------------------------------


async def test_an_id_prefix_is_found_through_the_id_index_not_a_scan(
    store: SqliteTaskStore, tmp_path: Path
) -> None:
    """`qtqueue show <8 chars>` read every task (1.73 s at 25,100 tasks); the lookup is now a
    search of the primary key, as SQLite's own query plan says."""
    from qtqueue.storage.rows import id_prefix_query

    ids = ["abcd-1", "abcd-2", "abce-1", "abc", "b"]
    await store.apply(WriteBatch(inserts=[make_task(n, id=i) for n, i in enumerate(ids)]))
    assert await store.ids_with_prefix("abcd", 10) == ["abcd-1", "abcd-2"]
    assert await store.ids_with_prefix("abcd", 1) == ["abcd-1"]
    assert await store.ids_with_prefix("abc", 10) == ["abc", "abcd-1", "abcd-2", "abce-1"]
    assert await store.ids_with_prefix("abz", 10) == []

    sql, args = id_prefix_query("abcd", 21)
    with sqlite3.connect(tmp_path / "queue.db") as db:
        plan = " ".join(row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", args))
    assert "SEARCH tasks USING" in plan and "(id>? AND id<?)" in plan, plan
    assert "SCAN" not in plan, plan
