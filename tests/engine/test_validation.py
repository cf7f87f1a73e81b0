"""A new task's fields held to what the store can keep, ids checked, logs kept in their folder.

Every refusal here happened on a real queue over a real SQLite file, and the store is looked at
afterwards: nothing refused is stored, and the task added beside it is intact.
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.engine.validation import MAX_RETRIES

C = TaskErrorCode


def command(**fields: Any) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, **fields)


async def refused(queue: TaskQueue, task: Task) -> QueueError:
    """The error adding `task` raises; the store holds nothing new afterwards."""
    before = {t.id for t in await queue.list_tasks()}
    with pytest.raises(QueueError) as raised:
        await queue.add_task(task)
    assert {t.id for t in await queue.list_tasks()} == before
    return raised.value


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"max_retries": 2**63}, "max_retries"),  # SQLite INTEGER is signed 64-bit
        ({"max_retries": 2**64 + 5}, "max_retries"),
        ({"max_retries": MAX_RETRIES + 1}, "max_retries"),
        ({"expires_at": -1e308}, "expires_at"),
        ({"expires_at": math.nan}, "expires_at"),
        ({"expires_at": math.inf}, "expires_at"),
        ({"run_at": math.nan}, "run_at"),
        ({"run_at": -math.inf}, "run_at"),
        ({"run_at": 1e300}, "run_at"),
        ({"timeout_s": math.inf}, "timeout_s"),
        ({"timeout_s": 1e12}, "timeout_s"),
        ({"ttl_s": math.nan}, "ttl_s"),
        ({"retry_backoff": math.inf}, "retry_backoff"),
        ({"retry_backoff": [1.0, math.inf]}, "retry_backoff"),
        ({"max_retries": True}, "max_retries"),
        ({"tags": ["x" * 10_000]}, "tags"),
    ],
)
async def test_values_the_store_cannot_hold_or_that_are_surely_mistakes_are_refused(
    queue: TaskQueue, fields: dict[str, Any], field: str
) -> None:
    kept = await queue.add_task(command())
    error = await refused(queue, command(**fields))
    assert error.code is C.VALIDATION_INVALID_PARAMS
    assert error.message.startswith(f"{field}") or f"; {field}" in error.message
    assert (await queue.wait_for(kept, timeout_s=10)).status is TaskStatus.COMPLETED


async def test_a_task_with_an_expiry_still_expires_after_an_absurd_one_was_refused(
    queue: TaskQueue,
) -> None:
    """The old engine stored expires_at=-1e308 and its expiry timer crashed for every task."""
    await queue.pause_queue()
    await refused(queue, command(expires_at=-1e308))
    soon = await queue.add_task(command(expires_at=queue.clock() + 0.05))
    expired = await queue.wait_for(soon, timeout_s=10)
    assert expired.status is TaskStatus.CANCELLED
    assert expired.error_code == C.QUEUE_TASK_EXPIRED.value


@pytest.mark.parametrize(
    "task_id",
    [None, 7, 1.5, True, "", " ", "a b", "../../x", "-leading-dash", "x" * 65, ["a"], {"a": 1},
     "tab\there", "ünïcode"],
)  # fmt: skip
async def test_an_id_that_is_not_a_task_id_is_a_format_error(
    queue: TaskQueue, task_id: Any
) -> None:
    error = await refused(queue, command(id=task_id))
    assert error.code is C.VALIDATION_INVALID_FORMAT
    assert "id" in error.message


async def test_a_stored_id_that_is_not_a_task_id_cannot_reach_files_outside_the_logs(
    make_queue: Any, data_dir: Path, tmp_path: Path
) -> None:
    """A task stored before ids were checked, with id "../../x": its log path stays inside
    the logs directory, and removing it leaves the file the old path named alone."""
    queue = await make_queue()
    template = await queue.add_task(command(id="template"))
    await queue.wait_for(template, timeout_s=10)
    await queue.close()
    (data_dir / "logs").mkdir(exist_ok=True)  # there once any task has run
    victim = tmp_path / "x.log"  # where data/logs/../../x.log leads
    victim.write_text("not the engine's\n")
    with sqlite3.connect(data_dir / "queue.db") as db:  # as an older version stored it
        columns = [r[1] for r in db.execute("PRAGMA table_info(tasks)")]
        row = dict(zip(columns, db.execute("SELECT * FROM tasks WHERE id = ?", (template,))
                       .fetchone(), strict=True))  # fmt: skip
        row.update(id="../../x", seq=row["seq"] + 1)
        db.execute(
            f"INSERT INTO tasks ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [row[c] for c in columns],
        )

    queue = await make_queue(dispatch=False)
    path = queue.log_path("../../x").resolve()
    assert path.parent == (data_dir / "logs").resolve()
    assert await queue.read_log("../../x") == ""
    await queue.remove_task("../../x")
    assert victim.read_text() == "not the engine's\n"
    assert [t.id for t in await queue.list_tasks()] == [template]


@pytest.mark.parametrize(
    "settings",
    [{"max_retries": 2**62}, {"timeout_s": 1e300}, {"concurrency": 2**62},
     {"result_ttl_s": 1e300}],
)  # fmt: skip
async def test_a_queue_default_cannot_hand_its_tasks_what_a_task_may_not_have(
    queue: TaskQueue, settings: dict[str, Any]
) -> None:
    """A queue's max_retries and timeout_s become its tasks' own: the same bounds hold."""
    with pytest.raises(QueueError) as raised:
        await queue.set_queue("nightly", **settings)
    assert raised.value.code is C.VALIDATION_INVALID_PARAMS
    assert next(iter(settings)) in raised.value.message
    assert "nightly" not in {q["name"] for q in queue.list_queues()}


@pytest.mark.parametrize(
    "params",
    [{"env": {"\udcff": "x"}}, {"n": 2**70}, {"x": [math.nan]}, {"deep": {"t": "\ud800"}}],
)
async def test_params_the_store_cannot_keep_as_given_are_refused_not_altered(
    queue: TaskQueue, params: dict[str, Any]
) -> None:
    """In-process callers (the window) bypass the API's checks: a lone surrogate was stored as
    U+FFFD, silently changing the task; a 70-bit integer and NaN were stored as given."""
    queue.register_handler("keep", lambda task_id, p: {"got": p})
    error = await refused(
        queue,
        Task(TaskType.CUSTOM_COMMAND, {"command": "true", **params})
        if "env" in params
        else Task("keep", params),
    )
    assert error.code is C.VALIDATION_INVALID_PARAMS
    assert "params: holds" in error.message
