"""Specification of automatic retries: the backoff schedule and what the queue does with it."""

from __future__ import annotations

import random
from typing import Any

import pytest

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.queue import TaskQueue
from qtqueue.engine.retry import MAX_BACKOFF_S, backoff_delay_s

from .helpers import eventually

C = TaskErrorCode
S = TaskStatus

# --- The schedule -----------------------------------------------------------------------------


@pytest.mark.parametrize("base", [0.05, 1.0, 7.5])
def test_exponential_backoff_stays_between_half_and_all_of_its_doubling_ceiling(
    base: float,
) -> None:
    rng = random.Random(42)
    for attempt in range(1, 30):
        ceiling = min(MAX_BACKOFF_S, base * 2 ** (attempt - 1))
        for _ in range(50):
            delay = backoff_delay_s(base, attempt, rng)
            assert ceiling / 2 <= delay <= ceiling


def test_backoff_is_capped_at_an_hour() -> None:
    rng = random.Random(1)
    assert MAX_BACKOFF_S == 3600.0
    assert all(backoff_delay_s(10.0, 40, rng) <= 3600.0 for _ in range(100))
    assert min(backoff_delay_s(10.0, 40, rng) for _ in range(100)) >= 1800.0


def test_jitter_spreads_delays_and_a_seed_repeats_them() -> None:
    first = [backoff_delay_s(1.0, 3, random.Random(7)) for _ in range(3)]
    assert len(set(first)) == 1  # the same seed gives the same delay
    spread = {backoff_delay_s(1.0, 3, random.Random(seed)) for seed in range(20)}
    assert len(spread) == 20


def test_a_list_gives_explicit_intervals_and_its_last_one_repeats() -> None:
    intervals = [0.5, 2.0, 10.0]
    assert [backoff_delay_s(intervals, n) for n in range(1, 6)] == [0.5, 2.0, 10.0, 10.0, 10.0]
    assert backoff_delay_s([], 3) == 0.0
    assert backoff_delay_s(0.0, 5) == 0.0


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError):
        backoff_delay_s(1.0, 0)


# --- Retries in the queue ---------------------------------------------------------------------


class FailsFirst:
    """A handler failing with `code` on its first `times` runs, succeeding afterwards."""

    def __init__(self, code: TaskErrorCode, times: int) -> None:
        self.code = code
        self.times = times
        self.runs = 0

    async def handler(self, task_id: str, params: dict[str, Any]) -> dict[str, int]:
        self.runs += 1
        if self.runs <= self.times:
            raise QueueError(self.code, f"attempt {self.runs} failed")
        return {"runs": self.runs}


async def test_a_retryable_failure_is_retried_until_it_succeeds(queue: TaskQueue) -> None:
    flaky = FailsFirst(C.NETWORK_CONNECTION_FAILED, times=2)
    queue.register_handler("flaky", flaky.handler)
    task_id = await queue.add_task(Task("flaky", max_retries=3, retry_backoff=[0.05]))
    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.COMPLETED
    assert done.retry_count == 2
    assert done.result == {"runs": 3}
    assert not done.dead_letter
    history = [(t.from_status, t.to_status) for t in await queue.store.transitions(task_id)]
    assert history == [
        (None, S.PENDING),
        (S.PENDING, S.RUNNING), (S.RUNNING, S.FAILED), (S.FAILED, S.PENDING),
        (S.PENDING, S.RUNNING), (S.RUNNING, S.FAILED), (S.FAILED, S.PENDING),
        (S.PENDING, S.RUNNING), (S.RUNNING, S.COMPLETED),
    ]  # fmt: skip


async def test_a_task_that_succeeds_on_an_automatic_retry_reports_no_error(
    queue: TaskQueue,
) -> None:
    flaky = FailsFirst(C.NETWORK_CONNECTION_FAILED, times=1)
    queue.register_handler("flaky", flaky.handler)
    task_id = await queue.add_task(Task("flaky", max_retries=1, retry_backoff=[0.01]))
    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.COMPLETED
    assert (done.error, done.error_code, done.error_details) == (None, None, {})
    assert (await queue.get_task_summary(task_id))["error"] is None


