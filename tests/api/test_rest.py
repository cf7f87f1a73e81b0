"""The REST API over a real engine: the design document's curl examples as it shows them, the
listing's filters and pages, the routes beyond the document, and who created each task."""

from __future__ import annotations

import getpass
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from helpers.waiting import eventually

from api.rest_env import Rest, command, serve
from qtqueue.api.actions import run_action
from qtqueue.api.http.app import CALLER
from qtqueue.core.log_streams import split_streams
from qtqueue.core.task import Task
from qtqueue.engine.queue import TaskQueue
from qtqueue.task_queue import register_default_handlers

#: The routes sit behind the API key, kept in the real keyring.
pytestmark = pytest.mark.usefixtures("secret_service")

#: The body of the document's "Creating a Task via API" example, as it is written there.
DOCUMENT_EXAMPLE = {
    "task_type": "cleanup_old_data",
    "params": {"project_id": "test_project", "days_old": 30},
    "name": "Cleanup old data",
    "priority": 1,
    "max_retries": 3,
}


@pytest.fixture
async def rest(queue: TaskQueue) -> AsyncIterator[Rest]:
    async with serve(queue) as client:
        yield client


async def _status(rest: Rest, task_id: str) -> str:
    status, body = await rest.get(f"/tasks/{task_id}")
    assert status == 200
    return str(body["task"]["status"])


async def test_the_documents_curl_examples(rest: Rest, queue: TaskQueue) -> None:
    register_default_handlers(queue)
    status, body = await rest.post("/tasks/", DOCUMENT_EXAMPLE)
    assert status == 201
    task = body["task"]
    assert (task["task_type"], task["name"], task["priority"], task["max_retries"]) == (
        "cleanup_old_data",
        "Cleanup old data",
        "normal",
        3,
    )
    assert task["params"] == {"project_id": "test_project", "days_old": 30}
    await queue.wait_for(task["id"], timeout_s=10)

    status, body = await rest.get(f"/tasks/{task['id'][:8]}")  # a unique prefix will do
    assert status == 200
    assert body["task"]["id"] == task["id"]
    assert body["task"]["status"] == "completed"
    assert body["task"]["result"]["days_old"] == 30

    status, body = await rest.get("/tasks/")
    assert status == 200
    assert [t["id"] for t in body["tasks"]] == [task["id"]]
    assert (body["total"], body["limit"], body["offset"], body["sort"]) == (
        1,
        100,
        0,
        "-created_at",
    )

    status, running = await rest.post("/tasks/", command("sleep", "30"))
    assert status == 201
    await eventually(lambda: _status(rest, running["task"]["id"]), what="sleep runs")
    await eventually(
        lambda: _is_running(rest, running["task"]["id"]), what="the sleep task is running"
    )
    status, body = await rest.get("/tasks/", status="running")
    assert status == 200
    assert [t["id"] for t in body["tasks"]] == [running["task"]["id"]]
    assert body["total"] == 1

    status, body = await rest.get("/tasks/stats/queue")
    assert status == 200
    assert body["summary"]["total_tasks"] == 2
    assert body["summary"]["running_tasks"] == 1
    assert body["status_distribution"]["completed"] == 1

    status, body = await rest.delete(f"/tasks/{running['task']['id'][:8]}")
    assert status == 200
    assert body["task"]["status"] == "cancelled"
    status, body = await rest.delete(f"/tasks/{running['task']['id']}")
    assert (status, body["error"]["code"]) == (409, "QUEUE_INVALID_STATE")


async def _is_running(rest: Rest, task_id: str) -> bool:
    return await _status(rest, task_id) == "running"


