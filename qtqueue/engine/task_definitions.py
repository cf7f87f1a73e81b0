"""A task file read back as new tasks: every entry checked as adding would check it (the type
exists, its params validate, its own fields are in range) before any is handed on, each
refusal a coded error naming the entry and the fix.

One check for every way in: the engine's `import_tasks` action (`api.task_import`), the
in-process window, and a cluster's import (`cluster.jobs.import_tasks`) all read a file with
`read_import`, so a file one accepts the others accept, all or none.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task
from qtqueue.core.task_file import DEFINITION_FIELDS, MAX_FILE_BYTES, file_entries
from qtqueue.engine.validation import check_fields
from qtqueue.executors import ExecutorRegistry

logger = logging.getLogger(__name__)

_FIX = "Export the tasks again from qtqueue (File › Export tasks…), or correct the entry."


def entry_error(index: int, name: str, problem: str, code: str) -> QueueError:
    """The refusal of a file's entry `index` (0-based; said 1-based, with its name): the
    problem, the fix, and that nothing was added."""
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
    try:
        return checked_definition(data, registry)
    except QueueError as exc:
        raw_name = data.get("name") if isinstance(data, dict) else None
        name = raw_name if isinstance(raw_name, str) else ""
        raise entry_error(index, name, exc.message, exc.code) from None


def checked_definition(data: object, registry: ExecutorRegistry | None) -> Task:
    """A new `Task` from one definition (a task file's entry, a template), checked as adding
    would check it (its type and params only with a `registry`); QueueError with the problem
    alone (the caller says where it was)."""
    if not isinstance(data, dict):
        raise QueueError(TaskErrorCode.VALIDATION_INVALID_FORMAT, "is not a JSON object")
    unknown = sorted(set(data) - DEFINITION_FIELDS)
    if unknown:
        problem = f"unknown or engine-owned field(s) {', '.join(unknown)}: leave them out"
        raise QueueError(TaskErrorCode.VALIDATION_INVALID_PARAMS, problem)
    type_name = data.get("task_type")
    if not isinstance(type_name, str) or not type_name:
        raise QueueError(TaskErrorCode.VALIDATION_MISSING_REQUIRED, "task_type is missing")
    executor = None if registry is None else registry.get(type_name)
    if registry is not None and executor is None:
        problem = f"no executor is registered for the task type {type_name!r}"
        raise QueueError(TaskErrorCode.QUEUE_UNKNOWN_TASK_TYPE, problem)
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise QueueError(TaskErrorCode.VALIDATION_INVALID_FORMAT, "params is not a JSON object")
    try:
        task = Task.from_dict(data)
        if executor is not None:
            task.params = executor.validate(params)
    except QueueError as exc:
        raise QueueError(exc.code, str(exc)) from None
    except (KeyError, ValueError, TypeError) as exc:
        raise QueueError(TaskErrorCode.VALIDATION_INVALID_PARAMS, _why(exc, data)) from None
    problems = check_fields(task)
    if problems:
        raise QueueError(TaskErrorCode.VALIDATION_INVALID_PARAMS, "; ".join(problems))
    return task


def _why(exc: Exception, data: dict[str, Any]) -> str:
    """A field's error in words (a KeyError from an unknown enum name says only the name)."""
    if not isinstance(exc, KeyError) or not exc.args:
        return str(exc)
    bad = str(exc.args[0])
    fields = [k for k, v in data.items() if isinstance(v, str) and v.upper() == bad.upper()]
    where = f"{fields[0]} " if fields else "a field "
    return f"{where}does not take the value {bad.lower()!r}"


def parse_import(text: str, registry: ExecutorRegistry) -> list[Task]:
    """Every task of an exported file, all checked before any is returned (so a caller adds
    all or none); QueueError DATA_FORMAT_INVALID / DATA_PARSING_FAILED for a file that is not
    one, or the first bad entry's error (it names the entry and the fix)."""
    return [task_from_definition(e, registry, i) for i, e in enumerate(file_entries(text))]


def read_import(path: Path, registry: ExecutorRegistry) -> list[Task]:
    """The tasks of the task file at `path`, every one checked (`parse_import`); QueueError
    DATA_* if the file cannot be read (`read_task_file`). Blocking: run it in a
    thread."""
    return parse_import(read_task_file(path), registry)


def absolute_path(raw: str) -> Path:
    """The file an import names, which must be an absolute path (the engine, or a cluster's
    submitter, does not share the caller's working directory); VALIDATION_INVALID_PARAMS if
    not."""
    path = Path(raw)
    if not raw or "\0" in raw or not path.is_absolute():
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"action import_tasks: path {raw!r} is not an absolute path; the engine does not "
            "share the caller's working directory: give the file's absolute path.",
            field="path",
        )
    return path


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
