"""SYSTEM_MONITOR: sample the machine (CPU, memory, disk, network, processes) with psutil, and
its NVIDIA GPUs through nvidia-ml-py (pynvml) when present (else a clear "no GPU" reading)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Literal

import psutil
from pydantic import Field

from qtqueue.core.task import TaskType
from qtqueue.executors.base import Executor, Params, RunContext

MonitorType = Literal["cpu", "memory", "disk", "network", "gpu", "processes", "general", "all"]

#: What each monitor type samples: one section, the overall picture ("general", the universal
#: queue document's: CPU with its load average, memory and disk), or every section.
SECTIONS: dict[str, frozenset[str]] = {
    "general": frozenset({"cpu", "memory", "disk"}),
    "all": frozenset({"cpu", "memory", "disk", "network", "processes"}),
}


class MonitorParams(Params):
    monitor_type: MonitorType = Field(
        "all", description="What to sample (general: CPU, load, memory and disk; all: all but gpu)"
    )
    duration_s: float = Field(0.0, ge=0, le=86400, description="How long to sample (0: once)")
    interval_s: float = Field(1.0, gt=0, le=3600, description="Seconds between samples")
    disk_path: str = Field(
        "/", description="Filesystem to report", json_schema_extra={"widget": "folder"}
    )
    top_processes: int = Field(5, ge=0, le=100, description="Processes to list, by memory")


def gpu_reading() -> dict[str, Any]:
    """Each NVIDIA GPU's utilisation, memory and temperature, or {"available": False, "reason"}
    where nvidia-ml-py is not installed or no driver/GPU answers. Every NVML call is guarded:
    a reading a device does not support (MIG, vGPU) is None with its reason under "errors", a
    device that does not answer at all is {"index", "error"}; never a failed task."""
    try:
        import pynvml
    except ImportError:
        return {"available": False, "reason": "no GPU: nvidia-ml-py is not installed"}
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return {"available": False, "reason": f"no GPU: the NVIDIA driver does not answer ({exc})"}
    try:
        try:
            count = pynvml.nvmlDeviceGetCount()
        except pynvml.NVMLError as exc:
            return {"available": False, "reason": f"no GPU: the driver cannot count them ({exc})"}
        gpus = [_gpu(pynvml, i) for i in range(count)]
        if not gpus:
            return {"available": False, "reason": "no GPU: the driver lists none"}
        return {"available": True, "gpus": gpus}
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()


def _gpu(pynvml: Any, index: int) -> dict[str, Any]:
    """One device's reading, each NVML call on its own (see `gpu_reading`)."""
    try:
        h = pynvml.nvmlDeviceGetHandleByIndex(index)
    except pynvml.NVMLError as exc:
        return {"index": index, "error": f"the driver does not answer for this GPU ({exc})"}
    errors: dict[str, str] = {}

    def read(what: str, call: Any, *args: Any) -> Any:
        try:
            return call(h, *args)
        except pynvml.NVMLError as exc:
            errors[what] = str(exc)
            return None

    name = read("name", pynvml.nvmlDeviceGetName)
    mem = read("memory", pynvml.nvmlDeviceGetMemoryInfo)
    util = read("utilization", pynvml.nvmlDeviceGetUtilizationRates)
    temp = read("temperature", pynvml.nvmlDeviceGetTemperature, pynvml.NVML_TEMPERATURE_GPU)
    out: dict[str, Any] = {
        "index": index,
        "name": (name.decode() if isinstance(name, bytes) else str(name)) if name else "",
        "utilization_percent": util.gpu if util is not None else None,
        "memory_total": mem.total if mem is not None else None,
        "memory_used": mem.used if mem is not None else None,
        "temperature_c": temp,
    }
    if errors:
        out["errors"] = errors
    return out