async def test_listing_filters_pages_sorts_and_counts(rest: Rest) -> None:
    status, body = await rest.post("/tasks/worker/stop")
    assert (status, body) == (200, {"queue_paused": True})
    ids = []
    for i, (priority, category) in enumerate(
        [("low", "a"), ("urgent", "b"), ("normal", "a"), ("high", "b"), ("normal", "a")]
    ):
        fields = {"priority": priority, "category": category, "tags": [f"t{i % 2}"]}
        if i == 4:
            fields["queue"] = "low_priority"
        status, body = await rest.post("/tasks/", command("true", **fields))
        assert status == 201
        ids.append(body["task"]["id"])

    status, page = await rest.get("/tasks/", limit="2", sort="created_at")
    assert [t["id"] for t in page["tasks"]] == ids[:2]
    assert (page["total"], page["limit"]) == (5, 2)
    _, page = await rest.get("/tasks/", limit="2", offset="2", sort="created_at")
    assert [t["id"] for t in page["tasks"]] == ids[2:4]
    _, page = await rest.get("/tasks/")
    assert [t["id"] for t in page["tasks"]] == ids[::-1]
    _, page = await rest.get("/tasks/", sort="-priority")
    assert [t["priority"] for t in page["tasks"]] == ["urgent", "high", "normal", "normal", "low"]
    _, page = await rest.get("/tasks/", category="a", limit="1")
    assert (page["total"], len(page["tasks"])) == (3, 1)
    _, page = await rest.get("/tasks/", tag="t1")
    assert sorted(t["id"] for t in page["tasks"]) == sorted([ids[1], ids[3]])
    _, page = await rest.get("/tasks/", queue="low_priority", sort="created_at")
    assert [t["id"] for t in page["tasks"]] == [ids[0], ids[4]]  # low priority, and named
    _, page = await rest.get("/tasks/", task_type="custom_command", status="pending,running")
    assert page["total"] == 5
    _, page = await rest.get("/tasks/", status="completed")
    assert (page["tasks"], page["total"]) == ([], 0)

    for query, code in [
        ({"status": "nope"}, "VALIDATION_INVALID_PARAMS"),
        ({"limit": "-1"}, "VALIDATION_INVALID_FORMAT"),
        ({"limit": "many"}, "VALIDATION_INVALID_FORMAT"),
        ({"limit": "100000"}, "VALIDATION_INVALID_PARAMS"),
        ({"sort": "id; DROP TABLE tasks"}, "VALIDATION_INVALID_PARAMS"),
        ({"colour": "red"}, "VALIDATION_INVALID_PARAMS"),
    ]:
        status, body = await rest.get("/tasks/", **query)
        assert status == 400, query
        assert body["ok"] is False
        assert body["error"]["code"] == code, query
        assert body["error"]["description"] and body["error"]["suggestion"]

    status, body = await rest.post("/tasks/worker/start")
    assert (status, body) == (200, {"queue_paused": False})
    await eventually(lambda: _all_completed(rest), what="the five tasks run once resumed")


async def _all_completed(rest: Rest) -> bool:
    _, page = await rest.get("/tasks/", status="completed")
    return bool(page["total"] == 5)


async def test_pause_resume_retry_approve_reject(rest: Rest) -> None:
    await rest.post("/tasks/worker/stop")
    _, body = await rest.post("/tasks/", command("true"))
    task_id = body["task"]["id"]
    status, body = await rest.post(f"/tasks/{task_id}/pause")
    assert (status, body["task"]["status"]) == (200, "paused")
    status, body = await rest.post(f"/tasks/{task_id}/pause")
    assert status == 409
    assert body["error"]["code"] == "QUEUE_INVALID_STATE"
    status, body = await rest.post(f"/tasks/{task_id}/resume")
    assert (status, body["task"]["status"]) == (200, "pending")
    status, body = await rest.post(f"/tasks/{task_id}/retry")
    assert status == 409
    await rest.delete(f"/tasks/{task_id}")
    status, body = await rest.post(f"/tasks/{task_id}/retry")
    assert (status, body["task"]["status"]) == (200, "pending")

    status, body = await rest.post(f"/tasks/{task_id}/approve")
    assert (status, body["error"]["code"]) == (409, "QUEUE_INVALID_STATE")
    _, first = await rest.post("/tasks/", command("true", permission="human_required"))
    _, second = await rest.post("/tasks/", command("true", permission="human_required"))
    status, body = await rest.post(f"/tasks/{first['task']['id']}/approve")
    assert status == 200
    assert body["task"]["approved_at"] is not None
    status, body = await rest.post(f"/tasks/{second['task']['id']}/reject", {"reason": "no"})
    assert (status, body["task"]["status"]) == (200, "cancelled")
    assert body["task"]["error_code"] == "QUEUE_REJECTED"
    status, body = await rest.post(f"/tasks/{task_id}/reject", {"colour": "red"})
    assert (status, body["error"]["code"]) == (400, "VALIDATION_INVALID_PARAMS")


