"""The waiting order over every face: the JSON actions (what the CLI runs), the REST routes,
and the attached window's port (`RemoteEngine`), each against a real engine on a real SQLite
file, a blocker holding the only slot so that the other tasks wait."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from engine.ordering_env import blocked, gated
from helpers.gate import Gate
from helpers.queues import QueueFactory

from api.rest_env import Rest, serve
from qtqueue.api.actions import run_action
from qtqueue.api.remote_engine import RemoteEngine, attach
from qtqueue.api.server import ApiServer
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.queue_moves import MovePlace
from qtqueue.core.task import Priority
from qtqueue.engine.queue import TaskQueue


@pytest.fixture
async def waiting(make_queue: QueueFactory) -> tuple[TaskQueue, str, list[str]]:
    """A one-slot queue, its blocker's id, and three waiting tasks a, b, c."""
    queue = await make_queue(max_concurrent=1)
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    busy = await blocked(queue, gate)
    return queue, busy, await queue.add_tasks([gated(x) for x in "abc"])


def order(queue: TaskQueue) -> list[str]:
    return [t.params["label"] for t in queue.ordering.waiting_order("default")]


async def act(queue: TaskQueue, action: str, **params: Any) -> dict[str, Any]:
    return await run_action(queue, {"action": action, "params": params})


async def test_the_actions_move_reprioritise_and_edit_by_id_prefix(
    waiting: tuple[TaskQueue, str, list[str]],
) -> None:
    queue, _, (a, b, c) = waiting

    moved = await act(queue, "move_task", task_id=c[:8], place="top")
    assert moved["ok"] and moved["result"]["task"]["id"] == c
    await act(queue, "move_task", task_id=a, place="before", before=c[:8])
    assert order(queue) == ["a", "c", "b"]

    raised = await act(queue, "set_priority", task_id=b, priority="urgent")
    assert raised["result"]["task"]["priority"] == "urgent"

    edited = await act(queue, "update_task", task_id=a, task={
        "task_type": "gated", "params": {"label": "a2"}, "name": "renamed", "tags": ["x"],
    })  # fmt: skip
    assert edited["ok"], edited
    task = await queue.get_task(a)
    assert (task.name, task.tags, task.params) == ("renamed", ["x"], {"label": "a2"})


async def test_the_actions_refuse_a_started_task_and_bad_input_with_codes(
    waiting: tuple[TaskQueue, str, list[str]],
) -> None:
    queue, busy, (a, _, _) = waiting

    for action, params in (
        ("move_task", {"place": "up"}),
        ("set_priority", {"priority": "high"}),
        ("update_task", {"task": {"task_type": "gated", "params": {}}}),
    ):
        reply = await act(queue, action, task_id=busy, **params)
        assert reply["ok"] is False
        assert reply["error"]["code"] == "QUEUE_TASK_NOT_WAITING", reply
        assert reply["error"]["suggestion"]
    bad_place = await act(queue, "move_task", task_id=a, place="sideways")
    assert bad_place["error"]["code"].startswith("VALIDATION_")
    assert "place" in bad_place["error"]["message"]
    other_id = await act(queue, "update_task", task_id=a, task={"id": busy, "task_type": "gated"})
    assert "leave it out" in other_id["error"]["message"]


@pytest.fixture
async def rest(
    waiting: tuple[TaskQueue, str, list[str]], secret_service: object
) -> AsyncIterator[Rest]:
    async with serve(waiting[0]) as client:
        yield client


async def test_the_rest_routes_reach_the_same_actions(
    waiting: tuple[TaskQueue, str, list[str]], rest: Rest
) -> None:
    queue, busy, (a, b, c) = waiting

    status, body = await rest.post(f"/tasks/{c}/move", {"place": "top"})
    assert status == 200 and body["task"]["id"] == c
    assert order(queue) == ["c", "a", "b"]
    status, body = await rest.post(f"/tasks/{a}/priority", {"priority": 3})
    assert status == 200 and body["task"]["priority"] == "urgent"
    status, body = await rest.request(
        "PATCH", f"/tasks/{b}", {"task_type": "gated", "params": {"label": "b"}, "name": "new"}
    )
    assert status == 200 and body["task"]["name"] == "new"
    assert (await queue.get_task(b)).name == "new"

    status, body = await rest.post(f"/tasks/{busy}/move", {"place": "bottom"})
    assert status == 409 and body["error"]["code"] == "QUEUE_TASK_NOT_WAITING"
    status, body = await rest.get("/openapi.json")
    assert {"/tasks/{task_id}/move", "/tasks/{task_id}/priority"} <= set(body["paths"])
    assert "patch" in body["paths"]["/tasks/{task_id}"]


