"""Talking to the queue of a data directory, whether or not an engine runs there.

`ApiClient` reaches a running engine through the address it announces in engine.json.
`open_backend` picks the way in: the store itself when no engine runs (a `TaskQueue` opened
with `dispatch=False`), the engine's API when one holds the data directory. Both run the same
actions (`qtqueue.api.actions`), so a caller such as the command line has one code path.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import psutil

from qtqueue.api import ENGINE_FILE
from qtqueue.api.actions import run_action
from qtqueue.api.wire import round_trip
from qtqueue.config import resolve_data_dir
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import ExecutorRegistry, default_registry

if TYPE_CHECKING:
    # aiohttp is imported where it is used: commands that find no engine never load it,
    # which keeps every such command about 0.1 s quicker to start.
    import aiohttp

logger = logging.getLogger(__name__)

__all__ = ["ApiClient", "Backend", "LocalBackend", "open_backend", "read_engine_file"]

#: How long a client waits to connect to the engine's socket.
CONNECT_TIMEOUT_S = 5.0
#: How long `open_backend` waits for an engine that holds the lock to announce its API.
ANNOUNCE_WAIT_S = 5.0


def read_engine_file(data_dir: Path) -> dict[str, Any] | None:
    """The engine's announced address, or None when no live engine announces one (no file,
    an unreadable one, or one left by a process that is gone)."""
    try:
        info = json.loads((data_dir / ENGINE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    pid = info.get("pid")
    if not isinstance(pid, int) or not psutil.pid_exists(pid):
        return None
    return info


def unwrap(reply: dict[str, Any]) -> dict[str, Any]:
    """The result of an action reply; raises its error as a QueueError."""
    if reply.get("ok"):
        result = reply.get("result")
        return result if isinstance(result, dict) else {}
    error = reply.get("error")
    if not isinstance(error, dict):
        raise QueueError(TaskErrorCode.INTERNAL_ERROR, f"malformed reply from the engine: {reply}")
    raise QueueError.from_dict(error)


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


class ApiClient:
    """A client of a running engine's local API.

    ```
    async with ApiClient(data_dir) as client:
        result = await client.call("queue_status", {"detailed": True})
    ```

    The address comes from `<data_dir>/engine.json` (read on first use, or given as `info`).
    When no engine answers, calls raise QueueError(QUEUE_ENGINE_UNAVAILABLE).
    """

    remote = True

    def __init__(self, data_dir: str | Path | None = None, info: dict[str, Any] | None = None):
        self.data_dir = resolve_data_dir(data_dir)
        self._info = info
        self._session: aiohttp.ClientSession | None = None
        self._base_url = "http://qtqueue"

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def address(self) -> str:
        """Where the engine listens, in words (for messages)."""
        info = self._info or {}
        if "unix" in info:
            return str(info["unix"])
        if "port" in info:
            return f"{info.get('host')}:{info['port']}"
        return str(self.data_dir / ENGINE_FILE)

    def _unavailable(self, why: str) -> QueueError:
        return QueueError(
            TaskErrorCode.QUEUE_ENGINE_UNAVAILABLE,
            f"no qtqueue engine answers for {self.data_dir}: {why}",
            data_dir=str(self.data_dir),
        )

    def _open_session(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._session is not None:
            return self._session
        info = self._info or read_engine_file(self.data_dir)
        if info is None:
            raise self._unavailable(f"no running engine announces itself in {ENGINE_FILE}")
        self._info = info
        headers: dict[str, str] = {}
        connector: aiohttp.BaseConnector
        if "unix" in info:
            connector = aiohttp.UnixConnector(path=str(info["unix"]))
        else:
            connector = aiohttp.TCPConnector()
            self._base_url = f"http://{info['host']}:{info['port']}"
            headers["Authorization"] = f"Bearer {info['token']}"
        timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT_S)
        self._session = aiohttp.ClientSession(connector=connector, headers=headers, timeout=timeout)
        return self._session

    async def request(self, body: object) -> dict[str, Any]:
        """POST one raw request to /api; returns the reply (ok or not)."""
        import aiohttp

        session = self._open_session()
        try:
            async with session.post(f"{self._base_url}/api", json=body) as resp:
                return await self._json_reply(resp)
        except (aiohttp.ClientConnectionError, OSError) as exc:
            raise self._unavailable(f"{type(exc).__name__}: {exc}") from None

    async def call(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one action on the engine; returns its result or raises its QueueError."""
        return unwrap(await self.request({"action": action, "params": params or {}}))

    @staticmethod
    async def _json_reply(resp: aiohttp.ClientResponse) -> dict[str, Any]:
        try:
            reply = await resp.json(content_type=None)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise QueueError(
                TaskErrorCode.INTERNAL_ERROR,
                f"the engine replied HTTP {resp.status} without a JSON reply",
            )
        return reply

    async def follow_log(self, task_id: str) -> AsyncGenerator[str, None]:
        """The task's log as text chunks, as it grows, until the task is finished (or the
        engine stops)."""
        async for chunk in self._stream(f"/tasks/{task_id}/log", {"follow": "1"}):
            yield chunk

    async def events(self) -> AsyncGenerator[dict[str, Any], None]:
        """Every change the engine commits, as `TaskEvent.to_dict()` dicts, until the engine
        stops. The first is `{"kind": "queue", "detail": "subscribed", ...}`: every change
        committed after it arrived follows."""
        buffer = ""
        async for chunk in self._stream("/events", {}):
            buffer += chunk
            *lines, buffer = buffer.split("\n")
            for line in lines:
                if line.strip():
                    yield json.loads(line)

    async def _stream(self, path: str, query: dict[str, str]) -> AsyncGenerator[str, None]:
        import aiohttp

        session = self._open_session()
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        try:
            async with session.get(f"{self._base_url}{path}", params=query) as resp:
                if resp.status != 200:
                    unwrap(await self._json_reply(resp))
                async for data in resp.content.iter_any():
                    text = decoder.decode(data)
                    if text:
                        yield text
        except aiohttp.ClientPayloadError as exc:
            raise self._unavailable(f"the engine stopped while streaming: {exc}") from None
        except (aiohttp.ClientConnectionError, OSError) as exc:
            raise self._unavailable(f"{type(exc).__name__}: {exc}") from None
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail


