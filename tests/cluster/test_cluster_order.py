"""Waiting tasks on a cluster moved, given another priority and edited (`cluster/ordering.py`),
for real: a real redis-server, the real `ClusterBackend`, command line and window, and then one
real `qtqueue worker --burst`. No worker runs while the order changes; what each test checks is
the order the tasks then RAN in (each appends its name to a file), which is what a user sees.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cluster_window_env
import pytest
from cluster_control_env import background_worker
from cluster_env import RedisServer, run_workers
from cluster_window_env import Run, cli, until_row
from helpers.waiting import wait_until
from PySide6.QtGui import QAction
from rq.job import Job

from qtqueue.cluster.backend import ClusterBackend
from qtqueue.cluster.jobs import SERIALIZER
from qtqueue.cluster.reads import ClusterReader
from qtqueue.core.errors import QueueError
from qtqueue.core.task import Priority, Task, TaskStatus
from qtqueue.ui.main_window import MainWindow

Window = Callable[[str], MainWindow]

window_settings = cluster_window_env.window_settings
loop = cluster_window_env.loop
run = cluster_window_env.run
cluster_window = cluster_window_env.cluster_window


#: Each of the three actions, with params that would change a waiting task.
EACH_ACTION: tuple[tuple[str, dict[str, Any]], ...] = (
    ("move_task", {"place": "bottom"}),
    ("set_priority", {"priority": "urgent"}),
    ("update_task", {"task": {"name": "renamed"}}),
)


def call(url: str, action: str, **params: Any) -> dict[str, Any]:
    """One action through `ClusterBackend.call`, as the command line and the window send it."""

    async def once() -> dict[str, Any]:
        backend = ClusterBackend(url)
        try:
            return await backend.call(action, params)
        finally:
            await backend.close()

    return asyncio.run(once())


def refusal(url: str, action: str, **params: Any) -> QueueError:
    with pytest.raises(QueueError) as caught:
        call(url, action, **params)
    return caught.value


def add(url: str, out: Path, name: str, priority: str = "normal", **fields: Any) -> str:
    """A task that appends `name` to `out` when it runs; its id."""
    body = {"task_type": "custom_command", "name": name, "priority": priority,
            "params": {"command": f"echo {name} >> {out}", "shell": True}, **fields}  # fmt: skip
    return str(call(url, "add_task", **body)["id"])


def ran(out: Path) -> list[str]:
    return out.read_text().split() if out.exists() else []


def burst(redis: RedisServer, tmp_path: Path) -> None:
    (done,) = run_workers(redis.url, tmp_path)
    assert done.returncode == 0, done.stderr


def job_hash(redis: RedisServer, task_id: str) -> dict[bytes, bytes]:
    return dict(redis.client.hgetall(f"rq:job:{task_id}"))


def test_top_bottom_up_down_and_before_are_the_order_the_tasks_run_in(
    redis: RedisServer, tmp_path: Path
) -> None:
    out = tmp_path / "ran.txt"
    ids = {n: add(redis.url, out, n) for n in ("a", "b", "c", "d", "e")}

    moved = call(redis.url, "move_task", task_id=ids["d"], place="top")["task"]  # d a b c e
    call(redis.url, "move_task", task_id=ids["a"], place="bottom")  # d b c e a
    call(redis.url, "move_task", task_id=ids["e"][:8], place="before", before=ids["b"][:8])
    call(redis.url, "move_task", task_id=ids["c"], place="up")  # d e c b a
    call(redis.url, "move_task", task_id=ids["d"], place="down")  # e d c b a
    call(redis.url, "move_task", task_id=ids["e"], place="top")  # already first: unchanged

    assert moved["id"] == ids["d"] and moved["status"] == "pending"
    assert moved["queue"] == "default"
    listed = call(redis.url, "list_tasks")["tasks"]  # the order a window shows (task.seq)
    by_place = sorted((Task.from_dict(t) for t in listed), key=lambda t: (-t.priority, t.seq))
    assert [t.name for t in by_place] == ["e", "d", "c", "b", "a"]
    low = add(redis.url, out, "low", priority="low")
    across = refusal(redis.url, "move_task", task_id=ids["a"], place="before", before=low)
    assert across.code.value == "QUEUE_TASK_NOT_WAITING" and "its own queue" in str(across)
    burst(redis, tmp_path)
    assert ran(out) == ["e", "d", "c", "b", "a", "low"]


@pytest.mark.parametrize(
    ("action", "params"),
    [("set_priority", {"priority": "high"}), ("update_task", {"task": {"priority": "high"}})],
)
def test_a_new_priority_moves_a_low_task_to_the_high_queue_so_it_runs_first(
    redis: RedisServer, tmp_path: Path, action: str, params: dict[str, Any]
) -> None:
    out = tmp_path / "ran.txt"
    add(redis.url, out, "normal1")
    late = add(redis.url, out, "late", priority="low")
    add(redis.url, out, "normal2")

    task = call(redis.url, action, task_id=late, **params)["task"]

    assert task["priority"] == "high" and task["queue"] == "high_priority"
    assert redis.client.lrange("rq:queue:high_priority", 0, -1) == [late.encode()]
    assert redis.client.llen("rq:queue:low_priority") == 0
    job = Job.fetch(late, connection=redis.client, serializer=SERIALIZER)
    assert job.origin == "high_priority" and Task.from_dict(job.args[0]).priority == Priority.HIGH
    burst(redis, tmp_path)
    assert ran(out) == ["late", "normal1", "normal2"]


def test_update_task_changes_the_command_that_runs_and_keeps_its_place(
    redis: RedisServer, tmp_path: Path
) -> None:
    out = tmp_path / "ran.txt"
    first = add(redis.url, out, "first")
    add(redis.url, out, "second")
    params = {"command": f"echo edited >> {out}", "shell": True}

    task = call(redis.url, "update_task", task_id=first, task={"params": params, "name": "ed"})[
        "task"
    ]

    assert task["name"] == "ed" and task["params"]["command"] == params["command"]
    bad = refusal(redis.url, "update_task", task_id=first, task={"params": {"nope": 1}})
    assert bad.code.value.startswith("VALIDATION_")  # checked as a new task is: unchanged
    stale = refusal(redis.url, "update_task", task_id=first, task={"name": "x"}, updated_at=1.0)
    assert stale.code.value == "QUEUE_TASK_CHANGED"
    burst(redis, tmp_path)
    assert ran(out) == ["edited", "second"]


def test_a_running_task_is_refused_and_left_untouched(redis: RedisServer, tmp_path: Path) -> None:
    go, out = tmp_path / "go", tmp_path / "ran.txt"
    body = {"task_type": "custom_command", "name": "busy", "params": {
        "command": f"while [ ! -e {go} ]; do sleep 0.05; done; echo busy >> {out}",
        "shell": True}}  # fmt: skip
    busy = str(call(redis.url, "add_task", **body)["id"])
    reader = ClusterReader(redis.client)
    with background_worker(redis.url, tmp_path, "w0", client=redis.client):
        wait_until(lambda: reader.task(busy).status == TaskStatus.RUNNING, what="busy running")
        before = job_hash(redis, busy)
        for action, params in EACH_ACTION:
            error = refusal(redis.url, action, task_id=busy, **params)
            assert error.code.value == "QUEUE_TASK_NOT_WAITING", action
        after = job_hash(redis, busy)
        assert after[b"data"] == before[b"data"] and after[b"origin"] == b"default"
        go.touch()
        wait_until(lambda: reader.task(busy).status == TaskStatus.COMPLETED, what="busy done")
    assert ran(out) == ["busy"]


def test_a_task_a_worker_took_meanwhile_is_refused_and_not_lost(
    redis: RedisServer, tmp_path: Path
) -> None:
    """The instant between the read and the change: a worker pops the job (RQ's own LMOVE to
    its intermediate list) after the backend read it as queued."""
    out = tmp_path / "ran.txt"
    taken = add(redis.url, out, "taken")
    other = add(redis.url, out, "other")
    before = job_hash(redis, taken)
    redis.client.lmove("rq:queue:default", "rq:queue:default:intermediate")  # a worker's pop

    for action, params in EACH_ACTION:
        error = refusal(redis.url, action, task_id=taken, **params)
        assert error.code.value == "QUEUE_TASK_NOT_WAITING", action
        assert "started meanwhile" in str(error), action
    assert job_hash(redis, taken) == before
    assert redis.client.lrange("rq:queue:default:intermediate", 0, -1) == [taken.encode()]
    assert redis.client.lrange("rq:queue:default", 0, -1) == [other.encode()]


def test_a_task_waiting_for_its_dependency_is_refused_with_a_fix(
    redis: RedisServer, tmp_path: Path
) -> None:
    out = tmp_path / "ran.txt"
    first = add(redis.url, out, "first")
    then = add(redis.url, out, "then", depends_on=[first])

    error = refusal(redis.url, "move_task", task_id=then, place="top")
    assert error.code.value == "CLUSTER_NOT_SUPPORTED"
    assert "cancel it and add it again" in str(error)
    other = refusal(redis.url, "move_task", task_id=first, place="before", before=then)
    assert other.code.value == "QUEUE_TASK_NOT_WAITING"
    assert f"waits for {first}" in str(other)  # why it is not in the queue yet
    burst(redis, tmp_path)
    assert ran(out) == ["first", "then"]


def test_qtqueue_redis_move_puts_tasks_where_they_run(redis: RedisServer, tmp_path: Path) -> None:
    out = tmp_path / "ran.txt"
    ids = {n: add(redis.url, out, n) for n in ("a", "b", "c")}
    low = add(redis.url, out, "low", priority="low")

    line = cli(tmp_path, redis.url, "move", ids["c"][:8], "top")
    assert line == f"moved {ids['c'][:8]} c: to the top (queue default)\n"
    cli(tmp_path, redis.url, "move", ids["a"][:8], "--before", ids["c"][:8])  # a c b
    line = cli(tmp_path, redis.url, "move", low[:8], "--priority", "urgent")
    assert "priority urgent" in line and "(queue high_priority)" in line
    burst(redis, tmp_path)
    assert ran(out) == ["low", "a", "c", "b"]


def test_the_window_moves_and_reprioritises_cluster_tasks_and_shows_their_places(
    redis: RedisServer, cluster_window: Window, run: Run, tmp_path: Path
) -> None:
    out = tmp_path / "ran.txt"
    w = cluster_window(redis.url)
    ids = {}
    for name in ("a", "b", "c"):
        task = Task("custom_command", {"command": f"echo {name} >> {out}", "shell": True},
                    name=name)  # fmt: skip
        ids[name] = run(w.queue.add_task(task))
    for task_id in ids.values():
        run(until_row(w, task_id, lambda t: t.status == TaskStatus.PENDING))
    assert w.model.position(run(until_row(w, ids["c"], lambda t: True))) == 3

    top = w.findChild(QAction, "actionMoveTop")
    assert top is not None
    w.select_tasks([ids["c"]])
    run(until_row(w, ids["c"], lambda t: True))
    assert top.isEnabled(), top.toolTip()
    top.trigger()
    run(until_row(w, ids["c"], lambda t: w.model.position(t) == 1))
    run(until_row(w, ids["a"], lambda t: w.model.position(t) == 2))
    low = w.findChild(QAction, "actionPriorityLow")
    assert low is not None
    w.select_tasks([ids["a"]])
    low.trigger()
    moved = run(until_row(w, ids["a"], lambda t: t.queue == "low_priority"))
    assert moved.priority == Priority.LOW and w.model.position(moved) == 1
    # Edit… saves through the window's port (the fields the dialog sends, as locally).
    shown = run(until_row(w, ids["b"], lambda t: True))
    edited = Task.from_dict({**shown.to_dict(), "name": "B",
                             "params": {"command": f"echo B >> {out}", "shell": True}})  # fmt: skip
    saved = run(w.queue.update_task(ids["b"], edited))
    assert saved.name == "B" and saved.queue == "default"
    run(until_row(w, ids["b"], lambda t: t.name == "B" and w.model.position(t) == 2))

    burst(redis, tmp_path)
    assert ran(out) == ["c", "B", "a"]


def test_moves_while_a_worker_takes_tasks_lose_none_and_run_none_twice(
    redis: RedisServer, tmp_path: Path
) -> None:
    """Safety is the point: every change races a worker popping the same list. Each task runs
    exactly once, whatever was moved, re-prioritised or edited as it was taken."""
    out = tmp_path / "ran.txt"
    names = [f"t{i:02}" for i in range(40)]
    ids = [add(redis.url, out, n) for n in names]
    reader = ClusterReader(redis.client)
    refused: list[str] = []
    changes = [("move_task", {"place": "top"}), ("move_task", {"place": "bottom"}),
               ("set_priority", {"priority": "high"}), *EACH_ACTION[2:]]  # fmt: skip

    async def churn() -> None:
        backend = ClusterBackend(redis.url)
        try:
            for n in range(400):
                if len(ran(out)) == len(names):
                    return
                action, params = changes[n % len(changes)]
                try:
                    await backend.call(action, {"task_id": ids[(n * 7) % len(ids)], **params})
                except QueueError as exc:
                    assert exc.code.value == "QUEUE_TASK_NOT_WAITING", exc
                    refused.append(exc.code.value)
        finally:
            await backend.close()

    with background_worker(redis.url, tmp_path, "w0", client=redis.client):
        asyncio.run(churn())
        done = {TaskStatus.COMPLETED}
        wait_until(lambda: all(reader.task(i).status in done for i in ids), timeout_s=120,
                   what="every task completed")  # fmt: skip
    assert sorted(ran(out)) == names  # each once: none lost, none run twice
    assert refused  # the race was met: tasks taken meanwhile were refused, untouched
