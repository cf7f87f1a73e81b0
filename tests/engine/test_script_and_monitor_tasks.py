"""CUSTOM_SCRIPT and SYSTEM_MONITOR tasks, run for real through the queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil
import pytest

from qtqueue.core.errors import QueueError
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue

S = TaskStatus


async def run(queue: TaskQueue, task_type: TaskType, params: dict[str, Any], **fields: Any) -> Task:
    task = Task(task_type, params, **fields)
    return await queue.wait_for(await queue.add_task(task), timeout_s=20)


# --- Scripts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("greet.py", "import sys\nprint('python got', sys.argv[1:])\n"),
        ("greet.sh", 'for a in "$@"; do echo "sh got [$a]"; done\n'),
    ],
)
async def test_a_script_runs_by_its_extension_with_its_arguments(
    queue: TaskQueue, tmp_path: Path, name: str, body: str
) -> None:
    script = tmp_path / name
    script.write_text(body)  # not executable: the extension picks the interpreter
    done = await run(
        queue, TaskType.CUSTOM_SCRIPT, {"script_path": str(script), "script_args": ["a b", "c"]}
    )
    assert done.status is S.COMPLETED, done.error
    log = await queue.read_log(done.id)
    if name.endswith(".py"):
        assert log == "python got ['a b', 'c']\n"
    else:
        assert log == "sh got [a b]\nsh got [c]\n"


async def test_a_script_runs_by_its_shebang_and_relative_to_cwd(
    queue: TaskQueue, tmp_path: Path
) -> None:
    (tmp_path / "tool").write_text('#!/bin/sh\necho "from $(pwd)"\nexit 0\n')
    done = await run(queue, TaskType.CUSTOM_SCRIPT, {"script_path": "tool", "cwd": str(tmp_path)})
    assert done.status is S.COMPLETED, done.error
    assert await queue.read_log(done.id) == f"from {tmp_path}\n"


async def test_a_failing_script_reports_its_exit(queue: TaskQueue, tmp_path: Path) -> None:
    script = tmp_path / "fail.sh"
    script.write_text("echo giving up\nexit 2\n")
    done = await run(queue, TaskType.CUSTOM_SCRIPT, {"script_path": str(script)}, max_retries=0)
    assert done.status is S.FAILED
    assert done.error_code == "SYSTEM_COMMAND_FAILED"
    assert done.error_details["exit_code"] == 2


async def test_a_missing_script_is_a_missing_file(queue: TaskQueue, tmp_path: Path) -> None:
    missing = tmp_path / "nope.py"
    done = await run(queue, TaskType.CUSTOM_SCRIPT, {"script_path": str(missing)}, max_retries=0)
    assert done.status is S.FAILED
    assert done.error_code == "DATA_FILE_NOT_FOUND"
    assert str(missing) in (done.error or "")
    assert done.error_details == {"path": str(missing)}


# --- System monitor ---------------------------------------------------------------------------


async def test_a_memory_sample_reports_the_machines_real_totals(queue: TaskQueue) -> None:
    done = await run(queue, TaskType.SYSTEM_MONITOR, {"monitor_type": "memory"})
    assert done.status is S.COMPLETED
    assert done.result is not None
    latest = done.result["latest"]
    assert set(latest) == {"at", "memory"}
    assert latest["memory"]["total"] == psutil.virtual_memory().total
    assert 0 < latest["memory"]["available"] <= latest["memory"]["total"]
    assert 0 <= latest["memory"]["percent"] <= 100
    assert "memory" in await queue.read_log(done.id)


async def test_a_full_sample_covers_cpu_memory_disk_network_and_processes(
    queue: TaskQueue, tmp_path: Path
) -> None:
    done = await run(
        queue,
        TaskType.SYSTEM_MONITOR,
        {"monitor_type": "all", "disk_path": str(tmp_path), "top_processes": 3},
    )
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    latest = done.result["latest"]
    assert set(latest) == {"at", "cpu", "memory", "disk", "network", "processes"}
    assert latest["cpu"]["cores"] == psutil.cpu_count()
    assert latest["disk"]["total"] == psutil.disk_usage(str(tmp_path)).total
    assert latest["processes"]["count"] > 0
    assert len(latest["processes"]["top_by_memory"]) == 3


async def test_sampling_over_a_duration_reports_progress_and_several_samples(
    queue: TaskQueue,
) -> None:
    done = await run(
        queue,
        TaskType.SYSTEM_MONITOR,
        {"monitor_type": "memory", "duration_s": 0.3, "interval_s": 0.1},
    )
    assert done.status is S.COMPLETED
    assert done.result is not None
    samples = done.result["samples"]
    assert len(samples) >= 2
    assert [s["at"] for s in samples] == sorted(s["at"] for s in samples)
    assert done.current_step.startswith("sample ")


@pytest.mark.parametrize(
    "params",
    [{"monitor_type": "fan"}, {"interval_s": 0}, {"duration_s": -1}, {"top_processes": 101}],
)
async def test_bad_monitor_params_are_refused(queue: TaskQueue, params: dict[str, Any]) -> None:
    with pytest.raises(QueueError) as raised:
        await queue.add_task(Task(TaskType.SYSTEM_MONITOR, params))
    assert raised.value.code.value.startswith("VALIDATION_")
