"""SYSTEM_MONITOR's documented `monitor_type`s through a real queue: each samples its own
section for real over a duration; gpu answers from NVIDIA's driver through nvidia-ml-py, or
says clearly that there is no GPU."""

from __future__ import annotations

import psutil
import pytest
from system_env import run

from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.system.monitor import gpu_reading

S = TaskStatus
T = TaskType


@pytest.mark.parametrize(
    ("monitor_type", "sections"),
    [
        ("general", {"cpu", "memory", "disk"}),
        ("cpu", {"cpu"}),
        ("memory", {"memory"}),
        ("disk", {"disk"}),
        ("network", {"network"}),
        ("gpu", {"gpu"}),
    ],
)
async def test_each_monitor_type_samples_its_sections(
    queue: TaskQueue, monitor_type: str, sections: set[str]
) -> None:
    done = await run(
        queue,
        T.SYSTEM_MONITOR,
        {"monitor_type": monitor_type, "duration_s": 0.2, "interval_s": 0.1},
    )
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    assert len(done.result["samples"]) >= 2
    assert set(done.result["latest"]) == {"at", *sections}
    if "cpu" in sections:
        assert done.result["latest"]["cpu"]["cores"] == psutil.cpu_count()


async def test_gpu_reports_the_devices_or_says_there_is_none(queue: TaskQueue) -> None:
    done = await run(queue, T.SYSTEM_MONITOR, {"monitor_type": "gpu"})
    assert done.status is S.COMPLETED, done.error
    assert done.result is not None
    gpu = done.result["latest"]["gpu"]
    log = await queue.read_log(done.id)
    if gpu["available"]:  # a machine with an NVIDIA GPU and its driver
        assert gpu["gpus"][0]["memory_total"] > 0 and gpu["gpus"][0]["name"]
        assert "gpu0 " in log
    else:
        assert gpu["reason"].startswith("no GPU")
        assert gpu["reason"] in log
    assert gpu_reading()["available"] is gpu["available"]
