"""Specification of the engine's overview (`TaskQueue.overview`): which pending tasks could not
start and why (the resource document's `queue` view), the worker slots (the RQ-style document's
`get_worker_stats`) and the status overview.

Scarcity comes from an injected machine (`FakeMachine`); time moves on a virtual clock, so how
many checks a waiting task failed is exact.
"""

from __future__ import annotations

from typing import Any

from helpers.gate import Gate
from helpers.machine import FakeMachine
from helpers.queues import QueueFactory
from helpers.virtual_time import VirtualTimer
from helpers.waiting import eventually

from qtqueue.core.overview import HeldBy, StartChecks
from qtqueue.core.task import Permission, Task, TaskStatus
from qtqueue.engine.gates.resources import RESOURCE_RECHECK_MAX_S
from qtqueue.engine.queue import TaskQueue


def gated(label: Any = None, **fields: Any) -> Task:
    return Task("gated", {"label": label}, **fields)


async def on_machine(
    make_queue: QueueFactory, machine: FakeMachine, **kwargs: Any
) -> tuple[TaskQueue, Gate, VirtualTimer]:
    """A queue admitting by `machine`, on a virtual clock, with a "gated" handler."""
    timer = VirtualTimer()
    queue = await make_queue(resource_probe=machine, timer=timer, clock=timer.time, **kwargs)
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    return queue, gate, timer


async def test_a_task_short_of_cpu_is_listed_with_the_documents_reason_and_its_checks_counted(
    make_queue: QueueFactory,
) -> None:
    queue, gate, timer = await on_machine(make_queue, FakeMachine(cores=12), max_concurrent=4)
    holder = await queue.add_task(gated("holder", resources={"cpu_cores": 8}))
    await eventually(lambda: holder in gate.running)
    waiter = await queue.add_task(gated("waiter", name="big job", resources={"cpu_cores": 8}))
    await queue.settled()

    checks = queue.overview.start_checks(waiter)
    assert checks is not None
    assert checks.attempts == 1
    assert checks.last_reason == "Insufficient CPU: 4.00 available, task requires 8.00"
    assert checks.held_by == HeldBy.RESOURCES
    assert checks.first_failed_at == checks.last_checked_at == timer.time()
    assert queue.overview.start_checks(holder) is None  # running: nothing held it

    # Each re-check that finds no room counts.
    for _ in range(3):
        timer.advance(RESOURCE_RECHECK_MAX_S)
        await queue.settled()
    later = queue.overview.start_checks(waiter)
    assert later is not None and later.attempts == 4
    assert later.first_failed_at == checks.first_failed_at
    assert later.last_checked_at == timer.time()

    [row] = queue.overview.waiting()
    assert row == {
        "id": waiter,
        "name": "big job",
        "task_type": "gated",
        "needs": {"cpu_cores": 8.0},
        "waiting_s": later.last_checked_at - (await queue.get_task(waiter)).created_at,
        "target": "default",
        "attempts": 4,
        "last_reason": "Insufficient CPU: 4.00 available, task requires 8.00",
        "first_failed_at": later.first_failed_at,
        "last_checked_at": later.last_checked_at,
        "held_by": "resources",
    }

    gate.open(holder)
    await eventually(lambda: waiter in gate.running, what="the waiter starts")
    await queue.settled()
    assert queue.overview.start_checks(waiter) is None
    assert queue.overview.waiting() == []
    gate.open_all()


async def test_memory_disk_and_gpu_shortages_say_what_is_available_and_required(
    make_queue: QueueFactory,
) -> None:
    machine = FakeMachine(cores=4, memory_free=3.0, gpus=[(8.0, 2.0)])
    queue, gate, _ = await on_machine(make_queue, machine)
    waiter = await queue.add_task(
        gated(resources={"memory_gb": 8, "disk_gb": 40, "disk_path": "/data", "gpu_memory_gb": 6})
    )
    await queue.settled()
    [row] = queue.overview.waiting()
    assert row["id"] == waiter
    assert row["needs"] == {"memory_gb": 8.0, "disk_gb": 40.0, "gpu_memory_gb": 6.0}
    assert row["last_reason"] == (
        "Insufficient Memory: 3.00 GB available, task requires 8.00 GB; "
        "Insufficient Storage: 30.00 GB available on /data, task requires 40.00 GB; "
        "Insufficient GPU: 2.00 GB available on the best GPU, task requires 6.00 GB"
    )
    gate.open_all()


