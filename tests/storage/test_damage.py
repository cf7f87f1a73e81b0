"""A damaged store is named, kept and never silently replaced; a row that is not a task is
quarantined while every other task is served. Real store files, the real `qtqueue` command."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.cli import Run, ok, qtqueue_command, refused
from helpers.store_rows import as_stored

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskType
from qtqueue.storage import SqliteTaskStore, WriteBatch
from qtqueue.storage.backups import BACKUPS_DIR, take_backup

DB = "queue.db"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A data directory whose store holds four pending tasks (made once, copied per test)."""
    tmp = tmp_path_factory.mktemp("template")
    cli = qtqueue_command(tmp, data_dir=tmp / "q")
    ids = [ok(cli("add", "command", "--", "echo", str(n))).strip() for n in range(4)]
    shutil.rmtree(tmp / "q" / "backups", ignore_errors=True)  # each test decides on backups
    return tmp / "q", ids


@pytest.fixture
def store(template: tuple[Path, list[str]], data_dir: Path) -> list[str]:
    """A copy of the template in `data_dir`; the ids of its tasks."""
    shutil.copytree(template[0], data_dir)
    return template[1]


@pytest.fixture
def cli(tmp_path: Path, data_dir: Path) -> Run:
    return qtqueue_command(tmp_path, data_dir=data_dir)


def listed(cli: Run) -> list[str]:
    return [t["id"] for t in json.loads(ok(cli("ls", "--json")))]


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _cut_to_two_pages(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(2 * 4096)


def _overwrite_header(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.write(b"\0" * 100)


@pytest.mark.parametrize(
    ("damage", "named_as"),
    [
        (_empty, "is empty (0 bytes)"),
        (_cut_to_two_pages, "is truncated"),
        (_overwrite_header, "does not start with an SQLite header"),
    ],
)
def test_a_damaged_store_file_is_refused_kept_and_replaced_only_when_asked(
    store: list[str],
    cli: Run,
    data_dir: Path,
    damage: Callable[[Path], None],
    named_as: str,
) -> None:
    db = data_dir / DB
    damage(db)
    damaged = db.read_bytes()

    for command in (("ls",), ("add", "command", "--", "true"), ("run", "--until-idle")):
        error = refused(cli(*command), "QUEUE_STORE_CORRUPT")
        assert f"{db} {named_as}" in error
        assert "qtqueue restore" in error and "--new-store-if-damaged" in error
        assert db.read_bytes() == damaged  # left exactly as it was, nothing added to it

    started = cli("run", "--until-idle", "--new-store-if-damaged")
    ok(started)
    (kept,) = data_dir.glob(f"{DB}.damaged-*")
    assert kept.read_bytes() == damaged
    assert str(kept) in started.stderr
    assert listed(cli) == []  # the empty store the user asked for
    assert ok(cli("add", "command", "--", "true")).strip() in listed(cli)


async def test_a_store_file_gone_from_a_data_directory_that_had_one_is_no_first_start(
    tmp_path: Path,
) -> None:
    db = tmp_path / DB
    store = SqliteTaskStore(db)
    await store.open()
    stored = as_stored([Task(TaskType.CUSTOM_COMMAND, {"command": "true"})])
    await store.apply(WriteBatch(inserts=stored))
    await store.close()
    take_backup(db, tmp_path / BACKUPS_DIR, "manual", 0.0)
    db.unlink()

    again = SqliteTaskStore(db)
    with pytest.raises(QueueError) as raised:
        await again.open()
    assert raised.value.code is TaskErrorCode.QUEUE_STORE_CORRUPT
    assert f"{db} is missing, but this data directory held a store" in raised.value.message
    assert not db.exists()  # no empty store made in its place

    fresh = SqliteTaskStore(tmp_path / "elsewhere" / DB)  # a first start is no damage
    await fresh.open()
    assert await fresh.list_tasks() == []
    await fresh.close()


def test_a_missing_write_ahead_log_loads_what_the_database_file_holds(
    store: list[str], cli: Run, data_dir: Path
) -> None:
    db = data_dir / DB
    # A writer that dies (no close, so no checkpoint) with one commit only in the WAL.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sqlite3, sys\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('PRAGMA wal_autocheckpoint=0')\n"
            "c.execute(\"UPDATE tasks SET name = 'only in the WAL'\")\n"
            "os._exit(0)\n",
            str(db),
        ],
        check=True,
    )
    wal = Path(f"{db}-wal")
    assert wal.stat().st_size > 0
    wal.unlink()

    shown = json.loads(ok(cli("ls", "--json")))
    assert [t["id"] for t in shown] == store
    assert "only in the WAL" not in {t["name"] for t in shown}
    ok(cli("run", "--until-idle"))
    assert {t["status"] for t in json.loads(ok(cli("ls", "--json")))} == {"completed"}
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


def test_rows_that_are_not_tasks_are_quarantined_and_every_other_task_is_served(
    store: list[str], cli: Run, data_dir: Path
) -> None:
    good, bad_json, bad_status, bad_type = store
    db = data_dir / DB
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE tasks SET params = '{\"command\": ' WHERE id = ?", (bad_json,))
        conn.execute("UPDATE tasks SET status = 'sideways' WHERE id = ?", (bad_status,))
        conn.execute("UPDATE tasks SET created_at = 'yesterday' WHERE id = ?", (bad_type,))
        conn.execute(  # and one step of the good task's history
            "UPDATE task_events SET to_status = 'nowhere' "
            "WHERE task_rid = (SELECT rowid FROM tasks WHERE id = ?)",
            (good,),
        )
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)  # SQLite is fine
    conn.close()

    first = cli("ls", "--json")
    assert [t["id"] for t in json.loads(ok(first))] == [good]
    for task_id in (bad_json, bad_status, bad_type):
        assert f"task {task_id} cannot be read" in first.stderr
    assert "quarantine" in first.stderr
    assert "column created_at holds a str value" in first.stderr  # what is wrong, not the value

    shown = cli("show", good, "--json")
    assert json.loads(ok(shown))["task"]["id"] == good
    assert "skipped a transition that cannot be read" in shown.stderr
    refused(cli("show", bad_json), "QUEUE_TASK_NOT_FOUND")
    ok(cli("run", "--until-idle"))
    assert json.loads(ok(cli("show", good, "--json")))["status"] == "completed"

    with sqlite3.connect(db) as conn:
        kept = {
            task_id: json.loads(raw)
            for task_id, raw in conn.execute("SELECT task_id, raw FROM quarantine")
        }
    conn.close()
    assert set(kept) == {bad_json, bad_status, bad_type}
    assert kept[bad_json]["row"]["params"] == '{"command": '
    assert kept[bad_status]["row"]["status"] == "sideways"
    assert kept[bad_type]["row"]["created_at"] == "yesterday"
    assert kept[bad_json]["events"]  # its history went with it
