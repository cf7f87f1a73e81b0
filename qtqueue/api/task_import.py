"""A task file read back as new tasks: every entry checked as adding would check it (the type
exists, its params validate, its own fields are in range) before any is handed on, each
refusal a coded error naming the entry and the fix (`task_files` writes the files)."""

from __future__ import annotations

import logging

from qtqueue.api.task_files import DEFINITION_FIELDS, file_entries
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task
from qtqueue.engine.validation import check_fields
from qtqueue.executors import ExecutorRegistry

logger = logging.getLogger(__name__)

_FIX = "Export the tasks again from qtqueue (File › Export tasks…), or correct the entry."


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
    return [task_from_definition(e, registry, i) for i, e in enumerate(file_entries(text))]
