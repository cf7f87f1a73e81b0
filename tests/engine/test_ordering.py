"""Specification of a person's queue order: waiting tasks moved to the top, up, down, to the
bottom or before another, and given another priority; the dispatcher then starts them in
that order, every window hears of it, and the order survives a restart."""

from __future__ import annotations

from typing import Any

import pytest
from helpers.gate import Gate
from helpers.queues import QueueFactory

from engine.ordering_env import blocked, gated
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.queue_moves import MovePlace
from qtqueue.core.task import Priority, TaskStatus
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import TaskQueue


async def start_order(queue: TaskQueue, gate: Gate, ids: list[str]) -> list[Any]:
    gate.open_all()
    for task_id in ids:
        assert (await queue.wait_for(task_id, timeout_s=10)).status is TaskStatus.COMPLETED
    return gate.labels[1:]


def order_labels(queue: TaskQueue) -> list[Any]:
    return [t.params["label"] for t in queue.ordering.waiting_order("default")]


@pytest.mark.parametrize(
    ("place", "label", "expected"),
    [
        (MovePlace.TOP, "c", ["c", "a", "b", "d"]),
        (MovePlace.UP, "c", ["a", "c", "b", "d"]),
        (MovePlace.DOWN, "a", ["b", "a", "c", "d"]),
        (MovePlace.BOTTOM, "a", ["b", "c", "d", "a"]),
    ],
)
async def test_a_moved_waiting_task_starts_in_its_new_place(
    one_slot: tuple[TaskQueue, Gate], place: MovePlace, label: str, expected: list[str]
) -> None:
    queue, gate = one_slot
    await blocked(queue, gate)
    ids = dict(zip("abcd", await queue.add_tasks([gated(x) for x in "abcd"]), strict=True))

    moved = await queue.move_task(ids[label], place)

    assert moved.id == ids[label] and moved.status is TaskStatus.PENDING
    assert order_labels(queue) == expected
    assert await start_order(queue, gate, list(ids.values())) == expected


async def test_a_task_moved_before_another_starts_just_before_it(
    one_slot: tuple[TaskQueue, Gate],
) -> None:
    queue, gate = one_slot
    await blocked(queue, gate)
    ids = dict(zip("abcde", await queue.add_tasks([gated(x) for x in "abcde"]), strict=True))

    await queue.move_task(ids["e"], "before", before=ids["b"])
    await queue.move_task(ids["a"], MovePlace.BEFORE, before=ids["d"])

    assert await start_order(queue, gate, list(ids.values())) == ["e", "b", "c", "a", "d"]


async def test_moving_past_other_priorities_takes_their_priority(
    one_slot: tuple[TaskQueue, Gate],
) -> None:
    queue, gate = one_slot
    await blocked(queue, gate)
    urgent, normal, low = await queue.add_tasks(
        [
            gated("urgent", priority=Priority.URGENT, queue="default"),
            gated("normal"),
            gated("low", priority=Priority.LOW, queue="default"),
        ]
    )

    to_top = await queue.move_task(low, MovePlace.TOP)
    to_bottom = await queue.move_task(urgent, MovePlace.BOTTOM)

    assert to_top.priority is Priority.URGENT
    assert to_bottom.priority is Priority.NORMAL
    assert await start_order(queue, gate, [urgent, normal, low]) == ["low", "normal", "urgent"]


async def test_a_new_priority_reorders_waiting_tasks(one_slot: tuple[TaskQueue, Gate]) -> None:
    queue, gate = one_slot
    await blocked(queue, gate)
    a, b, c = await queue.add_tasks([gated(x) for x in "abc"])

    raised = await queue.set_priority(c, "high")
    lowered = await queue.set_priority(a, Priority.LOW)

    assert (raised.priority, lowered.priority) == (Priority.HIGH, Priority.LOW)
    assert (await queue.get_task(c)).priority is Priority.HIGH
    assert (raised.queue, lowered.queue) == ("high_priority", "low_priority")
    assert await start_order(queue, gate, [a, b, c]) == ["c", "b", "a"]


async def test_a_new_priority_keeps_a_queue_the_task_named(
    one_slot: tuple[TaskQueue, Gate],
) -> None:
    queue, gate = one_slot
    await blocked(queue, gate)
    a, b = await queue.add_tasks([gated(x, queue="low_priority") for x in "ab"])

    raised = await queue.set_priority(b, Priority.URGENT)

    assert raised.queue == "low_priority"
    assert [t.id for t in queue.ordering.waiting_order("low_priority")] == [b, a]


async def test_moves_stay_within_a_named_queue(one_slot: tuple[TaskQueue, Gate]) -> None:
    queue, gate = one_slot
    await blocked(queue, gate)
    a, b = await queue.add_tasks(
        [gated("a", queue="low_priority"), gated("b", queue="low_priority")]
    )
    other = await queue.add_task(gated("other"))

    await queue.move_task(b, MovePlace.TOP)

    assert [t.id for t in queue.ordering.waiting_order("low_priority")] == [b, a]
    with pytest.raises(QueueError) as err:
        await queue.move_task(a, MovePlace.BEFORE, before=other)
    assert err.value.code is TaskErrorCode.QUEUE_TASK_NOT_WAITING
    assert "default" in str(err.value)