async def test_whatever_held_a_task_it_is_listed_with_what_held_it(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue(max_concurrent=4)
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    await queue.set_queue("nightly", concurrency=1)
    first = await queue.add_task(gated("first", queue="nightly"))
    await eventually(lambda: first in gate.running)
    second = await queue.add_task(gated("second", queue="nightly"))
    needs_ok = await queue.add_task(gated("approval", permission=Permission.HUMAN_REQUIRED))
    after = await queue.add_task(gated("after", depends_on=[first]))
    queue.set_category_limit("heavy", 1)
    heavy = await queue.add_task(gated("heavy", category="heavy"))
    await eventually(lambda: heavy in gate.running)
    heavy2 = await queue.add_task(gated("heavy2", category="heavy"))
    await queue.settled()

    held = {row["id"]: row for row in queue.overview.waiting()}
    assert {tid: row["held_by"] for tid, row in held.items()} == {
        second: "queue_limit",
        needs_ok: "approval",
        after: "dependency",
        heavy2: "concurrency",
    }
    assert held[second]["last_reason"] == "waiting: queue 'nightly' is at its limit of 1"
    assert held[second]["target"] == "nightly"
    assert held[needs_ok]["last_reason"] == "awaiting approval"
    assert held[after]["last_reason"] == f"waiting for 1 dependency: {first[:8]}…"
    assert all(row["attempts"] == 1 for row in held.values())

    # The queue-limited task is checked again when a slot of its queue frees: it starts.
    gate.open(first)
    await eventually(lambda: second in gate.running and after in gate.running)
    await queue.settled()
    assert {row["id"] for row in queue.overview.waiting()} == {needs_ok, heavy2}
    gate.open_all()
    await queue.wait_for(heavy2)


async def test_a_task_that_ends_while_held_leaves_the_list(make_queue: QueueFactory) -> None:
    queue, _gate, _ = await on_machine(make_queue, FakeMachine())
    waiting = await queue.add_task(gated(permission=Permission.HUMAN_REQUIRED))
    await queue.settled()
    assert queue.overview.start_checks(waiting) is not None
    await queue.cancel_task(waiting)
    await queue.settled()
    assert queue.overview.start_checks(waiting) is None
    assert queue.state.start_checks == {}  # nothing kept for a task that ended
    assert queue.overview.waiting() == []


async def test_tasks_no_worker_could_take_are_listed_with_no_check_counted(
    make_queue: QueueFactory,
) -> None:
    queue, gate, timer = await on_machine(make_queue, FakeMachine(), max_concurrent=1)
    running = await queue.add_task(gated("running"))
    await eventually(lambda: running in gate.running)
    queued = await queue.add_task(gated("queued"))
    later = await queue.add_task(gated("later", run_at=timer.time() + 3600))
    await queue.settled()
    rows = {row["id"]: row for row in queue.overview.waiting()}
    assert (rows[queued]["held_by"], rows[queued]["last_reason"], rows[queued]["attempts"]) == (
        "workers",
        "all 1 worker are busy",
        0,
    )
    assert rows[later]["held_by"] == "schedule"
    assert queue.overview.start_checks(queued) is None

    await queue.pause_queue()
    assert queue.overview.waiting()[0]["held_by"] == "paused"
    gate.open_all()


async def test_workers_are_the_engines_slots_and_a_paused_task_holds_a_suspended_one(
    make_queue: QueueFactory,
) -> None:
    queue, gate, _ = await on_machine(make_queue, FakeMachine(), max_concurrent=3)
    assert queue.overview.workers() == {
        "total": 3,
        "idle": 3,
        "busy": 0,
        "suspended": 0,
        "slots": [
            {"slot": n, "state": "idle", "task_id": None, "task_name": None} for n in (1, 2, 3)
        ],
    }
    first = await queue.add_task(gated("a", name="first"))
    second = await queue.add_task(gated("b", name="second"))
    await eventually(lambda: first in gate.running and second in gate.running)
    await queue.pause_task(second)
    workers = queue.overview.workers()
    assert {k: workers[k] for k in ("total", "idle", "busy", "suspended")} == {
        "total": 3,
        "idle": 1,
        "busy": 1,
        "suspended": 1,
    }
    assert [(s["state"], s["task_id"], s["task_name"]) for s in workers["slots"]] == [
        ("busy", first, "first"),
        ("suspended", second, "second"),
        ("idle", None, None),
    ]
    await queue.resume_task(second)
    gate.open_all()
    await queue.join()
    assert queue.overview.workers()["idle"] == 3


async def test_status_is_the_overview(make_queue: QueueFactory) -> None:
    machine = FakeMachine(cores=8, memory_free=10.0, gpus=[(16.0, 12.0)])
    queue, gate, _ = await on_machine(make_queue, machine, max_concurrent=2)
    holder = await queue.add_task(
        gated("holder", resources={"cpu_cores": 6, "memory_gb": 4, "gpu_memory_gb": 5})
    )
    await eventually(lambda: holder in gate.running)
    waiter = await queue.add_task(gated("waiter", resources={"cpu_cores": 4}))
    await queue.settled()

    status = await queue.overview.status()
    assert status["engine"]["state"] == "dispatching"
    assert status["engine"]["data_dir"] == str(queue.data_dir)
    assert (status["running"], status["waiting"], status["pending"]) == (1, 1, 1)
    assert status["workers"] == {"total": 2, "idle": 1, "busy": 1, "suspended": 0}
    assert status["free"]["cpu_cores"] == 2.0
    assert status["free"]["memory_gb"] == 6.0
    assert status["free"]["gpu_memory_gb"] == 7.0
    assert status["queues"] == queue.list_queues()
    assert [q["name"] for q in status["queues"]] == ["high_priority", "default", "low_priority"]
    await queue.pause_queue()
    assert (await queue.overview.status())["engine"]["state"] == "paused"
    await queue.resume_queue()
    gate.open_all()
    await queue.wait_for(waiter)
    assert (await queue.get_task(waiter)).status is TaskStatus.COMPLETED


def test_start_checks_are_plain_data() -> None:
    checks = StartChecks(3, "awaiting approval", 1.0, 2.0, HeldBy.APPROVAL, seq=7)
    assert checks.to_dict() == {
        "attempts": 3,
        "last_reason": "awaiting approval",
        "first_failed_at": 1.0,
        "last_checked_at": 2.0,
        "held_by": "approval",
    }
