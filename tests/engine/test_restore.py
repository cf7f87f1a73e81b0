"""`qtqueue backup` and `qtqueue restore`: the real command on real data directories."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from helpers.cli import ok, qtqueue_command, refused

from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry


def test_a_backup_comes_back_after_damage_and_the_file_it_replaces_is_kept(
    tmp_path: Path, data_dir: Path
) -> None:
    cli = qtqueue_command(tmp_path, data_dir=data_dir)
    kept = [ok(cli("add", "command", "--", "echo", str(n))).strip() for n in range(3)]
    made = ok(cli("backup"))
    ok(cli("add", "command", "--", "echo", "after the backup"))
    db = data_dir / "queue.db"
    db.write_bytes(b"")  # the store is lost

    error = refused(cli("ls"), "QUEUE_STORE_CORRUPT")
    assert "qtqueue restore" in error
    listing = json.loads(ok(cli("restore", "--json")))
    assert listing[0]["reason"] == "manual"
    assert listing[0]["name"] in made

    restored = ok(cli("restore", "1"))
    assert listing[0]["name"] in restored
    assert [t["id"] for t in json.loads(ok(cli("ls", "--json")))] == kept
    (replaced,) = data_dir.glob("queue.db.replaced-*")
    assert replaced.read_bytes() == b""  # kept, not deleted
    assert str(replaced) in restored

    ok(cli("run", "--until-idle"))  # the restored store runs its tasks
    assert {t["status"] for t in json.loads(ok(cli("ls", "--json")))} == {"completed"}


async def test_restore_is_refused_while_an_engine_runs(tmp_path: Path, data_dir: Path) -> None:
    cli = qtqueue_command(tmp_path, data_dir=data_dir)
    task_id = ok(await asyncio.to_thread(cli, "add", "command", "--", "true")).strip()
    ok(await asyncio.to_thread(cli, "backup"))
    db = data_dir / "queue.db"
    async with TaskQueue(data_dir, registry=default_registry(entry_points=False)) as queue:
        # The same file, not a restored one put in its place (its bytes are the running
        # engine's to change: a checkpoint may write them meanwhile).
        before = db.stat().st_ino
        error = refused(await asyncio.to_thread(cli, "restore", "latest"), "QUEUE_ENGINE_LOCKED")
        assert "stop it" in error
        assert db.stat().st_ino == before
        assert not list(data_dir.glob("queue.db.replaced-*"))
        assert (await queue.get_task(task_id)).id == task_id


def test_restoring_a_backup_that_does_not_exist_is_a_coded_error(
    tmp_path: Path, data_dir: Path
) -> None:
    cli = qtqueue_command(tmp_path, data_dir=data_dir)
    ok(cli("add", "command", "--", "true"))
    assert "no backups" in ok(cli("restore"))
    error = refused(cli("restore", "7"), "DATA_FILE_NOT_FOUND")
    assert "'qtqueue restore' lists them" in error


def test_a_restore_that_cannot_copy_the_backup_leaves_the_store_in_its_place(
    tmp_path: Path, data_dir: Path
) -> None:
    cli = qtqueue_command(tmp_path, data_dir=data_dir)
    ok(cli("add", "command", "--", "true"))
    ok(cli("backup"))
    ok(cli("add", "command", "--", "echo", "after the backup"))
    before = [t["id"] for t in json.loads(ok(cli("ls", "--json")))]
    (data_dir / "queue.db.restoring").mkdir()  # the copy cannot be written

    error = refused(cli("restore", "1"), "UNKNOWN_ERROR")  # what EISDIR classifies as
    assert "could not be copied" in error and "nothing was changed" in error
    assert [t["id"] for t in json.loads(ok(cli("ls", "--json")))] == before
    assert not list(data_dir.glob("queue.db.replaced-*"))
