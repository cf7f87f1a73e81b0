"""A database from every released schema version keeps loading.

`fixtures/v1.db` was written once by `SqliteTaskStore` at schema version 1 with the tasks,
transitions and settings below (`V1_TASKS`, `V1_HISTORY`, `V1_META`), and is checked in as a
binary file. Never regenerate it: when the schema moves on, add `v2.db` next to it and a test
like this one, so every released version stays covered. Tests open a copy, because opening
migrates in place.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from qtqueue.core.task import OnInterrupt, Permission, Priority, Task, TaskStatus, TaskType
from qtqueue.storage import SqliteTaskStore, Transition, WriteBatch
from qtqueue.storage.migrations import MIGRATIONS, SCHEMA_VERSION

FIXTURES = Path(__file__).parent / "fixtures"
T0 = 1_700_000_000.0
S = TaskStatus


def _id(n: int) -> str:
    return f"10000000-0000-4000-8000-{n:012d}"


V1_TASKS = [
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
]  # fmt: skip

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


@pytest.fixture
def v1_copy(tmp_path: Path) -> Path:
    path = tmp_path / "queue.db"
    shutil.copyfile(FIXTURES / "v1.db", path)
    return path


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
        new = Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, created_at=T0 + 100, seq=7)
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
            queue="nightly", permission=Permission.HUMAN_REQUIRED,
        )  # fmt: skip
        await store.apply(WriteBatch(inserts=[new]))
        assert await store.get_task(new.id) == new
        new.approved_at = T0 + 200
        await store.apply(WriteBatch(updates=[new]))
        assert await store.get_task(new.id) == new
    finally:
        await store.close()
