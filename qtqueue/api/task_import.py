"""A task file read back as new tasks: every entry checked as adding would check it (the type
exists, its params validate, its own fields are in range) before any is handed on, each
refusal a coded error naming the entry and the fix (`task_files` writes the files).

One check for every way in: the `import_tasks` action (the command line's `qtqueue import`,
the window attached to an engine) names the file by its path and the engine reads it itself —
the local API is on the same machine, and a file of thousands of tasks is far over a request's
1 MiB (`api.wire.MAX_BODY_BYTES`) — and the in-process window reads it with the same
`read_import`. Either way every entry is checked before any is added: all or none.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import Field

from qtqueue.api.messages import TaskIds
from qtqueue.api.params import Params, parse_params
from qtqueue.api.port import EnginePort
from qtqueue.api.task_files import DEFINITION_FIELDS, file_entries, read_task_file
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task
from qtqueue.engine.queue import TaskQueue
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
    try:
        return checked_definition(data, registry)
    except QueueError as exc:
        raw_name = data.get("name") if isinstance(data, dict) else None
        name = raw_name if isinstance(raw_name, str) else ""
        raise _entry_error(index, name, exc.message, exc.code) from None


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
    DATA_* if the file cannot be read (`task_files.read_task_file`). Blocking: run it in a
    thread."""
    return parse_import(read_task_file(path), registry)


class ImportParams(Params):
    """`import_tasks`: the task file, by its path on the engine's machine."""

    path: str = Field(
        ...,
        description="Absolute path of a task file (`qtqueue export` wrote it), which the "
        "engine reads itself: a regular file the user can read, at most 100 MiB",
    )


def _absolute(raw: str) -> Path:
    path = Path(raw)
    if not raw or "\0" in raw or not path.is_absolute():
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"action import_tasks: path {raw!r} is not an absolute path; the engine does not "
            "share the caller's working directory: give the file's absolute path.",
            field="path",
        )
    return path


async def import_tasks(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Add every task of a task file as new tasks, all or none → `{"ids": [...]}`. The engine
    reads the file itself (params: `{"path": ABSOLUTE_PATH}`), so its size is not bound by a
    request's; each entry is checked as the window's import checks it (`parse_import`)."""
    path = _absolute(parse_params(ImportParams, "import_tasks", params).path)
    tasks = await asyncio.to_thread(read_import, path, queue.registry)
    ids = await queue.add_tasks(tasks)
    logger.info("%d task(s) imported from %s", len(ids), path)
    return TaskIds(ids=ids).dump()


#: The import action by action name (`api.actions.ACTIONS` takes it in).
IMPORT_ACTIONS = {"import_tasks": import_tasks}


@runtime_checkable
class FileImporter(Protocol):
    """An engine port that has the engine read a task file itself (`RemoteEngine`: the file
    would not fit in one request)."""

    async def import_file(self, path: Path) -> list[str]:
        """Add every task of the file at `path`, all or none; their ids."""
        ...


async def import_file(engine: EnginePort, path: Path) -> list[str]:
    """Add every task of the task file at `path` to `engine`, all or none; their ids. An
    attached engine reads the file itself (`FileImporter`); in process it is read here, off
    the event loop, and the checked tasks are added at once."""
    path = Path(path).absolute()
    if isinstance(engine, FileImporter):
        return await engine.import_file(path)
    tasks = await asyncio.to_thread(read_import, path, engine.registry)
    return await engine.add_tasks(tasks)
