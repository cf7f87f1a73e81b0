"""Specification of resource admission: what a task may ask for, when it starts, and that two
tasks never count on the same free memory.

The accounting is tested against a fake machine (`FakeMachine`), deterministic; admission is
also tested against this machine's real free memory, with real memory-holding processes kept
well below a quarter of its memory.
"""

from __future__ import annotations

import sys
from typing import Any

import psutil
import pytest
from helpers.gate import Gate
from helpers.machine import FakeMachine
from helpers.processes import log_text
from helpers.queues import QueueFactory
from helpers.waiting import eventually

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Priority, Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.engine.resources import (
    GB,
    Needs,
    ResourceAccountant,
    SystemProbe,
    parse_needs,
)

C = TaskErrorCode
S = TaskStatus


def gated(label: Any = None, **fields: Any) -> Task:
    return Task("gated", {"label": label}, **fields)


async def on_machine(
    make_queue: QueueFactory, machine: FakeMachine | None = None, **kwargs: Any
) -> tuple[TaskQueue, Gate]:
    """A queue admitting by `machine` (None: this real one), with a "gated" handler."""
    queue = await make_queue(resource_probe=machine, **kwargs)
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    return queue, gate


async def reason(queue: TaskQueue, task_id: str) -> str:
    return (await queue.get_task(task_id)).wait_reason


# --- Declaring needs --------------------------------------------------------------------------


def test_needs_are_read_from_the_resources_dict() -> None:
    needs = parse_needs({"cpu_cores": 2, "memory_gb": 8, "disk_gb": 20, "disk_path": "/data"})
    assert needs == Needs(cpu_cores=2, memory_gb=8, disk_gb=20, disk_path="/data")
    assert parse_needs({}).empty


@pytest.mark.parametrize(
    ("resources", "problem"),
    [
        ({"ram": 4}, "unknown key(s) 'ram'"),
        ({"memory_gb": -1}, "resources.memory_gb: must be a number >= 0"),
        ({"cpu_cores": True}, "resources.cpu_cores"),
        ({"gpu_memory_gb": "6G"}, "resources.gpu_memory_gb"),
        ({"disk_gb": 1, "disk_path": ""}, "resources.disk_path"),
    ],
)
def test_bad_needs_are_refused_naming_the_key(resources: dict[str, Any], problem: str) -> None:
    with pytest.raises(QueueError) as err:
        parse_needs(resources)
    assert err.value.code is C.VALIDATION_INVALID_PARAMS
    assert problem in err.value.message


@pytest.mark.parametrize(
    ("needs", "code", "words"),
    [
        (Needs(cpu_cores=8), C.SYSTEM_CPU_LIMIT, "needs 8 CPU cores but this machine has 4"),
        (Needs(memory_gb=32), C.SYSTEM_MEMORY_LIMIT, "ask for at most 16.0 GB"),
        (Needs(disk_gb=600, disk_path="/data"), C.SYSTEM_DISK_SPACE, "holds 500.0 GB in all"),
        (Needs(gpu_memory_gb=6), C.SYSTEM_GPU_LIMIT, "no NVIDIA GPU was found"),
        (Needs(disk_gb=1, disk_path="/nowhere"), C.VALIDATION_INVALID_PARAMS, "/nowhere"),
    ],
)
def test_needs_this_machine_can_never_meet_are_refused_with_a_suggestion(
    needs: Needs, code: TaskErrorCode, words: str
) -> None:
    with pytest.raises(QueueError) as err:
        ResourceAccountant(FakeMachine()).check_possible(needs)
    assert err.value.code is code
    assert words in err.value.message
    if code is not C.VALIDATION_INVALID_PARAMS:
        assert err.value.details["suggestion"] in err.value.message


def test_a_gpu_need_bigger_than_the_biggest_gpu_is_refused() -> None:
    accountant = ResourceAccountant(FakeMachine(gpus=[(8.0, 8.0), (24.0, 20.0)]))
    accountant.check_possible(Needs(gpu_memory_gb=20))
    with pytest.raises(QueueError) as err:
        accountant.check_possible(Needs(gpu_memory_gb=32))
    assert err.value.code is C.SYSTEM_GPU_LIMIT
    assert "the biggest GPU here has 24.0 GB" in err.value.message


# --- Reserving ----------------------------------------------------------------------------------


def test_two_tasks_cannot_both_take_the_same_free_memory() -> None:
    machine = FakeMachine(memory_free=8.0)
    accountant = ResourceAccountant(machine)
    assert accountant.try_reserve("a", Needs(memory_gb=6)) is None
    why = accountant.try_reserve("b", Needs(memory_gb=6))
    assert why == "Insufficient Memory: 2.00 GB available, task requires 6.00 GB"
    assert accountant.reserved()["memory_gb"] == 6
    assert accountant.release("a") and not accountant.release("a")
    assert accountant.try_reserve("b", Needs(memory_gb=6)) is None


