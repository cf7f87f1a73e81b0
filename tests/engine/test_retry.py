"""Specification of automatic retries: the backoff schedule and what the queue does with it."""

from __future__ import annotations

import random
import shlex
from pathlib import Path
from typing import Any, ClassVar

import pytest
from helpers.queues import QueueFactory
from helpers.waiting import eventually

from qtqueue.api.views import task_summary
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.engine.retry import MAX_BACKOFF_S, backoff_delay_s
from qtqueue.executors.base import Executor, RunContext

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
    assert (await task_summary(queue, task_id))["error"] is None


async def test_a_failure_that_a_retry_cannot_fix_is_not_retried(queue: TaskQueue) -> None:
    bad = FailsFirst(C.VALIDATION_INVALID_PARAMS, times=1)
    queue.register_handler("bad", bad.handler)
    task_id = await queue.add_task(Task("bad", max_retries=3, retry_backoff=[0.01]))
    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.FAILED
    assert done.error_code == "VALIDATION_INVALID_PARAMS"
    assert done.retry_count == 0
    assert bad.runs == 1


class RentsOnce(Executor):
    """A type whose second attempt would repeat costly work: it fails, and counts its runs."""

    task_type: ClassVar[str] = "rents_once"
    retry_safe = False
    runs = 0

    async def run(self, ctx: RunContext) -> None:
        RentsOnce.runs += 1
        raise QueueError(C.NETWORK_TIMEOUT, "no answer came")


async def test_a_type_that_is_not_retry_safe_is_not_retried_by_itself_but_by_a_person(
    queue: TaskQueue,
) -> None:
    RentsOnce.runs = 0
    queue.register_executor(RentsOnce())
    task_id = await queue.add_task(Task("rents_once", max_retries=3, retry_backoff=[0.01]))
    done = await queue.wait_for(task_id, timeout_s=10)
    assert (done.status, done.error_code, done.retry_count) == (S.FAILED, "NETWORK_TIMEOUT", 0)
    assert RentsOnce.runs == 1
    await queue.retry_task(task_id)  # a person asks for it
    await eventually(lambda: RentsOnce.runs == 2, what="the retried attempt")


async def test_an_unclassified_exception_is_retried_like_any_failure(queue: TaskQueue) -> None:
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
    assert (len(runs), done.retry_count, done.dead_letter) == (4, 3, True)


async def test_without_retries_a_retryable_failure_just_fails(queue: TaskQueue) -> None:
    flaky = FailsFirst(C.NETWORK_TIMEOUT, times=1)
    queue.register_handler("flaky", flaky.handler)
    done = await queue.wait_for(await queue.add_task(Task("flaky", max_retries=0)), 10)
    assert done.status is S.FAILED
    assert done.retry_count == 0
    assert not done.dead_letter
    assert await queue.list_dead_letters() == []


async def test_exhausted_retries_end_in_the_dead_letters_which_can_be_requeued(
    queue: TaskQueue,
) -> None:
    flaky = FailsFirst(C.NETWORK_CONNECTION_FAILED, times=4)
    queue.register_handler("flaky", flaky.handler)
    other = await queue.add_task(Task("flaky", name="other", max_retries=0))  # fails once
    await queue.wait_for(other, timeout_s=10)
    task_id = await queue.add_task(Task("flaky", max_retries=2, retry_backoff=[0.01]))

    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.FAILED
    assert done.error_code == "NETWORK_CONNECTION_FAILED"
    assert done.retry_count == 2
    assert done.dead_letter
    assert flaky.runs == 4  # one for "other", three for this task
    assert [t.id for t in await queue.list_dead_letters()] == [task_id]
    summary = await task_summary(queue, task_id)
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
        summary = await task_summary(queue, task_id)
        return summary["retry"]["count"] == 1

    await eventually(waiting, what="the first attempt failed and a retry is scheduled")
    assert summary["status"] == "pending"
    assert summary["retry"]["next_attempt_at"] >= summary["timing"]["created_at"] + 30
    assert "retry 1/1" in summary["wait_reason"]
    assert flaky.runs == 1


# --- What a task's retries cover --------------------------------------------------------------


def failing_until(attempts: Path, succeeds_at: int, **fields: Any) -> Task:
    """A real command that records each attempt in `attempts` and exits 1 until attempt
    number `succeeds_at` (never, if 0)."""
    path = shlex.quote(str(attempts))
    script = f"echo x >> {path}; [ {succeeds_at} -gt 0 ] && [ $(wc -l < {path}) -ge {succeeds_at} ]"
    return Task(
        TaskType.CUSTOM_COMMAND,
        {"command": script, "shell": True},
        retry_backoff=[0.01],
        **fields,
    )


def attempts_made(attempts: Path) -> int:
    return len(attempts.read_text().splitlines())


async def run_failing(queue: TaskQueue, attempts: Path, succeeds_at: int, **fields: Any) -> Task:
    """Add `failing_until(...)` and return it once it is finished for good."""
    task_id = await queue.add_task(failing_until(attempts, succeeds_at, **fields))
    return await queue.wait_for(task_id, timeout_s=20)


async def test_a_command_that_exits_1_is_retried_when_the_task_asks(
    queue: TaskQueue, tmp_path: Path
) -> None:
    attempts = tmp_path / "attempts"
    done = await run_failing(queue, attempts, 3, max_retries=3)
    assert (done.status, done.retry_count, done.result) == (S.COMPLETED, 2, {"exit_code": 0})
    assert attempts_made(attempts) == 3


