"""SYSTEM_CLEANUP through a real queue on real temp trees: the dry run lists what would go and
the space it would free and removes nothing; the real run removes old files only, reports the
space freed, removes an old symlink as a link and never walks or deletes through a symlink out
of its root; old qtqueue task logs go too."""

from __future__ import annotations

import os
import time
from pathlib import Path

from system_env import run

from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue

S = TaskStatus
T = TaskType
DAY = 86400.0


def age(path: Path, days: float) -> None:
    """Set a file's (or a link's own) modification time `days` ago."""
    when = time.time() - days * DAY
    os.utime(path, (when, when), follow_symlinks=False)


def old_tree(tmp_path: Path) -> tuple[Path, Path]:
    """root: old and new files, an old link to an old file outside, and a link to an outside
    folder full of old files; (root, outside)."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "cache" / "deep").mkdir(parents=True)
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me\n")
    age(outside / "precious.txt", 90)
    (root / "old.log").write_bytes(b"x" * 1000)
    (root / "cache" / "deep" / "old.bin").write_bytes(b"y" * 3000)
    (root / "fresh.txt").write_text("new\n")
    for name in ("old.log", "cache/deep/old.bin"):
        age(root / name, 30)
    (root / "link-out").symlink_to(outside / "precious.txt")
    age(root / "link-out", 30)
    (root / "dir-out").symlink_to(outside)
    return root, outside


async def test_a_dry_run_lists_what_would_go_and_removes_nothing(
    queue: TaskQueue, tmp_path: Path
) -> None:
    root, outside = old_tree(tmp_path)
    params = {"roots": [str(root)], "older_than_days": 7, "qtqueue_logs": False}
    done = await run(queue, T.SYSTEM_CLEANUP, params)
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    assert done.result["dry_run"] is True
    assert sorted(done.result["roots"][0]["paths"]) == sorted(
        [str(root / "old.log"), str(root / "cache/deep/old.bin"), str(root / "link-out")]
    )
    assert done.result["would_free_bytes"] == 4000
    assert (root / "old.log").exists() and (root / "link-out").is_symlink()
    assert (outside / "precious.txt").exists()


async def test_a_real_run_frees_space_and_never_follows_links_out(
    queue: TaskQueue, tmp_path: Path
) -> None:
    root, outside = old_tree(tmp_path)
    params = {"roots": [str(root)], "older_than_days": 7, "qtqueue_logs": False, "dry_run": False}
    done = await run(queue, T.SYSTEM_CLEANUP, params)
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    assert (done.result["freed_bytes"], done.result["files"]) == (4000, 3)
    assert not (root / "old.log").exists() and not (root / "cache/deep/old.bin").exists()
    assert not os.path.lexists(root / "link-out")
    assert (root / "fresh.txt").exists() and (root / "dir-out").is_symlink()
    assert (outside / "precious.txt").read_text() == "keep me\n"
    assert "freed 4000 bytes" in await queue.read_log(done.id)


async def test_old_task_logs_go_and_the_running_tasks_own_log_stays(
    queue: TaskQueue, tmp_path: Path
) -> None:
    first = await run(queue, T.SYSTEM_MONITOR, {"monitor_type": "memory"})
    log = queue.log_path(first.id)
    assert log.exists()
    age(log, 40)
    empty = tmp_path / "empty"
    empty.mkdir()
    done = await run(
        queue, T.SYSTEM_CLEANUP, {"roots": [str(empty)], "older_than_days": 30, "dry_run": False}
    )
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    assert not log.exists()
    assert done.result["roots"][1]["paths"] == [str(log)]
    assert queue.log_path(done.id).exists()


async def test_a_missing_root_is_skipped_and_said_so(queue: TaskQueue, tmp_path: Path) -> None:
    done = await run(
        queue, T.SYSTEM_CLEANUP, {"roots": [str(tmp_path / "nope")], "qtqueue_logs": False}
    )
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None and done.result["roots"] == []
    assert "no such folder, skipped" in await queue.read_log(done.id)
