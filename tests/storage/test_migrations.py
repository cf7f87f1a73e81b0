"""A database from every released schema version keeps loading.

`fixtures/v1.db` was written once by `SqliteTaskStore` at schema version 1 with the tasks,
transitions and settings below (`V1_TASKS`, `V1_HISTORY`, `V1_META`), and is checked in as a
binary file. Never regenerate it: when the schema moves on, add a file for the last version next
to it and tests like these (`v3.db`, below, was added when version 4 came), so released
versions stay covered. Tests open a copy, because opening migrates in place.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from helpers.store_rows import as_stored

from qtqueue.core.task import OnInterrupt, Permission, Priority, Task, TaskStatus, TaskType
from qtqueue.storage import SqliteTaskStore, Transition, WriteBatch
from qtqueue.storage.migrations import MIGRATIONS, SCHEMA_VERSION

FIXTURES = Path(__file__).parent / "fixtures"
T0 = 1_700_000_000.0
S = TaskStatus


def _id(n: int) -> str:
    return f"10000000-0000-4000-8000-{n:012d}"


V1_TASKS = as_stored([
    Task(
        id=_id(1), seq=1, task_type=TaskType.CUSTOM_COMMAND, name="echo hello",
        params={"command": "echo", "args": ["hello"], "shell": False}, category="system",
        tags=["demo"], priority=Priority.HIGH, status=S.COMPLETED, progress=100.0,
        created_at=T0, started_at=T0 + 1, completed_at=T0 + 2, duration_s=1.0,
        result={"exit_code": 0}, updated_at=T0 + 2,
    ),
    Task(
        id=_id(2), seq=2, task_type=TaskType.CUSTOM_COMMAND, name="flaky",
        params={"command": "sh", "args": ["-c", "exit 3"]}, category="system",
        status=S.FAILED, max_retries=2, retry_count=2, retry_backoff=[0.5, 1.0],
        created_at=T0 + 10, started_at=T0 + 11, completed_at=T0 + 12, duration_s=0.5,
        error="sh exited with code 3", error_code="SYSTEM_COMMAND_FAILED",
        error_details={"exit_code": 3, "output_tail": []}, dead_letter=True,
        on_interrupt=OnInterrupt.FAIL, updated_at=T0 + 12,
    ),
    Task(
        id=_id(3), seq=3, task_type=TaskType.SYSTEM_MONITOR, name="memory",
        params={"monitor_type": "memory"}, priority=Priority.LOW, status=S.PENDING,
        created_at=T0 + 20, run_at=T0 + 3600, expires_at=T0 + 7200, timeout_s=30.0,
        wait_reason="waiting: category 'general' is at its limit of 1", updated_at=T0 + 20,
    ),
    Task(
        id=_id(4), seq=4, task_type=TaskType.CUSTOM_SCRIPT, name="backup.sh",
        params={"script_path": "/opt/backup.sh", "script_args": ["--fast"]}, category="backup",
        tags=["nightly", "prod"], status=S.PAUSED, paused_from=S.PENDING,
        permission=Permission.SUPERVISED, depends_on=[_id(1)],
        resources={"cpu_cores": 2, "memory_gb": 1.5}, created_at=T0 + 30, updated_at=T0 + 31,
    ),
    Task(
        id=_id(5), seq=5, task_type="acme.deploy", name="deploy",
        params={"env": "staging", "nested": {"replicas": 3, "labels": ["a", "b"]}},
        status=S.CANCELLED, priority=Priority.URGENT, created_at=T0 + 40, started_at=T0 + 41,
        completed_at=T0 + 42, duration_s=0.75, error="cancelled by the user",
        on_interrupt=OnInterrupt.REQUEUE, updated_at=T0 + 42,
    ),
    Task(
        id=_id(6), seq=6, task_type=TaskType.CUSTOM_COMMAND, name="sleep 30",
        params={"command": "sleep", "args": ["30"]}, status=S.TIMEOUT, timeout_s=5.0,
        created_at=T0 + 50, started_at=T0 + 51, completed_at=T0 + 56, duration_s=5.0,
        error="timed out after 5 s of running time", error_code="SYSTEM_TIMEOUT",
        error_details={"timeout_s": 5.0}, progress=37.5, current_step="Step 1/2: waiting",
        updated_at=T0 + 56,
    ),
])  # fmt: skip

V1_HISTORY = [
    Transition(_id(1), T0, None, S.PENDING, "custom_command"),
    Transition(_id(1), T0 + 1, S.PENDING, S.RUNNING, "custom_command"),
    Transition(_id(1), T0 + 2, S.RUNNING, S.COMPLETED, "custom_command", None, 1.0),
    Transition(_id(2), T0 + 10, None, S.PENDING, "custom_command"),
    Transition(
        _id(2), T0 + 11, S.RUNNING, S.FAILED, "custom_command", "SYSTEM_COMMAND_FAILED", 0.5
    ),
    Transition(_id(3), T0 + 20, None, S.PENDING, "system_monitor"),
    Transition(_id(4), T0 + 30, None, S.PENDING, "custom_script"),
    Transition(_id(4), T0 + 31, S.PENDING, S.PAUSED, "custom_script"),
    Transition(_id(6), T0 + 56, S.RUNNING, S.TIMEOUT, "custom_command", "SYSTEM_TIMEOUT", 5.0),
]

V1_META = {"queue_paused": "1"}


async def write_v1_fixture(path: Path) -> None:
    """How fixtures/v1.db was made (at schema version 1). Kept for the record only."""
    assert SCHEMA_VERSION == 1
    store = SqliteTaskStore(path)
    await store.open()
    await store.apply(WriteBatch(inserts=V1_TASKS, transitions=V1_HISTORY))
    for key, value in V1_META.items():
        await store.set_meta(key, value)
    await store.close()


def _copy_fixture(name: str, directory: Path) -> Path:
    """A writable copy of fixtures/`name`, as the store's file `queue.db` in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "queue.db"
    shutil.copyfile(FIXTURES / name, path)
    return path