def test_cpu_cores_are_counted_by_reservation_and_every_shortfall_is_named() -> None:
    accountant = ResourceAccountant(FakeMachine(cores=4, memory_free=4.0))
    assert accountant.try_reserve("a", Needs(cpu_cores=3)) is None
    why = accountant.try_reserve("b", Needs(cpu_cores=2, memory_gb=5))
    assert why == (
        "Insufficient CPU: 1.00 available, task requires 2.00; "
        "Insufficient Memory: 4.00 GB available, task requires 5.00 GB"
    )


def test_disk_reservations_count_per_filesystem() -> None:
    accountant = ResourceAccountant(FakeMachine())
    assert accountant.try_reserve("a", Needs(disk_gb=25, disk_path="/data")) is None
    assert accountant.try_reserve("b", Needs(disk_gb=25, disk_path="/")) is None  # other disk
    why = accountant.try_reserve("c", Needs(disk_gb=10, disk_path="/data"))
    assert why == "Insufficient Storage: 5.00 GB available on /data, task requires 10.00 GB"


def test_gpu_memory_is_reserved_on_the_gpu_with_most_room() -> None:
    accountant = ResourceAccountant(FakeMachine(gpus=[(8.0, 7.0), (16.0, 10.0)]))
    assert accountant.try_reserve("a", Needs(gpu_memory_gb=6)) is None  # on GPU 1
    assert accountant.try_reserve("b", Needs(gpu_memory_gb=6)) is None  # GPU 0 has 7 free
    why = accountant.try_reserve("c", Needs(gpu_memory_gb=5))
    assert why == "Insufficient GPU: 4.00 GB available on the best GPU, task requires 5.00 GB"
    no_gpu = ResourceAccountant(FakeMachine())
    assert no_gpu.try_reserve("d", Needs(gpu_memory_gb=1)) == (
        "Insufficient GPU: no GPU is available"
    )


def test_the_real_probe_reads_this_machine() -> None:
    probe = SystemProbe()
    assert probe.cpu_cores() == psutil.cpu_count()
    total, free = probe.memory_gb()
    assert 0 < free <= total
    fs, disk_total, disk_free = probe.disk_gb("/")
    assert fs and 0 <= disk_free <= disk_total
    assert isinstance(probe.gpus_gb(), list)  # empty without NVML or a GPU, never an error


def test_the_real_probe_reads_nvidia_gpus_where_there_are_some() -> None:
    pynvml = pytest.importorskip("pynvml", reason="nvidia-ml-py is not installed")
    try:
        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
    except pynvml.NVMLError as exc:
        pytest.skip(f"no NVIDIA GPU here: NVML says {exc}")
    if not count:
        pytest.skip("no NVIDIA GPU here: NVML finds no device")
    gpus = SystemProbe().gpus_gb()
    assert len(gpus) == count
    assert all(0 <= free <= total for total, free in gpus)


# --- Admission in the queue (fake machine) -------------------------------------------------------


