"""Resource-aware placement across machines, for real: a redis-server and `qtqueue worker`
processes standing for machines of different sizes (`--cpu-cores`, `--memory-gb`) and labels;
tasks with needs or a target wait with the resource document's reasons and are placed (by the
placer inside the workers, under its lock) as soon as a worker can take them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from cluster_env import RedisServer
from cluster_placement_env import (
    blocking_task,
    kill,
    machine,
    reason_of,
    record,
    recording_task,
    waiting_rows,
)
from helpers.cli import qtqueue_command, refused
from helpers.waiting import wait_until
from rq.job import Job

from qtqueue.cluster.jobs import SERIALIZER, enqueue
from qtqueue.cluster.placement import LOCK_KEY, WAITING_KEY
from qtqueue.cluster.placer import SAFETY_PASS_S, place
from qtqueue.cluster.reads import ClusterReader
from qtqueue.core.errors import QueueError
from qtqueue.core.task import Priority, Task, TaskStatus
from qtqueue.executors import default_registry

REGISTRY = default_registry(entry_points=False)
#: How long a placement may take in these tests (kicks make it well under a second; a lock
#: taken over waits for the dead holder's lock to expire: placer.LOCK_TTL_S).
PLACED_S = 30
COMPLETED = TaskStatus.COMPLETED


def test_a_task_needing_8_cpus_waits_with_the_reason_and_starts_when_a_bigger_worker_joins(
    redis: RedisServer, tmp_path: Path
) -> None:
    task = recording_task(tmp_path, "big", {"cpu_cores": 8})
    gpu = recording_task(tmp_path, "gpu", {"gpu_memory_gb": 100_000})  # no GPU has 100 TB
    with machine(redis, tmp_path, "small", "--cpu-cores", "4"):
        enqueue(redis.client, task, REGISTRY)
        enqueue(redis.client, gpu, REGISTRY)
        wait_until(
            lambda: (
                "Insufficient CPU: worker has 4.00 available, task requires 8.00"
                in reason_of(redis, task.id)
            ),
            what="the reason",
        )
        row = waiting_rows(redis, tmp_path)[task.id]
        assert row["needs"] == {"cpu_cores": 8.0}
        assert row["target"] == "any worker"
        assert row["attempts"] >= 1
        assert record(tmp_path, "big") is None
        assert reason_of(redis, gpu.id).startswith("Insufficient GPU: worker has ")

        with machine(redis, tmp_path, "large", "--cpu-cores", "8"):
            ran = wait_until(lambda: record(tmp_path, "big"), timeout_s=PLACED_S, what="run")
            assert ran.worker == "large"
            wait_until(lambda: ClusterReader(redis.client).task(task.id).status == COMPLETED)
            assert task.id not in waiting_rows(redis, tmp_path)
            listed = qtqueue_command(tmp_path)("--redis", redis.url, "ls", "--json")
            rows = {t["id"]: (t["status"], t["queue"]) for t in json.loads(listed.stdout)}
            assert rows == {task.id: ("completed", "default"), gpu.id: ("pending", "default")}


def test_a_task_for_an_offline_worker_waits_until_that_worker_starts(
    redis: RedisServer, tmp_path: Path
) -> None:
    task = recording_task(tmp_path, "pinned", {"worker": "worker-x"})
    dropped = recording_task(tmp_path, "dropped", {"worker": "worker-x"})
    with machine(redis, tmp_path, "other"):
        enqueue(redis.client, task, REGISTRY)
        enqueue(redis.client, dropped, REGISTRY)
        wait_until(lambda: reason_of(redis, task.id) == "worker-x offline")
        assert waiting_rows(redis, tmp_path)[task.id]["target"] == "worker-x"
        assert record(tmp_path, "pinned") is None
        run = qtqueue_command(tmp_path)
        shown = run("--redis", redis.url, "show", task.id)
        assert "worker-x offline" in shown.stdout, shown.stdout
        cancelled = run("--redis", redis.url, "cancel", dropped.id)
        assert cancelled.returncode == 0, cancelled.stderr
        assert dropped.id not in waiting_rows(redis, tmp_path)
        with machine(redis, tmp_path, "worker-x"):
            ran = wait_until(lambda: record(tmp_path, "pinned"), timeout_s=PLACED_S)
            assert ran.worker == "worker-x"
            assert dropped.id not in waiting_rows(redis, tmp_path)
        assert record(tmp_path, "dropped") is None


def test_a_label_goes_to_a_labelled_worker_only_waiting_while_it_is_suspended_and_workers_shows_it(
    redis: RedisServer, tmp_path: Path
) -> None:
    run = qtqueue_command(tmp_path)
    tasks = [recording_task(tmp_path, f"g{i}", {"label": "gpu"}) for i in range(3)]
    with (
        machine(redis, tmp_path, "plain", "--cpu-cores", "16"),
        machine(redis, tmp_path, "gpubox", "--label", "gpu", "--label", "big", "--cpu-cores", "2"),
    ):
        suspended = run("--redis", redis.url, "workers", "suspend", "gpubox")
        assert suspended.returncode == 0, suspended.stderr
        for task in tasks:
            enqueue(redis.client, task, REGISTRY)
        wait_until(lambda: reason_of(redis, tasks[0].id) == "gpubox suspended", timeout_s=10)
        assert run("--redis", redis.url, "workers", "resume", "gpubox").returncode == 0
        added = run("--redis", redis.url, "add", "custom_command", "--label", "gpu",
                    "-p", f"command=basename $QTQUEUE_DATA_DIR > {tmp_path}/cli.ran",
                    "-p", "shell=true", "--json")  # fmt: skip
        assert added.returncode == 0, added.stderr
        for task in tasks:
            ran = wait_until(lambda t=task: record(tmp_path, t.name), timeout_s=PLACED_S)
            assert ran.worker == "gpubox"
        wait_until(lambda: (tmp_path / "cli.ran").exists(), timeout_s=PLACED_S)
        assert (tmp_path / "cli.ran").read_text().strip() == "gpubox"

        listed = run("--redis", redis.url, "workers", "--json")
        assert listed.returncode == 0, listed.stderr
        slots = {s["worker"]: s for s in json.loads(listed.stdout)["slots"]}
        assert slots["gpubox"]["labels"] == ["gpu", "big"]
        assert slots["plain"]["labels"] == []
        assert slots["plain"]["total_cpu_cores"] == 16
        assert slots["gpubox"]["free"]["memory_gb"] > 0
        assert sum(s["placer"] for s in slots.values()) == 1
        table = run("--redis", redis.url, "workers")
        assert "gpu,big" in table.stdout and "FREE CPU" in table.stdout, table.stdout


def test_two_3_cpu_tasks_never_run_at_once_and_never_on_a_2_cpu_worker(
    redis: RedisServer, tmp_path: Path
) -> None:
    first = recording_task(tmp_path, "a", {"cpu_cores": 3}, run_s=1)
    second = recording_task(tmp_path, "b", {"cpu_cores": 3}, run_s=1)
    with (
        machine(redis, tmp_path, "four", "--cpu-cores", "4"),
        machine(redis, tmp_path, "two", "--cpu-cores", "2"),
    ):
        enqueue(redis.client, first, REGISTRY)
        enqueue(redis.client, second, REGISTRY)
        a = wait_until(lambda: record(tmp_path, "a"), timeout_s=PLACED_S)
        b = wait_until(lambda: record(tmp_path, "b"), timeout_s=PLACED_S)
    assert (a.worker, b.worker) == ("four", "four")
    first_run, then = sorted((a, b), key=lambda r: r.started)
    assert first_run.ended <= then.started, (a, b)
    # not even queued on "four" while the first ran: its 3 cores were counted as taken
    later = first if then is a else second
    queued_at = Job.fetch(later.id, connection=redis.client, serializer=SERIALIZER).enqueued_at
    assert queued_at is not None and queued_at.timestamp() >= first_run.ended, (queued_at, a, b)
    # placed on the first one's end (its worker kicks the placer), not at the next safety pass
    assert then.started - first_run.ended < SAFETY_PASS_S / 2, (a, b)


def test_held_tasks_are_placed_higher_priority_first_then_in_the_order_they_came(
    redis: RedisServer, tmp_path: Path
) -> None:
    """Four 2-CPU tasks wait for a worker (none is live); one 2-CPU worker joins and runs them
    one at a time: the high one first, the low one last, the two normal ones as they came."""
    order = [("low", Priority.LOW), ("normal-1", Priority.NORMAL), ("high", Priority.HIGH),
             ("normal-2", Priority.NORMAL)]  # fmt: skip
    for name, priority in order:
        task = recording_task(tmp_path, name, {"cpu_cores": 2})
        task.priority = priority
        enqueue(redis.client, task, REGISTRY)
        assert redis.client.zscore(WAITING_KEY, task.id) is not None  # held for the placer
    with machine(redis, tmp_path, "two", "--cpu-cores", "2"):
        records = {
            name: wait_until(lambda n=name: record(tmp_path, n), timeout_s=PLACED_S)
            for name, _ in order
        }
    ran = sorted(records, key=lambda n: records[n].started)
    assert ran == ["high", "normal-1", "normal-2", "low"], records


def test_a_worker_without_room_on_start_gives_a_stale_placement_back(
    redis: RedisServer, tmp_path: Path
) -> None:
    task = recording_task(tmp_path, "huge", {"cpu_cores": 6})
    with machine(redis, tmp_path, "tiny", "--cpu-cores", "2"):
        enqueue(redis.client, task, REGISTRY)
        wait_until(lambda: "Insufficient CPU" in reason_of(redis, task.id))
        job = Job.fetch(task.id, connection=redis.client, serializer=SERIALIZER)
        assert place(redis.client, job, "tiny", None)  # as a placer with a stale room would

        wait_until(
            lambda: (
                "tiny gave it back: no room when it was to start it" in reason_of(redis, task.id)
            ),
            what="the task given back",
        )
        assert redis.client.zscore(WAITING_KEY, task.id) is not None
        assert record(tmp_path, "huge") is None


def test_the_local_engine_refuses_a_target_and_a_cluster_a_blank_label(
    redis: RedisServer, tmp_path: Path
) -> None:
    run = qtqueue_command(tmp_path)
    local = run("add", "custom_command", "-p", "command=true", "--worker", "w1")
    assert "needs a cluster" in refused(local, "VALIDATION_INVALID_PARAMS")

    blank = Task("custom_command", {"command": "true"}, resources={"label": " gpu"})  # type: ignore[arg-type]
    with pytest.raises(QueueError, match=r"resources\.label") as caught:
        enqueue(redis.client, blank, REGISTRY)
    assert caught.value.code == "VALIDATION_INVALID_PARAMS"


def test_tasks_with_needs_and_a_dependency_or_a_start_time_are_placed_once_due(
    redis: RedisServer, tmp_path: Path
) -> None:
    first, first_started = blocking_task(tmp_path, "first", {})
    after = recording_task(tmp_path, "after", {"label": "big", "cpu_cores": 1})
    after.depends_on = [first.id]
    timed = recording_task(tmp_path, "timed", {"label": "big"})
    with machine(redis, tmp_path, "plainw"), machine(redis, tmp_path, "bigw", "--label", "big"):
        timed.run_at = time.time() + 3
        enqueue(redis.client, timed, REGISTRY)
        enqueue(redis.client, first, REGISTRY)
        enqueue(redis.client, after, REGISTRY)
        wait_until(first_started.exists, what="the first task")
        row = waiting_rows(redis, tmp_path)[after.id]
        assert (row["held_by"], row["target"]) == ("dependency", "label big")
        assert f"waits for {first.id}" in row["last_reason"]

        (tmp_path / "first.go").touch()
        ran = wait_until(lambda: record(tmp_path, "after"), timeout_s=PLACED_S)
        assert ran.worker == "bigw"
        on_time = wait_until(lambda: record(tmp_path, "timed"), timeout_s=PLACED_S)
        assert on_time.worker == "bigw"
        assert on_time.started >= timed.run_at - 1  # RQ schedules by whole seconds


def test_the_placers_holder_killed_with_a_task_in_its_queue_another_takes_over_and_places_it(
    redis: RedisServer, tmp_path: Path
) -> None:
    with (
        machine(redis, tmp_path, "p1", "--cpu-cores", "4") as p1,
        machine(redis, tmp_path, "p2", "--cpu-cores", "4") as p2,
    ):
        wait_until(lambda: redis.client.get(LOCK_KEY), what="a placer")
        holder = redis.client.get(LOCK_KEY).decode().split(":")[0]
        survivor = "p2" if holder == "p1" else "p1"
        # both busy; the survivor's task holds a core, so the holder has the most room
        busy_h, h_started = blocking_task(tmp_path, "busy-h", {"worker": holder})
        busy_s, s_started = blocking_task(tmp_path, "busy-s", {"worker": survivor, "cpu_cores": 1})
        enqueue(redis.client, busy_h, REGISTRY)
        enqueue(redis.client, busy_s, REGISTRY)
        wait_until(lambda: h_started.exists() and s_started.exists(), what="both busy")
        task = recording_task(tmp_path, "moved", {"cpu_cores": 1})
        enqueue(redis.client, task, REGISTRY)
        wait_until(lambda: reason_of(redis, task.id).startswith(f"placed on {holder};"))

        kill(p1 if holder == "p1" else p2)

        wait_until(
            lambda: reason_of(redis, task.id).startswith(f"placed on {survivor}"),
            timeout_s=PLACED_S,
            what="the task taken back from the dead placer's queue and placed again",
        )
        assert redis.client.get(LOCK_KEY).decode().split(":")[0] == survivor
        (tmp_path / "busy-s.go").touch()
        ran = wait_until(lambda: record(tmp_path, "moved"), timeout_s=PLACED_S)
        assert ran.worker == survivor