async def test_a_failure_that_a_retry_cannot_fix_is_not_retried(queue: TaskQueue) -> None:
    bad = FailsFirst(C.VALIDATION_INVALID_PARAMS, times=1)
    queue.register_handler("bad", bad.handler)
    task_id = await queue.add_task(Task("bad", max_retries=3, retry_backoff=[0.01]))
    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.FAILED
    assert done.error_code == "VALIDATION_INVALID_PARAMS"
    assert done.retry_count == 0
    assert bad.runs == 1


async def test_an_unclassified_exception_is_not_retried(queue: TaskQueue) -> None:
    runs: list[int] = []

    async def broken(task_id: str, params: dict[str, Any]) -> None:
        runs.append(1)
        raise RuntimeError("something odd")

    queue.register_handler("broken", broken)
    done = await queue.wait_for(
        await queue.add_task(Task("broken", max_retries=3, retry_backoff=[0.01])), 10
    )
    assert done.status is S.FAILED
    assert done.error_code == "UNKNOWN_ERROR"
    assert done.error == "RuntimeError: something odd"
    assert len(runs) == 1


async def test_without_retries_a_retryable_failure_just_fails(queue: TaskQueue) -> None:
    flaky = FailsFirst(C.NETWORK_TIMEOUT, times=1)
    queue.register_handler("flaky", flaky.handler)
    done = await queue.wait_for(await queue.add_task(Task("flaky")), timeout_s=10)
    assert done.status is S.FAILED
    assert done.retry_count == 0
    assert not done.dead_letter
    assert await queue.list_dead_letters() == []


async def test_exhausted_retries_end_in_the_dead_letters_which_can_be_requeued(
    queue: TaskQueue,
) -> None:
    flaky = FailsFirst(C.NETWORK_CONNECTION_FAILED, times=4)
    queue.register_handler("flaky", flaky.handler)
    other = await queue.add_task(Task("flaky", name="other"))  # fails once, no retries
    await queue.wait_for(other, timeout_s=10)
    task_id = await queue.add_task(Task("flaky", max_retries=2, retry_backoff=[0.01]))

    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.FAILED
    assert done.error_code == "NETWORK_CONNECTION_FAILED"
    assert done.retry_count == 2
    assert done.dead_letter
    assert flaky.runs == 4  # one for "other", three for this task
    assert [t.id for t in await queue.list_dead_letters()] == [task_id]
    summary = await queue.get_task_summary(task_id)
    assert summary["retry"]["dead_letter"] is True
    assert (await queue.get_queue_stats())["summary"]["dead_letters"] == 1

    assert await queue.requeue_dead_letters() == [task_id]
    again = await queue.wait_for(task_id, timeout_s=10)
    assert again.status is S.COMPLETED
    assert again.result == {"runs": 5}
    assert not again.dead_letter
    assert await queue.list_dead_letters() == []


async def test_a_retry_waits_for_its_backoff(queue: TaskQueue) -> None:
    flaky = FailsFirst(C.NETWORK_CONNECTION_FAILED, times=1)
    queue.register_handler("flaky", flaky.handler)
    task_id = await queue.add_task(Task("flaky", max_retries=1, retry_backoff=[30.0]))
    summary: dict[str, Any] = {}

    async def waiting() -> bool:
        nonlocal summary
        summary = await queue.get_task_summary(task_id)
        return summary["retry"]["count"] == 1

    await eventually(waiting, what="the first attempt failed and a retry is scheduled")
    assert summary["status"] == "pending"
    assert summary["retry"]["next_attempt_at"] >= summary["timing"]["created_at"] + 30
    assert "retry 1/1" in summary["wait_reason"]
    assert flaky.runs == 1