@pytest.fixture
def v1_copy(tmp_path: Path) -> Path:
    return _copy_fixture("v1.db", tmp_path)


def _read_only(path: Path) -> sqlite3.Connection:
    """A connection that never writes, nor creates -wal/-shm files next to the fixture."""
    return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)


def test_the_checked_in_file_is_at_schema_version_1() -> None:
    conn = _read_only(FIXTURES / "v1.db")
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        conn.close()


async def test_a_version_1_database_loads_every_task(v1_copy: Path) -> None:
    store = SqliteTaskStore(v1_copy)
    await store.open()
    try:
        assert await store.list_tasks() == V1_TASKS
        for task in V1_TASKS:
            assert await store.get_task(task.id) == task
            assert await store.transitions(task.id) == [
                t for t in V1_HISTORY if t.task_id == task.id
            ]
        assert [t.id for t in await store.load_unfinished()] == [_id(3), _id(4)]
        for key, value in V1_META.items():
            assert await store.get_meta(key) == value
        assert await store.max_seq() == 6
        stats = await store.stats(T0 + 60)
        assert stats["performance"]["completed_tasks"] == 1
    finally:
        await store.close()
    conn = sqlite3.connect(v1_copy)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()


async def test_a_version_1_database_accepts_new_writes(v1_copy: Path) -> None:
    store = SqliteTaskStore(v1_copy)
    await store.open()
    try:
        new = Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, created_at=T0 + 100, seq=7,
                   queue="default", max_retries=0)  # fmt: skip
        await store.apply(WriteBatch(inserts=[new]))
        assert await store.get_task(new.id) == new
    finally:
        await store.close()


def _schema(conn: sqlite3.Connection) -> set[tuple[str, str, str]]:
    rows = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
    ).fetchall()
    return {(t, n, " ".join(sql.split())) for t, n, sql in rows}