async def test_error_statuses_are_coded_json(rest: Rest) -> None:
    cases = [
        ("GET", "/tasks/no-such-task", None, None, 404, "QUEUE_TASK_NOT_FOUND"),
        ("DELETE", "/tasks/no-such-task", None, None, 404, "QUEUE_TASK_NOT_FOUND"),
        ("POST", "/tasks/no-such-task/pause", None, None, 404, "QUEUE_TASK_NOT_FOUND"),
        ("GET", "/nowhere", None, None, 404, "VALIDATION_INVALID_PARAMS"),
        ("PUT", "/tasks/", None, None, 405, "VALIDATION_INVALID_PARAMS"),
        ("POST", "/tasks/", None, b"{nope", 400, "VALIDATION_INVALID_FORMAT"),
        ("POST", "/tasks/", [1, 2], None, 400, "VALIDATION_INVALID_FORMAT"),
        ("POST", "/tasks/", {"params": {}}, None, 400, "VALIDATION_MISSING_REQUIRED"),
        ("POST", "/tasks/", {"task_type": "nope"}, None, 400, "QUEUE_UNKNOWN_TASK_TYPE"),
        (
            "POST",
            "/tasks/",
            command("true", status="completed"),
            None,
            400,
            "VALIDATION_INVALID_PARAMS",
        ),
        ("POST", "/tasks/", None, b"[" * 5000, 400, "VALIDATION_INVALID_FORMAT"),
        (
            "POST",
            "/tasks/",
            None,
            b'{"a": "' + b"x" * (2 << 20) + b'"}',
            413,
            "VALIDATION_INVALID_FORMAT",
        ),
        (
            "POST",
            "/questions/nope/answer",
            {"message": "hi"},
            None,
            404,
            "QUEUE_QUESTION_NOT_FOUND",
        ),
        ("GET", "/schedules/nope", None, None, 404, "QUEUE_SCHEDULE_NOT_FOUND"),
        ("DELETE", "/schedules/nope", None, None, 404, "QUEUE_SCHEDULE_NOT_FOUND"),
        ("POST", "/schedules/nope/pause", None, None, 404, "QUEUE_SCHEDULE_NOT_FOUND"),
    ]
    for method, path, body, data, want_status, code in cases:
        status, reply = await rest.request(method, path, body, data=data)
        assert status == want_status, (method, path, reply)
        assert reply["ok"] is False
        assert reply["error"]["code"] == code, (method, path, reply)
        assert set(reply["error"]) >= {"code", "message", "description", "suggestion"}
        if "/schedules/" in path:  # worded for a schedule, not a task
            assert "schedule" in reply["error"]["description"]
            assert "task" not in reply["error"]["description"] + reply["error"]["suggestion"]
    status, reply = await rest.request("PUT", "/tasks/")
    assert "GET" in reply["error"]["suggestion"]
    status, reply = await rest.get("/tasks")
    assert (status, reply["error"]["suggestion"]) == (404, "end the path with a slash: /tasks/")


async def test_created_by_names_who_added_each_task(queue: TaskQueue) -> None:
    @web.middleware
    async def named(request: web.Request, handler: object) -> web.StreamResponse:
        request[CALLER] = "ci-bot"
        return await handler(request)  # type: ignore[operator, no-any-return]

    async with serve(queue, [named]) as rest:
        status, body = await rest.post("/tasks/", command("true"))
        assert (status, body["task"]["created_by"]) == (201, "ci-bot")
        status, body = await rest.post("/tasks/", command("true", created_by="someone-else"))
        assert (status, body["error"]["code"]) == (400, "VALIDATION_INVALID_PARAMS")
        assert "created_by" in body["error"]["message"]

        status, body = await rest.post("/schedules/", {"template": command("true"), "every": "1h"})
        assert status == 201
        schedule_id = body["schedule"]["id"]
        status, body = await rest.post(f"/schedules/{schedule_id}/run_now")
        assert status == 200
        status, task = await rest.get(f"/tasks/{body['task_id']}")
        assert task["task"]["created_by"] == f"schedule:{schedule_id}"

    async with serve(queue) as rest:
        _, body = await rest.post("/tasks/", command("true"))
        assert body["task"]["created_by"] == "admin"  # the API key's name

    local = await run_action(queue, {"action": "add_task", "params": command("true")})
    assert (await queue.get_task(local["result"]["id"])).created_by == getpass.getuser()
    # the local API may name who adds (a script), but never a schedule: only schedules do
    local = await run_action(
        queue, {"action": "add_task", "params": command("true", created_by="nightly.sh")}
    )
    assert (await queue.get_task(local["result"]["id"])).created_by == "nightly.sh"
    before = await queue.count_tasks()
    for params in (
        command("true", created_by=f"schedule:{schedule_id}"),
        {"tasks": [command("true"), command("true", created_by="schedule:0000-forged")]},
    ):
        forged = await run_action(queue, {"action": "add_task", "params": params})
        assert forged["ok"] is False, forged
        assert forged["error"]["code"] == "VALIDATION_INVALID_PARAMS"
        assert "created_by" in forged["error"]["message"]
        assert "schedule" in forged["error"]["message"]
    assert await queue.count_tasks() == before  # nothing added


