"""How long a running task has left and how fast it moves data, without Qt.

Three sources, best first: the bytes a task reports (`Task.done_bytes` / `total_bytes`,
their rate measured over the last seconds); the history of similar finished tasks (same
type, same name once its numbers are left out: "backup 12" is like "backup 7"), whose median
duration less the time this one has run is what is left; else the task's own progress rate.
None where none of them says anything.
"""

from __future__ import annotations

import logging
import re
import statistics
from collections import deque
from dataclasses import dataclass
from enum import Enum

logger = logging.getLogger(__name__)

_DIGITS = re.compile(r"\d+")
#: The rate of bytes is measured over this many seconds of samples.
SPEED_WINDOW_S = 10.0
#: At least this many similar finished tasks before their median is trusted.
MIN_HISTORY = 1


def name_pattern(name: str) -> str:
    """A task name with its numbers left out, case-folded: 'Backup 12' → 'backup #'."""
    return _DIGITS.sub("#", name.casefold()).strip()


class History:
    """Running times of finished tasks, grouped by (type, name pattern). A type's names are
    grouped only once a task of that type asks (loading 100,000 rows stays cheap)."""

    def __init__(self) -> None:
        self._unsorted: dict[str, dict[str, tuple[str, float]]] = {}  # type -> id -> run
        self._runs: dict[tuple[str, str], dict[str, float]] = {}
        self._medians: dict[tuple[str, str], float | None] = {}
        self._keys: dict[str, tuple[str, str]] = {}
        self._unsorted_type: dict[str, str] = {}

    def add(self, task_id: str, type_name: str, name: str, duration: float) -> None:
        """Record a finished task's running time (again: replaced)."""
        if task_id in self._keys or task_id in self._unsorted_type:
            self.forget(task_id)
        self._unsorted.setdefault(type_name, {})[task_id] = (name, duration)
        self._unsorted_type[task_id] = type_name

    def forget(self, task_id: str) -> None:
        """Leave a task out (removed, or retried)."""
        key = self._keys.pop(task_id, None)
        if key is not None:
            self._runs[key].pop(task_id, None)
            self._medians.pop(key, None)
        type_name = self._unsorted_type.pop(task_id, None)
        if type_name is not None:
            self._unsorted[type_name].pop(task_id, None)

    def clear(self) -> None:
        """Forget every run."""
        self._unsorted.clear()
        self._unsorted_type.clear()
        self._runs.clear()
        self._medians.clear()
        self._keys.clear()

    def median(self, type_name: str, name: str) -> float | None:
        """The median running time of finished tasks like this one; None when too few."""
        self._group(type_name)
        key = (type_name, name_pattern(name))
        if key in self._medians:
            return self._medians[key]
        runs = self._runs.get(key)
        value = statistics.median(runs.values()) if runs and len(runs) >= MIN_HISTORY else None
        self._medians[key] = value
        return value

    def _group(self, type_name: str) -> None:
        pending = self._unsorted.pop(type_name, None)
        if not pending:
            return
        for task_id, (name, duration) in pending.items():
            del self._unsorted_type[task_id]
            key = (type_name, name_pattern(name))
            self._runs.setdefault(key, {})[task_id] = duration
            self._keys[task_id] = key
            self._medians.pop(key, None)


class SpeedMeter:
    """Bytes per second of each task, from its reported byte counts over time."""

    def __init__(self, window_s: float = SPEED_WINDOW_S) -> None:
        self._window = window_s
        self._samples: dict[str, deque[tuple[float, int]]] = {}

    def sample(self, task_id: str, now: float, done_bytes: int) -> None:
        """Note that `task_id` had moved `done_bytes` at `now` (a restart starts afresh)."""
        samples = self._samples.setdefault(task_id, deque())
        if samples and done_bytes < samples[-1][1]:
            samples.clear()
        if samples and samples[-1][1] == done_bytes and len(samples) > 1:
            return  # the same count again (a step change): keep the rate's time base
        samples.append((now, done_bytes))
        while len(samples) > 2 and now - samples[1][0] >= self._window:
            samples.popleft()

    def rate(self, task_id: str) -> float | None:
        """Bytes per second over the window; None before two samples apart in time."""
        samples = self._samples.get(task_id)
        if not samples or len(samples) < 2:
            return None
        (t0, b0), (t1, b1) = samples[0], samples[-1]
        if t1 <= t0:
            return None
        return max(0.0, (b1 - b0) / (t1 - t0))

    def forget(self, task_id: str) -> None:
        """Drop a task's samples."""
        self._samples.pop(task_id, None)

    def clear(self) -> None:
        """Drop every task's samples."""
        self._samples.clear()


@dataclass(frozen=True, slots=True)
class Progress:
    """What is known of a running task for an estimate."""

    percent: float
    elapsed: float | None
    done_bytes: int | None = None
    total_bytes: int | None = None
    bytes_per_s: float | None = None
    history_median: float | None = None


class Basis(Enum):
    """What an estimate of the time left came from."""

    BYTES = "the bytes moved and their speed"
    HISTORY = "similar finished tasks (same type, same name but its numbers)"
    RATE = "its progress so far"


def estimate(p: Progress) -> tuple[float, Basis] | None:
    """Seconds left and what says so (see the module docstring); None when unknown."""
    if p.total_bytes and p.done_bytes is not None and p.bytes_per_s:
        return max(0.0, (p.total_bytes - p.done_bytes) / p.bytes_per_s), Basis.BYTES
    if p.history_median is not None and p.elapsed is not None and p.elapsed < p.history_median:
        return p.history_median - p.elapsed, Basis.HISTORY
    if p.elapsed and 0 < p.percent < 100:
        return p.elapsed * (100.0 - p.percent) / p.percent, Basis.RATE
    return None


def remaining(p: Progress) -> float | None:
    """Seconds left (see `estimate`); None when unknown."""
    found = estimate(p)
    return None if found is None else found[0]


def format_speed(bytes_per_s: float | None) -> str:
    """'12.3 MB/s', '850 B/s'; '—' when unknown."""
    if bytes_per_s is None:
        return "—"
    for unit, scale in (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if bytes_per_s >= scale:
            return f"{bytes_per_s / scale:.1f} {unit}"
    return f"{bytes_per_s:.0f} B/s"