def test_the_released_version_1_step_was_not_edited() -> None:
    """MIGRATIONS[0] still builds exactly the schema the checked-in v1 file has."""
    fresh = sqlite3.connect(":memory:")
    fixture = _read_only(FIXTURES / "v1.db")
    try:
        fresh.executescript(MIGRATIONS[0])
        assert _schema(fresh) == _schema(fixture)
    finally:
        fresh.close()
        fixture.close()


def test_reading_the_fixtures_leaves_no_journal_files_beside_them() -> None:
    assert [p.name for p in FIXTURES.iterdir() if p.suffix != ".db"] == []


def test_migrations_are_numbered_by_position() -> None:
    assert len(MIGRATIONS) == SCHEMA_VERSION
    assert all(step.strip() for step in MIGRATIONS)


async def test_a_version_1_database_gains_the_version_2_columns_with_their_defaults(
    v1_copy: Path,
) -> None:
    store = SqliteTaskStore(v1_copy)
    await store.open()
    try:
        old = await store.get_task(_id(4))
        assert old is not None
        assert (old.allow_dependency_failure, old.ttl_s, old.queue, old.approved_at) == (
            False, None, "default", None,
        )  # fmt: skip
        new = Task(
            TaskType.CUSTOM_COMMAND, {"command": "true"}, created_at=T0 + 100, seq=7,
            depends_on=[_id(1)], allow_dependency_failure=True, ttl_s=60.0,
            queue="nightly", permission=Permission.HUMAN_REQUIRED, max_retries=0,
        )  # fmt: skip
        await store.apply(WriteBatch(inserts=[new]))
        assert await store.get_task(new.id) == new
        new.approved_at = T0 + 200
        await store.apply(WriteBatch(updates=[new]))
        assert await store.get_task(new.id) == new
    finally:
        await store.close()


# --- version 3 ---------------------------------------------------------------------------------
# `fixtures/v3.db` was written once by `SqliteTaskStore` at schema version 3 (the store of
# issue #5) with the tasks, transitions and schedule below. Task 3 is unfinished but carries a
# completed_at, as versions up to 3 could store; version 4 indexes unfinished tasks by a NULL
# completed_at, so its migration must clear it or a restart would never see that task.

V3_TASKS = as_stored([
    Task(
        id=_id(31), seq=1, task_type=TaskType.CUSTOM_COMMAND, name="make",
        params={"command": "make"}, status=S.COMPLETED, progress=100.0, created_at=T0,
        started_at=T0 + 1, completed_at=T0 + 2, duration_s=1.0, result={"exit_code": 0},
        queue="high_priority", updated_at=T0 + 2,
    ),
    Task(
        id=_id(32), seq=2, task_type=TaskType.CUSTOM_COMMAND, name="deploy",
        params={"command": "deploy.sh"}, status=S.PENDING, created_at=T0 + 3,
        depends_on=[_id(31)], allow_dependency_failure=True, ttl_s=600.0,
        permission=Permission.HUMAN_REQUIRED, approved_at=T0 + 4, queue="nightly",
        wait_reason="waiting for approval", updated_at=T0 + 4,
    ),
    Task(
        id=_id(33), seq=3, task_type=TaskType.CUSTOM_COMMAND, name="retried",
        params={"command": "flaky"}, status=S.PAUSED, paused_from=S.PENDING, retry_count=1,
        max_retries=3, created_at=T0 + 5, started_at=T0 + 6, completed_at=T0 + 7,
        updated_at=T0 + 8,
    ),
    Task(
        id=_id(34), seq=4, task_type=TaskType.SYSTEM_MONITOR, name="watch",
        params={"monitor_type": "cpu"}, status=S.RUNNING, created_at=T0 + 9,
        started_at=T0 + 10, pid=4242, on_interrupt=OnInterrupt.REQUEUE, updated_at=T0 + 10,
    ),
])  # fmt: skip

