"""The SQLite-queue document's entry points: `get_task_queue()` and `register_default_handlers()`.

```
from qtqueue import get_task_queue
from qtqueue.task_queue import register_default_handlers

task_queue = get_task_queue()
register_default_handlers()
task_queue.start_worker()      # the engine on a thread of its own; stop_worker() closes it
```

`get_task_queue()` is one of the two documented exceptions to "no module-level singletons"
(with `qtqueue.queue_manager.queue_manager`): one `TaskQueue` over the default data directory
(`--data-dir`'s default: $QTQUEUE_DATA_DIR, else the user data directory), created on the first
call, never at import. Programs that build their own queues (the window, `qtqueue run`, tests)
do not use it. The documents' other names are here too, as they import them from their
`task_queue` module: `TaskQueue`, `Task`, `DockerTask`, `TaskType`, `TaskStatus`, `Priority`.

The default handlers are the document's useful ones for qtqueue itself: `cleanup_old_data` and
`export_collection`. Its `batch_embedding` is a task type of the ollama family (documents
embedded through an Ollama server, the vectors written to an NDJSON or Parquet file).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import DockerTask, Priority, Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue

logger = logging.getLogger(__name__)

__all__ = [
    "EXPORTS_DIR",
    "DockerTask",
    "Priority",
    "Task",
    "TaskQueue",
    "TaskStatus",
    "TaskType",
    "get_task_queue",
    "register_default_handlers",
    "reset_task_queue",
]

#: The folder of the data directory `export_collection` writes into.
EXPORTS_DIR = "exports"
#: An export's file name: letters, digits, '.', '_' and '-', not starting with '.'.
_FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")

_lock = threading.Lock()
_queue: TaskQueue | None = None


def get_task_queue() -> TaskQueue:
    """The process's default `TaskQueue` (created on the first call, over the default data
    directory; it opens on first use, or with `start_worker()`)."""
    global _queue
    with _lock:
        if _queue is None:
            _queue = TaskQueue()
        return _queue


def reset_task_queue() -> TaskQueue | None:
    """Forget the default queue and return it (close it first: `stop_worker()` or `close()`);
    the next `get_task_queue()` makes a new one over the data directory in force then. For
    tests, and programs that change $QTQUEUE_DATA_DIR."""
    global _queue
    with _lock:
        forgotten, _queue = _queue, None
        return forgotten


def _number(params: dict[str, Any], key: str, default: float) -> float:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"{key}: expected a number of days, 0 or more, not {value!r}",
            field=key,
        )
    return float(value)


def _export_name(params: dict[str, Any], collection: str) -> str:
    name = params.get("output_file") or f"{collection}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    if not isinstance(name, str) or _FILE_NAME.fullmatch(name) is None or ".." in name:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            f"output_file: {name!r} is not a plain file name (letters, digits, '.', '_', '-'; "
            f"exports are written to the data directory's {EXPORTS_DIR}/ folder only)",
            field="output_file",
        )
    return name


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def _project_dir(queue: TaskQueue, project_id: Any) -> Path:
    """`<projects root>/<project_id>`: the root is the system family's `system_projects_root`
    setting (empty: `<data dir>/projects`); the id must be a plain name."""
    if not isinstance(project_id, str) or _FILE_NAME.fullmatch(project_id) is None:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            f"project_id: {project_id!r} is not a plain name (letters, digits, '.', '_', '-')",
            field="project_id",
        )
    root = str(queue.executor_settings.get("system_projects_root") or "")
    return (Path(root).expanduser() if root else queue.data_dir / "projects") / project_id


def _remove_old_files(
    folder: Path, cutoff: float, stop: threading.Event | None = None
) -> tuple[int, list[str]]:
    """Delete the files (and links, as links) under the project `folder` last modified before
    `cutoff`, walking folders held open (O_NOFOLLOW) so nothing outside can be reached, not even
    through a folder swapped for a link meanwhile; (number removed, failures). A project folder
    that is a symlink or a file is refused with a coded error; a missing one has nothing to
    clean (the SQLite-queue document's example runs on a fresh install)."""
    from qtqueue.executors.sweep import sweep_folder

    try:
        swept = sweep_folder(str(folder), cutoff, remove=True, follow_root=False, stop=stop)
    except FileNotFoundError:
        return 0, []
    except OSError as exc:  # ELOOP: a symlink; ENOTDIR: a file
        kind = "a symlink" if os.path.islink(folder) else "not a folder"
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"project_id: {folder} is {kind} ({exc.strerror}); only a real folder is cleaned",
            field="project_id",
            path=str(folder),
        ) from None
    return swept.count, swept.failed


