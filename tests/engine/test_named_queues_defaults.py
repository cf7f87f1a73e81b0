"""Specification of the named queues' defaults: the built-in queues' documented settings, what
they give the tasks that set none, the queue a task's priority picks, a queue's maximum length,
and how the settings persist (stores written by the previous version included). Real queues,
real SQLite stores, real handlers; no waiting out a window."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers.gate import Gate
from helpers.queues import QueueFactory

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Priority, Task, TaskStatus, TaskType
from qtqueue.engine import named_queues
from qtqueue.engine.queue import DB_NAME, TaskQueue
from qtqueue.storage.sqlite import SqliteTaskStore

C = TaskErrorCode
S = TaskStatus
HOUR = 3600.0
DAY = 24 * HOUR


def gated(label: Any = None, **fields: Any) -> Task:
    return Task("gated", {"label": label}, **fields)


def settings(queue: TaskQueue) -> dict[str, dict[str, Any]]:
    return {q["name"]: q for q in queue.list_queues()}


async def test_the_built_in_queues_come_with_the_documented_defaults(queue: TaskQueue) -> None:
    shown = settings(queue)
    assert list(shown) == ["high_priority", "default", "low_priority"]
    keys = ("timeout_s", "max_retries", "result_ttl_s", "failure_ttl_s", "max_length")
    assert {name: tuple(q[k] for k in keys) for name, q in shown.items()} == {
        "high_priority": (1 * HOUR, 3, 24 * HOUR, 7 * DAY, None),
        "default": (2 * HOUR, 3, 24 * HOUR, 7 * DAY, None),
        "low_priority": (4 * HOUR, 2, 12 * HOUR, 7 * DAY, None),
    }
    made = await queue.set_queue("reports")
    assert (made["timeout_s"], made["max_retries"], made["failure_ttl_s"]) == (None, None, 7 * DAY)


async def test_a_task_gets_its_queues_timeout_and_retries_only_where_it_set_none(
    queue: TaskQueue, gate: Gate
) -> None:
    gate.open_all()
    plain = await queue.wait_for(await queue.add_task(gated()), timeout_s=10)
    assert (plain.queue, plain.timeout_s, plain.max_retries) == ("default", 2 * HOUR, 3)
    own = await queue.wait_for(await queue.add_task(gated(timeout_s=5, max_retries=1)), 10)
    assert (own.timeout_s, own.max_retries) == (5, 1)
    zero = await queue.wait_for(await queue.add_task(gated(timeout_s=0, max_retries=0)), 10)
    assert (zero.timeout_s, zero.max_retries) == (None, 0), "0: no timeout, and run once"
    low = await queue.wait_for(await queue.add_task(gated(priority=Priority.LOW)), 10)
    assert (low.queue, low.timeout_s, low.max_retries) == ("low_priority", 4 * HOUR, 2)
    preview = queue.validate_task(gated(priority=Priority.URGENT))
    assert (preview.queue, preview.timeout_s, preview.max_retries) == ("high_priority", HOUR, 3)


async def test_a_failing_task_that_set_no_retries_is_retried_as_its_queue_says(
    queue: TaskQueue, gate: Gate
) -> None:
    gate.open_all()
    failing = {"fail": C.NETWORK_CONNECTION_FAILED.value}
    by_queue = await queue.add_task(Task("gated", failing, retry_backoff=0))
    once = await queue.add_task(Task("gated", failing, retry_backoff=0, max_retries=0))
    retried = await queue.wait_for(by_queue, timeout_s=10)
    assert (retried.status, retried.retry_count, gate.runs(by_queue)) == (S.FAILED, 3, 4)
    assert retried.dead_letter, "failed for good after its queue's 3 retries"
    ran_once = await queue.wait_for(once, timeout_s=10)
    assert (ran_once.status, ran_once.retry_count, gate.runs(once)) == (S.FAILED, 0, 1)
    assert not ran_once.dead_letter


async def test_a_task_built_with_the_old_explicit_values_behaves_as_before(
    queue: TaskQueue, gate: Gate
) -> None:
    """The values every task had before queue defaults (no retries, no timeout, the default
    queue) given explicitly: nothing is filled in over them."""
    gate.open_all()
    task = await queue.wait_for(
        await queue.add_task(gated(max_retries=0, timeout_s=0, queue="default")), 10
    )
    assert (task.queue, task.max_retries, task.timeout_s) == ("default", 0, None)


@pytest.mark.parametrize(
    ("priority", "picked"),
    [
        (Priority.URGENT, "high_priority"),
        (Priority.HIGH, "high_priority"),
        (Priority.NORMAL, "default"),
        (Priority.LOW, "low_priority"),
        ("urgent", "high_priority"),
        (0, "low_priority"),
    ],
    ids=["URGENT", "HIGH", "NORMAL", "LOW", "the-name-urgent", "the-number-0"],
)
async def test_a_task_that_names_no_queue_waits_in_the_one_its_priority_picks(
    queue: TaskQueue, gate: Gate, priority: Any, picked: str
) -> None:
    gate.open_all()
    added = await queue.wait_for(await queue.add_task(gated(priority=priority)), 10)
    assert added.queue == picked
    named = await queue.wait_for(await queue.add_task(gated(priority=priority, queue="default")))
    assert named.queue == "default", "a named queue is kept whatever the priority"


async def test_a_task_its_priority_put_in_high_priority_starts_before_earlier_ones_elsewhere(
    one_slot: tuple[TaskQueue, Gate],
) -> None:
    """With one slot: a low_priority task added first, and an URGENT one its user put in
    default, both start after a HIGH task added later (its priority picked high_priority)."""
    queue, gate = one_slot
    busy = await queue.add_task(gated("busy"))
    await queue.settled()
    assert gate.started == [busy]
    low = await queue.add_task(gated("low", queue="low_priority", priority=Priority.URGENT))
    urgent = await queue.add_task(gated("urgent", queue="default", priority=Priority.URGENT))
    high = await queue.add_task(gated("high", priority=Priority.HIGH))
    gate.open_all()
    for task_id in (busy, low, urgent, high):
        await queue.wait_for(task_id, timeout_s=10)
    assert gate.started == [busy, high, urgent, low]


async def test_a_full_queue_refuses_new_tasks_and_a_batch_that_would_overflow_it_whole(
    one_slot: tuple[TaskQueue, Gate],
) -> None:
    queue, gate = one_slot
    shown = await queue.set_queue("default", max_length=2)
    assert shown["max_length"] == 2
    first, second = await queue.add_tasks([gated("a"), gated("b")])
    with pytest.raises(QueueError) as full:
        await queue.add_task(gated("c"))
    assert full.value.code is C.QUEUE_FULL
    assert "queue 'default' is full" in full.value.message
    assert "qtqueue queues set default --max-length" in full.value.message
    assert full.value.details["max_length"] == 2
    other = await queue.add_task(gated("elsewhere", priority=Priority.LOW))  # another queue
    before = {t.id for t in await queue.list_tasks()}
    gate.open(first)
    await queue.wait_for(first, timeout_s=10)  # one place free again
    with pytest.raises(QueueError) as batch:
        await queue.add_tasks([gated("d"), gated("e")])
    assert batch.value.code is C.QUEUE_FULL
    assert {t.id for t in await queue.list_tasks()} == before, "nothing of the batch was kept"
    third = await queue.add_task(gated("d"))
    assert (await queue.get_task(third)).status is S.PENDING
    gate.open_all()
    for task_id in (second, other, third):
        assert (await queue.wait_for(task_id, timeout_s=10)).status is S.COMPLETED


async def test_a_retry_into_a_full_queue_is_refused_and_leaves_the_task_as_it_was(
    one_slot: tuple[TaskQueue, Gate],
) -> None:
    queue, gate = one_slot
    failed = await queue.add_task(
        Task("gated", {"label": "failed", "fail": C.UNKNOWN_ERROR}, max_retries=0)
    )
    gate.open(failed)
    assert (await queue.wait_for(failed, timeout_s=10)).status is S.FAILED
    await queue.set_queue("default", max_length=1)
    waiting = await queue.add_task(gated("waiting"))
    with pytest.raises(QueueError) as full:
        await queue.retry_task(failed)
    assert full.value.code is C.QUEUE_FULL
    assert (await queue.get_task(failed)).status is S.FAILED
    gate.open(waiting)
    await queue.wait_for(waiting, timeout_s=10)
    assert (await queue.retry_task(failed)).status is S.PENDING  # room again


async def test_changed_defaults_persist_and_unchanged_ones_follow_the_documented_ones(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue()
    await queue.set_queue("high_priority", timeout_s=None, max_retries=5)
    await queue.set_queue("low_priority", failure_ttl_s=None, max_length=10)
    await queue.set_queue("nightly", result_ttl_s=60)
    await queue.close()
    reopened = await make_queue(dispatch=False)
    shown = settings(reopened)
    high, low, nightly = shown["high_priority"], shown["low_priority"], shown["nightly"]
    assert (high["timeout_s"], high["max_retries"], high["result_ttl_s"]) == (None, 5, DAY)
    assert (low["failure_ttl_s"], low["max_length"], low["timeout_s"]) == (None, 10, 4 * HOUR)
    assert (nightly["result_ttl_s"], nightly["failure_ttl_s"]) == (60, 7 * DAY)
    assert shown["default"]["timeout_s"] == 2 * HOUR
    high_task = Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, priority=Priority.HIGH)
    task = await reopened.get_task(await reopened.add_task(high_task))
    assert (task.timeout_s, task.max_retries) == (None, 5)


async def test_a_store_from_the_previous_version_gets_the_documented_defaults_for_its_built_ins(
    make_queue: QueueFactory, data_dir: Path
) -> None:
    """The previous version stored every setting of every queue once any was set, a null for
    each one nobody set; what it stored as a value is kept."""
    queue = await make_queue(dispatch=False)
    await queue.close()
    previous = {
        name: {"concurrency": None, "timeout_s": None, "max_retries": None, "result_ttl_s": None}
        for name in ("high_priority", "default", "low_priority", "nightly")
    }
    previous["low_priority"]["concurrency"] = 2
    previous["default"]["max_retries"] = 1
    store = SqliteTaskStore(data_dir / DB_NAME)
    await store.open()
    await store.set_meta(named_queues.META_KEY, json.dumps(previous))
    await store.close()
    shown = settings(await make_queue(dispatch=False))
    assert (shown["low_priority"]["concurrency"], shown["low_priority"]["timeout_s"]) == (
        2,
        4 * HOUR,
    )
    assert (shown["default"]["max_retries"], shown["default"]["timeout_s"]) == (1, 2 * HOUR)
    assert shown["high_priority"]["max_retries"] == 3
    assert (shown["nightly"]["timeout_s"], shown["nightly"]["failure_ttl_s"]) == (None, 7 * DAY)


async def test_bad_queue_lengths_and_failure_ttls_are_refused(queue: TaskQueue) -> None:
    with pytest.raises(QueueError) as bad:
        await queue.set_queue("default", max_length=0, failure_ttl_s=-1)
    assert bad.value.code is C.VALIDATION_INVALID_PARAMS
    assert len(bad.value.details["fields"]) == 2
    assert settings(queue)["default"]["max_length"] is None


async def test_a_store_that_held_tasks_before_the_upgrade_keeps_its_finished_tasks(
    make_queue: QueueFactory, data_dir: Path
) -> None:
    """A store written before queues deleted finished tasks on their own (version 5, with a
    task that completed long ago): its built-in queues get no result or failure TTL, so the
    upgrade deletes nothing; the documented TTLs stay one `set_queue` away, and stay set."""
    fixture = Path(__file__).parents[1] / "storage" / "fixtures" / "v5.db"
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (data_dir / DB_NAME).write_bytes(fixture.read_bytes())
    queue = await make_queue(retention_s=None)  # (its task is older than any retention)
    before = {t.id for t in await queue.list_tasks()}
    shown = settings(queue)
    for name in ("high_priority", "default", "low_priority"):
        assert (shown[name]["result_ttl_s"], shown[name]["failure_ttl_s"]) == (None, None)
    assert shown["default"]["timeout_s"] == 2 * HOUR, "the other defaults apply"
    assert await queue.cleanup() == 0
    assert {t.id for t in await queue.list_tasks()} == before
    await queue.set_queue("default", result_ttl_s=DAY)
    await queue.close()
    reopened = settings(await make_queue(retention_s=None))
    assert (reopened["default"]["result_ttl_s"], reopened["low_priority"]["result_ttl_s"]) == (
        DAY,
        None,
    )


async def test_a_new_store_gets_the_documented_ttls(queue: TaskQueue) -> None:
    shown = settings(queue)
    assert (shown["default"]["result_ttl_s"], shown["default"]["failure_ttl_s"]) == (DAY, 7 * DAY)
