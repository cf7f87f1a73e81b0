"""SYSTEM_CLEANUP through a real queue on real temp trees: the dry run lists what would go and
the space it would free and removes nothing; the real run removes old files only, reports the
space freed, removes an old symlink as a link and never walks or deletes through a symlink out
of its root; old qtqueue task logs go too."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from helpers.waiting import eventually
from system_env import DONE_S, run

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import sweep
from qtqueue.families.system.cleanup import old_files

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


class SwapFirst(threading.Event):
    """A stop flag that, the first time the walk looks at it (after listing the root, before
    the first entry), swaps the folder `d` for a symlink to `victim` (the tmp-cleaner attack)."""

    def __init__(self, root: Path, victim: Path) -> None:
        super().__init__()
        self.root, self.victim, self.done = root, victim, False

    def is_set(self) -> bool:
        if not self.done:
            self.done = True
            os.rename(self.root / "d", self.root.parent / "moved")
            (self.root / "d").symlink_to(self.victim)
            age(self.root / "d", 30)
        return super().is_set()


def test_a_folder_swapped_for_a_symlink_during_the_walk_is_never_entered(tmp_path: Path) -> None:
    root, victim = tmp_path / "root", tmp_path / "victim"
    (root / "d").mkdir(parents=True)
    victim.mkdir()
    (root / "d" / "f").write_text("x")
    (victim / "f").write_text("precious")
    age(root / "d" / "f", 30)
    age(victim / "f", 30)
    swept = old_files(str(root), time.time() - DAY, remove=True, stop=SwapFirst(root, victim))
    assert (victim / "f").read_text() == "precious"
    assert swept.items == [(str(root / "d"), 0)]  # the old link itself, as a link
    assert (tmp_path / "moved" / "f").exists()  # the folder moved away is not reached either


class StopAfter(threading.Event):
    """A stop flag set once the walk has looked at it `n` times (a cancel mid-deletion)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def is_set(self) -> bool:
        self.n -= 1
        if self.n < 0:
            self.set()
        return super().is_set()


def test_a_stopped_cleanup_stops_deleting_between_two_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for d in range(4):
        (root / f"d{d}").mkdir(parents=True)
        for i in range(50):
            age_file = root / f"d{d}" / f"f{i}"
            age_file.write_bytes(b"")
            age(age_file, 30)
    swept = old_files(str(root), time.time() - DAY, remove=True, stop=StopAfter(60))
    left = sum(len(os.listdir(root / f"d{d}")) for d in range(4))
    assert swept.stopped
    assert swept.count < 60 and left == 200 - swept.count


async def test_a_cancelled_cleanup_logs_what_it_removed_and_stops(
    queue: TaskQueue, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    for d in range(20):
        (root / f"d{d}").mkdir(parents=True)
        for i in range(500):
            f = root / f"d{d}" / f"f{i}"
            f.write_bytes(b"")
            os.utime(f, (1, 1))
    task_id = await queue.add_task(
        Task(
            T.SYSTEM_CLEANUP,
            {"dry_run": False, "roots": [str(root)], "qtqueue_logs": False},
            max_retries=0,
        )
    )
    count = lambda: sum(len(os.listdir(root / f"d{d}")) for d in range(20))  # noqa: E731
    await eventually(lambda: count() < 10000, what="deletion started")
    await queue.cancel_task(task_id)
    done = await queue.wait_for(task_id, timeout_s=DONE_S)
    assert done.status is S.CANCELLED
    at_cancel = count()
    assert at_cancel > 0
    assert f"{root}: cancelled; removed {10000 - at_cancel} files" in await queue.read_log(task_id)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("chattr") is None, reason="chattr +i: root")
async def test_files_that_cannot_be_removed_operation_not_permitted_fail_with_permission_denied(
    queue: TaskQueue, tmp_path: Path
) -> None:
    locked, free = tmp_path / "locked", tmp_path / "free"
    locked.mkdir()
    free.mkdir()
    (locked / "a").write_text("a")
    (free / "b").write_text("b")
    age(locked / "a", 30)
    age(free / "b", 30)
    subprocess.run(["chattr", "+i", str(locked / "a")], check=True)
    try:
        params = {"roots": [str(locked), str(free)], "dry_run": False, "qtqueue_logs": False}
        done = await run(queue, T.SYSTEM_CLEANUP, params)
    finally:
        subprocess.run(["chattr", "-i", str(locked / "a")], check=True)
    assert done.status is S.FAILED
    assert done.error_code == "SYSTEM_PERMISSION_DENIED", done.error
    assert str(locked) in (done.error or "")
    assert not (free / "b").exists()  # the other root was still cleaned, and said so
    assert f"{free}: removed 1 files" in await queue.read_log(done.id)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="open logs are read from /proc")
async def test_the_log_of_another_running_task_is_kept_even_when_old(
    queue: TaskQueue, tmp_path: Path
) -> None:
    monitor = await queue.add_task(
        Task(T.SYSTEM_MONITOR, {"monitor_type": "memory", "duration_s": 60}, max_retries=0)
    )
    log = queue.log_path(monitor)
    await eventually(log.exists, what="the monitor's log")
    age(log, 40)  # a quiet or long-paused task's log looks old
    finished = await run(queue, T.SYSTEM_MONITOR, {"monitor_type": "memory"})
    age(queue.log_path(finished.id), 40)
    young = await run(queue, T.SYSTEM_MONITOR, {"monitor_type": "memory"})
    empty = tmp_path / "empty"
    empty.mkdir()
    params = {"roots": [str(empty)], "older_than_days": 0, "dry_run": False}
    done = await run(queue, T.SYSTEM_CLEANUP, params)
    running = await queue.get_task(monitor)
    await queue.cancel_task(monitor)
    assert done.status is S.COMPLETED, done.error
    assert running is not None and running.status is S.RUNNING
    assert log.exists()
    assert not queue.log_path(finished.id).exists()
    assert queue.log_path(young.id).exists()  # younger than a day: a retry may still need it


@pytest.mark.parametrize("fd_safe", [True, False])
def test_both_walks_remove_the_same_old_files_and_never_follow_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fd_safe: bool
) -> None:
    """The fd walk (POSIX) and the by-path walk (where the fd functions are missing: Windows)."""
    monkeypatch.setattr(sweep, "FD_SAFE", fd_safe)
    root, outside = old_tree(tmp_path)
    swept = old_files(str(root), time.time() - 7 * DAY, remove=True)
    assert sorted(swept.items) == sorted(
        [(str(root / "old.log"), 1000), (str(root / "cache/deep/old.bin"), 3000),
         (str(root / "link-out"), 0)]
    )  # fmt: skip
    assert (outside / "precious.txt").read_text() == "keep me\n"
    assert (root / "fresh.txt").exists() and (root / "dir-out").is_symlink()
