"""Tasks as files: a task's definition (what a user set, never what the engine recorded), a
list of them exported as JSON and read back as new tasks, and a table as CSV.

Qt-free, so the window, a template store and a command line share it. A definition is the
fields a caller gives when adding (`CALLER_FIELDS`) less the ones tied to one queue's history:
the id (an import makes new tasks), `depends_on` (ids of other tasks), `created_by`, and the
absolute times `run_at`/`expires_at`. Credentials are names of keyring entries in the params,
never their values: nothing here reads the keyring.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task
from qtqueue.engine.validation import CALLER_FIELDS, check_fields
from qtqueue.executors import ExecutorRegistry

logger = logging.getLogger(__name__)

#: The file's `format` value: a JSON object `{"format": ..., "version": 1, "tasks": [...]}`.
FILE_FORMAT = "qtqueue-tasks"
FILE_VERSION = 1
#: Caller fields a definition leaves out: they belong to one queue's history.
_NOT_DEFINITION = frozenset({"id", "depends_on", "created_by", "run_at", "expires_at"})
DEFINITION_FIELDS = frozenset(CALLER_FIELDS - _NOT_DEFINITION)
#: The largest file an import reads (a definition is about 1 KB; 100,000 of them fit).
MAX_FILE_BYTES = 100 * 1024 * 1024

_FIX = "Export the tasks again from qtqueue (File › Export tasks…), or correct the entry."


def definition(task: Task) -> dict[str, Any]:
    """What `task` is, as a new task would be given it: JSON-ready, no id, no history. A task
    the engine took with no timeout says 0 ("none"), not None ("the queue's default")."""
    data = task.to_dict()
    out = {k: data[k] for k in sorted(DEFINITION_FIELDS) if k in data}
    if out.get("timeout_s") is None and task.queue is not None:
        out["timeout_s"] = 0
    return out


def export_json(tasks: Iterable[Task]) -> str:
    """The JSON file text of `tasks`' definitions, in the given order."""
    doc = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "tasks": [definition(t) for t in tasks],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _entry_error(index: int, name: str, problem: str, code: str) -> QueueError:
    label = f"entry {index + 1}" + (f" (“{name}”)" if name else "")
    return QueueError(
        code,
        f"{label}: {problem}. {_FIX} Nothing was added.",
        entry=index + 1,
        task_name=name,
    )


def task_from_definition(data: object, registry: ExecutorRegistry, index: int = 0) -> Task:
    """A new `Task` from one definition, checked as adding would check it (the type exists,
    its params validate, its own fields are in range); QueueError naming the entry if not."""
    if not isinstance(data, dict):
        raise _entry_error(
            index, "", "is not a JSON object", TaskErrorCode.VALIDATION_INVALID_FORMAT
        )
    raw_name = data.get("name")
    name = raw_name if isinstance(raw_name, str) else ""
    unknown = sorted(set(data) - DEFINITION_FIELDS)
    if unknown:
        problem = f"unknown or engine-owned field(s) {', '.join(unknown)}: leave them out"
        raise _entry_error(index, name, problem, TaskErrorCode.VALIDATION_INVALID_PARAMS)
    type_name = data.get("task_type")
    if not isinstance(type_name, str) or not type_name:
        raise _entry_error(
            index, name, "task_type is missing", TaskErrorCode.VALIDATION_MISSING_REQUIRED
        )
    executor = registry.get(type_name)
    if executor is None:
        problem = f"no executor is registered for the task type {type_name!r}"
        raise _entry_error(index, name, problem, TaskErrorCode.QUEUE_UNKNOWN_TASK_TYPE)
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise _entry_error(
            index, name, "params is not a JSON object", TaskErrorCode.VALIDATION_INVALID_FORMAT
        )
    try:
        task = Task.from_dict(data)
        task.params = executor.validate(params)
    except QueueError as exc:
        raise _entry_error(index, name, str(exc), exc.code) from None
    except (KeyError, ValueError, TypeError) as exc:
        raise _entry_error(index, name, str(exc), TaskErrorCode.VALIDATION_INVALID_PARAMS) from None
    problems = check_fields(task)
    if problems:
        raise _entry_error(
            index, name, "; ".join(problems), TaskErrorCode.VALIDATION_INVALID_PARAMS
        )
    return task


def parse_import(text: str, registry: ExecutorRegistry) -> list[Task]:
    """Every task of an exported file, all checked before any is returned (so a caller adds
    all or none); QueueError DATA_FORMAT_INVALID / DATA_PARSING_FAILED for a file that is not
    one, or the first bad entry's error (it names the entry and the fix)."""
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
    return [task_from_definition(entry, registry, i) for i, entry in enumerate(entries)]


def csv_text(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV table (RFC 4180, `\\r\\n` lines) with one header row; cells as text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    for row in rows:
        writer.writerow(["" if cell is None else str(cell) for cell in row])
    return out.getvalue()