V3_HISTORY = [
    Transition(_id(31), T0, None, S.PENDING, "custom_command"),
    Transition(_id(31), T0 + 1, S.PENDING, S.RUNNING, "custom_command"),
    Transition(_id(31), T0 + 2, S.RUNNING, S.COMPLETED, "custom_command", None, 1.0),
    Transition(_id(32), T0 + 3, None, S.PENDING, "custom_command"),
    Transition(_id(33), T0 + 5, None, S.PENDING, "custom_command"),
    Transition(_id(33), T0 + 8, S.PENDING, S.PAUSED, "custom_command"),
    Transition(_id(34), T0 + 10, S.PENDING, S.RUNNING, "system_monitor"),
]

V3_SCHEDULE = {
    "id": "sched-nightly", "name": "nightly backup",
    "template": {"task_type": "custom_command", "params": {"command": "backup"}},
    "kind": "cron", "cron": "0 3 * * *", "interval_s": None, "timezone": "Europe/Paris",
    "missed": "run_once", "paused": False, "next_run_at": T0 + 86400, "last_run_at": None,
    "last_task_id": None, "last_error": None, "occurrences": 0, "created_at": T0,
    "updated_at": T0,
}  # fmt: skip


async def write_v3_fixture(path: Path) -> None:
    """How fixtures/v3.db was made (at schema version 3). Kept for the record only."""

    assert SCHEMA_VERSION == 3
    store = SqliteTaskStore(path)
    await store.open()
    await store.apply(WriteBatch(inserts=V3_TASKS, transitions=V3_HISTORY))
    await store.save_schedule(V3_SCHEDULE)
    await store.close()


@pytest.fixture
def v3_copy(tmp_path: Path) -> Path:
    return _copy_fixture("v3.db", tmp_path)


def test_the_checked_in_v3_file_is_at_schema_version_3() -> None:
    conn = _read_only(FIXTURES / "v3.db")
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
        # The stray completed_at really is in the file, so the test below proves the step.
        assert conn.execute(
            "SELECT completed_at FROM tasks WHERE id = ?", (_id(33),)
        ).fetchone() == (T0 + 7,)
    finally:
        conn.close()


def test_the_released_steps_up_to_version_3_were_not_edited() -> None:
    fresh = sqlite3.connect(":memory:")
    fixture = _read_only(FIXTURES / "v3.db")
    try:
        for step in MIGRATIONS[:3]:
            fresh.executescript(step)
        assert _schema(fresh) == _schema(fixture)
    finally:
        fresh.close()
        fixture.close()


async def test_a_version_3_database_loads_every_task_and_schedule(v3_copy: Path) -> None:

    store = SqliteTaskStore(v3_copy)
    await store.open()
    try:
        expected = [t.copy() for t in V3_TASKS]
        expected[2].completed_at = None  # unfinished: cleared by the step to version 4
        assert await store.list_tasks() == expected
        for task in expected:
            assert await store.get_task(task.id) == task
            assert await store.transitions(task.id) == [
                t for t in V3_HISTORY if t.task_id == task.id
            ]
        assert [t.id for t in await store.load_unfinished()] == [_id(32), _id(33), _id(34)]
        # Its template set no timeout, which meant none: the step to version 7 says so (0),
        # as an unset timeout now takes the queue's default.
        schedule = {**V3_SCHEDULE, "template": {**V3_SCHEDULE["template"], "timeout_s": 0}}
        assert await store.load_schedules() == [schedule]
    finally:
        await store.close()
    conn = sqlite3.connect(v3_copy)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "tasks_open" in indexes and "tasks_unfinished" not in indexes
        plan = " ".join(
            str(r[3])
            for r in conn.execute(
                "EXPLAIN QUERY PLAN SELECT id FROM tasks WHERE completed_at IS NULL "
                "AND status NOT IN ('completed', 'failed', 'cancelled', 'timeout') ORDER BY seq"
            )
        )
        assert "tasks_open" in plan
    finally:
        conn.close()


