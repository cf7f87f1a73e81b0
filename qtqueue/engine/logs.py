"""Per-task log files, bounded in size, keeping the newest output.

A log is two files: `<id>.log` (being written) and `<id>.log.1` (the previous half). When the
current file passes half the cap it becomes `.1` (dropping the older one), so the two together
never exceed the cap and always hold the most recent output.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_LOG_CAP_BYTES = 10 * 1024 * 1024
REDACTED = "********"


class BoundedLog:
    """Appends to a task's log file; opened lazily, closed by `close()`."""

    def __init__(self, path: Path, cap_bytes: int = DEFAULT_LOG_CAP_BYTES) -> None:
        self.path = path
        self.half = max(1024, cap_bytes // 2)
        self._fh: object = None
        self._size = 0
        self.secrets: list[bytes] = []

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "ab", buffering=0)  # noqa: SIM115 - lives as long as the task
        self._size = self.path.stat().st_size

    def write(self, data: bytes) -> None:
        for secret in self.secrets:
            if secret in data:
                data = data.replace(secret, REDACTED.encode())
        if self._fh is None:
            self._open()
        fh = self._fh
        assert fh is not None
        fh.write(data)  # type: ignore[attr-defined]
        self._size += len(data)
        if self._size > self.half:
            self._rotate()

    def _rotate(self) -> None:
        self.close()
        os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        self._open()

    def close(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()  # type: ignore[attr-defined]
            self._fh = None


def log_files(path: Path) -> list[Path]:
    """The files of one log, oldest first (only those that exist)."""
    return [p for p in (path.with_name(path.name + ".1"), path) if p.exists()]


def read_log(path: Path, tail_bytes: int | None = None) -> bytes:
    """The whole retained log, or its last `tail_bytes`."""
    data = b"".join(p.read_bytes() for p in log_files(path))
    if tail_bytes is not None and len(data) > tail_bytes:
        data = data[-tail_bytes:]
    return data


def remove_log(path: Path) -> None:
    for p in log_files(path):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
