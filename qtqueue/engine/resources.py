"""What tasks need of the machine, what it has free, and who has reserved what.

A task declares `resources={"cpu_cores": 2, "memory_gb": 8, "disk_gb": 20, "disk_path": "/data",
"gpu_memory_gb": 6}`. `ResourceAccountant` decides whether it can start now: it asks a
`ResourceProbe` what the machine has (psutil; NVML for NVIDIA GPUs) and subtracts what running
tasks have reserved, so two tasks never both count on the same free memory. A reservation is
held from the moment the engine claims a task until the task finishes.

CPU cores are accounted by reservation only (the machine's logical cores minus the cores
running tasks reserved): an instantaneous load figure says little about the next minutes.
Memory, disk and GPU memory are measured (available memory, free disk space on the path's
filesystem, free memory of the best GPU) and reservations are subtracted from the measurement.

The probe is injectable, so the accounting is tested with a fake machine; `SystemProbe` is the
real one.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psutil

from qtqueue.core.errors import QueueError, TaskErrorCode

logger = logging.getLogger(__name__)

GB = 1024**3
RESOURCE_KEYS = ("cpu_cores", "memory_gb", "disk_gb", "disk_path", "gpu_memory_gb")
#: Where a task runs on a cluster (`cluster.placement`): refused here, with that reason.
CLUSTER_KEYS = ("worker", "label")


@dataclass(frozen=True, slots=True)
class Needs:
    """A task's declared requirements; zero means "does not matter"."""

    cpu_cores: float = 0.0
    memory_gb: float = 0.0
    disk_gb: float = 0.0
    disk_path: str = ""
    """The directory whose filesystem must have `disk_gb` free (default: the home directory)."""
    gpu_memory_gb: float = 0.0

    @property
    def empty(self) -> bool:
        return not (self.cpu_cores or self.memory_gb or self.disk_gb or self.gpu_memory_gb)


def parse_needs(resources: Mapping[str, Any]) -> Needs:
    """`Needs` from a task's `resources` dict; QueueError VALIDATION_INVALID_PARAMS naming every
    unknown key and bad value."""
    problems: list[str] = []
    if targets := [k for k in CLUSTER_KEYS if k in resources]:
        problems.append(
            f"resources.{targets[0]}: a target worker or label needs a cluster "
            "(qtqueue --redis URL add …); the local engine runs tasks here"
        )
    unknown = sorted(set(resources) - set(RESOURCE_KEYS) - set(CLUSTER_KEYS))
    if unknown:
        problems.append(
            f"resources: unknown key(s) {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(RESOURCE_KEYS)})"
        )
    amounts: dict[str, float] = {}
    for key in ("cpu_cores", "memory_gb", "disk_gb", "gpu_memory_gb"):
        value = resources.get(key)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            problems.append(f"resources.{key}: must be a number >= 0, got {value!r}")
        else:
            amounts[key] = float(value)
    path = resources.get("disk_path")
    if path is not None and (not isinstance(path, str) or not path.strip()):
        problems.append(f"resources.disk_path: must be a directory path, got {path!r}")
        path = None
    if problems:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS, "; ".join(problems), fields=problems
        )
    return Needs(disk_path=path or "", **amounts)


class ResourceProbe(Protocol):
    """What the machine has. Sizes are in GB (2**30 bytes)."""

    def cpu_cores(self) -> int:
        """Logical CPU cores."""

    def memory_gb(self) -> tuple[float, float]:
        """(total, available) memory."""

    def disk_gb(self, path: str) -> tuple[str, float, float]:
        """(filesystem id, total, free) of the filesystem holding `path`; raises OSError
        (FileNotFoundError) if the path does not exist."""

    def gpus_gb(self) -> list[tuple[float, float]]:
        """(total, free) memory of each GPU; empty when there is none (or no NVML)."""


class SystemProbe:
    """The real machine: psutil for CPU, memory and disks; NVML (nvidia-ml-py) for NVIDIA
    GPUs, initialised on first use. Without the NVML library or a driver, there are no GPUs."""

    def __init__(self) -> None:
        self._nvml: Any = None
        self._nvml_tried = False

    def cpu_cores(self) -> int:
        return psutil.cpu_count(logical=True) or 1

    def memory_gb(self) -> tuple[float, float]:
        vm = psutil.virtual_memory()
        return vm.total / GB, vm.available / GB

    def disk_gb(self, path: str) -> tuple[str, float, float]:
        usage = psutil.disk_usage(path)
        return str(os.stat(path).st_dev), usage.total / GB, usage.free / GB

    def gpus_gb(self) -> list[tuple[float, float]]:
        nvml = self._load_nvml()
        if nvml is None:
            return []
        try:
            out = []
            for i in range(nvml.nvmlDeviceGetCount()):
                info = nvml.nvmlDeviceGetMemoryInfo(nvml.nvmlDeviceGetHandleByIndex(i))
                out.append((info.total / GB, info.free / GB))
            return out
        except nvml.NVMLError as exc:
            logger.warning("NVML could not read the GPUs: %s", exc)
            return []

    def _load_nvml(self) -> Any:
        if not self._nvml_tried:
            self._nvml_tried = True
            try:
                import pynvml  # nvidia-ml-py: only needed where a task asks for a GPU

                pynvml.nvmlInit()
            except Exception as exc:  # no library, no driver, no device: no GPUs
                logger.info("no NVIDIA GPU: %s", exc)
            else:
                self._nvml = pynvml
        return self._nvml


