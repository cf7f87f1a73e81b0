"""Helpers of the system family's tests: run a task through a real queue, and build a real
tree of files with permissions, symlinks (one pointing out of the tree) and a name that is not
UTF-8."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from qtqueue.core.task import Task
from qtqueue.engine.queue import TaskQueue

#: Seconds any task here may take.
DONE_S = 60.0
#: A file name that is not UTF-8 (Latin-1 "café"), as the file system's str.
LATIN1_NAME = os.fsdecode(b"caf\xe9.txt")


async def run(queue: TaskQueue, task_type: str, params: dict[str, Any], **fields: Any) -> Task:
    """Add a task (no retries) and wait for its end."""
    fields.setdefault("max_retries", 0)
    task_id = await queue.add_task(Task(task_type, params, **fields))
    return await queue.wait_for(task_id, timeout_s=DONE_S)


def make_tree(root: Path, outside: Path) -> Path:
    """`root/src`: files of several modes, a nested folder, a file to exclude, a link inside,
    a relative and an absolute link out of the tree, and the Latin-1 name."""
    src = root / "home" / "src"  # deep enough that "../../outside" leaves a restore's target
    (src / "sub" / "deep").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (src / "run.sh").chmod(0o750)
    (src / "secret.key").write_bytes(b"k" * 10)
    (src / "secret.key").chmod(0o600)
    (src / "sub" / "deep" / "data.bin").write_bytes(bytes(range(256)) * 400)
    (src / "sub" / "scratch.tmp").write_text("left out\n")
    (src / LATIN1_NAME).write_bytes(b"latin-1 name\n")
    (src / "link-in").symlink_to("a.txt")
    outside.mkdir(exist_ok=True)
    (outside / "target.txt").write_text("outside the tree\n")
    (src / "link-out").symlink_to(os.path.relpath(outside / "target.txt", src))
    (src / "link-abs").symlink_to(outside / "target.txt")
    return src
