"""How the command line writes: plain lines, JSON, tables, times, durations and errors."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from qtqueue.core.errors import QueueError

logger = logging.getLogger(__name__)

__all__ = [
    "clip",
    "fmt_duration",
    "fmt_time",
    "out",
    "print_json",
    "report_error",
    "short",
    "table",
]


def out(text: str = "") -> None:
    """Write one line to stdout."""
    sys.stdout.write(text + "\n")


def print_json(data: Any, stream: TextIO | None = None) -> None:
    """Write `data` as indented JSON (values JSON does not know as their text)."""
    (stream or sys.stdout).write(json.dumps(data, indent=2, default=str) + "\n")


def report_error(exc: QueueError) -> None:
    """Write an error's code, message and suggested fix to stderr."""
    sys.stderr.write(f"error: {exc.code.value}: {exc.message}\n")
    sys.stderr.write(f"hint: {exc.suggestion}\n")


def short(task_id: str) -> str:
    """The first 8 characters of an id: enough to tell tasks apart, and a valid prefix."""
    return task_id[:8]


def fmt_time(ts: float | None) -> str:
    """A UNIX time as local date and time, or "-"."""
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def fmt_duration(seconds: float | None) -> str:
    """Seconds as "4.2s", "3m07s" or "2h05m", or "-"."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def clip(text: str, width: int) -> str:
    """`text` cut to `width` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
