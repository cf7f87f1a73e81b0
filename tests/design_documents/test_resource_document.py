"""The resource document (3-resource-aware-queue.md) and the RQ-style document's worker
statistics (4-rq-queue-design.md, "Monitoring Queue Status": `get_worker_stats`).

The resource document's examples are commands of a Go master (`master> task worker-1 …
-cpu_cores 8.0`, `master> queue`); qtqueue's are `qtqueue add … --needs-cpu 8` and
`qtqueue queue`. The engine is real; the machine's figures come from an injected probe, so
the document's numbers ("Insufficient CPU: 4.00 available, task requires 8.00") show as they
are written. The commands run on that engine through the same actions its API serves.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.gate import Gate
from helpers.machine import FakeMachine
from helpers.queues import QueueFactory
from helpers.virtual_time import VirtualTimer
from helpers.waiting import eventually

from qtqueue.api.actions import run_action
from qtqueue.api.local_backend import LocalBackend
from qtqueue.cli.commands import queue as queue_command
from qtqueue.cli.commands import status as status_command
from qtqueue.cli.commands import workers as workers_command
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.gates.resources import RESOURCE_RECHECK_MAX_S
from qtqueue.engine.queue import TaskQueue

DOCUMENTS_REASON = "Insufficient CPU: 4.00 available, task requires 8.00"


class EngineBackend(LocalBackend):
    """The actions on a running engine, as its API server runs them for a command."""

    remote = True


def image_task(image: str, cores: float, **fields: Any) -> Task:
    """The document's `task worker-1 IMAGE -cpu_cores N`, as a task that runs until let go."""
    return Task("gated", {"label": image}, name=image, resources={"cpu_cores": cores}, **fields)


async def worker_1(make_queue: QueueFactory) -> tuple[TaskQueue, Gate, VirtualTimer]:
    """A dispatching engine on a machine of 8 cores (the document's worker-1), on a clock the
    test moves."""
    timer = VirtualTimer()
    queue = await make_queue(
        resource_probe=FakeMachine(cores=8), timer=timer, clock=timer.time, max_concurrent=4
    )
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    return queue, gate, timer


async def running(queue: TaskQueue, gate: Gate, cores: float = 4.0) -> str:
    """A task holding `cores` of worker-1's cores, running; its id."""
    task_id = await queue.add_task(image_task("alpine:latest", cores))
    await eventually(lambda: task_id in gate.running)
    return task_id


async def looked_again(queue: TaskQueue, timer: VirtualTimer, times: int) -> None:
    """Let the engine look again `times` times at the tasks waiting for resources."""
    for _ in range(times):
        timer.advance(RESOURCE_RECHECK_MAX_S)
        await queue.settled()


async def command_output(
    command: Any, queue: TaskQueue, capsys: pytest.CaptureFixture[str], json_: bool = False
) -> str:
    """What `qtqueue COMMAND [--json]` prints for the engine `queue`."""
    capsys.readouterr()
    assert await command.run(EngineBackend(queue), argparse.Namespace(json=json_)) == 0
    return capsys.readouterr().out


async def test_resource_doc_key_features_automatic_queuing(make_queue: QueueFactory) -> None:
    queue, gate, _ = await worker_1(make_queue)
    await running(queue, gate)

    # master> task worker-1 docker.io/user/task:latest -cpu_cores 8.0
    task_id = await queue.add_task(image_task("docker.io/user/task:latest", 8.0))
    await queue.settled()

    # ✓ Task queued: Insufficient CPU: worker has 4.00 available, task requires 8.00.
    #   Will be assigned when resources become available.
    task = await queue.get_task(task_id)
    assert task.status is TaskStatus.PENDING
    assert task.wait_reason == DOCUMENTS_REASON
    checks = queue.overview.start_checks(task_id)
    assert checks is not None and checks.last_reason == DOCUMENTS_REASON
    gate.open_all()
    await queue.join()


