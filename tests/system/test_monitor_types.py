"""SYSTEM_MONITOR's documented `monitor_type`s through a real queue: each samples its own
section for real over a duration; gpu answers from NVIDIA's driver through nvidia-ml-py, or
says clearly that there is no GPU."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

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


def test_a_gpu_that_does_not_support_a_reading_is_reported_per_device_with_a_stand_in_nvml(
    tmp_path: Path,
) -> None:
    """The NVML calls a MIG/vGPU slice refuses, and a lost GPU, are per-device errors in the
    reading (the monitor's task then completes); only the driver's C library is a stand-in
    (data/nvml_stand_in.c, NVML's documented API), loaded the way pynvml loads the real one."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the stand-in libnvidia-ml.so.1")
    lib = tmp_path / "libnvidia-ml.so.1"
    source = Path(__file__).parent / "data" / "nvml_stand_in.c"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(source)], check=True, timeout=60)
    code = (
        "import json; from qtqueue.families.system.monitor import gpu_reading, _gpu_line\n"
        "g = gpu_reading(); print(json.dumps([g, [_gpu_line(x) for x in g['gpus']]]))"
    )
    env = {**os.environ, "LD_LIBRARY_PATH": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    reading, lines = json.loads(out.stdout)
    assert reading["available"] is True
    first, sliced, lost = reading["gpus"]
    assert (first["utilization_percent"], first["temperature_c"]) == (37, 41)
    assert "errors" not in first
    assert sliced["memory_total"] == 80 << 30
    assert (sliced["utilization_percent"], sliced["temperature_c"]) == (None, None)
    assert sliced["errors"] == {"utilization": "Not Supported", "temperature": "Not Supported"}
    assert lost == {"index": 2, "error": "the driver does not answer for this GPU (GPU is lost)"}
    assert lines == ["gpu0 37%", "gpu1 (utilization: Not Supported)", f"gpu2 ({lost['error']})"]
