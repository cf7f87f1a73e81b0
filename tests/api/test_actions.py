"""The JSON actions, run in-process against a real TaskQueue on a real SQLite file."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from qtqueue.api.actions import ACTIONS, run_action
from qtqueue.core.task import TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry
from qtqueue.executors.base import Executor, RunContext


async def call(queue: TaskQueue, action: str, /, **params: Any) -> dict[str, Any]:
    """Run an action that must succeed; its result."""
    reply = await run_action(queue, {"action": action, "params": params})
    assert reply["ok"], reply
    return reply["result"]


async def fail(queue: TaskQueue, request: object) -> dict[str, Any]:
    """Run a request that must fail; its error."""
    reply = await run_action(queue, request)
    assert reply["ok"] is False, reply
    assert set(reply["error"]) >= {"code", "message", "description", "suggestion"}
    return reply["error"]


def command(*argv: str, **fields: Any) -> dict[str, Any]:
    return {
        "task_type": "custom_command",
        "params": {"command": argv[0], "args": list(argv[1:])},
        **fields,
    }


@pytest.fixture
async def offline(data_dir: Path) -> AsyncIterator[TaskQueue]:
    """The store opened without dispatching (what the CLI uses when no engine runs)."""
    async with TaskQueue(
        data_dir, dispatch=False, registry=default_registry(entry_points=False)
    ) as q:
        yield q


class TestRequests:
    async def test_every_reply_is_wrapped(self, queue: TaskQueue) -> None:
        reply = await run_action(queue, {"action": "stats"})
        assert reply["ok"] is True
        assert reply["result"]["summary"]["total_tasks"] == 0

    @pytest.mark.parametrize(
        ("request_", "code"),
        [
            ([1, 2], "VALIDATION_INVALID_FORMAT"),
            ({"params": {}}, "VALIDATION_MISSING_REQUIRED"),
            ({"action": "stats", "params": [1]}, "VALIDATION_INVALID_FORMAT"),
            ({"action": "stats", "extra": 1}, "VALIDATION_INVALID_FORMAT"),
            ({"action": "no_such_action"}, "VALIDATION_INVALID_PARAMS"),
        ],
    )
    async def test_bad_requests_are_errors_not_exceptions(
        self, queue: TaskQueue, request_: object, code: str
    ) -> None:
        assert (await fail(queue, request_))["code"] == code

    async def test_unknown_action_lists_the_known_ones(self, queue: TaskQueue) -> None:
        error = await fail(queue, {"action": "frobnicate"})
        assert "queue_status" in error["message"]

    async def test_unknown_param_is_named(self, queue: TaskQueue) -> None:
        error = await fail(queue, {"action": "queue_status", "params": {"detaild": True}})
        assert error["code"] == "VALIDATION_INVALID_PARAMS"
        assert "detaild: unknown parameter" in error["message"]

    async def test_unexpected_exception_becomes_internal_error_and_is_logged(
        self, queue: TaskQueue, caplog: pytest.LogCaptureFixture
    ) -> None:
        class Unrepresentable(BaseModel):
            callback: Callable[[], None]

        class BrokenPlugin(Executor):
            task_type: ClassVar[str] = "broken_plugin"
            params_model = Unrepresentable

            async def run(self, ctx: RunContext) -> dict[str, Any] | None:
                return None

        queue.register_executor(BrokenPlugin())
        with caplog.at_level(logging.ERROR, logger="qtqueue.api.actions"):
            error = await fail(queue, {"action": "types"})
        assert error["code"] == "INTERNAL_ERROR"
        assert "PydanticInvalidForJsonSchema" in error["message"]
        assert "action types failed" in caplog.text

    def test_registry_is_read_only(self) -> None:
        with pytest.raises(TypeError):
            ACTIONS["mine"] = ACTIONS["stats"]  # type: ignore[index]


class TestAddTask:
    async def test_added_task_runs_and_reports_status(self, queue: TaskQueue) -> None:
        task_id = (await call(queue, "add_task", **command("echo", "hello")))["id"]
        await queue.wait_for(task_id, timeout_s=10)

        summary = await call(queue, "queue_task_status", task_id=task_id)
        assert summary["status"] == "completed"
        assert summary["result"] == {"exit_code": 0}
        assert "task" not in summary and "log_tail" not in summary

        detailed = await call(
            queue, "queue_task_status", task_id=task_id, detailed=True, include_logs=True
        )
        assert detailed["task"]["params"]["args"] == ["hello"]
        assert [t["to_status"] for t in detailed["transitions"]] == [
            "pending",
            "running",
            "completed",
        ]
        assert detailed["log_tail"] == "hello\n"

    async def test_several_tasks_at_once_all_or_none(self, offline: TaskQueue) -> None:
        ids = (await call(offline, "add_task", tasks=[command("true"), command("false")]))["ids"]
        assert len(ids) == 2

        error = await fail(
            offline,
            {"action": "add_task", "params": {"tasks": [command("true"), {"task_type": "x"}]}},
        )
        assert error["code"] == "QUEUE_UNKNOWN_TASK_TYPE"
        assert (await call(offline, "list_tasks"))["count"] == 2

    @pytest.mark.parametrize(
        ("params", "code", "words"),
        [
            ({"params": {}}, "VALIDATION_MISSING_REQUIRED", "task_type: required"),
            ({"task_type": "custom_command"}, "VALIDATION_MISSING_REQUIRED", "command: required"),
            ({"task_type": "teleport"}, "QUEUE_UNKNOWN_TASK_TYPE", "teleport"),
            (command("true", priority="asap"), "VALIDATION_INVALID_PARAMS", "priority"),
            (command("true", colour="red"), "VALIDATION_INVALID_PARAMS", "colour"),
            (command("true", run_at="soon"), "VALIDATION_INVALID_PARAMS", "run_at"),
            (command("true", timeout_s=-1), "VALIDATION_INVALID_PARAMS", "timeout_s"),
            ({"tasks": []}, "VALIDATION_INVALID_FORMAT", "non-empty"),
            ({"tasks": [1]}, "VALIDATION_INVALID_FORMAT", "tasks[0]"),
        ],
    )
    async def test_bad_tasks_are_refused_with_a_code(
        self, offline: TaskQueue, params: dict[str, Any], code: str, words: str
    ) -> None:
        error = await fail(offline, {"action": "add_task", "params": params})
        assert error["code"] == code
        assert words in error["message"]
        assert (await call(offline, "list_tasks"))["count"] == 0

    @pytest.mark.parametrize(
        "owned",
        [
            {"status": "completed"},
            {"pid": 1},
            {"result": {"ok": True}},
            {"retry_count": 3, "started_at": 1.0, "completed_at": 2.0, "error": "boom"},
        ],
    )
    async def test_fields_the_engine_owns_are_refused_by_name(
        self, offline: TaskQueue, owned: dict[str, Any]
    ) -> None:
        error = await fail(offline, {"action": "add_task", "params": command("true", **owned)})
        assert error["code"] == "VALIDATION_INVALID_PARAMS"
        for name in owned:
            assert name in error["message"]
        assert "set by the engine" in error["message"]
        assert (await call(offline, "list_tasks"))["count"] == 0

    @pytest.mark.parametrize("task_id", [None, 12, True, "", "  ", ["a"], {"a": 1}, "../../x"])
    async def test_an_id_that_is_not_a_task_id_is_a_format_error_never_internal(
        self, offline: TaskQueue, task_id: Any
    ) -> None:
        for params in (command("true", id=task_id), {"tasks": [command("true", id=task_id)]}):
            error = await fail(offline, {"action": "add_task", "params": params})
            assert error["code"] == "VALIDATION_INVALID_FORMAT", error
            assert "id" in error["message"]
        assert (await call(offline, "list_tasks"))["count"] == 0
        # and the queue still lists, shows and runs what it holds
        kept = (await call(offline, "add_task", **command("true")))["id"]
        assert [t["id"] for t in (await call(offline, "list_tasks"))["tasks"]] == [kept]


class TestReading:
    async def test_list_filters(self, offline: TaskQueue) -> None:
        a = (await call(offline, "add_task", **command("a", category="build", tags=["x"])))["id"]
        b = (await call(offline, "add_task", **command("b", priority="high")))["id"]
        await call(offline, "queue_manage", action="cancel", task_id=b)

        def ids(result: dict[str, Any]) -> list[str]:
            return [t["id"] for t in result["tasks"]]

        assert ids(await call(offline, "list_tasks")) == [a, b]
        assert ids(await call(offline, "list_tasks", status="pending")) == [a]
        assert ids(await call(offline, "list_tasks", status=["cancelled", "failed"])) == [b]
        assert ids(await call(offline, "list_tasks", category="build")) == [a]
        assert ids(await call(offline, "list_tasks", tag="x")) == [a]
        assert ids(await call(offline, "list_tasks", type="custom_command")) == [a, b]
        assert ids(await call(offline, "list_tasks", type="custom_script")) == []
        assert ids(await call(offline, "list_tasks", limit=1, newest_first=True)) == [b]
        assert (await call(offline, "get_task", task_id=b))["task"]["priority"] == "high"

        error = await fail(offline, {"action": "list_tasks", "params": {"status": "sleeping"}})
        assert error["code"] == "VALIDATION_INVALID_PARAMS"
        assert "status" in error["message"]

    async def test_queue_status_summary_and_details(self, offline: TaskQueue) -> None:
        task_id = (await call(offline, "add_task", **command("true")))["id"]
        brief = await call(offline, "queue_status")
        assert brief["summary"]["queue_size"] == 1
        assert brief["status_distribution"] == {"pending": 1}
        assert brief["running"] == []
        assert "stats" not in brief

        detailed = await call(offline, "queue_status", detailed=True, include_logs=True)
        assert [t["id"] for t in detailed["unfinished"]] == [task_id]
        assert detailed["stats"]["performance"]["success_rate"] == 0.0

    async def test_running_tasks_come_with_their_log_tail(self, queue: TaskQueue) -> None:
        script = "echo started; while [ ! -e release ]; do sleep 0.02; done"
        task_id = (
            await call(
                queue,
                "add_task",
                task_type="custom_command",
                params={"command": script, "shell": True, "cwd": str(queue.data_dir)},
            )
        )["id"]
        async for chunk in queue.follow_log(task_id):
            if "started" in chunk:
                break
        status = await call(queue, "queue_status", include_logs=True)
        assert [(r["id"], r["log_tail"]) for r in status["running"]] == [(task_id, "started\n")]
        (queue.data_dir / "release").touch()
        assert (await queue.wait_for(task_id, timeout_s=10)).status == "completed"

    async def test_ids_may_be_unique_prefixes(self, offline: TaskQueue) -> None:
        await call(offline, "add_task", **command("true", id="abcd-0001"))
        await call(offline, "add_task", **command("true", id="abcd-0002"))
        await call(offline, "add_task", **command("true", id="beef-0001"))

        assert (await call(offline, "resolve_id", task_id="beef"))["id"] == "beef-0001"
        assert (await call(offline, "get_task", task_id="abcd-0002"))["task"]["id"] == "abcd-0002"
        ambiguous = await fail(offline, {"action": "get_task", "params": {"task_id": "abcd"}})
        assert ambiguous["code"] == "VALIDATION_INVALID_FORMAT"
        assert "matches 2 tasks" in ambiguous["message"]
        too_short = await fail(offline, {"action": "get_task", "params": {"task_id": "bee"}})
        assert too_short["code"] == "QUEUE_TASK_NOT_FOUND"
        unknown = await fail(offline, {"action": "read_log", "params": {"task_id": "cafe"}})
        assert unknown["code"] == "QUEUE_TASK_NOT_FOUND"

    async def test_types_lists_every_type_with_its_schema(self, queue: TaskQueue) -> None:
        def handler(task_id: str, params: dict[str, Any]) -> dict[str, Any]:
            """Say hello."""
            return {}

        queue.register_handler("say_hello", handler)
        found = {t["name"]: t for t in (await call(queue, "types"))["types"]}
        assert set(found) == {tt.value for tt in TaskType} | {e.name for e in queue.registry}
        assert "say_hello" in found
        cmd = found["custom_command"]
        assert cmd["family"] == "custom" and cmd["available"] is True
        assert "command" in cmd["params_schema"]["properties"]
        assert found["network_scan"]["family"] == "network" and found["network_scan"]["available"]
        assert "ports" in found["network_scan"]["params_schema"]["properties"]
        assert "image_name" in found["docker_push"]["params_schema"]["properties"]
        assert found["say_hello"]["family"] == "handler"
        assert found["say_hello"]["summary"] == "Say hello."

        one = (await call(queue, "types", name="CUSTOM_SCRIPT"))["types"]
        assert [t["name"] for t in one] == ["custom_script"]
        error = await fail(queue, {"action": "types", "params": {"name": "teleport"}})
        assert error["code"] == "QUEUE_UNKNOWN_TASK_TYPE"

    async def test_read_log_whole_or_tail(self, queue: TaskQueue) -> None:
        task_id = (await call(queue, "add_task", **command("echo", "0123456789")))["id"]
        await queue.wait_for(task_id, timeout_s=10)
        assert (await call(queue, "read_log", task_id=task_id))["log"] == "0123456789\n"
        assert (await call(queue, "read_log", task_id=task_id, tail_bytes=3))["log"] == "89\n"


class TestManaging:
    async def test_pause_resume_cancel_retry_remove(self, offline: TaskQueue) -> None:
        task_id = (await call(offline, "add_task", **command("true")))["id"]

        async def manage(action: str) -> dict[str, Any]:
            return await call(offline, "queue_manage", action=action, task_id=task_id[:8])

        assert (await manage("pause"))["task"]["status"] == "paused"
        assert (await manage("resume"))["task"]["status"] == "pending"
        assert (await manage("cancel"))["task"]["status"] == "cancelled"
        assert (await manage("retry"))["task"]["status"] == "pending"
        await manage("cancel")
        assert await manage("remove") == {"task_id": task_id, "removed": True}
        gone = await fail(offline, {"action": "get_task", "params": {"task_id": task_id}})
        assert gone["code"] == "QUEUE_TASK_NOT_FOUND"

    async def test_actions_that_do_not_fit_the_status_are_refused(self, offline: TaskQueue) -> None:
        task_id = (await call(offline, "add_task", **command("true")))["id"]
        error = await fail(
            offline,
            {"action": "queue_manage", "params": {"action": "resume", "task_id": task_id}},
        )
        assert error["code"] == "QUEUE_INVALID_STATE"
        error = await fail(
            offline,
            {"action": "queue_manage", "params": {"action": "explode", "task_id": task_id}},
        )
        assert error["code"] == "VALIDATION_INVALID_PARAMS"

    async def test_cancel_stops_a_running_command(self, queue: TaskQueue) -> None:
        task_id = (await call(queue, "add_task", **command("sleep", "30")))["id"]
        async for _ in queue.events.stream():
            if (await queue.get_task(task_id)).status == "running":
                break
        result = await call(queue, "queue_manage", action="cancel", task_id=task_id)
        assert result["task"]["status"] == "cancelled"

    async def test_pause_and_resume_the_queue(self, offline: TaskQueue) -> None:
        assert await call(offline, "pause_queue") == {"queue_paused": True}
        assert (await call(offline, "stats"))["summary"]["queue_paused"] is True
        assert await call(offline, "resume_queue") == {"queue_paused": False}

    async def test_requeue_dead_letters_and_cleanup(self, queue: TaskQueue) -> None:
        failing = command(sys.executable, "-c", "raise SystemExit(3)")
        task_id = (await call(queue, "add_task", **failing, max_retries=1, retry_backoff=0))["id"]
        assert (await queue.wait_for(task_id, timeout_s=10)).dead_letter is True
        assert [t["id"] for t in (await call(queue, "list_tasks", dead_letter=True))["tasks"]] == [
            task_id
        ]

        assert await call(queue, "requeue_dead_letters") == {"ids": [task_id]}
        assert (await queue.wait_for(task_id, timeout_s=10)).status == "failed"

        # A dead letter stays until it is cleared by hand: cleanup leaves it, purge removes it.
        assert await call(queue, "cleanup", older_than_s=0) == {"removed": 0}
        assert (await call(queue, "list_tasks"))["count"] == 1
        assert await call(queue, "purge_dead_letters", all=True) == {"ids": [task_id]}
        assert (await call(queue, "list_tasks"))["count"] == 0

    async def test_dead_letters_are_listed_requeued_and_purged_by_id_or_all(
        self, queue: TaskQueue
    ) -> None:
        failing = command(sys.executable, "-c", "raise SystemExit(3)")
        batch = [{**failing, "max_retries": 1, "retry_backoff": 0, "name": n} for n in "ab"]
        ids = (await call(queue, "add_task", tasks=batch))["ids"]
        for task_id in ids:
            assert (await queue.wait_for(task_id, timeout_s=10)).dead_letter is True
        listed = await call(queue, "list_dead_letters")
        assert sorted(t["id"] for t in listed["tasks"]) == sorted(ids) and listed["count"] == 2

        assert await call(queue, "requeue_dead_letters", ids=[ids[0][:8]]) == {"ids": [ids[0]]}
        assert (await queue.wait_for(ids[0], timeout_s=10)).dead_letter is True
        assert (await fail(queue, {"action": "purge_dead_letters"}))["code"] == (
            "VALIDATION_MISSING_REQUIRED"
        )
        both = await fail(
            queue, {"action": "purge_dead_letters", "params": {"ids": [ids[0]], "all": True}}
        )
        assert both["code"] == "VALIDATION_INVALID_PARAMS"
        assert await call(queue, "purge_dead_letters", ids=[ids[1]]) == {"ids": [ids[1]]}
        assert await call(queue, "purge_dead_letters", all=True) == {"ids": [ids[0]]}
        assert (await call(queue, "list_dead_letters"))["count"] == 0

    async def test_only_dead_letters_are_requeued_or_purged_as_such(
        self, offline: TaskQueue
    ) -> None:
        task_id = (await call(offline, "add_task", **command("true")))["id"]
        error = await fail(
            offline, {"action": "purge_dead_letters", "params": {"ids": [task_id]}}
        )
        assert error["code"] == "QUEUE_INVALID_STATE"
        assert "not dead-lettered" in error["message"]


class TestApprovalAndDependencies:
    async def test_approve_and_reject_by_prefix(self, offline: TaskQueue) -> None:
        careful = command("true", permission="human_required")
        a = (await call(offline, "add_task", **careful))["id"]
        b = (await call(offline, "add_task", **careful))["id"]
        assert (await call(offline, "get_task", task_id=a))["task"]["wait_reason"] == (
            "awaiting approval"
        )
        approved = (await call(offline, "approve_task", task_id=a[:8]))["task"]
        assert approved["approved_at"] is not None
        rejected = (await call(offline, "reject_task", task_id=b, reason="too risky"))["task"]
        assert (rejected["status"], rejected["error_code"], rejected["error"]) == (
            "cancelled", "QUEUE_REJECTED", "rejected: too risky",
        )  # fmt: skip
        again = await fail(offline, {"action": "approve_task", "params": {"task_id": a}})
        assert again["code"] == "QUEUE_INVALID_STATE"

    async def test_depends_on_takes_prefixes_and_a_batch_its_own_ids(
        self, offline: TaskQueue
    ) -> None:
        first = (await call(offline, "add_task", **command("true")))["id"]
        second = (await call(offline, "add_task", **command("true"), depends_on=[first[:8]]))[
            "id"
        ]
        assert (await offline.get_task(second)).depends_on == [first]
        own, x, y = (f"20000000-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
        ids = (
            await call(
                offline,
                "add_task",
                tasks=[
                    {**command("true"), "id": own},
                    {**command("true"), "depends_on": [own, second[:6]]},
                ],
            )
        )["ids"]
        assert (await offline.get_task(ids[1])).depends_on == [own, second]
        unknown = await fail(
            offline,
            {"action": "add_task", "params": {**command("true"), "depends_on": ["feedface"]}},
        )
        assert unknown["code"] == "QUEUE_TASK_NOT_FOUND"
        cycle = await fail(
            offline,
            {
                "action": "add_task",
                "params": {
                    "tasks": [
                        {**command("true"), "id": x, "depends_on": [y]},
                        {**command("true"), "id": y, "depends_on": [x]},
                    ]
                },
            },
        )
        assert cycle["code"] == "QUEUE_DEPENDENCY_CYCLE"

    async def test_named_queues_are_listed_and_set(self, offline: TaskQueue) -> None:
        names = [q["name"] for q in (await call(offline, "list_queues"))["queues"]]
        assert names == ["high_priority", "default", "low_priority"]
        made = (await call(offline, "set_queue", name="nightly", concurrency=1, timeout_s=60))
        assert made["queue"]["concurrency"] == 1 and made["queue"]["timeout_s"] == 60
        cleared = await call(offline, "set_queue", name="nightly", timeout_s=None)
        assert (cleared["queue"]["concurrency"], cleared["queue"]["timeout_s"]) == (1, None)
        bad = await fail(
            offline, {"action": "set_queue", "params": {"name": "nightly", "concurrency": 0}}
        )
        assert bad["code"] == "VALIDATION_INVALID_PARAMS"
        task_id = (await call(offline, "add_task", **command("true"), queue="nightly"))["id"]
        assert (await offline.get_task(task_id)).queue == "nightly"