async def test_a_started_or_finished_task_cannot_be_moved_or_reprioritised(
    one_slot: tuple[TaskQueue, Gate],
) -> None:
    queue, gate = one_slot
    busy = await blocked(queue, gate)

    for request in (
        queue.move_task(busy, MovePlace.TOP),
        queue.set_priority(busy, Priority.HIGH),
    ):
        with pytest.raises(QueueError) as err:
            await request
        assert err.value.code is TaskErrorCode.QUEUE_TASK_NOT_WAITING
        assert err.value.suggestion
    gate.open_all()
    await queue.wait_for(busy, timeout_s=10)
    with pytest.raises(QueueError) as err:
        await queue.move_task(busy, MovePlace.UP)
    assert err.value.code is TaskErrorCode.QUEUE_TASK_NOT_WAITING
    assert "completed" in str(err.value)
    with pytest.raises(QueueError) as err:
        await queue.move_task("no-such-task", MovePlace.UP)
    assert err.value.code is TaskErrorCode.QUEUE_TASK_NOT_FOUND


async def test_a_bad_priority_or_a_missing_before_is_a_coded_error(
    one_slot: tuple[TaskQueue, Gate],
) -> None:
    queue, gate = one_slot
    await blocked(queue, gate)
    task_id = await queue.add_task(gated("a"))

    with pytest.raises(QueueError) as err:
        await queue.set_priority(task_id, "soonest")
    assert err.value.code is TaskErrorCode.VALIDATION_INVALID_FORMAT
    assert "urgent" in str(err.value)
    with pytest.raises(QueueError) as err:
        await queue.move_task(task_id, MovePlace.BEFORE)
    assert err.value.code is TaskErrorCode.VALIDATION_MISSING_REQUIRED


async def test_every_window_hears_of_a_move(one_slot: tuple[TaskQueue, Gate]) -> None:
    queue, gate = one_slot
    await blocked(queue, gate)
    _, b = await queue.add_tasks([gated("a"), gated("b")])
    heard: list[TaskEvent] = []
    queue.subscribe(heard.extend)

    await queue.move_task(b, MovePlace.TOP)

    changed = {e.task_id for e in heard if e.kind is EventKind.CHANGED}
    assert b in changed


async def test_the_order_survives_a_restart(make_queue: QueueFactory) -> None:
    first = await make_queue(dispatch=False)
    first.register_handler("gated", Gate().handler)
    ids = await first.add_tasks([gated(x) for x in "abc"])
    await first.move_task(ids[2], MovePlace.TOP)
    await first.move_task(ids[0], MovePlace.BOTTOM)
    await first.close()

    again = await make_queue(max_concurrent=1)
    gate = Gate()
    again.register_handler("gated", gate.handler)
    gate.open_all()
    for task_id in ids:
        assert (await again.wait_for(task_id, timeout_s=10)).status is TaskStatus.COMPLETED
    assert gate.labels == ["c", "b", "a"]


@pytest.mark.parametrize(
    ("place", "index", "touched"),
    [(MovePlace.UP, 2500, 2), (MovePlace.DOWN, 2500, 2), (MovePlace.TOP, 2500, 1),
     (MovePlace.BOTTOM, 2500, 1), (MovePlace.UP, 1, 2), (MovePlace.DOWN, 4998, 2)],
)  # fmt: skip
async def test_one_move_in_a_long_queue_changes_only_the_tasks_it_must(
    one_slot: tuple[TaskQueue, Gate], place: MovePlace, index: int, touched: int
) -> None:
    queue, gate = one_slot
    await blocked(queue, gate)
    ids = await queue.add_tasks([gated(i) for i in range(5000)])
    heard: list[TaskEvent] = []
    queue.subscribe(heard.extend)

    await queue.move_task(ids[index], place)
    await queue.settled()

    changed = {e.task_id for e in heard if e.kind is EventKind.CHANGED}
    assert len(changed) == touched and ids[index] in changed
    expected = list(range(5000))
    expected.remove(index)
    spot = {MovePlace.UP: index - 1, MovePlace.DOWN: index + 1, MovePlace.TOP: 0}
    expected.insert(spot.get(place, 4999), index)
    assert order_labels(queue) == expected


async def test_a_move_before_another_renumbers_only_the_tasks_between(
    one_slot: tuple[TaskQueue, Gate],
) -> None:
    queue, gate = one_slot
    await blocked(queue, gate)
    ids = await queue.add_tasks([gated(i) for i in range(1000)])
    heard: list[TaskEvent] = []
    queue.subscribe(heard.extend)

    await queue.move_task(ids[990], MovePlace.BEFORE, before=ids[980])
    await queue.settled()

    assert len({e.task_id for e in heard if e.kind is EventKind.CHANGED}) <= 21
    assert order_labels(queue)[978:983] == [978, 979, 990, 980, 981]


async def test_a_new_priority_into_a_full_queue_is_refused_as_adding_is(
    one_slot: tuple[TaskQueue, Gate],
) -> None:
    queue, gate = one_slot
    await blocked(queue, gate)
    await queue.set_queue("high_priority", max_length=1)
    await queue.add_task(gated("h", priority=Priority.HIGH))
    normal = await queue.add_task(gated("n"))

    with pytest.raises(QueueError) as err:
        await queue.set_priority(normal, Priority.HIGH)

    assert err.value.code is TaskErrorCode.QUEUE_FULL and "high_priority" in str(err.value)
    task = await queue.get_task(normal)
    assert (task.priority, task.queue) == (Priority.NORMAL, "default")


async def test_true_is_not_a_priority(one_slot: tuple[TaskQueue, Gate]) -> None:
    queue, gate = one_slot
    await blocked(queue, gate)
    task_id = await queue.add_task(gated("a"))

    with pytest.raises(QueueError) as err:
        await queue.set_priority(task_id, True)

    assert err.value.code is TaskErrorCode.VALIDATION_INVALID_FORMAT
    assert (await queue.get_task(task_id)).priority is Priority.NORMAL