@contextlib.asynccontextmanager
async def open_backend(
    data_dir: str | Path | None = None,
    *,
    registry: ExecutorRegistry | None = None,
    announce_wait_s: float = ANNOUNCE_WAIT_S,
) -> AsyncGenerator[Backend, None]:
    """The queue of `data_dir`: local when no engine runs, else the engine's API.

    The store is opened without dispatching; if an engine holds the data directory
    (QUEUE_ENGINE_LOCKED) its engine.json gives the API's address. An engine that holds the
    lock but has not announced itself yet (it is starting, or another command has the store
    open for a moment) is waited for up to `announce_wait_s`, then QUEUE_ENGINE_UNAVAILABLE.
    """
    path = resolve_data_dir(data_dir)
    registry = registry if registry is not None else default_registry()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + announce_wait_s
    while True:
        queue = TaskQueue(path, dispatch=False, registry=registry)
        try:
            await queue.start()
        except QueueError as exc:
            if exc.code != TaskErrorCode.QUEUE_ENGINE_LOCKED:
                raise
        else:
            logger.debug("no engine runs for %s; using the store directly", path)
            try:
                yield LocalBackend(queue)
            finally:
                await queue.close()
            return
        info = read_engine_file(path)
        if info is not None:
            logger.debug("an engine runs for %s; using its API (%s)", path, info)
            async with ApiClient(path, info) as client:
                yield client
            return
        if loop.time() >= deadline:
            raise QueueError(
                TaskErrorCode.QUEUE_ENGINE_UNAVAILABLE,
                f"an engine holds {path} but does not announce its API in {ENGINE_FILE}",
                data_dir=str(path),
            )
        await asyncio.sleep(0.05)  # the holder is starting up or about to let go
