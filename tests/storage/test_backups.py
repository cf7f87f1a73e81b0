"""Automatic backups of the store: before every migration, at most once a day, the newest
few kept, each one a whole store of its own. Real SQLite files."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from helpers.store_rows import as_stored

from qtqueue.core.task import Task, TaskType
from qtqueue.storage import SqliteTaskStore, WriteBatch
from qtqueue.storage.backups import BACKUPS_DIR, KEEP, count_tasks, list_backups, take_backup
from qtqueue.storage.migrations import SCHEMA_VERSION

FIXTURES = Path(__file__).parent / "fixtures"


def _read(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def _open_and_close(path: Path, **kw: float) -> SqliteTaskStore:
    store = SqliteTaskStore(path, **kw)
    await store.open()
    await store.close()
    return store


async def test_a_migration_is_preceded_by_a_backup_of_the_store_as_it_was(
    tmp_path: Path,
) -> None:
    db = tmp_path / "queue.db"
    shutil.copyfile(FIXTURES / "v3.db", db)
    tasks_before = _read(db, "SELECT id, status FROM tasks ORDER BY id")

    await _open_and_close(db)

    assert _read(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    (backup,) = list_backups(tmp_path / BACKUPS_DIR)
    assert backup.reason == "pre-migration-v3"
    assert _read(backup.path, "PRAGMA user_version") == [(3,)]
    assert _read(backup.path, "SELECT id, status FROM tasks ORDER BY id") == tasks_before
    assert _read(backup.path, "PRAGMA integrity_check") == [("ok",)]
    assert not Path(f"{backup.path}-wal").exists()  # one self-contained file


async def test_a_store_with_tasks_is_backed_up_at_most_once_a_day_and_a_few_are_kept(
    tmp_path: Path,
) -> None:
    db = tmp_path / "queue.db"
    await _open_and_close(db)
    assert list_backups(tmp_path / BACKUPS_DIR) == []  # nothing worth keeping yet

    store = SqliteTaskStore(db)
    await store.open()
    stored = as_stored([Task(TaskType.CUSTOM_COMMAND, {"command": "true"})])
    await store.apply(WriteBatch(inserts=stored))
    await store.close()
    await _open_and_close(db)
    await _open_and_close(db)
    (daily,) = list_backups(tmp_path / BACKUPS_DIR)
    assert daily.reason == "daily"
    assert _read(daily.path, "SELECT count(*) FROM tasks") == [(1,)]

    for _ in range(KEEP + 2):  # a day passes at every open
        await _open_and_close(db, backup_interval_s=0.0)
    backups = list_backups(tmp_path / BACKUPS_DIR)
    assert len(backups) == KEEP
    assert daily not in backups  # the oldest went first
    assert sorted(p.name for p in (tmp_path / BACKUPS_DIR).iterdir()) == sorted(
        b.name for b in backups
    )


async def test_a_backup_says_how_many_tasks_it_holds_and_an_unreadable_one_says_so(
    tmp_path: Path,
) -> None:
    db = tmp_path / "queue.db"
    store = SqliteTaskStore(db)
    await store.open()
    tasks = as_stored([Task(TaskType.CUSTOM_COMMAND, {"command": f"echo {n}"}) for n in range(3)])
    await store.apply(WriteBatch(inserts=tasks))
    backup = take_backup(db, tmp_path / BACKUPS_DIR, "manual", 1_800_000_000.0)
    await store.close()
    assert count_tasks(backup) == 3

    backup.path.write_bytes(b"not a store" * 100)
    assert count_tasks(backup) is None