async def test_the_engine_restarts_on_a_version_3_store_and_runs_what_was_left(
    tmp_path: Path,
) -> None:
    """The paused task with a stray completed_at is still there to resume after the step."""
    from qtqueue import TaskQueue

    data = _copy_fixture("v3.db", tmp_path / "data").parent
    async with TaskQueue(data, max_concurrent=1) as queue:
        paused = await queue.get_task(_id(33))
        assert paused.status is S.PAUSED
        assert _id(33) in {t.id for t in await queue.list_tasks(status=S.PAUSED)}


# --- version 4 ---------------------------------------------------------------------------------
# `fixtures/v4.db` was written once by `SqliteTaskStore` at schema version 4 (the store of
# issue #8) with the tasks below: a dead letter and a command waiting with retries left.
# Version 5 adds the error codes a task's retries cover (retry_on, no_retry_on): older rows
# read as covering every code a retry can fix.

V4_TASKS = as_stored([
    Task(
        id=_id(41), seq=1, task_type=TaskType.CUSTOM_COMMAND, name="upload",
        params={"command": "upload.sh"}, status=S.FAILED, max_retries=2, retry_count=2,
        created_at=T0, started_at=T0 + 1, completed_at=T0 + 2, duration_s=1.0,
        error="upload.sh exited with code 1", error_code="SYSTEM_COMMAND_FAILED",
        error_details={"exit_code": 1}, dead_letter=True, updated_at=T0 + 2,
    ),
    Task(
        id=_id(42), seq=2, task_type=TaskType.CUSTOM_COMMAND, name="sync",
        params={"command": "sync"}, status=S.PENDING, max_retries=3, retry_backoff=[1.0, 5.0],
        created_at=T0 + 3, updated_at=T0 + 3,
    ),
])  # fmt: skip


async def write_v4_fixture(path: Path) -> None:
    """How fixtures/v4.db was made (at schema version 4). Kept for the record only."""
    assert SCHEMA_VERSION == 4
    store = SqliteTaskStore(path)
    await store.open()
    await store.apply(WriteBatch(inserts=V4_TASKS))
    await store.close()


def test_the_checked_in_v4_file_is_at_schema_version_4_and_its_steps_were_not_edited() -> None:
    fresh = sqlite3.connect(":memory:")
    fixture = _read_only(FIXTURES / "v4.db")
    try:
        assert fixture.execute("PRAGMA user_version").fetchone()[0] == 4
        for step in MIGRATIONS[:4]:
            fresh.executescript(step)
        assert _schema(fresh) == _schema(fixture)
    finally:
        fresh.close()
        fixture.close()


async def test_a_version_4_database_loads_with_retries_covering_every_fixable_code(
    tmp_path: Path,
) -> None:
    path = _copy_fixture("v4.db", tmp_path)
    store = SqliteTaskStore(path)
    await store.open()
    try:
        loaded = await store.list_tasks()
        assert loaded == V4_TASKS
        assert [(t.retry_on, t.no_retry_on) for t in loaded] == [([], []), ([], [])]
        narrowed = V4_TASKS[1].copy()
        narrowed.id, narrowed.seq = _id(43), 3
        narrowed.retry_on, narrowed.no_retry_on = ["NETWORK_TIMEOUT"], ["SYSTEM_PROCESS_KILLED"]
        await store.apply(WriteBatch(inserts=[narrowed]))
        assert await store.get_task(_id(43)) == narrowed
    finally:
        await store.close()


async def test_the_engine_keeps_a_version_4_dead_letter_through_cleanup(tmp_path: Path) -> None:
    from qtqueue import TaskQueue

    data = _copy_fixture("v4.db", tmp_path / "data").parent
    async with TaskQueue(data, dispatch=False) as queue:
        assert await queue.cleanup(older_than_s=0) == 0
        assert [t.id for t in await queue.list_dead_letters()] == [_id(41)]