@pytest.fixture
async def attached(waiting: tuple[TaskQueue, str, list[str]]) -> AsyncIterator[RemoteEngine]:
    queue = waiting[0]
    async with ApiServer(queue):
        engine = await attach(queue.data_dir, queue.registry)
        assert engine is not None
        try:
            yield engine
        finally:
            await engine.close()


async def test_an_attached_window_reaches_the_same_actions(
    waiting: tuple[TaskQueue, str, list[str]], attached: RemoteEngine
) -> None:
    queue, busy, (a, b, c) = waiting

    moved = await attached.move_task(b, MovePlace.BEFORE, before=a)
    assert moved.id == b and order(queue) == ["b", "a", "c"]
    assert (await attached.set_priority(c, Priority.HIGH)).priority is Priority.HIGH
    edited = (await attached.get_task(a)).copy()
    edited.name = "edited remotely"
    assert (await attached.update_task(a, edited)).name == "edited remotely"
    with pytest.raises(QueueError) as err:
        await attached.move_task(busy, MovePlace.TOP)
    assert err.value.code is TaskErrorCode.QUEUE_TASK_NOT_WAITING


async def test_a_patch_changes_only_the_fields_it_names(
    make_queue: QueueFactory, secret_service: object
) -> None:
    queue = await make_queue(max_concurrent=1)
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    await blocked(queue, gate)
    kept = {"category": "keep", "tags": ["t1"], "max_retries": 0, "timeout_s": 60.0}
    start = time.time() + 3600
    task_id = await queue.add_task(gated("a", run_at=start, **kept))
    async with serve(queue) as rest:
        status, body = await rest.request("PATCH", f"/tasks/{task_id}", {"name": "renamed"})
        assert status == 200 and body["task"]["name"] == "renamed"
        task = await queue.get_task(task_id)
        assert {k: getattr(task, k) for k in kept} == kept
        assert task.params == {"label": "a"} and task.run_at == start

        status, body = await rest.request("PATCH", f"/tasks/{task_id}", {"tags": "notalist"})
        assert status == 400 and body["error"]["code"].startswith("VALIDATION_")
        assert "tags" in body["error"]["message"]
        status, body = await rest.request("PATCH", f"/tasks/{task_id}", {"priority": True})
        assert status == 400 and body["error"]["code"].startswith("VALIDATION_")
        assert (await queue.get_task(task_id)).tags == ["t1"]

        status, body = await rest.get("/openapi.json")
        schema = body["components"]["schemas"]["TaskEdit"]
        assert schema["required"] == [] and "updated_at" in schema["properties"]


async def test_a_patch_from_an_older_version_is_refused_with_409(
    waiting: tuple[TaskQueue, str, list[str]], rest: Rest
) -> None:
    queue, _, (a, _b, _c) = waiting
    status, body = await rest.get(f"/tasks/{a}")
    read_at = body["task"]["updated_at"] if "task" in body else body["updated_at"]
    status, _ = await rest.post(f"/tasks/{a}/priority", {"priority": "urgent"})
    assert status == 200

    status, body = await rest.request(
        "PATCH", f"/tasks/{a}", {"name": "stale", "updated_at": read_at}
    )

    assert status == 409 and body["error"]["code"] == "QUEUE_TASK_CHANGED"
    assert "edit it again" in body["error"]["suggestion"]
    task = await queue.get_task(a)
    assert task.priority is Priority.URGENT and task.name != "stale"


async def test_an_attached_windows_stale_edit_is_refused(
    waiting: tuple[TaskQueue, str, list[str]], attached: RemoteEngine
) -> None:
    queue, _, (a, _b, _c) = waiting
    opened = (await attached.get_task(a)).copy()  # the attached window opens Edit on a
    await queue.set_priority(a, Priority.URGENT)  # the command line changes it meanwhile

    opened.name = "stale"
    with pytest.raises(QueueError) as err:
        await attached.update_task(a, opened)

    assert err.value.code is TaskErrorCode.QUEUE_TASK_CHANGED
    task = await queue.get_task(a)
    assert task.priority is Priority.URGENT and task.name != "stale"