def _gpu_line(gpu: dict[str, Any]) -> str:
    """`gpu0 37%`, `gpu1 (utilization: Not Supported)`, `gpu2 (the driver does not ...)`."""
    if "error" in gpu:
        return f"gpu{gpu['index']} ({gpu['error']})"
    if gpu["utilization_percent"] is None:
        why = gpu.get("errors", {}).get("utilization", "no reading")
        return f"gpu{gpu['index']} (utilization: {why})"
    return f"gpu{gpu['index']} {gpu['utilization_percent']}%"


def _sample(p: MonitorParams) -> dict[str, Any]:
    """One reading of what `monitor_type` asks for. Blocking: call it in a thread."""
    out: dict[str, Any] = {"at": time.time()}
    sections = SECTIONS.get(p.monitor_type, frozenset({p.monitor_type}))
    if "cpu" in sections:
        out["cpu"] = {
            "percent": psutil.cpu_percent(interval=0.1),
            "cores": psutil.cpu_count(),
            "load_average": list(psutil.getloadavg()),
        }
    if "memory" in sections:
        vm = psutil.virtual_memory()
        out["memory"] = {"total": vm.total, "available": vm.available, "percent": vm.percent}
    if "disk" in sections:
        du = psutil.disk_usage(p.disk_path)
        out["disk"] = {
            "path": p.disk_path,
            "total": du.total,
            "free": du.free,
            "percent": du.percent,
        }
    if "network" in sections:
        io = psutil.net_io_counters()
        out["network"] = {"bytes_sent": io.bytes_sent, "bytes_recv": io.bytes_recv}
    if "gpu" in sections:
        out["gpu"] = gpu_reading()
    if "processes" in sections:
        procs = []
        for proc in psutil.process_iter(["pid", "name", "memory_info"]):
            info = proc.info
            if info.get("memory_info") is not None:
                procs.append((info["memory_info"].rss, info["pid"], info["name"]))
        procs.sort(reverse=True)
        out["processes"] = {
            "count": len(procs),
            "top_by_memory": [
                {"pid": pid, "name": name, "rss": rss}
                for rss, pid, name in procs[: p.top_processes]
            ],
        }
    return out


def _line(sample: dict[str, Any]) -> str:
    parts = []
    if "cpu" in sample:
        parts.append(f"cpu {sample['cpu']['percent']:.0f}%")
    if "memory" in sample:
        parts.append(f"memory {sample['memory']['percent']:.0f}%")
    if "disk" in sample:
        parts.append(f"disk {sample['disk']['path']} {sample['disk']['percent']:.0f}%")
    if "network" in sample:
        n = sample["network"]
        parts.append(f"net sent {n['bytes_sent']} recv {n['bytes_recv']}")
    if "gpu" in sample:
        g = sample["gpu"]
        if g["available"]:
            parts.extend(_gpu_line(x) for x in g["gpus"])
        else:
            parts.append(g["reason"])
    if "processes" in sample:
        parts.append(f"{sample['processes']['count']} processes")
    return ", ".join(parts)


class SystemMonitorExecutor(Executor[MonitorParams]):
    """Samples the machine once, or every `interval_s` for `duration_s`; returns the samples."""

    task_type = TaskType.SYSTEM_MONITOR
    params_model = MonitorParams
    summary = "Sample CPU, memory, disk, network, GPU and processes"

    async def run(self, ctx: RunContext[MonitorParams]) -> dict[str, Any] | None:
        p = ctx.params
        loop = asyncio.get_running_loop()
        start = loop.time()
        samples: list[dict[str, Any]] = []
        while True:
            await ctx.checkpoint()
            sample = await asyncio.to_thread(_sample, p)
            samples.append(sample)
            ctx.log(_line(sample))
            elapsed = loop.time() - start
            if p.duration_s <= 0 or elapsed >= p.duration_s:
                break
            ctx.progress(min(99.0, 100.0 * elapsed / p.duration_s), f"sample {len(samples)}")
            await asyncio.sleep(min(p.interval_s, max(0.0, p.duration_s - elapsed)))
        return {"monitor_type": p.monitor_type, "samples": samples, "latest": samples[-1]}