def register_default_handlers(queue: TaskQueue | None = None) -> None:
    """Register `cleanup_old_data` and `export_collection` on `queue` (default:
    `get_task_queue()`).

    - `cleanup_old_data` {project_id, days_old: 30}: deletes the files under
      `<projects root>/<project_id>` modified more than `days_old` days ago (the root: the
      system family's `system_projects_root` setting, else `<data dir>/projects`), never
      through a symlink; a project folder that is a symlink or a file is refused
      (VALIDATION_INVALID_PARAMS), a missing one has nothing to clean (result "note"); files
      it could not remove are listed under "failed". Without a `project_id`: the finished
      tasks (and their logs) completed more than `days_old` days ago; dead letters are kept.
      Progress 50 "Processing...", then 100 "Done" (the document's). Result: {"removed": N,
      "days_old": D}.
    - `export_collection` {collection: "all", output_file}: writes the tasks of `collection`
      ("all", a status such as "failed", or a category such as "docker") as a JSON list to
      `exports/<output_file>` in the data directory (0600; default name
      `<collection>-<time>.json`). A name that is not a plain file name is refused with
      VALIDATION_INVALID_FORMAT: nothing is written outside that folder. Result: {"path",
      "count"}.
    """
    target = queue if queue is not None else get_task_queue()

    async def cleanup_old_data(task_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """Delete a project's files, or finished tasks, older than `days_old` days (default 30)."""
        days = _number(params, "days_old", 30)
        await target.update_progress(task_id, 50, "Processing...")
        if "project_id" in params:
            folder = _project_dir(target, params["project_id"])
            if not os.path.lexists(folder):
                await target.update_progress(task_id, 100, "Done")
                note = f"no project folder {folder}: nothing to clean"
                return {"removed": 0, "days_old": days, "note": note}
            cutoff = time.time() - days * 86400.0
            stop = threading.Event()  # a cancel stops the deletion between two files
            work = asyncio.ensure_future(asyncio.to_thread(_remove_old_files, folder, cutoff, stop))
            try:
                removed, failed = await asyncio.shield(work)
            except asyncio.CancelledError:
                stop.set()
                await work
                raise
            if failed:
                await target.update_progress(task_id, 100, "Done")
                return {"removed": removed, "days_old": days, "failed": failed[:200]}
        else:
            removed = await target.cleanup(days * 86400.0)
        await target.update_progress(task_id, 100, "Done")
        return {"removed": removed, "days_old": days}

    async def export_collection(task_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """Export tasks (all, a status or a category) as JSON to the data dir's exports/."""
        collection = str(params.get("collection") or "all")
        path = target.data_dir / EXPORTS_DIR / _export_name(params, collection)
        statuses = {s.value for s in TaskStatus}
        if collection == "all":
            tasks = await target.list_tasks()
        elif collection in statuses:
            tasks = await target.list_tasks(collection)
        else:
            tasks = await target.list_tasks(category=collection)
        text = json.dumps([t.to_dict() for t in tasks], indent=2)
        await target.update_progress(task_id, 50, f"writing {len(tasks)} tasks")
        await asyncio.to_thread(_write_private, path, text)
        await target.update_progress(task_id, 100, "Done")
        return {"path": str(path), "count": len(tasks)}

    target.register_handler("cleanup_old_data", cleanup_old_data)
    target.register_handler("export_collection", export_collection)