@dataclass(frozen=True, slots=True)
class Reservation:
    """What one running task holds."""

    cpu_cores: float = 0.0
    memory_gb: float = 0.0
    disk_fs: str = ""
    disk_gb: float = 0.0
    gpu_index: int = -1
    gpu_memory_gb: float = 0.0


def _refuse(code: TaskErrorCode, message: str, suggestion: str, **details: Any) -> QueueError:
    return QueueError(code, f"{message}; {suggestion}", suggestion=suggestion, **details)


class ResourceAccountant:
    """Admission by resources: `check_possible` at submission, `try_reserve` before a start,
    `release` when the task is done."""

    def __init__(self, probe: ResourceProbe | None = None) -> None:
        self.probe: ResourceProbe = probe if probe is not None else SystemProbe()
        self._held: dict[str, Reservation] = {}

    @property
    def holders(self) -> int:
        """How many tasks hold a reservation."""
        return len(self._held)

    def _disk_path(self, needs: Needs) -> str:
        return needs.disk_path or str(Path.home())

    def check_possible(self, needs: Needs) -> None:
        """Refuse (QueueError) a requirement this machine could never meet, even idle."""
        if needs.empty:
            return
        cores = self.probe.cpu_cores()
        if needs.cpu_cores > cores:
            raise _refuse(
                TaskErrorCode.SYSTEM_CPU_LIMIT,
                f"the task needs {needs.cpu_cores:g} CPU cores but this machine has {cores}",
                f"ask for at most {cores} cores",
                needed=needs.cpu_cores,
                total=cores,
            )
        if needs.memory_gb:
            total, _ = self.probe.memory_gb()
            if needs.memory_gb > total:
                raise _refuse(
                    TaskErrorCode.SYSTEM_MEMORY_LIMIT,
                    f"the task needs {needs.memory_gb:.1f} GB memory but this machine has "
                    f"{total:.1f} GB in all",
                    f"ask for at most {total:.1f} GB, or run it on a bigger machine",
                    needed_gb=needs.memory_gb,
                    total_gb=round(total, 2),
                )
        if needs.disk_gb:
            path = self._disk_path(needs)
            try:
                _, total, _ = self.probe.disk_gb(path)
            except OSError as exc:
                raise QueueError(
                    TaskErrorCode.VALIDATION_INVALID_PARAMS,
                    f"resources.disk_path: cannot read {path!r}: {exc.strerror or exc}",
                    fields=["resources.disk_path"],
                ) from None
            if needs.disk_gb > total:
                raise _refuse(
                    TaskErrorCode.SYSTEM_DISK_SPACE,
                    f"the task needs {needs.disk_gb:.1f} GB disk space on {path} but that disk "
                    f"holds {total:.1f} GB in all",
                    "ask for less, or point disk_path at a bigger disk",
                    needed_gb=needs.disk_gb,
                    total_gb=round(total, 2),
                    path=path,
                )
        if needs.gpu_memory_gb:
            gpus = self.probe.gpus_gb()
            if not gpus:
                raise _refuse(
                    TaskErrorCode.SYSTEM_GPU_LIMIT,
                    f"the task needs {needs.gpu_memory_gb:.1f} GB GPU memory but no NVIDIA GPU "
                    "was found (no device, driver or NVML library)",
                    "run it on a machine with an NVIDIA GPU, or drop gpu_memory_gb",
                    needed_gb=needs.gpu_memory_gb,
                )
            biggest = max(total for total, _ in gpus)
            if needs.gpu_memory_gb > biggest:
                raise _refuse(
                    TaskErrorCode.SYSTEM_GPU_LIMIT,
                    f"the task needs {needs.gpu_memory_gb:.1f} GB GPU memory but the biggest "
                    f"GPU here has {biggest:.1f} GB",
                    f"ask for at most {biggest:.1f} GB, or use a smaller model or batch size",
                    needed_gb=needs.gpu_memory_gb,
                    total_gb=round(biggest, 2),
                )

    def try_reserve(self, task_id: str, needs: Needs) -> str | None:
        """Reserve `needs` for the task if the machine has room now: None when reserved, else
        why not, in words, as the resource document says it ("Insufficient CPU: 4.00 available, task
        requires 8.00"; shortages of several kinds joined by "; "). Available means what the
        machine has free less what running tasks reserved."""
        if needs.empty:
            return None
        held = list(self._held.values())
        short: list[str] = []
        if needs.cpu_cores:
            reserved = sum(r.cpu_cores for r in held)
            free = self.probe.cpu_cores() - reserved
            if needs.cpu_cores > free:
                short.append(
                    f"Insufficient CPU: {max(free, 0):.2f} available, "
                    f"task requires {needs.cpu_cores:.2f}"
                )
        if needs.memory_gb:
            reserved = sum(r.memory_gb for r in held)
            free = self.probe.memory_gb()[1] - reserved
            if needs.memory_gb > free:
                short.append(
                    f"Insufficient Memory: {max(free, 0):.2f} GB available, "
                    f"task requires {needs.memory_gb:.2f} GB"
                )
        fs = ""
        if needs.disk_gb:
            path = self._disk_path(needs)
            try:
                fs, _, measured = self.probe.disk_gb(path)
            except OSError as exc:
                short.append(f"Insufficient Storage: cannot read {path}: {exc.strerror or exc}")
            else:
                reserved = sum(r.disk_gb for r in held if r.disk_fs == fs)
                free = measured - reserved
                if needs.disk_gb > free:
                    short.append(
                        f"Insufficient Storage: {max(free, 0):.2f} GB available on {path}, "
                        f"task requires {needs.disk_gb:.2f} GB"
                    )
        gpu = -1
        if needs.gpu_memory_gb:
            best_free = -math.inf
            for i, (_, measured) in enumerate(self.probe.gpus_gb()):
                reserved = sum(r.gpu_memory_gb for r in held if r.gpu_index == i)
                if measured - reserved > best_free:
                    gpu, best_free = i, measured - reserved
            if gpu < 0:
                short.append("Insufficient GPU: no GPU is available")
            elif needs.gpu_memory_gb > best_free:
                short.append(
                    f"Insufficient GPU: {max(best_free, 0):.2f} GB available on the best GPU, "
                    f"task requires {needs.gpu_memory_gb:.2f} GB"
                )
        if short:
            return "; ".join(short)
        self._held[task_id] = Reservation(
            cpu_cores=needs.cpu_cores,
            memory_gb=needs.memory_gb,
            disk_fs=fs,
            disk_gb=needs.disk_gb,
            gpu_index=gpu,
            gpu_memory_gb=needs.gpu_memory_gb,
        )
        return None

    def release(self, task_id: str) -> bool:
        """Give back what the task reserved; whether it held anything."""
        return self._held.pop(task_id, None) is not None

    def reserved(self) -> dict[str, float]:
        """Totals reserved now (for status displays)."""
        held = self._held.values()
        return {
            "cpu_cores": sum(r.cpu_cores for r in held),
            "memory_gb": sum(r.memory_gb for r in held),
            "disk_gb": sum(r.disk_gb for r in held),
            "gpu_memory_gb": sum(r.gpu_memory_gb for r in held),
        }

    def holdings(self) -> list[Reservation]:
        """What each task holds now (a copy, safe to read from another thread)."""
        return list(self._held.values())

    def available(self, held: list[Reservation] | None = None) -> dict[str, float | None]:
        """What a task could reserve now (reads the machine: blocking): free CPU cores, memory,
        disk on the home directory's disk and memory on the best GPU (None without a GPU),
        each less what `held` (default: the reservations now) holds of it."""
        held = self.holdings() if held is None else held
        cores = self.probe.cpu_cores() - sum(r.cpu_cores for r in held)
        memory = self.probe.memory_gb()[1] - sum(r.memory_gb for r in held)
        disk: float | None
        try:
            fs, _, measured = self.probe.disk_gb(str(Path.home()))
        except OSError:
            disk = None
        else:
            disk = max(measured - sum(r.disk_gb for r in held if r.disk_fs == fs), 0.0)
        gpus = [
            measured - sum(r.gpu_memory_gb for r in held if r.gpu_index == i)
            for i, (_, measured) in enumerate(self.probe.gpus_gb())
        ]
        return {
            "cpu_cores": max(cores, 0.0),
            "memory_gb": max(memory, 0.0),
            "disk_gb": disk,
            "gpu_memory_gb": max(max(gpus), 0.0) if gpus else None,
        }