async def test_a_command_that_keeps_failing_uses_its_retries_and_is_a_dead_letter(
    queue: TaskQueue, tmp_path: Path
) -> None:
    attempts = tmp_path / "attempts"
    done = await run_failing(queue, attempts, 0, max_retries=2)
    assert (done.status, done.error_code) == (S.FAILED, "SYSTEM_COMMAND_FAILED")
    assert (done.retry_count, done.dead_letter, attempts_made(attempts)) == (2, True, 3)


async def test_retry_on_narrows_the_retries_to_the_codes_it_names(
    queue: TaskQueue, tmp_path: Path
) -> None:
    other_code, own_code = tmp_path / "other", tmp_path / "own"
    not_covered = await queue.add_task(
        failing_until(other_code, 2, max_retries=3, retry_on=["system_timeout"])
    )
    covered = await queue.add_task(
        failing_until(own_code, 2, max_retries=3, retry_on=["SYSTEM_COMMAND_FAILED"])
    )
    failed = await queue.wait_for(not_covered, timeout_s=20)
    assert (failed.status, failed.retry_count, attempts_made(other_code)) == (S.FAILED, 0, 1)
    assert failed.retry_on == ["SYSTEM_TIMEOUT"]  # stored as the catalog spells it
    assert (await queue.wait_for(covered, timeout_s=20)).status is S.COMPLETED
    assert attempts_made(own_code) == 2


async def test_no_retry_on_leaves_out_the_codes_it_names(queue: TaskQueue, tmp_path: Path) -> None:
    attempts = tmp_path / "attempts"
    done = await run_failing(
        queue, attempts, 2, max_retries=3, no_retry_on=["SYSTEM_COMMAND_FAILED"]
    )
    assert (done.status, done.retry_count, attempts_made(attempts)) == (S.FAILED, 0, 1)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"retry_on": ["NO_SUCH_CODE"]}, "retry_on: 'NO_SUCH_CODE' is not an error code"),
        ({"no_retry_on": "SYSTEM_TIMEOUT"}, "no_retry_on: must be a list of error codes"),
        ({"retry_on": [7]}, "retry_on: must be a list of error codes"),
        ({"retry_on": ["VALIDATION_INVALID_PARAMS"]}, "VALIDATION_INVALID_PARAMS is never retried"),
        (
            {"retry_on": ["SYSTEM_TIMEOUT"], "no_retry_on": ["system_timeout"]},
            "retry_on and no_retry_on both name SYSTEM_TIMEOUT",
        ),
    ],
)
async def test_retry_codes_are_checked_against_the_catalog_and_nothing_is_queued(
    queue: TaskQueue, fields: dict[str, Any], problem: str
) -> None:
    with pytest.raises(QueueError) as refused:
        await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": "true"}, **fields))
    assert refused.value.code is C.VALIDATION_INVALID_PARAMS
    assert any(problem in p for p in refused.value.details["fields"]), refused.value.details
    assert await queue.list_tasks() == []


async def test_retry_codes_are_stored_and_survive_a_restart(make_queue: QueueFactory) -> None:
    queue = await make_queue(dispatch=False)
    task_id = await queue.add_task(
        Task(
            TaskType.CUSTOM_COMMAND,
            {"command": "true"},
            max_retries=2,
            retry_on=["network_timeout", "SYSTEM_COMMAND_FAILED"],
            no_retry_on=["SYSTEM_PROCESS_KILLED"],
        )
    )
    await queue.close()
    again = await make_queue(dispatch=False)
    stored = await again.get_task(task_id)
    assert stored.retry_on == ["NETWORK_TIMEOUT", "SYSTEM_COMMAND_FAILED"]
    assert stored.no_retry_on == ["SYSTEM_PROCESS_KILLED"]
    retry = (await task_summary(again, task_id))["retry"]
    assert (retry["retry_on"], retry["no_retry_on"]) == (stored.retry_on, stored.no_retry_on)


@pytest.mark.parametrize(
    "code", [C.VALIDATION_INVALID_PARAMS, C.CREDENTIAL_NOT_FOUND, C.QUEUE_DEPENDENCY_FAILED]
)
async def test_a_failure_no_retry_can_fix_is_not_retried_even_when_asked(
    queue: TaskQueue, code: TaskErrorCode
) -> None:
    bad = FailsFirst(code, times=1)
    queue.register_handler("bad", bad.handler)
    done = await queue.wait_for(await queue.add_task(Task("bad", max_retries=3)), timeout_s=10)
    assert (done.status, done.error_code, done.retry_count, bad.runs) == (S.FAILED, code, 0, 1)


# --- Dead letters stay until cleared by hand --------------------------------------------------


async def test_cleanup_and_a_queue_failure_ttl_keep_dead_letters(
    make_queue: QueueFactory, tmp_path: Path
) -> None:
    queue = await make_queue(retention_s=None)
    await queue.set_queue("scratch", failure_ttl_s=0.2)
    dead = await queue.add_task(failing_until(tmp_path / "a", 0, max_retries=1, queue="scratch"))
    plain = await queue.add_task(failing_until(tmp_path / "b", 0, queue="scratch"))
    assert (await queue.wait_for(dead, timeout_s=20)).dead_letter
    await queue.wait_for(plain, timeout_s=20)

    async def plain_gone() -> bool:
        return plain not in {t.id for t in await queue.list_tasks()}

    await eventually(plain_gone, what="the queue's failure TTL deletes the plain failure")
    assert await queue.cleanup(older_than_s=0) == 0  # the routine cleanup keeps it too
    assert [t.id for t in await queue.list_dead_letters()] == [dead]
    assert queue.log_path(dead).exists()
    assert await queue.purge_dead_letters() == [dead]  # cleared by hand
    assert await queue.list_tasks() == []
