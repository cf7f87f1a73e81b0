"""A machine whose figures the test sets: a `ResourceProbe` for `TaskQueue(resource_probe=...)`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FakeMachine:
    """A `ResourceProbe` whose figures the test sets."""

    cores: int = 4
    memory_total: float = 16.0
    memory_free: float = 8.0
    disks: dict[str, tuple[str, float, float]] = field(
        default_factory=lambda: {"/": ("root", 100.0, 50.0), "/data": ("data", 500.0, 30.0)}
    )
    gpus: list[tuple[float, float]] = field(default_factory=list)

    def cpu_cores(self) -> int:
        return self.cores

    def memory_gb(self) -> tuple[float, float]:
        return self.memory_total, self.memory_free

    def disk_gb(self, path: str) -> tuple[str, float, float]:
        if path not in self.disks:
            raise FileNotFoundError(2, "No such file or directory", path)
        return self.disks[path]

    def gpus_gb(self) -> list[tuple[float, float]]:
        return list(self.gpus)