async def test_schedule_routes(rest: Rest) -> None:
    status, body = await rest.post(
        "/schedules/", {"template": command("true"), "every": "1h", "name": "hourly"}
    )
    assert status == 201
    schedule_id = body["schedule"]["id"]
    status, body = await rest.get("/schedules/")
    assert (status, [s["id"] for s in body["schedules"]]) == (200, [schedule_id])
    status, body = await rest.get("/schedules/hourly")
    assert (status, body["schedule"]["id"]) == (200, schedule_id)
    status, body = await rest.post(f"/schedules/{schedule_id}/pause")
    assert (status, body["schedule"]["paused"]) == (200, True)
    status, body = await rest.post(f"/schedules/{schedule_id}/resume")
    assert (status, body["schedule"]["paused"]) == (200, False)
    status, body = await rest.post("/schedules/", {"template": command("true"), "every": "soon"})
    assert (status, body["error"]["code"]) == (400, "VALIDATION_INVALID_FORMAT")
    status, body = await rest.delete(f"/schedules/{schedule_id}")
    assert (status, body) == (200, {"schedule_id": schedule_id, "removed": True})
    status, body = await rest.get(f"/schedules/{schedule_id}")
    assert status == 404


async def test_log_and_health(rest: Rest, queue: TaskQueue) -> None:
    assert await rest.get("/health") == (200, {"ok": True})
    _, body = await rest.post("/tasks/", command("echo", "hello from rest"))
    task_id = body["task"]["id"]
    status, text = await rest.get(f"/tasks/{task_id}/log", follow="1")
    assert status == 200
    assert "hello from rest" in text
    status, text = await rest.get(f"/tasks/{task_id[:8]}/log")
    assert (status, "hello from rest" in text) == (200, True)
    status, body = await rest.get("/tasks/no-such-task/log")
    assert (status, body["error"]["code"]) == (404, "QUEUE_TASK_NOT_FOUND")


async def test_a_log_reads_as_plain_text_unless_the_stderr_marks_are_asked_for(
    rest: Rest, queue: TaskQueue
) -> None:
    _, body = await rest.post("/tasks/", command("sh", "-c", "echo to stdout; echo to stderr >&2"))
    task_id = body["task"]["id"]
    status, followed = await rest.get(f"/tasks/{task_id}/log", follow="1")
    assert status == 200 and "to stderr\n" in followed and "\x1b" not in followed
    status, text = await rest.get(f"/tasks/{task_id}/log")
    assert status == 200 and "to stderr\n" in text and "\x1b" not in text
    status, marked = await rest.get(f"/tasks/{task_id}/log", streams="1")
    assert status == 200 and (True, "to stderr\n") in split_streams(marked)
    _, followed = await rest.get(f"/tasks/{task_id}/log", follow="1", streams="1")
    assert (True, "to stderr\n") in split_streams(followed)


async def test_the_engine_counts_what_its_listing_would_list(queue: TaskQueue) -> None:
    await queue.pause_queue()
    for category in ("a", "a", "b"):
        await queue.add_task(Task.from_dict(command("true", category=category)))
    assert await queue.count_tasks() == 3
    assert await queue.count_tasks("pending", category="a") == 2
    assert await queue.count_tasks(["running", "completed"]) == 0
    assert await queue.count_tasks(task_type="custom_command", queue="default") == 3
    assert len(await queue.list_tasks(category="a", limit=1)) == 1


async def test_a_question_is_answered_over_rest(rest: Rest, queue: TaskQueue) -> None:
    async def asks(task_id: str, params: dict[str, Any]) -> dict[str, Any]:
        answered = await queue.questions.ask(task_id, "Which branch?")
        return {"answer": answered.answer}

    queue.register_handler("asks", asks)
    _, body = await rest.post("/tasks/", {"task_type": "asks"})
    task_id = body["task"]["id"]
    (question,) = await eventually(queue.questions.list, what="the task asks")
    forged = {"message": "main", "responder_id": "alice@security"}
    status, body = await rest.post(f"/questions/{question.id[:6]}/answer", forged)
    assert (status, body["error"]["code"]) == (400, "VALIDATION_INVALID_PARAMS")
    assert "responder_id" in body["error"]["message"]
    assert (await queue.questions.get(question.id)).answer is None  # refused: not answered
    status, body = await rest.post(f"/questions/{question.id[:6]}/answer", {"message": "main"})
    assert status == 200
    assert (body["question"]["answer"], body["question"]["responder_id"]) == ("main", "admin")
    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.result == {"answer": "main"}
    trail = (queue.data_dir / "audit.log").read_text()  # who answered, for which task
    answered = f"/questions/{{question_id}}/answer question_id={question.id[:6]}"
    assert f"admin POST {answered} task_id={task_id} -> 200" in trail
    status, body = await rest.post(f"/questions/{question.id}/answer", {"message": "again"})
    assert (status, body["error"]["code"]) == (409, "QUEUE_INVALID_STATE")
    status, body = await rest.post(f"/questions/{question.id}/answer", {})
    assert (status, body["error"]["code"]) == (400, "VALIDATION_MISSING_REQUIRED")
