"""Tasks as files: a task's definition (what a user set, never what the engine recorded), a
list of them as a JSON file (written here; its format in `core.task_file`, read back and
checked as new tasks by `engine.task_definitions`), and a table as CSV.

Qt-free and engine-free, so the window, the template store and the command line share it.
A definition is the fields a caller gives when adding (`CALLER_FIELDS`) less the ones tied to
one queue's history: the id (an import makes new tasks), `depends_on` (ids of other tasks),
`created_by`, and the absolute times `run_at`/`expires_at`. Credentials are names of keyring
entries in the params, never their values: nothing here reads the keyring.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from qtqueue.core.task import Task
from qtqueue.core.task_file import DEFINITION_FIELDS as DEFINITION_FIELDS
from qtqueue.core.task_file import FILE_FORMAT as FILE_FORMAT
from qtqueue.core.task_file import FILE_VERSION as FILE_VERSION
from qtqueue.core.task_file import MAX_FILE_BYTES as MAX_FILE_BYTES

logger = logging.getLogger(__name__)

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
