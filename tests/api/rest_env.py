"""What the REST API's tests share: the HTTP server over a real engine, and a small client.

`serve(queue)` starts `HttpServer` on 127.0.0.1 (a free port) and yields a `Rest` client
(aiohttp, keep-alive) that answers `(status, body)`: JSON decoded when the reply is JSON, text
otherwise. `middlewares` go to the server (e.g. one that names the caller, as the API key's
middleware does)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

import aiohttp

from api.http_auth_env import bearer
from qtqueue.api.http.server import HttpServer
from qtqueue.engine.queue import TaskQueue

__all__ = ["Rest", "command", "serve"]


def command(*argv: str, **fields: Any) -> dict[str, Any]:
    """A custom_command task's fields: `argv` and any other task fields."""
    return {
        "task_type": "custom_command",
        "params": {"command": argv[0], "args": list(argv[1:])},
        **fields,
    }


class Rest:
    """A client of one server: `await rest.get("/tasks/")` → (status, body)."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        data: bytes | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Send one request; the status and the decoded body."""
        payload = (
            io.BytesIO(data)
            if data is not None
            else (json.dumps(body) if body is not None else None)
        )
        async with self.session.request(
            method, self.url + path, data=payload, params=params
        ) as resp:
            raw = await resp.read()
            if resp.content_type == "application/json":
                return resp.status, json.loads(raw)
            return resp.status, raw.decode()

    async def get(self, path: str, **query: str) -> tuple[int, Any]:
        return await self.request("GET", path, params=query or None)

    async def post(self, path: str, body: Any = None) -> tuple[int, Any]:
        return await self.request("POST", path, body)

    async def delete(self, path: str) -> tuple[int, Any]:
        return await self.request("DELETE", path)


@contextlib.asynccontextmanager
async def serve(queue: TaskQueue, middlewares: Iterable[Any] = ()) -> AsyncIterator[Rest]:
    """The REST API of `queue` on 127.0.0.1, and a client of it."""
    async with (
        HttpServer(queue, "127.0.0.1", 0, middlewares=middlewares) as server,
        aiohttp.ClientSession(headers=bearer(queue.data_dir)) as session,
    ):
        yield Rest(session, server.url)