async def test_a_task_the_machine_could_never_run_is_refused_at_submission(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue(resource_probe=FakeMachine())
    queue.register_handler("gated", Gate().handler)
    with pytest.raises(QueueError) as err:
        await queue.add_task(gated(resources={"memory_gb": 64}))
    assert err.value.code is C.SYSTEM_MEMORY_LIMIT
    assert await queue.list_tasks() == []


async def test_a_task_waits_for_room_and_starts_when_a_holder_finishes(
    make_queue: QueueFactory,
) -> None:
    machine = FakeMachine(memory_free=8.0)
    queue, gate = await on_machine(make_queue, machine, max_concurrent=4)
    holder = await queue.add_task(gated("holder", resources={"memory_gb": 6}))
    await eventually(lambda: holder in gate.running)
    waiter = await queue.add_task(gated("waiter", resources={"memory_gb": 4}))
    assert await eventually(lambda: reason(queue, waiter)) == (
        "Insufficient Memory: 2.00 GB available, task requires 4.00 GB"
    )
    assert (await queue.get_task(waiter)).status is S.PENDING
    gate.open(holder)
    await eventually(lambda: waiter in gate.running, what="it starts once the holder ends")
    assert (await queue.get_task(waiter)).wait_reason == ""
    gate.open_all()


async def test_room_that_appears_outside_the_queue_is_noticed_by_the_recheck(
    make_queue: QueueFactory,
) -> None:
    machine = FakeMachine(memory_free=1.0)
    queue, gate = await on_machine(make_queue, machine)
    waiter = await queue.add_task(gated("waiter", resources={"memory_gb": 4}))
    await eventually(lambda: reason(queue, waiter))
    machine.memory_free = 12.0  # another program ended
    await eventually(lambda: waiter in gate.running, timeout_s=5, what="the re-check sees it")
    gate.open_all()


async def test_smaller_tasks_may_pass_a_waiting_one_until_it_has_waited_long_enough(
    make_queue: QueueFactory,
) -> None:
    machine = FakeMachine(memory_free=8.0)
    queue, gate = await on_machine(make_queue, machine, max_concurrent=8, resource_aging_starts=2)
    holder = await queue.add_task(gated("holder", resources={"memory_gb": 4}))
    await eventually(lambda: holder in gate.running)
    big = await queue.add_task(gated("big", resources={"memory_gb": 6}, priority=Priority.HIGH))
    await eventually(lambda: reason(queue, big))
    small = [
        await queue.add_task(gated(f"small-{n}", resources={"memory_gb": 2}, priority=Priority.LOW))
        for n in range(4)
    ]
    # Two fit and pass it; then it has been passed twice: the others are held back for it.
    await eventually(lambda: set(small[:2]) <= set(gate.running), what="two pass the big one")
    gate.open(small[0])

    async def held_back() -> str:
        why = await reason(queue, small[2])
        return why if "held back" in why else ""

    assert await eventually(held_back) == (
        f"waiting for resources: held back for {big[:8]}…, which has waited longer"
    )
    assert small[2] not in gate.started
    gate.open(holder)
    gate.open(small[1])
    await eventually(lambda: big in gate.running, what="the big one gets the room")
    gate.open_all()
    for task_id in small:
        await queue.wait_for(task_id, timeout_s=10)
    assert gate.started.index(big) < gate.started.index(small[2])


async def test_a_reservation_is_held_until_the_task_ends_however_it_ends(
    make_queue: QueueFactory,
) -> None:
    machine = FakeMachine(memory_free=8.0)
    queue, gate = await on_machine(make_queue, machine)
    holder = await queue.add_task(gated("holder", resources={"memory_gb": 5}))
    await eventually(lambda: holder in gate.running)
    assert queue.resources.reserved()["memory_gb"] == 5
    await queue.pause_task(holder)  # a suspended process still holds its memory
    assert queue.resources.reserved()["memory_gb"] == 5
    await queue.cancel_task(holder)
    assert queue.resources.holders == 0


# --- Admission against this machine's real memory -----------------------------------------------


def _available_gb() -> float:
    return psutil.virtual_memory().available / GB


async def test_real_memory_a_task_asking_for_more_than_is_free_is_refused_or_waits(
    make_queue: QueueFactory,
) -> None:
    queue, gate = await on_machine(make_queue)
    total = psutil.virtual_memory().total / GB
    with pytest.raises(QueueError) as err:
        await queue.add_task(gated(resources={"memory_gb": round(total * 2)}))
    assert err.value.code is C.SYSTEM_MEMORY_LIMIT

    # A reservation holder takes 3 GB of the real free memory on paper; a task that needs
    # all but 1.5 GB of what is free waits until the holder is cancelled.
    holder = await queue.add_task(gated("holder", resources={"memory_gb": 3}))
    await eventually(lambda: holder in gate.running)
    need = round(_available_gb() - 1.5, 1)
    assert need < total
    waiter = await queue.add_task(gated("waiter", resources={"memory_gb": need}))
    why = await eventually(lambda: reason(queue, waiter))
    assert why.startswith("Insufficient Memory: ")
    assert why.endswith(f" GB available, task requires {need:.2f} GB")
    await queue.cancel_task(holder)
    await eventually(lambda: waiter in gate.running, what="the waiter starts")
    gate.open_all()


async def test_real_memory_ending_a_process_that_holds_memory_lets_a_waiting_task_start(
    make_queue: QueueFactory,
) -> None:
    hold_gb = 2  # about 9 % of the test machine's memory
    if psutil.virtual_memory().total / GB < 4 * hold_gb:
        pytest.skip(f"this machine has too little memory to hold {hold_gb} GB safely")
    queue, gate = await on_machine(make_queue)
    before = _available_gb()
    code = (
        "import time\n"
        f"block = b'x' * ({hold_gb} << 30)\n"  # written, so it is really resident
        "print('holding', flush=True)\n"
        "time.sleep(120)  # allowed: holds its memory until the test cancels the task\n"
    )
    holder = await queue.add_task(
        Task(TaskType.CUSTOM_COMMAND, {"command": sys.executable, "args": ["-c", code]})
    )
    try:
        await eventually(
            lambda: "holding" in log_text(queue.log_path(holder)),
            timeout_s=30,
            what="the holder has its memory",
        )
        need = round(before - hold_gb / 2, 1)
        waiter = await queue.add_task(gated("waiter", resources={"memory_gb": need}))
        why = await eventually(lambda: reason(queue, waiter))
        assert why.startswith("Insufficient Memory: ")
        assert why.endswith(f" GB available, task requires {need:.2f} GB")
        assert (await queue.get_task(waiter)).status is S.PENDING
    finally:
        await queue.cancel_task(holder)
    await eventually(
        lambda: waiter in gate.running, timeout_s=10, what="it starts once memory is free"
    )
    gate.open_all()
