"""Talking to the queue of a data directory, whether or not an engine runs there.

`ApiClient` reaches a running engine through the address it announces in engine.json, over
aiohttp (the window uses it, for the event stream as well). `open_backend` picks the way in:
the store itself when no engine runs (`qtqueue.api.local_backend.LocalBackend`), an
`ApiClient` when one answers. The command line uses the lighter `LightClient` instead
(`qtqueue.api.light_client`), through `qtqueue.api.local_backend.open_backend`.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import logging
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtqueue.api import ENGINE_FILE, local_backend
from qtqueue.api.light_client import CONNECT_TIMEOUT_S, decode_reply, read_engine_file, unwrap
from qtqueue.api.local_backend import ANNOUNCE_WAIT_S, Backend, LocalBackend
from qtqueue.config import resolve_data_dir
from qtqueue.core.errors import QueueError, TaskErrorCode

if TYPE_CHECKING:
    # aiohttp is imported where it is used: commands that find no engine never load it,
    # which keeps every such command about 0.1 s quicker to start.
    import aiohttp

    from qtqueue.executors import ExecutorRegistry

logger = logging.getLogger(__name__)

__all__ = [
    "CONNECT_TIMEOUT_S",
    "ApiClient",
    "Backend",
    "LocalBackend",
    "open_backend",
    "read_engine_file",
    "unwrap",
]


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
        return decode_reply(await resp.read(), resp.status)

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
    """The queue of `data_dir`: an `ApiClient` when an engine answers, else local
    (`qtqueue.api.local_backend.open_backend`, which says how it waits for an engine that
    holds the data directory but has not announced itself)."""
    async with local_backend.open_backend(
        data_dir, remote=ApiClient, registry=registry, announce_wait_s=announce_wait_s
    ) as backend:
        yield backend
