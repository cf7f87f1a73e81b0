"""Tasks as files: a task's definition (what a user set, never what the engine recorded), a
list of them as a JSON file (written here, its entries found by `file_entries`; checked as new
tasks by `task_import`), and a table as CSV.

Qt-free and engine-free, so the window, the template store and the command line share it.
A definition is the fields a caller gives when adding (`CALLER_FIELDS`) less the ones tied to
one queue's history: the id (an import makes new tasks), `depends_on` (ids of other tasks),
`created_by`, and the absolute times `run_at`/`expires_at`. Credentials are names of keyring
entries in the params, never their values: nothing here reads the keyring.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task

logger = logging.getLogger(__name__)

#: The file's `format` value: a JSON object `{"format": ..., "version": 1, "tasks": [...]}`.
FILE_FORMAT = "qtqueue-tasks"
FILE_VERSION = 1
_NAMES = [f.name for f in dataclasses.fields(Task)]
#: Caller fields a definition leaves out: they belong to one queue's history.
_NOT_DEFINITION = frozenset({"id", "depends_on", "created_by", "run_at", "expires_at"})
#: The fields a caller gives (those up to `id`, as `engine.validation.CALLER_FIELDS`), less
#: the ones above. Computed here so the command line can export without the engine.
DEFINITION_FIELDS = frozenset(_NAMES[: _NAMES.index("id") + 1]) - _NOT_DEFINITION
#: The largest file an import reads (a definition is about 1 KB; 100,000 of them fit).
MAX_FILE_BYTES = 100 * 1024 * 1024
#: What a spreadsheet reads as the start of a formula (or strips before one).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?%?")


def definition(task: Task | Mapping[str, Any]) -> dict[str, Any]:
    """What `task` (a `Task`, or one as a JSON dict) is, as a new task would be given it:
    JSON-ready, no id, no history. A task the engine took with no timeout says 0 ("none"),
    not None ("the queue's default")."""
    data = task.to_dict() if isinstance(task, Task) else task
    out = {k: data[k] for k in sorted(DEFINITION_FIELDS) if k in data}
    if out.get("timeout_s") is None and data.get("queue") is not None:
        out["timeout_s"] = 0
    return out


def export_json(tasks: Iterable[Task | Mapping[str, Any]]) -> str:
    """The JSON file text of `tasks`' definitions, in the given order."""
    doc = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "tasks": [definition(t) for t in tasks],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def file_entries(text: str) -> list[Any]:
    """The entries of a task file (unchecked); QueueError DATA_PARSING_FAILED /
    DATA_FORMAT_INVALID for text that is not one, saying what is expected."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise QueueError(
            TaskErrorCode.DATA_PARSING_FAILED,
            f"not JSON ({exc}). Choose a file that qtqueue exported (File › Export tasks…).",
        ) from None
    entries = doc.get("tasks") if isinstance(doc, dict) else doc
    if isinstance(doc, dict) and doc.get("format", FILE_FORMAT) != FILE_FORMAT:
        entries = None
    if not isinstance(entries, list):
        raise QueueError(
            TaskErrorCode.DATA_FORMAT_INVALID,
            'not a qtqueue task list: expected {"format": "qtqueue-tasks", "tasks": [...]} '
            "or a JSON list of tasks. Choose a file that qtqueue exported.",
        )
    if not entries:
        raise QueueError(
            TaskErrorCode.DATA_FORMAT_INVALID, "the file lists no tasks: nothing to add."
        )
    return entries


def csv_text(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV table (RFC 4180, `\\r\\n` lines) with one header row; cells as text, each made
    safe for a spreadsheet (`csv_cell`)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_cell(h) for h in headers])
    for row in rows:
        writer.writerow([csv_cell(cell) for cell in row])
    return out.getvalue()


def csv_cell(value: object) -> str:
    """`value` as a CSV cell a spreadsheet shows as text, never runs: a cell starting with
    = + - @, a tab or a carriage return gets a leading ' (CSV formula injection: a task's name
    such as `=HYPERLINK(...)` would otherwise be a formula). A plain number ("-3", "-1.5")
    is left as it is: it cannot be a formula."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` (UTF-8), readable by the user only (0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
        out.write(text)
    os.chmod(path, 0o600)


def read_task_file(path: Path) -> str:
    """A task file's text; QueueError DATA_* (what and the fix) if it cannot be read. Only a
    regular file of at most `MAX_FILE_BYTES` is read (never a FIFO, device or directory: the
    engine reads the paths its callers name, and must neither block nor read without end)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise QueueError(
            TaskErrorCode.DATA_FILE_NOT_FOUND, f"{path} does not exist: choose another file."
        ) from None
    except OSError as exc:
        raise _unreadable(path, exc) from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise QueueError(
                TaskErrorCode.DATA_FORMAT_INVALID,
                f"{path} is not a regular file: choose a file qtqueue exported.",
            )
        if info.st_size > MAX_FILE_BYTES:
            raise _too_large(path, info.st_size)
        try:
            data = file.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise _unreadable(path, exc) from None
    if len(data) > MAX_FILE_BYTES:  # it grew after fstat
        raise _too_large(path, len(data))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise QueueError(
            TaskErrorCode.DATA_ENCODING_ERROR,
            f"{path} is not UTF-8 text: choose a file qtqueue exported.",
        ) from None


def _too_large(path: Path, size: int) -> QueueError:
    return QueueError(
        TaskErrorCode.DATA_SIZE_TOO_LARGE,
        f"{path} is {size:,} bytes; an import reads at most {MAX_FILE_BYTES:,}: "
        "split it into smaller files.",
    )


def _unreadable(path: Path, exc: OSError) -> QueueError:
    return QueueError(
        TaskErrorCode.SYSTEM_PERMISSION_DENIED
        if isinstance(exc, PermissionError)
        else TaskErrorCode.DATA_FILE_CORRUPTED,
        f"{path} cannot be read ({exc.strerror}).",
    )