async def test_resource_doc_key_features_queue_visibility(
    make_queue: QueueFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    queue, gate, timer = await worker_1(make_queue)
    await running(queue, gate)
    big = await queue.add_task(image_task("docker.io/user/task:latest", 8.0))
    other = await queue.add_task(image_task("docker.io/user/other:latest", 6.0))
    await queue.settled()
    await looked_again(queue, timer, 26)

    # master> queue
    text = await command_output(queue_command, queue, capsys)
    lines = text.splitlines()
    assert lines[1] == "  QUEUED TASKS (2 pending)"
    assert lines[0] == lines[2] == "═" * 60
    assert f"[1] Task ID: {big}" in lines
    assert f"[2] Task ID: {other}" in lines
    assert "    Time in Queue:  13.0s" in lines
    assert "    Attempts:       27" in lines
    assert f"    Last Reason:    {DOCUMENTS_REASON}" in lines
    assert "    Needs:          8 CPU cores" in lines

    rows = json.loads(await command_output(queue_command, queue, capsys, json_=True))
    assert [r["id"] for r in rows] == [big, other]
    assert rows[0]["attempts"] == 27
    assert rows[0]["last_reason"] == DOCUMENTS_REASON
    gate.open_all()
    await queue.join()


async def test_resource_doc_key_features_automatic_assignment(
    make_queue: QueueFactory, caplog: pytest.LogCaptureFixture
) -> None:
    queue, gate, timer = await worker_1(make_queue)
    first = await running(queue, gate)
    waiting = await queue.add_task(image_task("docker.io/user/task:latest", 8.0))
    await queue.settled()
    await looked_again(queue, timer, 14)

    # ✓ Queue: Task task-1731609234 successfully assigned to worker-1 after 15 attempts
    caplog.set_level(logging.INFO, logger="qtqueue.engine.state")
    gate.open(first)
    await eventually(lambda: waiting in gate.running, what="it is assigned once room is free")
    assert f"task {waiting} starts after 15 failed start checks" in caplog.text
    assert queue.overview.start_checks(waiting) is None
    assert queue.overview.waiting() == []
    gate.open_all()
    await queue.join()


async def test_resource_doc_testing_quick_test(
    make_queue: QueueFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    queue, gate, _ = await worker_1(make_queue)
    # 2. Submit tasks to overload worker
    overload = await running(queue, gate, 8.0)
    # 3. Submit another (will queue)
    another = await queue.add_task(image_task("alpine:latest", 2.0))
    await queue.settled()
    # 4. View queue
    assert "  QUEUED TASKS (1 pending)" in await command_output(queue_command, queue, capsys)
    # 5. Wait for automatic assignment
    gate.open(overload)
    await eventually(lambda: another in gate.running, what="automatic assignment")
    gate.open_all()
    await queue.wait_for(another)
    assert "No queued tasks" in await command_output(queue_command, queue, capsys)


async def test_resource_doc_support_commands(
    make_queue: QueueFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # `queue` - View queued tasks; `workers` - Check worker resources; `status` - Cluster
    # overview; `help` - Show all commands
    shown = subprocess.run(
        [sys.executable, "-m", "qtqueue", "--data-dir", str(tmp_path / "h"), "--help"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    for command in ("queue", "workers", "status"):
        assert f"\n    {command} " in shown.stdout

    queue, gate, _ = await worker_1(make_queue)
    await running(queue, gate)
    waiting = await queue.add_task(image_task("docker.io/user/task:latest", 8.0))
    await queue.settled()

    workers = await command_output(workers_command, queue, capsys)
    assert workers.endswith("4 workers: 3 idle, 1 busy, 0 suspended\n")
    status = json.loads(await command_output(status_command, queue, capsys, json_=True))
    assert (status["running"], status["waiting"]) == (1, 1)
    assert status["free"]["cpu_cores"] == 4.0
    text = await command_output(status_command, queue, capsys)
    assert "waiting   1 could not start" in text
    assert "free      CPU 4.0 cores" in text
    gate.open_all()
    await queue.wait_for(waiting)


async def test_rq_queue_design_doc_monitoring_queue_status_get_worker_stats(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue(max_concurrent=3)
    gate = Gate()
    queue.register_handler("gated", gate.handler)
    busy = await queue.add_task(Task("gated", {}))
    paused = await queue.add_task(Task("gated", {}))
    await eventually(lambda: busy in gate.running and paused in gate.running)
    await queue.pause_task(paused)

    reply = await run_action(queue, {"action": "workers"})
    assert reply["ok"] is True
    stats = reply["result"]
    # return {"total": len(workers), "idle": …, "busy": …, "suspended": …}
    assert {key: stats[key] for key in ("total", "idle", "busy", "suspended")} == {
        "total": 3,
        "idle": 1,
        "busy": 1,
        "suspended": 1,
    }
    await queue.resume_task(paused)
    gate.open_all()
    await queue.join()
