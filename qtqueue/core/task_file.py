"""A task file's format: what a definition holds (the fields a caller gives when adding, less
those tied to one queue's history), the file's `format` marker, the most an import reads, and
the file's entries found in its text.

Plain data and pure parsing, under everything, so the command line (which exports and checks
sizes without the engine), the engine's import check (`engine.task_definitions`) and a
cluster's import share one definition of the file.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task

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
