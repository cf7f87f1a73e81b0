"""The engine's `import_tasks` action and the window's import: a task file read back as new
tasks, every entry checked as adding would check it before any is added
(`engine.task_definitions`, which a cluster's import uses too; `task_files` writes the files).

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
from qtqueue.engine.queue import TaskQueue
from qtqueue.engine.task_definitions import absolute_path, read_import
from qtqueue.engine.task_definitions import checked_definition as checked_definition
from qtqueue.engine.task_definitions import parse_import as parse_import
from qtqueue.engine.task_definitions import task_from_definition as task_from_definition

logger = logging.getLogger(__name__)


class ImportParams(Params):
    """`import_tasks`: the task file, by its path on the engine's machine."""

    path: str = Field(
        ...,
        description="Absolute path of a task file (`qtqueue export` wrote it), which the "
        "engine reads itself: a regular file the user can read, at most 100 MiB",
    )


async def import_tasks(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Add every task of a task file as new tasks, all or none → `{"ids": [...]}`. The engine
    reads the file itself (params: `{"path": ABSOLUTE_PATH}`), so its size is not bound by a
    request's; each entry is checked as the window's import checks it (`parse_import`)."""
    path = absolute_path(parse_params(ImportParams, "import_tasks", params).path)
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
