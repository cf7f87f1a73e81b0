"""The SQLite-queue document's default handlers through a real queue: `cleanup_old_data`
deletes a project's old files under the projects root (the system family's
`system_projects_root` setting), never through a symlink, with the document's progress
(50 "Processing...", then 100 "Done"); `export_collection` reports 100 "Done" too."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from helpers.queues import QueueFactory
from helpers.waiting import eventually
from system_env import DONE_S, run

from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.task_queue import register_default_handlers

S = TaskStatus


def old(path: Path, days: float) -> None:
    when = time.time() - days * 86400
    os.utime(path, (when, when), follow_symlinks=False)


async def test_cleanup_old_data_deletes_a_projects_old_files_under_the_projects_root(
    make_queue: QueueFactory, tmp_path: Path
) -> None:
    root = tmp_path / "projects"
    project = root / "test_project"
    (project / "runs").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "keep.txt").write_text("not a project file\n")
    old(outside / "keep.txt", 90)
    (project / "runs" / "old.json").write_text("{}")
    old(project / "runs" / "old.json", 45)
    (project / "new.json").write_text("{}")
    (project / "other").symlink_to(outside)
    (root / "another_project").mkdir()
    (root / "another_project" / "old.json").write_text("{}")
    old(root / "another_project" / "old.json", 45)
    queue = await make_queue(executor_settings={"system_projects_root": str(root)})
    register_default_handlers(queue)
    steps: list[tuple[float, str]] = []

    def watch(events: list[TaskEvent]) -> None:
        for e in events:
            if e.kind is EventKind.CHANGED and e.task is not None and e.task.current_step:
                steps.append((e.task.progress, e.task.current_step))

    queue.subscribe(watch)
    done = await run(queue, "cleanup_old_data", {"project_id": "test_project", "days_old": 30})
    assert done.status is S.COMPLETED, done.error
    assert done.result == {"removed": 1, "days_old": 30.0}
    assert not (project / "runs" / "old.json").exists()
    assert (project / "new.json").exists() and (outside / "keep.txt").exists()
    assert (root / "another_project" / "old.json").exists()
    assert (50.0, "Processing...") in steps and steps[-1] == (100.0, "Done")


@pytest.mark.parametrize("project_id", ["../escape", "/etc", "a/b", ""])
async def test_cleanup_old_data_refuses_a_project_id_that_is_not_a_name(
    make_queue: QueueFactory, tmp_path: Path, project_id: str
) -> None:
    victim = tmp_path / "escape"
    victim.mkdir()
    (victim / "old.txt").write_text("x")
    old(victim / "old.txt", 99)
    queue = await make_queue(executor_settings={"system_projects_root": str(tmp_path / "p")})
    register_default_handlers(queue)
    done = await run(queue, "cleanup_old_data", {"project_id": project_id, "days_old": 1})
    assert (done.status, done.error_code) == (S.FAILED, "VALIDATION_INVALID_FORMAT")
    assert (victim / "old.txt").exists()


async def test_the_projects_root_defaults_to_the_data_dirs_projects_folder(
    make_queue: QueueFactory, data_dir: Path
) -> None:
    queue = await make_queue()
    project = data_dir / "projects" / "p1"
    project.mkdir(parents=True)
    (project / "old.txt").write_text("x")
    old(project / "old.txt", 10)
    register_default_handlers(queue)
    done = await run(queue, "cleanup_old_data", {"project_id": "p1", "days_old": 5})
    assert done.result == {"removed": 1, "days_old": 5.0}
    assert not (project / "old.txt").exists()
    export = await run(queue, "export_collection", {"output_file": "all.json"})
    assert (export.status, export.progress, export.current_step) == (S.COMPLETED, 100.0, "Done")


@pytest.mark.parametrize(
    ("make", "code"),
    [
        ("link", "VALIDATION_INVALID_PARAMS"),
        ("file", "VALIDATION_INVALID_PARAMS"),
    ],
)
async def test_cleanup_old_data_refuses_a_project_folder_that_is_a_link_or_a_file(
    make_queue: QueueFactory, tmp_path: Path, make: str, code: str
) -> None:
    root = tmp_path / "projects"
    root.mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "keep.txt").write_text("not a project file\n")
    old(outside / "keep.txt", 90)
    if make == "link":  # the project folder itself leads out of the projects root
        (root / "p1").symlink_to(outside)
    elif make == "file":
        (root / "p1").write_text("x")
    queue = await make_queue(executor_settings={"system_projects_root": str(root)})
    register_default_handlers(queue)
    done = await run(queue, "cleanup_old_data", {"project_id": "p1", "days_old": 30})
    assert done.status is S.FAILED
    assert done.error_code == code, done.error
    assert "p1" in (done.error or "")
    assert (outside / "keep.txt").read_text() == "not a project file\n"


async def test_cleanup_old_data_of_a_project_with_no_folder_has_nothing_to_clean_and_says_so(
    make_queue: QueueFactory, tmp_path: Path
) -> None:
    """The SQLite-queue document's example on a fresh install: no project folder yet."""
    queue = await make_queue(executor_settings={"system_projects_root": str(tmp_path / "p")})
    register_default_handlers(queue)
    done = await run(queue, "cleanup_old_data", {"project_id": "test_project", "days_old": 30})
    assert done.status is S.COMPLETED and done.result is not None
    assert done.result["removed"] == 0
    assert "no project folder" in done.result["note"] and "test_project" in done.result["note"]
    assert not (tmp_path / "p").exists()  # nothing made


async def test_a_cancelled_cleanup_old_data_stops_deleting(
    make_queue: QueueFactory, tmp_path: Path
) -> None:
    root = tmp_path / "projects"
    for d in range(20):
        (root / "big" / f"d{d}").mkdir(parents=True)
        for i in range(500):
            f = root / "big" / f"d{d}" / f"f{i}"
            f.write_bytes(b"")
            os.utime(f, (1, 1))
    queue = await make_queue(executor_settings={"system_projects_root": str(root)})
    register_default_handlers(queue)
    task_id = await queue.add_task(
        Task("cleanup_old_data", {"project_id": "big", "days_old": 1}, max_retries=0)
    )

    def count() -> int:
        return sum(len(os.listdir(root / "big" / f"d{d}")) for d in range(20))

    await eventually(lambda: count() < 10000, what="deletion started")
    await queue.cancel_task(task_id)
    done = await queue.wait_for(task_id, timeout_s=DONE_S)
    assert done.status is S.CANCELLED
    at_cancel = count()
    assert at_cancel > 0
    await run(queue, "export_collection", {})  # a while later, through the same queue
    assert count() == at_cancel
