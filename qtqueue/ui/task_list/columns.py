"""The task table's columns and how a task reads in them: the `Column` and `Role` enums,
headers, the status sort order, secret masking and the formatting of times, durations, sizes
and resources (shared with the detail pane and the dialogs)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from enum import IntEnum
from typing import Any

from PySide6.QtCore import Qt

from qtqueue.core.actions import awaits_approval
from qtqueue.core.task import ACTIVE, TERMINAL, Task, TaskStatus

logger = logging.getLogger(__name__)


class Column(IntEnum):
    """The table's columns, in their default order: what a task is and how far it got first
    (name, status, progress, ETA, speed, step), then what it is made of; "#" (a waiting
    task's place in its queue) last. A new column is only ever added at the end: a header
    saved before it keeps every other column where it was (`table_setup.restore_header`)."""

    NAME = 0
    STATUS = 1
    PROGRESS = 2
    ETA = 3
    SPEED = 4
    STEP = 5
    TYPE = 6
    CATEGORY = 7
    QUEUE = 8
    TAGS = 9
    PRIORITY = 10
    LAST_ERROR = 11
    RESOURCES = 12
    CREATED = 13
    STARTED = 14
    DURATION = 15
    RETRIES = 16
    ERROR_CODE = 17
    ID = 18
    POSITION = 19


HEADERS: dict[Column, str] = {
    Column.NAME: "Name",
    Column.TYPE: "Type",
    Column.CATEGORY: "Category",
    Column.QUEUE: "Queue",
    Column.TAGS: "Tags",
    Column.PRIORITY: "Priority",
    Column.STATUS: "Status",
    Column.PROGRESS: "Progress",
    Column.STEP: "Step",
    Column.ETA: "ETA",
    Column.SPEED: "Speed",
    Column.RESOURCES: "Resources",
    Column.CREATED: "Created",
    Column.STARTED: "Started",
    Column.DURATION: "Duration",
    Column.RETRIES: "Retries",
    Column.ERROR_CODE: "Error code",
    Column.LAST_ERROR: "Last error",
    Column.ID: "Id",
    Column.POSITION: "#",
}

#: Columns hidden until the user shows them (the table is wider than a window already); the
#: error's code is there for whoever wants it, its message ("Last error") is shown instead.
HIDDEN_BY_DEFAULT: frozenset[Column] = frozenset(
    {Column.QUEUE, Column.ERROR_CODE, Column.ID, Column.STARTED}
)


#: Default column widths (px); the user's own are remembered.
DEFAULT_WIDTHS: dict[Column, int] = {
    # The columns shown by default add up to ~1,500 px: what a task is and how far it got
    # (name to step) fit the table's part of a 1,280 px window; the rest scrolls sideways.
    # The user's widths are kept.
    Column.NAME: 180,
    Column.TYPE: 110,
    Column.CATEGORY: 80,
    Column.QUEUE: 100,
    Column.TAGS: 60,
    Column.PRIORITY: 60,
    Column.STATUS: 135,
    Column.PROGRESS: 80,
    Column.STEP: 130,
    Column.ETA: 65,
    Column.SPEED: 75,
    Column.RESOURCES: 115,
    Column.CREATED: 70,
    Column.STARTED: 70,
    Column.DURATION: 70,
    Column.RETRIES: 50,
    Column.ERROR_CODE: 180,
    Column.LAST_ERROR: 200,
    Column.ID: 280,
    Column.POSITION: 40,
}


class Role(IntEnum):
    """Custom data roles."""

    SORT = int(Qt.ItemDataRole.UserRole) + 1
    """The raw, comparable value of a cell (numbers as numbers, times as UNIX seconds)."""
    TASK = int(Qt.ItemDataRole.UserRole) + 2
    """The row's `Task` snapshot."""
    TASK_ID = int(Qt.ItemDataRole.UserRole) + 3
    """The row's task id."""
    STEP = int(Qt.ItemDataRole.UserRole) + 4
    """The task's current step, in words."""
    BAR = int(Qt.ItemDataRole.UserRole) + 5
    """What the progress cell draws: a percentage (0–100), `BUSY` for a busy bar, or None
    for no bar."""


#: `Role.BAR` for a task that runs without saying how far it is (a busy bar).
BUSY = -1.0


#: How statuses sort: what needs attention first, finished work last.
STATUS_ORDER: dict[TaskStatus, int] = {
    s: i
    for i, s in enumerate(
        (
            TaskStatus.RUNNING,
            TaskStatus.VALIDATING,
            TaskStatus.PREPARING,
            TaskStatus.DOWNLOADING,
            TaskStatus.PULLING,
            TaskStatus.BUILDING,
            TaskStatus.UPLOADING,
            TaskStatus.PAUSED,
            TaskStatus.PENDING,
            TaskStatus.FAILED,
            TaskStatus.TIMEOUT,
            TaskStatus.CANCELLED,
            TaskStatus.COMPLETED,
        )
    )
}

_SECRET_KEY = re.compile(r"pass(word|wd|phrase)?|token|secret|key|credential|auth", re.IGNORECASE)
MASK = "••••••••"


def is_secret_key(name: str) -> bool:
    """Whether a parameter's name suggests its value is a secret (password, token, key…)."""
    return bool(_SECRET_KEY.search(name))


def masked_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` with the values of secret-looking keys replaced by a mask, at any depth."""

    def mask(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: (MASK if is_secret_key(str(k)) else mask(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [mask(v) for v in value]
        return value

    return mask(params)  # type: ignore[no-any-return]


def param_words(params: Mapping[str, Any]) -> list[str]:
    """The searchable text of params: values (and names inside mappings such as env),
    never the value of a secret-looking key."""
    out: list[str] = []
    for key, value in params.items():
        if _SECRET_KEY.search(key):
            continue
        if isinstance(value, Mapping):
            out.extend(f"{k}={v}" for k, v in value.items() if not _SECRET_KEY.search(str(k)))
        elif isinstance(value, (list, tuple)):
            out.extend(map(str, value))
        elif value is not None and value != "":
            out.append(str(value))
    return out


def format_duration(seconds: float | None) -> str:
    """'850 ms', '9.5 s', '1 m 05 s', '2 h 03 m'; '' when unknown."""
    if seconds is None or seconds < 0:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} m {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} m"


def format_size(n: int) -> str:
    """'12.3 MB', '850 B' (decimal units)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def format_time(ts: float | None, now: float | None = None) -> str:
    """A compact local time: 'HH:MM:SS' today, 'YYYY-MM-DD HH:MM' on other days."""
    if ts is None:
        return ""
    local = time.localtime(ts)
    today = time.localtime(now if now is not None else time.time())
    if local[:3] == today[:3]:
        return time.strftime("%H:%M:%S", local)
    return time.strftime("%Y-%m-%d %H:%M", local)


def format_timestamp(ts: float | None) -> str:
    """A full local time, 'YYYY-MM-DD HH:MM:SS'; '' when unknown."""
    return "" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def status_text(status: TaskStatus) -> str:
    """A status as a word for people ("Completed")."""
    return status.value.capitalize()


def status_cell(task: Task, now: float | None = None) -> str:
    """The status column's text: the status, or why a pending task waits ("Scheduled" until
    its start time, at UNIX time `now`: default the clock's)."""
    if task.status == TaskStatus.PENDING:
        if awaits_approval(task):
            return "Awaiting approval"
        if task.run_at is not None and task.run_at > (time.time() if now is None else now):
            return "Scheduled"
        if task.wait_reason.startswith("waiting"):
            # for dependencies, resources, a category or queue limit: the tooltip says which
            return "Waiting"
    return status_text(task.status)


def is_held(task: Task, now: float | None = None) -> bool:
    """Whether a waiting task is held back by its start time, an approval or dependencies:
    it keeps its place in its queue ("#", greyed) but others start before it. (One parked
    by a category or queue limit is not: it starts in its turn once there is room.)"""
    if task.status != TaskStatus.PENDING:
        return False
    return status_cell(task, now) in ("Scheduled", "Awaiting approval") or (
        "dependenc" in task.wait_reason
    )


def _amount(value: float) -> str:
    return f"{value:g}"


def format_resources(resources: Mapping[str, Any]) -> str:
    """What a task declared it needs, compactly: '2 CPU · 8 GB · GPU 6 GB · disk 20 GB';
    '' when nothing."""
    parts: list[str] = []
    cpu, memory, gpu, disk = (
        resources.get(k) for k in ("cpu_cores", "memory_gb", "gpu_memory_gb", "disk_gb")
    )
    if cpu:
        parts.append(f"{_amount(cpu)} CPU")
    if memory:
        parts.append(f"{_amount(memory)} GB")
    if gpu:
        parts.append(f"GPU {_amount(gpu)} GB")
    if disk:
        parts.append(f"disk {_amount(disk)} GB")
    return " · ".join(parts)


def resources_key(resources: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """The raw value the resources column sorts by: (cpu cores, memory, GPU memory, disk),
    0 for what is not declared."""
    return (
        float(resources.get("cpu_cores") or 0),
        float(resources.get("memory_gb") or 0),
        float(resources.get("gpu_memory_gb") or 0),
        float(resources.get("disk_gb") or 0),
    )


def first_line(text: str | None) -> str:
    """The first line of a message ('' for None)."""
    return text.split("\n", 1)[0] if text else ""


def retries_text(t: Task) -> str:
    """The retries column: '2/3' (retries so far of the most), '2', or ''."""
    if t.max_retries:
        return f"{t.retry_count}/{t.max_retries}"
    return str(t.retry_count) if t.retry_count else ""


def tooltip(t: Task, column: Column) -> str | None:
    """The tooltip of `t`'s cell in `column` (None: none)."""
    if column == Column.NAME:
        return f"{t.name}\n{t.id}"
    if column == Column.STATUS:
        if t.wait_reason:
            return t.wait_reason
        if t.error and t.status in TERMINAL:
            return t.error
        return None
    if (column == Column.ERROR_CODE and t.error_code) or (column == Column.LAST_ERROR and t.error):
        return t.error or t.error_code
    if column in (Column.CREATED, Column.STARTED):
        ts = t.created_at if column == Column.CREATED else t.started_at
        return format_timestamp(ts) or None
    if column in (Column.PROGRESS, Column.STEP) and t.current_step:
        return t.current_step
    if column == Column.POSITION and t.status == TaskStatus.PENDING:
        return (
            f"Place in the {t.queue or 'default'} queue's waiting order (1 starts first; a"
            " task held by its start time, an approval or dependencies keeps its place)"
        )
    return None


_STEP_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")


def progress_bar(t: Task) -> float | None:
    """What `t`'s progress cell shows (`Role.BAR`): its percentage while it runs, is paused
    mid-run or has completed; a busy bar (`BUSY`) while it runs without a percentage yet
    (progress 0 and no "NN %" in its step); None (no bar) for a task that waits, was paused
    before it started, failed, timed out or was cancelled."""
    status = t.status
    if status in ACTIVE or (status == TaskStatus.PAUSED and t.paused_from in ACTIVE):
        if t.progress > 0:
            return t.progress
        match = _STEP_PERCENT.search(t.current_step)
        if match and 0 <= float(match.group(1)) <= 100:
            return float(match.group(1))
        return BUSY if status in ACTIVE else 0.0
    if status == TaskStatus.COMPLETED:
        return t.progress or 100.0
    return None


def progress_text(t: Task) -> str:
    """The progress cell's text: '42 %', '' where no bar is drawn, '…' for a busy bar."""
    value = progress_bar(t)
    if value is None:
        return ""
    return "…" if value == BUSY else f"{value:.0f} %"


_NUMBERS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[str | int, ...]:
    """A sort key that orders numbers inside text by value: 'backup 2' before 'backup 10'
    (case-insensitive)."""
    parts: list[str | int] = _NUMBERS.split(text.casefold())
    for i in range(1, len(parts), 2):
        parts[i] = int(parts[i])
    return tuple(parts)


def shown_text(total: int, shown: int, filtering: bool, selected: int) -> str:
    """The count beside the list: '1,204 tasks', '12 of 1,204 tasks', then '· 3 selected'
    when more than one row is selected."""
    text = f"{shown:,} of {total:,} tasks" if filtering else f"{total:,} tasks"
    return f"{text} · {selected:,} selected" if selected > 1 else text


def counts_text(counts: Mapping[TaskStatus, int]) -> str:
    """The status bar's counts: '2 running · 5 pending · 1 paused · 0 failed' (paused only
    when there are some)."""
    running = sum(counts.get(s, 0) for s in ACTIVE)
    failed = counts.get(TaskStatus.FAILED, 0) + counts.get(TaskStatus.TIMEOUT, 0)
    parts = [f"{running} running", f"{counts.get(TaskStatus.PENDING, 0)} pending"]
    if counts.get(TaskStatus.PAUSED, 0):
        parts.append(f"{counts[TaskStatus.PAUSED]} paused")
    parts.append(f"{failed} failed")
    return " · ".join(parts)
