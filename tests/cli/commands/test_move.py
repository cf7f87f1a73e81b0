"""`qtqueue move`: the real command line, without an engine (the next engine runs the tasks in
the order it leaves), against a real store the test reads back in process."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.cli import ok, qtqueue_command, refused

from qtqueue.core.task import Priority, Task, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry


def command(label: str) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, name=label)


async def stored(data_dir: Path, *tasks: Task) -> tuple[list[str], list[str]]:
    """Add `tasks` (if any); the ids added and every waiting task's name in start order."""
    queue = TaskQueue(data_dir, dispatch=False, registry=default_registry(entry_points=False))
    await queue.start()
    try:
        ids = await queue.add_tasks(tasks) if tasks else []
        return ids, [t.name for t in queue.ordering.waiting_order("default")]
    finally:
        await queue.close()


async def test_move_puts_waiting_tasks_where_the_user_says(tmp_path: Path) -> None:
    data_dir = tmp_path / "q"
    (a, b, c, d), _ = await stored(data_dir, *map(command, "abcd"))
    run = qtqueue_command(tmp_path, data_dir=data_dir)

    assert "to the top" in ok(run("move", c[:8], "top"))
    assert "before" in ok(run("move", a, "--before", d[:8]))
    ok(run("move", b, "down"))
    reply = json.loads(ok(run("move", d, "--priority", "high", "--json")))

    assert reply["id"] == d and reply["priority"] == Priority.HIGH.name.lower()
    assert (await stored(data_dir))[1] == ["c", "a", "b"]  # d went to high_priority


async def test_move_refuses_what_it_cannot_do_with_a_code_and_a_hint(tmp_path: Path) -> None:
    data_dir = tmp_path / "q"
    (a,), _ = await stored(data_dir, command("a"))
    queue = TaskQueue(data_dir, dispatch=False, registry=default_registry(entry_points=False))
    await queue.start()
    await queue.cancel_task(a)
    await queue.close()
    run = qtqueue_command(tmp_path, data_dir=data_dir)

    assert "cancelled" in refused(run("move", a, "top"), "QUEUE_TASK_NOT_WAITING")
    refused(run("move", "0123456789abcdef", "up"), "QUEUE_TASK_NOT_FOUND")
    refused(run("move", a), "VALIDATION_MISSING_REQUIRED", exit_status=2)


async def test_move_with_a_priority_says_the_priority_the_task_ended_with(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "q"
    run = qtqueue_command(tmp_path, data_dir=data_dir)
    ok(run("queues", "set", "work"))
    in_work = [Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, name=n, queue="work")
               for n in "ab"]  # fmt: skip
    (a, _b), _ = await stored(data_dir, *in_work)

    line = ok(run("move", a, "bottom", "--priority", "urgent"))

    task = json.loads(ok(run("show", a, "--json")))
    task = task.get("task", task)
    assert task["priority"] == "normal"
    assert "priority normal" in line and "not urgent" in line
    assert "priority urgent" not in line
