"""The SQLite-queue document (5-sqlite-task-queue.md): its Python examples, as written (the
import path `qtqueue`), in plain (synchronous) code as the document's `main.py` is, on the
process's default queue — here a data directory of the test's own. Its REST API and admin page
are another issue's.

Each test's body holds the document's code between `# --- the document` and `# ---`; around it,
only what the example takes for granted. A plain program reaches the engine (which
`start_worker()` runs on a thread of its own) with `asyncio.run(queue.…)`."""

from __future__ import annotations

import asyncio
import json
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from qtqueue import Priority, Task, TaskQueue, TaskStatus, get_task_queue, register_default_handlers
from qtqueue.core.errors import QueueError

S = TaskStatus


def _run(queue: TaskQueue, task: Task, timeout_s: float = 10) -> Task:
    """Add `task` from plain code and wait until it is finished."""
    return asyncio.run(queue.wait_for(asyncio.run(queue.add_task(task)), timeout_s))


def test_sqlite_queue_doc_creating_custom_task_handlers(user_data_dir: Path) -> None:
    working = threading.Event()  # the handler is in do_something, after its first update
    finish = threading.Event()

    def do_something(params: dict[str, Any]) -> int:
        working.set()
        assert finish.wait(10)
        return int(params["n"]) * 2

    # --- the document
    def my_custom_handler(task_id: str, params: dict) -> dict:  # type: ignore[type-arg]
        """Custom task handler.

        Args:
            task_id: Task identifier
            params: Task parameters from API

        Returns:
            Result dictionary
        """
        queue = get_task_queue()

        # Update progress
        queue.update_progress(task_id, 50, "Processing...")

        # Do work
        result = do_something(params)

        # Update progress
        queue.update_progress(task_id, 100, "Done")

        return {"status": "success", "result": result}

    # Register handler
    queue = get_task_queue()
    queue.register_handler("my_custom_task", my_custom_handler)
    # ---
    queue.start_worker()
    task_id = asyncio.run(queue.add_task(Task("my_custom_task", {"n": 21})))
    assert working.wait(10)
    midway = asyncio.run(queue.get_task(task_id))
    assert (midway.status, midway.progress, midway.current_step) == (
        S.RUNNING,
        50.0,
        "Processing...",
    )
    finish.set()
    done = asyncio.run(queue.wait_for(task_id, 10))
    assert (done.status, done.progress, done.current_step) == (S.COMPLETED, 100.0, "Done")
    assert done.result == {"status": "success", "result": 42}
    queue.stop_worker()


def test_sqlite_queue_doc_integration(user_data_dir: Path) -> None:
    # --- the document
    # Initialize task queue and register handlers
    task_queue = get_task_queue()
    register_default_handlers()
    task_queue.start_worker()
    # ---
    assert task_queue.data_dir == user_data_dir and task_queue.worker.running
    old = _run(task_queue, Task("custom_command", {"command": "true"}))
    # The document's "Creating a Task via API" body, as a Task.
    kept = _run(
        task_queue,
        Task(
            "cleanup_old_data",
            {"project_id": "test_project", "days_old": 30},
            name="Cleanup old data",
            priority=Priority.NORMAL,
            max_retries=3,
        ),
    )
    assert kept.status is S.COMPLETED and kept.result is not None
    assert (kept.result["removed"], kept.result["days_old"]) == (0, 30.0)
    assert "no project folder" in kept.result["note"]  # a fresh install has none yet
    assert asyncio.run(task_queue.get_task(old.id)).status is S.COMPLETED
    # Finished more than 0 days ago: both finished tasks go.
    removed = _run(task_queue, Task("cleanup_old_data", {"days_old": 0}))
    assert removed.result == {"removed": 2, "days_old": 0.0}
    with pytest.raises(QueueError) as gone:
        asyncio.run(task_queue.get_task(old.id))
    assert gone.value.code == "QUEUE_TASK_NOT_FOUND"
    task_queue.stop_worker()
    assert not task_queue.worker.running
    assert not [t for t in threading.enumerate() if t.name == "qtqueue-engine"]


def test_sqlite_queue_doc_task_handlers_export_collection(user_data_dir: Path) -> None:
    queue = get_task_queue()
    register_default_handlers()
    queue.start_worker()
    failed = _run(queue, Task("custom_command", {"command": "false"}, category="jobs"))
    _run(queue, Task("custom_command", {"command": "true"}, category="jobs"))
    export = _run(
        queue, Task("export_collection", {"collection": "failed", "output_file": "failed.json"})
    )
    path = user_data_dir / "exports" / "failed.json"
    assert export.result == {"path": str(path), "count": 1}
    assert [t["id"] for t in json.loads(path.read_text())] == [failed.id]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    by_category = _run(queue, Task("export_collection", {"collection": "jobs"}))
    assert by_category.result is not None and by_category.result["count"] == 2
    assert Path(by_category.result["path"]).parent == user_data_dir / "exports"
    # A name that leaves the exports folder is refused, and nothing is written.
    escape = _run(queue, Task("export_collection", {"output_file": "../escaped.json"}))
    assert (escape.status, escape.error_code) == (S.FAILED, "VALIDATION_INVALID_FORMAT")
    assert not (user_data_dir / "escaped.json").exists()
    assert sorted(p.name for p in (user_data_dir / "exports").iterdir()) == sorted(
        ["failed.json", Path(by_category.result["path"]).name]
    )
    queue.stop_worker()


async def test_sqlite_queue_doc_core_components_priorities(user_data_dir: Path) -> None:
    """ "Priority-based task execution (LOW=0, NORMAL=1, HIGH=2, URGENT=3)"; "Default
    priority: NORMAL (1)"; the RQ-style document's CRITICAL is URGENT."""
    assert [(p.name, p.value) for p in Priority] == [
        ("LOW", 0),
        ("NORMAL", 1),
        ("HIGH", 2),
        ("URGENT", 3),
    ]
    assert Priority.CRITICAL is Priority.URGENT and Priority.parse("critical") is Priority.URGENT
    assert Task("x").priority == 1
    queue = TaskQueue(max_concurrent=1)
    gate = asyncio.Event()
    order: list[str] = []

    async def record(task_id: str, params: dict[str, Any]) -> None:
        order.append(params["label"])
        await gate.wait()

    queue.register_handler("record", record)
    first = await queue.add_task(Task("record", {"label": "first"}))
    await queue.settled()
    assert order == ["first"]  # it holds the one slot: the others wait
    low = await queue.add_task(Task("record", {"label": "low"}, priority=Priority.LOW))
    critical = await queue.add_task(
        Task("record", {"label": "critical"}, priority=Priority.CRITICAL)
    )
    gate.set()
    for task_id in (first, low, critical):
        await queue.wait_for(task_id, 10)
    assert order == ["first", "critical", "low"]
    assert (await queue.get_task(critical)).to_dict()["priority"] == "urgent"
    await queue.close()
