"""The RQ-style design document (4-rq-queue-design.md): its named queues, their configuration,
how enqueueing picks a queue by priority, and the order workers drain them in. The document
shows them over Redis and RQ; here each is the same thing asked of qtqueue's own queue.

The document's `Priority.CRITICAL` is qtqueue's `Priority.URGENT` (the top of the four)."""

from __future__ import annotations

from typing import Any

from helpers.gate import Gate
from helpers.queues import QueueFactory
from helpers.virtual_time import VirtualTimer

from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import Priority, Task, TaskStatus
from qtqueue.engine.queue import TaskQueue


def by_name(queue: TaskQueue) -> dict[str, dict[str, Any]]:
    return {q["name"]: q for q in queue.list_queues()}


async def test_rq_queue_design_doc_queue_types_task_queues(queue: TaskQueue) -> None:
    """### 1. Task Queues: high_priority (TTL 1 hour, 3 retries), default (2 hours, 3),
    low_priority (4 hours, 2)."""
    documented = {
        "high_priority": {"TTL": 1 * 3600, "Max retries": 3},
        "default": {"TTL": 2 * 3600, "Max retries": 3},
        "low_priority": {"TTL": 4 * 3600, "Max retries": 2},
    }
    queues = by_name(queue)
    assert {
        name: {"TTL": queues[name]["timeout_s"], "Max retries": queues[name]["max_retries"]}
        for name in documented
    } == documented
    # A task added to each without its own values gets them.
    queue.register_handler("noop", lambda task_id, params: {})
    for name, values in documented.items():
        task = await queue.get_task(await queue.add_task(Task("noop", queue=name)))
        assert (task.timeout_s, task.max_retries) == (values["TTL"], values["Max retries"])
    await queue.join(timeout_s=10)


async def test_rq_queue_design_doc_queue_types_special_queues_dead_letter_queue(
    make_queue: QueueFactory,
) -> None:
    """### 3. Special Queues, dead_letter_queue: failed tasks after max retries, kept until
    someone deals with them (the document's handler enqueues them with result_ttl=-1, "keep
    forever"); other failures go after the queue's failure_ttl (7 days)."""
    timer = VirtualTimer()
    queue = await make_queue(timer=timer, clock=timer.time, retention_s=None)
    gate = Gate()
    gate.open_all()
    queue.register_handler("gated", gate.handler)
    failing = {"fail": TaskErrorCode.NETWORK_CONNECTION_FAILED.value}
    after_retries = await queue.add_task(Task("gated", failing, retry_backoff=0))
    dead = await queue.wait_for(after_retries, timeout_s=10)
    assert (dead.status, dead.retry_count, dead.dead_letter) == (TaskStatus.FAILED, 3, True)
    assert [t.id for t in await queue.list_dead_letters()] == [after_retries]
    timer.advance(365 * 86400.0)
    assert await queue.cleanup() == 0
    assert [t.id for t in await queue.list_dead_letters()] == [after_retries]
    assert await queue.purge_dead_letters() == [after_retries]


async def test_rq_queue_design_doc_queue_configuration_queue_config(queue: TaskQueue) -> None:
    """### Queue Configuration: config/queue.py's QUEUE_CONFIG, as the document shows it."""
    QUEUE_CONFIG = {  # the document's name
        "high_priority": {
            "default_timeout": 3600,
            "result_ttl": 86400,
            "failure_ttl": 604800,
        },
        "default": {
            "default_timeout": 7200,
            "result_ttl": 86400,
            "failure_ttl": 604800,
        },
        "low_priority": {
            "default_timeout": 14400,
            "result_ttl": 43200,
            "failure_ttl": 604800,
        },
    }
    queues = by_name(queue)
    assert {
        name: {
            "default_timeout": queues[name]["timeout_s"],
            "result_ttl": queues[name]["result_ttl_s"],
            "failure_ttl": queues[name]["failure_ttl_s"],
        }
        for name in QUEUE_CONFIG
    } == QUEUE_CONFIG


async def test_rq_queue_design_doc_enqueueing_tasks_select_queue_based_on_priority(
    queue: TaskQueue,
) -> None:
    """### Enqueueing Tasks: `enqueue_task` selects the queue from the priority when none is
    named; qtqueue's `add_task` does the same for a task that names no queue."""

    def documented_queue(priority: Priority) -> str:
        # Select queue based on priority (the document's CRITICAL is URGENT)
        if priority == Priority.URGENT or priority == Priority.HIGH:
            return "high_priority"
        elif priority == Priority.LOW:
            return "low_priority"
        else:
            return "default"

    queue.register_handler("noop", lambda task_id, params: {})
    for priority in Priority:
        task = await queue.get_task(await queue.add_task(Task("noop", priority=priority)))
        assert task.queue == documented_queue(priority), priority
    await queue.join(timeout_s=10)
    default = by_name(queue)["default"]
    # result_ttl=86400 "Keep results for 24 hours", failure_ttl=604800 "Keep failures for 7 days"
    assert (default["result_ttl_s"], default["failure_ttl_s"]) == (86400, 604800)


async def test_rq_queue_design_doc_queue_prioritization_workers_process_queues_in_order(
    make_queue: QueueFactory,
) -> None:
    """### Queue Prioritization: workers take from high_priority, then default, then
    low_priority ("Always check high_priority first") — whatever the priorities within them:
    an URGENT task put in default waits for a HIGH one that its priority put in
    high_priority."""
    queue = await make_queue(max_concurrent=1)
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    busy = await queue.add_task(Task("gated", {"label": "busy"}))
    await queue.settled()
    assert gate.started == [busy]
    for label, priority, named in (
        ("low", Priority.LOW, None),
        ("normal", Priority.NORMAL, None),
        ("urgent in default", Priority.URGENT, "default"),
        ("high", Priority.HIGH, None),
    ):
        await queue.add_task(Task("gated", {"label": label}, priority=priority, queue=named))
    gate.open_all()
    await queue.join(timeout_s=10)
    assert gate.labels == ["busy", "high", "urgent in default", "normal", "low"]
