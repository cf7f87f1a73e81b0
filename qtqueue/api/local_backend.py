"""The queue of a data directory, whether or not an engine runs there — the engine imported
only when none does.

`open_backend` picks the way in: the running engine's API when one announces itself in
engine.json and answers there, else the store itself, opened in this process without
dispatching (`LocalBackend`, a `TaskQueue` with `dispatch=False`). Both run the same actions
(`qtqueue.api.actions`), so a caller such as the command line has one code path.

Nothing here imports the engine, pydantic or aiohttp at import time: the engine is imported
when the store is opened, so a command that finds an engine never loads it. With `run` and
`worker`, this module is the command line's one way to the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from qtqueue.api import ENGINE_FILE
from qtqueue.api.light_client import LightClient, answers, read_engine_file, unwrap
from qtqueue.api.wire import round_trip
from qtqueue.config import resolve_data_dir
from qtqueue.core.errors import QueueError, TaskErrorCode

if TYPE_CHECKING:
    from qtqueue.engine.queue import TaskQueue
    from qtqueue.executors import ExecutorRegistry
    from qtqueue.storage.backups import Backup

logger = logging.getLogger(__name__)

__all__ = [
    "ANNOUNCE_WAIT_S",
    "Backend",
    "LocalBackend",
    "backup_now",
    "open_backend",
    "restore_backup",
]

#: How long `open_backend` waits for an engine that holds the lock to announce its API.
ANNOUNCE_WAIT_S = 5.0


class Backend(Protocol):
    """What the command line needs of a queue: run actions, follow logs."""

    @property
    def remote(self) -> bool:
        """True when a running engine answers; False when the store is read directly."""

    async def request(self, body: object) -> dict[str, Any]:
        """Run one raw request `{"action", "params"}`; returns the reply, never raises for an
        error reply."""

    async def call(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one action; returns its result or raises its error as a QueueError."""

    def follow_log(self, task_id: str) -> AsyncIterator[str]:
        """A task's log as text chunks, as it grows, until the task is finished."""


class LocalBackend:
    """The actions run in this process on a queue opened without dispatching."""

    remote = False

    def __init__(self, queue: TaskQueue) -> None:
        self.queue = queue

    async def request(self, body: object) -> dict[str, Any]:
        """`run_action` on the local queue, on the request as an engine's server would see it
        (the same size, nesting and number limits: `qtqueue.api.wire`)."""
        from qtqueue.api.actions import run_action

        try:
            checked = round_trip(body)
        except QueueError as exc:
            return {"ok": False, "error": exc.to_dict()}
        return await run_action(self.queue, checked)

    async def call(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one action on the local queue."""
        return unwrap(await self.request({"action": action, "params": params or {}}))

    async def follow_log(self, task_id: str) -> AsyncGenerator[str, None]:
        """The log as it is now: without an engine nothing runs, so nothing is added."""
        result = await self.call("read_log", {"task_id": task_id})
        if result["log"]:
            yield result["log"]


async def _open_store(path: Path, registry: ExecutorRegistry | None) -> TaskQueue | None:
    """The store of `path` opened without dispatching, with the settings saved in it (as
    `qtqueue run` opens it), or None while an engine (or another command) holds the data
    directory."""
    from qtqueue import settings
    from qtqueue.engine.queue import TaskQueue
    from qtqueue.executors import default_registry

    queue = TaskQueue(
        path, dispatch=False, registry=registry if registry is not None else default_registry()
    )
    try:
        await queue.start()
    except QueueError as exc:
        if exc.code != TaskErrorCode.QUEUE_ENGINE_LOCKED:
            raise
        return None
    # what an engine started now would use (`config get`, `stats`); read once the store is
    # open, so that its own checks (permissions, damage) speak first
    try:
        models = settings.family_settings(queue.registry)
        settings.apply_settings(queue, await settings.load_settings(queue.store, models))
    except BaseException:
        await queue.close()
        raise
    return queue


@contextlib.asynccontextmanager
async def open_backend(
    data_dir: str | Path | None = None,
    *,
    remote: Callable[[Path, dict[str, Any]], Any] = LightClient,
    registry: ExecutorRegistry | None = None,
    announce_wait_s: float = ANNOUNCE_WAIT_S,
) -> AsyncGenerator[Backend, None]:
    """The queue of `data_dir`: the engine's API when one announces itself and answers (a
    `remote(data_dir, info)` client, closed after use if it has `close`), else local.

    Without an engine answering, the store is opened without dispatching; if an engine holds
    the data directory (QUEUE_ENGINE_LOCKED) but has not announced itself yet (it is starting,
    or another command has the store open for a moment), it is waited for up to
    `announce_wait_s`, then QUEUE_ENGINE_UNAVAILABLE.
    """
    path = resolve_data_dir(data_dir)
    deadline = time.monotonic() + announce_wait_s
    while True:
        info = read_engine_file(path)
        if info is not None and await answers(info):
            shown = {k: v for k, v in info.items() if k != "token"}  # the token is a secret
            logger.debug("an engine runs for %s; using its API (%s)", path, shown)
            client = remote(path, info)
            try:
                yield client
            finally:
                if hasattr(client, "close"):
                    await client.close()
            return
        queue = await _open_store(path, registry)
        if queue is not None:
            logger.debug("no engine runs for %s; using the store directly", path)
            try:
                yield LocalBackend(queue)
            finally:
                await queue.close()
            return
        if time.monotonic() >= deadline:
            raise QueueError(
                TaskErrorCode.QUEUE_ENGINE_UNAVAILABLE,
                f"an engine holds {path} but does not announce its API in {ENGINE_FILE}",
                data_dir=str(path),
            )
        await asyncio.sleep(0.05)  # the holder is starting up or about to let go


def backup_now(data_dir: Path, now: float) -> Backup:
    """Copy the store into the backups folder now (`qtqueue.engine.restore.backup_now`)."""
    from qtqueue.engine.restore import backup_now as engine_backup_now

    return engine_backup_now(data_dir, now)


def restore_backup(data_dir: Path, name: str, now: float) -> tuple[Backup, Path | None]:
    """Bring a backup back (`qtqueue.engine.restore.restore_backup`): the backup and where
    the replaced file was set aside."""
    from qtqueue.engine.restore import restore_backup as engine_restore_backup

    return engine_restore_backup(data_dir, name, now)
