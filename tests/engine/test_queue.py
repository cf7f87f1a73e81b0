"""Specification of `TaskQueue`: dispatch order, limits, control requests, persistence, locking.

Every test runs a real queue on a temporary data directory; handlers are real functions that
the test controls through `Gate`, commands are real processes.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest
from helpers.gate import Gate
from helpers.queues import QueueFactory
from helpers.waiting import eventually

from qtqueue.api.views import task_summary
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Priority, Task, TaskStatus, TaskType, can_transition
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry

C = TaskErrorCode
S = TaskStatus


def gated(label: Any = None, **fields: Any) -> Task:
    return Task("gated", {"label": label}, **fields)


def command(line: str, **fields: Any) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, {"command": line, "shell": True}, **fields)


async def status(queue: TaskQueue, task_id: str) -> TaskStatus:
    return (await queue.get_task(task_id)).status


# --- Dispatch order and limits ----------------------------------------------------------------


async def test_higher_priority_runs_first_and_equal_priorities_first_in_first_out(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue(max_concurrent=1)
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    busy = await queue.add_task(gated("busy"))
    await eventually(lambda: gate.running, what="the first task holds the only slot")
    waiting = [
        ("low-1", Priority.LOW), ("normal-1", Priority.NORMAL), ("high-1", Priority.HIGH),
        ("normal-2", Priority.NORMAL), ("urgent-1", Priority.URGENT), ("high-2", Priority.HIGH),
        ("low-2", Priority.LOW), ("normal-3", Priority.NORMAL),
    ]  # fmt: skip
    ids = [await queue.add_task(gated(label, priority=p)) for label, p in waiting]

    gate.open_all()
    for task_id in [busy, *ids]:
        assert (await queue.wait_for(task_id, timeout_s=10)).status is S.COMPLETED
    assert gate.labels == [
        "busy", "urgent-1", "high-1", "high-2", "normal-1", "normal-2", "normal-3", "low-1",
        "low-2",
    ]  # fmt: skip


async def test_priority_may_be_given_by_name(queue: TaskQueue, gate: Gate) -> None:
    task_id = await queue.add_task(gated(priority="urgent"))  # type: ignore[arg-type]
    assert (await queue.get_task(task_id)).priority is Priority.URGENT


async def test_never_more_than_max_concurrent_run_and_freed_slots_are_refilled(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue(max_concurrent=2)
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    ids = await queue.add_tasks([gated(n) for n in range(6)])

    for remaining in range(6, 0, -1):
        expected = min(2, remaining)
        await eventually(lambda n=expected: len(gate.running) == n, what=f"{expected} running")
        stats = await queue.get_queue_stats()
        assert stats["summary"]["running_tasks"] == expected
        first = next(iter(gate.running))
        gate.open(first)
        assert (await queue.wait_for(first, timeout_s=10)).status is S.COMPLETED
    assert gate.peak == 2
    assert sorted(gate.started) == sorted(ids)


async def test_a_category_limit_holds_back_that_category_only(make_queue: QueueFactory) -> None:
    queue = await make_queue(max_concurrent=4, category_limits={"docker": 1})
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    docker = await queue.add_tasks([gated("docker", category="docker") for _ in range(3)])
    general = await queue.add_tasks([gated("general") for _ in range(2)])

    await eventually(lambda: len(gate.running) == 3, what="one docker and two general tasks")
    assert sorted(gate.running.values()) == ["docker", "general", "general"]
    held = [t for t in docker if t not in gate.running]
    for task_id in held:
        task = await queue.get_task(task_id)
        assert task.status is S.PENDING
        assert "docker" in task.wait_reason

    # Finishing the docker task lets the next one in.
    gate.open(docker[0])
    await queue.wait_for(docker[0], timeout_s=10)
    await eventually(lambda: docker[1] in gate.running, what="the next docker task starts")

    # Raising the limit at run time releases the rest.
    queue.set_category_limit("docker", 2)
    await eventually(lambda: docker[2] in gate.running, what="the third docker task starts")
    gate.open_all()
    for task_id in docker + general:
        assert (await queue.wait_for(task_id, timeout_s=10)).status is S.COMPLETED
    assert gate.peak_by_label["docker"] == 2
    assert gate.peak <= 4


async def test_a_task_added_to_an_idle_queue_starts_without_anything_else_happening(
    queue: TaskQueue,
) -> None:
    loop = asyncio.get_running_loop()
    calls: list[asyncio.Future[str]] = [loop.create_future(), loop.create_future()]

    async def signal(task_id: str, params: dict[str, Any]) -> None:
        calls.pop(0).set_result(task_id)

    queue.register_handler("signal", signal)
    first, second = calls
    task_id = await queue.add_task(Task("signal"))
    assert await asyncio.wait_for(first, timeout=10) == task_id
    await queue.wait_for(task_id, timeout_s=10)
    # The queue is idle again: a new task is picked up all the same.
    later = await queue.add_task(Task("signal"))
    assert await asyncio.wait_for(second, timeout=10) == later


async def test_a_task_for_a_type_registered_later_waits_then_runs(queue: TaskQueue) -> None:
    # Tasks of an unknown type are refused; a type whose executor is registered runs.
    with pytest.raises(QueueError) as raised:
        await queue.add_task(Task("later", {}))
    assert raised.value.code is C.QUEUE_UNKNOWN_TASK_TYPE

    async def later(task_id: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": params["x"]}

    queue.register_handler("later", later)
    task_id = await queue.add_task(Task("later", {"x": 1}))
    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.COMPLETED
    assert done.result == {"ok": 1}


async def test_a_plain_function_handler_runs_in_a_thread(queue: TaskQueue) -> None:
    import threading

    main = threading.get_ident()

    def blocking(task_id: str, params: dict[str, Any]) -> int:
        return 0 if threading.get_ident() == main else 7

    queue.register_handler("blocking", blocking)
    done = await queue.wait_for(await queue.add_task(Task("blocking")), timeout_s=10)
    assert done.result == {"value": 7}


# --- Pause, resume, cancel of waiting tasks ---------------------------------------------------


async def test_a_paused_pending_task_is_held_while_others_run_and_resume_releases_it(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue(max_concurrent=1)
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    a = await queue.add_task(gated("a"))
    await eventually(lambda: a in gate.running)
    b = await queue.add_task(gated("b"))
    held = await queue.pause_task(b)
    assert held.status is S.PAUSED
    assert held.paused_from is S.PENDING
    c = await queue.add_task(gated("c"))

    gate.open(a)
    await queue.wait_for(a, timeout_s=10)
    await eventually(lambda: c in gate.running, what="c overtakes the held b")
    gate.open(c)
    await queue.wait_for(c, timeout_s=10)
    assert await status(queue, b) is S.PAUSED
    assert b not in gate.started

    released = await queue.resume_task(b)
    assert released.status in (S.PENDING, S.RUNNING)  # the free slot may take it at once
    gate.open(b)
    assert (await queue.wait_for(b, timeout_s=10)).status is S.COMPLETED
    assert gate.labels == ["a", "c", "b"]


async def test_a_paused_running_task_keeps_its_slot_and_resumes_at_once(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue(max_concurrent=1)
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    first, second = await queue.add_tasks([gated("first"), gated("second")])
    await eventually(lambda: gate.started == [first])
    await queue.pause_task(first)
    assert (await task_summary(queue, first))["holds_slot"] is True
    assert (await queue.resume_task(first)).status is S.RUNNING  # its slot waited for it
    gate.open(first)
    assert (await queue.wait_for(first, timeout_s=10)).status is S.COMPLETED
    await eventually(lambda: second in gate.started, what="the slot passes on at its end")
    gate.open_all()
    assert (await queue.wait_for(second, timeout_s=10)).status is S.COMPLETED
    assert gate.started == [first, second]


async def test_cancelling_a_waiting_or_held_task_ends_it_without_running_it(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue(max_concurrent=1)
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    busy = await queue.add_task(gated())
    await eventually(lambda: busy in gate.running)
    waiting, held = await queue.add_tasks([gated(), gated()])
    await queue.pause_task(held)

    for task_id in (waiting, held):
        cancelled = await queue.cancel_task(task_id)
        assert cancelled.status is S.CANCELLED
        assert cancelled.error == "cancelled by the user"
    gate.open_all()
    await queue.wait_for(busy, timeout_s=10)
    assert gate.started == [busy]
    assert (await queue.wait_for(waiting, timeout_s=1)).status is S.CANCELLED


async def test_cancelling_a_running_handler_ends_it_cancelled(queue: TaskQueue, gate: Gate) -> None:
    task_id = await queue.add_task(gated())
    await eventually(lambda: task_id in gate.running)
    cancelled = await queue.cancel_task(task_id)
    assert cancelled.status is S.CANCELLED
    assert not gate.running
    assert (await queue.get_queue_stats())["summary"]["running_tasks"] == 0


async def test_pausing_a_running_handler_holds_it_at_its_next_progress_report(
    queue: TaskQueue,
) -> None:
    reached: list[int] = []
    go = asyncio.Event()

    async def stepper(task_id: str, params: dict[str, Any]) -> None:
        for n in range(1, 4):
            await go.wait()
            go.clear()
            await queue.update_progress(task_id, n * 25, f"step {n}")
            reached.append(n)

    queue.register_handler("stepper", stepper)
    task_id = await queue.add_task(Task("stepper"))
    go.set()
    await eventually(lambda: reached == [1])
    paused = await queue.pause_task(task_id)
    assert paused.status is S.PAUSED and paused.paused_from is S.RUNNING
    go.set()

    async def step_2_reported() -> bool:
        return (await queue.get_task(task_id)).progress == 50.0

    # Its report is recorded, then it waits at once for the resume: it cannot get further.
    await eventually(step_2_reported)
    assert reached == [1]
    task = await queue.get_task(task_id)
    assert (task.progress, task.current_step) == (50.0, "step 2")
    assert (await queue.resume_task(task_id)).status is S.RUNNING
    await eventually(lambda: reached == [1, 2])
    go.set()
    assert (await queue.wait_for(task_id, timeout_s=10)).status is S.COMPLETED


async def test_a_handler_finishing_while_paused_leaves_a_consistent_allowed_history(
    queue: TaskQueue, gate: Gate
) -> None:
    seen: list[TaskStatus] = []
    queue.subscribe(lambda events: seen.extend(e.status for e in events if e.status))
    task_id = await queue.add_task(gated())
    await eventually(lambda: task_id in gate.running)
    await queue.pause_task(task_id)
    gate.open(task_id)  # a handler that never checks in: it just finishes
    await queue.wait_for(task_id, timeout_s=10)

    moves = [(a, b) for a, b in itertools.pairwise(seen) if a != b]
    assert all(can_transition(a, b) for a, b in moves), moves
    history = await queue.store.transitions(task_id)
    for before, after in itertools.pairwise(history):
        assert after.from_status == before.to_status, history


# --- Refused requests -------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[TaskEvent] = []

    def __call__(self, events: list[TaskEvent]) -> None:
        self.events.extend(events)


async def _snapshot(queue: TaskQueue) -> list[dict[str, Any]]:
    return [t.to_dict() for t in await queue.list_tasks()]


async def test_refused_requests_carry_queue_codes_and_change_nothing(
    queue: TaskQueue, gate: Gate
) -> None:
    running = await queue.add_task(gated())
    await eventually(lambda: running in gate.running)
    done = await queue.add_task(command("true"))
    await queue.wait_for(done, timeout_s=10)
    before = await _snapshot(queue)
    recorder = Recorder()
    queue.subscribe(recorder)

    refusals = [
        (queue.retry_task(running), C.QUEUE_TASK_ALREADY_RUNNING),
        (queue.resume_task(running), C.QUEUE_INVALID_STATE),
        (queue.remove_task(running), C.QUEUE_INVALID_STATE),
        (queue.pause_task(done), C.QUEUE_INVALID_STATE),
        (queue.resume_task(done), C.QUEUE_INVALID_STATE),
        (queue.cancel_task(done), C.QUEUE_INVALID_STATE),
        (queue.retry_task(done), C.QUEUE_INVALID_STATE),
    ]
    for request, code in refusals:
        with pytest.raises(QueueError) as raised:
            await request
        assert raised.value.code is code, raised.value
        assert raised.value.suggestion

    assert await _snapshot(queue) == before
    assert recorder.events == []
    assert list(gate.running) == [running]


@pytest.mark.parametrize(
    "request_name",
    [
        "get_task",
        "pause_task",
        "resume_task",
        "cancel_task",
        "retry_task",
        "remove_task",
        "wait_for",
        "read_log",
        "task_summary",
    ],
)
async def test_an_unknown_id_is_refused_with_task_not_found(
    queue: TaskQueue, request_name: str
) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(QueueError) as raised:
        if request_name == "task_summary":  # the faces' view of a task
            await task_summary(queue, unknown)
        else:
            await getattr(queue, request_name)(unknown)
    assert raised.value.code is C.QUEUE_TASK_NOT_FOUND
    assert await queue.list_tasks() == []


async def test_an_unknown_task_type_is_refused(queue: TaskQueue) -> None:
    with pytest.raises(QueueError) as raised:
        await queue.add_task(Task("no_such_type", {}))
    assert raised.value.code is C.QUEUE_UNKNOWN_TASK_TYPE
    assert "custom_command" in raised.value.message  # it says what is available
    assert await queue.list_tasks() == []


@pytest.mark.parametrize(
    ("params", "code", "mentions"),
    [
        ({}, C.VALIDATION_MISSING_REQUIRED, "command"),
        ({"command": ""}, C.VALIDATION_INVALID_PARAMS, "command"),
        ({"command": "ls", "colour": "red"}, C.VALIDATION_INVALID_PARAMS, "colour"),
        ({"command": "ls", "args": "-l"}, C.VALIDATION_INVALID_PARAMS, "args"),
        (
            {"command": "ls", "progress_pattern": "(("},
            C.VALIDATION_INVALID_PARAMS,
            "progress_pattern",
        ),
        ({"command": "ls", "grace_s": -1}, C.VALIDATION_INVALID_PARAMS, "grace_s"),
    ],
)
async def test_bad_params_are_refused_with_validation_codes_naming_the_field(
    queue: TaskQueue, params: dict[str, Any], code: TaskErrorCode, mentions: str
) -> None:
    with pytest.raises(QueueError) as raised:
        await queue.add_task(Task(TaskType.CUSTOM_COMMAND, params))
    assert raised.value.code is code
    assert mentions in raised.value.message
    assert await queue.list_tasks() == []


@pytest.mark.parametrize(
    ("fields", "mentions"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"timeout_s": -1}, "timeout_s"),
        ({"retry_backoff": -1.0}, "retry_backoff"),
        ({"retry_backoff": [1.0, -2.0]}, "retry_backoff"),
        ({"category": " "}, "category"),
        ({"priority": "highest"}, "priority"),
        ({"priority": None}, "priority"),
        ({"priority": 1.5}, "priority"),
        ({"run_at": "soon"}, "run_at"),
        ({"expires_at": "tomorrow"}, "expires_at"),
        ({"depends_on": "a-task-id"}, "depends_on"),
        ({"resources": ["cpu"]}, "resources"),
        ({"name": ["not", "text"]}, "name"),
    ],
)
async def test_bad_task_fields_are_refused(
    queue: TaskQueue, fields: dict[str, Any], mentions: str
) -> None:
    with pytest.raises(QueueError) as raised:
        await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, **fields))
    assert raised.value.code is C.VALIDATION_INVALID_PARAMS
    assert mentions in raised.value.message
    assert await queue.list_tasks() == []


@pytest.mark.parametrize("tags", ["a,b", None, ["ok", 3]])
async def test_tags_that_are_not_a_list_of_strings_are_refused(queue: TaskQueue, tags: Any) -> None:
    with pytest.raises(QueueError) as raised:
        await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, tags=tags))
    assert raised.value.code is C.VALIDATION_INVALID_PARAMS
    assert "tags" in raised.value.message
    assert await queue.list_tasks() == []


@pytest.mark.parametrize("field", ["depends_on", "resources"])
async def test_a_null_list_or_mapping_field_is_refused_not_a_crash(
    queue: TaskQueue, field: str
) -> None:
    with pytest.raises(QueueError) as raised:
        await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, **{field: None}))
    assert raised.value.code is C.VALIDATION_INVALID_PARAMS
    assert await queue.list_tasks() == []


@pytest.mark.parametrize(
    "fields",
    [{"on_interrupt": "fail"}, {"permission": "supervised"}, {"on_interrupt": "sometimes"}],
)
async def test_permission_and_on_interrupt_given_as_text_are_taken_or_refused(
    queue: TaskQueue, fields: dict[str, Any]
) -> None:
    try:
        task_id = await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, **fields))
    except QueueError as exc:
        assert exc.code is C.VALIDATION_INVALID_PARAMS
        assert await queue.list_tasks() == []
    else:
        task = await queue.wait_for(task_id, timeout_s=10)
        assert task.to_dict()[next(iter(fields))] == next(iter(fields.values()))


async def test_an_invalid_task_does_not_fail_an_unrelated_add_made_at_the_same_time(
    queue: TaskQueue,
) -> None:
    await queue.pause_queue()
    a, b, c = await queue.add_tasks([command("true"), command("true"), command("true")])
    good = command("true")
    results = await asyncio.gather(
        queue.add_task(command("true", on_interrupt="sometimes")),  # type: ignore[arg-type]
        queue.pause_task(a),  # keeps the writer busy so that both adds share the next batch
        queue.add_task(good),
        queue.pause_task(b),
        queue.pause_task(c),
        return_exceptions=True,
    )
    assert results[2] == good.id
    assert (await queue.get_task(good.id)).status is S.PENDING


async def test_add_tasks_is_all_or_nothing(queue: TaskQueue) -> None:
    recorder = Recorder()
    queue.subscribe(recorder)
    good = [Task(TaskType.CUSTOM_COMMAND, {"command": "true"}) for _ in range(2)]
    bad = Task(TaskType.CUSTOM_COMMAND, {"commnd": "true"})
    with pytest.raises(QueueError) as raised:
        await queue.add_tasks([*good, bad])
    assert raised.value.code.value.startswith("VALIDATION_")

    twin = Task(TaskType.CUSTOM_COMMAND, {"command": "true"})
    with pytest.raises(QueueError):  # the same id twice in one request
        await queue.add_tasks([twin, twin])
    assert await queue.list_tasks() == []
    assert recorder.events == []


async def test_an_id_that_exists_cannot_be_added_again(queue: TaskQueue) -> None:
    task = command("true")
    await queue.wait_for(await queue.add_task(task), timeout_s=10)
    with pytest.raises(QueueError) as raised:
        await queue.add_task(task)
    assert raised.value.code is C.VALIDATION_INVALID_PARAMS
    assert len(await queue.list_tasks()) == 1


async def test_a_closed_queue_refuses_requests(make_queue: QueueFactory) -> None:
    queue = await make_queue()
    await queue.close()
    with pytest.raises(QueueError) as raised:
        await queue.add_task(command("true"))
    assert raised.value.code is C.QUEUE_ENGINE_UNAVAILABLE


# --- Manual retry -----------------------------------------------------------------------------


class Flaky:
    """A handler whose first run fails in a chosen way and whose later runs succeed."""

    def __init__(self) -> None:
        self.runs = 0
        self.release = asyncio.Event()

    async def handler(self, task_id: str, params: dict[str, Any]) -> dict[str, int]:
        self.runs += 1
        if self.runs == 1:
            if params["first"] == "fail":
                raise QueueError(C.VALIDATION_INVALID_PARAMS, "bad input")
            await self.release.wait()  # held until timed out or cancelled
        return {"run": self.runs}


@pytest.mark.parametrize(
    ("first", "outcome"),
    [("fail", S.FAILED), ("hang", S.TIMEOUT), ("cancel", S.CANCELLED)],
)
async def test_a_manual_retry_runs_a_failed_cancelled_or_timed_out_task_again(
    queue: TaskQueue, first: str, outcome: TaskStatus
) -> None:
    flaky = Flaky()
    queue.register_handler("flaky", flaky.handler)
    timeout_s = 0.3 if first == "hang" else None
    task_id = await queue.add_task(
        Task("flaky", {"first": first}, timeout_s=timeout_s, max_retries=0)
    )
    if first == "cancel":
        await eventually(lambda: flaky.runs == 1)
        await queue.cancel_task(task_id)
    ended = await queue.wait_for(task_id, timeout_s=10)
    assert ended.status is outcome
    assert (await task_summary(queue, task_id))["retry"]["can_retry"] is True

    again = await queue.retry_task(task_id)
    assert again.status in (S.PENDING, S.RUNNING)  # the idle queue may start it at once
    assert again.retry_count == 1
    assert again.error is None and again.error_code is None

    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.COMPLETED
    assert done.result == {"run": 2}
    assert done.retry_count == 1
    assert flaky.runs == 2


# --- Pausing the whole queue ------------------------------------------------------------------


async def test_a_paused_queue_starts_nothing_new_and_stays_paused_across_a_restart(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue()
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    running = await queue.add_task(gated("running"))
    await eventually(lambda: running in gate.running)

    await queue.pause_queue()
    assert queue.queue_paused
    waiting = await queue.add_tasks([gated("w1"), gated("w2")])
    await queue.settled()
    assert gate.started == [running], "nothing new starts while paused"
    # What already runs goes on.
    gate.open(running)
    assert (await queue.wait_for(running, timeout_s=10)).status is S.COMPLETED
    summary = (await queue.get_queue_stats())["summary"]
    assert summary["queue_paused"] is True
    assert summary["queue_size"] == 2
    await queue.close()

    reopened = await make_queue()
    gate2 = Gate()
    gate2.open_all()
    reopened.register_handler("gated", gate2.handler)
    assert reopened.queue_paused
    await reopened.settled()
    assert not gate2.started, "still paused after the restart"
    assert [await status(reopened, t) for t in waiting] == [S.PENDING, S.PENDING]

    await reopened.resume_queue()
    for task_id in waiting:
        assert (await reopened.wait_for(task_id, timeout_s=10)).status is S.COMPLETED
    await reopened.close()
    assert not (await make_queue()).queue_paused


# --- Persistence ------------------------------------------------------------------------------


async def test_close_and_reopen_keeps_every_task_as_it_was(make_queue: QueueFactory) -> None:
    queue = await make_queue()
    gate = Gate()
    gate.open_all()
    queue.register_handler("gated", gate.handler)
    attempts: list[int] = []

    async def once_flaky(task_id: str, params: dict[str, Any]) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise QueueError(C.NETWORK_CONNECTION_FAILED, "connection refused")

    queue.register_handler("once_flaky", once_flaky)
    ok = await queue.add_task(gated("ok", tags=["keep"], category="cat"))
    failed = await queue.add_task(command("exit 3", max_retries=0))
    retried = await queue.add_task(Task("once_flaky", max_retries=2, retry_backoff=[0.01]))
    for task_id in (ok, failed, retried):
        await queue.wait_for(task_id, timeout_s=10)
    await queue.pause_queue()
    pending = await queue.add_task(gated("later", priority=Priority.HIGH))
    held = await queue.add_task(gated("held"))
    await queue.pause_task(held)
    cancelled = await queue.add_task(gated("cancelled"))
    await queue.cancel_task(cancelled)
    before = await _snapshot(queue)
    await queue.close()

    reopened = await make_queue()
    assert await _snapshot(reopened) == before
    by_id = {t["id"]: t for t in before}
    assert by_id[ok]["status"] == "completed" and by_id[ok]["result"] == {"label": "ok"}
    assert by_id[failed]["error_code"] == "SYSTEM_COMMAND_FAILED"
    assert by_id[failed]["error_details"]["exit_code"] == 3
    assert by_id[retried]["status"] == "completed" and by_id[retried]["retry_count"] == 1
    assert by_id[pending]["status"] == "pending"
    assert by_id[held]["status"] == "paused"
    assert by_id[cancelled]["status"] == "cancelled"


async def test_a_task_added_without_dispatch_is_run_by_the_next_engine(
    make_queue: QueueFactory, tmp_path: Path
) -> None:
    marker = tmp_path / "ran.txt"
    offline = await make_queue(dispatch=False)
    task_id = await offline.add_task(command(f"echo ran >> {marker}"))
    await offline.settled()
    assert not marker.exists(), "an offline queue runs nothing"
    assert await status(offline, task_id) is S.PENDING
    await offline.close()

    engine = await make_queue()
    assert (await engine.wait_for(task_id, timeout_s=10)).status is S.COMPLETED
    assert marker.read_text() == "ran\n"


async def test_an_offline_queue_can_manage_tasks(make_queue: QueueFactory) -> None:
    offline = await make_queue(dispatch=False)
    a, b = await offline.add_tasks([command("true"), command("true")])
    assert (await offline.pause_task(a)).status is S.PAUSED
    assert (await offline.cancel_task(b)).status is S.CANCELLED
    assert (await offline.retry_task(b)).status is S.PENDING
    assert [t.status for t in await offline.list_tasks()] == [S.PAUSED, S.PENDING]


# --- One engine per data directory ------------------------------------------------------------


async def test_a_second_engine_on_the_same_data_directory_is_refused(
    queue: TaskQueue, data_dir: Path
) -> None:
    second = TaskQueue(data_dir, lock_timeout_s=0.2)
    with pytest.raises(QueueError) as raised:
        await second.start()
    assert raised.value.code is C.QUEUE_ENGINE_LOCKED
    assert str(data_dir) in raised.value.message
    assert not second.started
    # The first engine is unaffected, and once it closes the directory is free.
    assert (await queue.wait_for(await queue.add_task(command("true")), 10)).status is S.COMPLETED
    await queue.close()
    async with TaskQueue(data_dir, lock_timeout_s=0.2) as third:
        assert third.started


async def test_after_close_the_same_process_can_open_the_data_directory_again(
    data_dir: Path,
) -> None:
    async with TaskQueue(data_dir, lock_timeout_s=0.2) as first:
        assert first.started
    async with TaskQueue(data_dir, lock_timeout_s=0.2) as again:
        assert again.started


# --- Waiting ----------------------------------------------------------------------------------


async def test_wait_for_gives_up_after_its_timeout(queue: TaskQueue, gate: Gate) -> None:
    task_id = await queue.add_task(gated())
    with pytest.raises(TimeoutError):
        await queue.wait_for(task_id, timeout_s=0.1)
    gate.open(task_id)
    assert (await queue.wait_for(task_id, timeout_s=10)).status is S.COMPLETED


async def test_join_returns_once_everything_unfinished_has_finished(
    queue: TaskQueue, gate: Gate
) -> None:
    ids = await queue.add_tasks([gated(n) for n in range(4)])
    joined = asyncio.ensure_future(queue.join(timeout_s=10))
    await eventually(lambda: len(gate.running) == 2)
    assert not joined.done()
    gate.open_all()
    await joined
    assert [await status(queue, t) for t in ids] == [S.COMPLETED] * 4


async def test_remove_deletes_a_finished_task_and_its_log(queue: TaskQueue) -> None:
    task_id = await queue.add_task(command("echo something"))
    await queue.wait_for(task_id, timeout_s=10)
    assert queue.log_path(task_id).exists()
    await queue.remove_task(task_id)
    assert not queue.log_path(task_id).exists()
    with pytest.raises(QueueError) as raised:
        await queue.get_task(task_id)
    assert raised.value.code is C.QUEUE_TASK_NOT_FOUND


async def test_turning_retention_on_at_run_time_starts_the_scheduled_cleanup(
    tmp_path: Path,
) -> None:
    async with TaskQueue(
        tmp_path / "q",
        retention_s=None,
        cleanup_interval_s=0.05,
        registry=default_registry(entry_points=False),
    ) as queue:
        done = await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}))
        await queue.wait_for(done, timeout_s=10)
        removed = asyncio.get_running_loop().create_future()

        def on_events(events: list[TaskEvent]) -> None:
            gone = any(e.kind is EventKind.REMOVED and e.task_id == done for e in events)
            if gone and not removed.done():
                removed.set_result(None)

        queue.subscribe(on_events)
        queue.set_retention(0.0)  # keep nothing that has finished
        await asyncio.wait_for(removed, 10)
        with pytest.raises(QueueError) as refused:
            await queue.get_task(done)
        assert refused.value.code is TaskErrorCode.QUEUE_TASK_NOT_FOUND
