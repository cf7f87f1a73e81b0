"""The engine's local HTTP API, served on a Unix socket in the data directory.

Routes:

- `POST /api` — body `{"action": NAME, "params": {...}}`; replies with what `run_action` returns.
- `GET /events` — newline-delimited JSON, one `TaskEvent.to_dict()` per line, for as long as
  the client reads. The first line is a QUEUE event with detail "subscribed": every change
  committed after the client has read it is delivered. A QUEUE event with detail "overflow"
  means the client fell behind and events were dropped (re-read the state).
- `GET /tasks/{id}/log` — the task's log as text; with `?follow=1` it streams as the log grows
  until the task is finished.

The server announces itself in `<data_dir>/engine.json` (mode 0600): `{"pid", "unix"}` with the
socket's path, or — when that path is too long for a Unix socket — `{"pid", "host", "port",
"token"}` for a TCP port on 127.0.0.1 that demands `Authorization: Bearer <token>`. Only the
process that holds the data directory's engine lock may run the server; it removes a stale
socket on start, and the socket and engine.json on stop. `announce` adds facts to engine.json
(`"http"`: the HTTP API's URL, when `qtqueue run --http` serves it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from qtqueue.api import ENGINE_FILE, SOCKET_NAME
from qtqueue.api.actions import resolve_task_id, run_action
from qtqueue.api.log_limit import OneLineRateLimit
from qtqueue.api.streaming import until_set
from qtqueue.api.wire import MAX_BODY_BYTES, decode_request, too_large
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import TaskQueue

logger = logging.getLogger(__name__)
#: One line per bad or abandoned request, rate-limited (see `OneLineRateLimit`).
request_logger = logger.getChild("requests")

__all__ = ["ENGINE_FILE", "SOCKET_NAME", "UNIX_PATH_MAX", "ApiServer", "write_engine_file"]

#: Longest socket path used (bytes). AF_UNIX allows 108 on Linux and 104 on macOS.
UNIX_PATH_MAX = 100
#: Events a slow /events reader may fall behind by before it is told to resynchronise.
EVENT_BUFFER = 10000

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def write_engine_file(path: Path, info: dict[str, Any]) -> None:
    """Write engine.json atomically, readable by its owner only."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(info, fh)
    os.replace(tmp, path)


def _error_response(exc: QueueError, status: int) -> web.Response:
    return web.json_response({"ok": False, "error": exc.to_dict()}, status=status)


class ApiServer:
    """Serves one `TaskQueue` on the local API. `async with ApiServer(queue): ...`, or
    `start()` / `stop()`. The queue must be started first and outlive the server."""

    def __init__(self, queue: TaskQueue, *, data_dir: Path | None = None) -> None:
        self.queue = queue
        self.data_dir = data_dir if data_dir is not None else queue.data_dir
        self.engine_file = self.data_dir / ENGINE_FILE
        self.socket_path: Path | None = None
        self.host: str | None = None
        self.port: int | None = None
        self.token: str | None = None
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self._inboxes: set[asyncio.Queue[TaskEvent | None]] = set()
        self._request_log = OneLineRateLimit()
        self._extra: dict[str, Any] = {}

    async def __aenter__(self) -> ApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def info(self) -> dict[str, Any]:
        """What engine.json holds: how a client reaches this server."""
        if self.socket_path is not None:
            return {**self._extra, "pid": os.getpid(), "unix": str(self.socket_path)}
        base = {"pid": os.getpid(), "host": self.host, "port": self.port, "token": self.token}
        return {**self._extra, **base}

    def announce(self, **extra: Any) -> None:
        """Add facts to engine.json (`announce(http=URL)`); a None value withdraws one. While
        the server runs, engine.json is rewritten at once."""
        for name, value in extra.items():
            if value is None:
                self._extra.pop(name, None)
            else:
                self._extra[name] = value
        if self._runner is not None:
            write_engine_file(self.engine_file, self.info)

    async def start(self) -> None:
        """Listen, then announce the address in engine.json."""
        if self._runner is not None:
            return
        self._stopping.clear()
        # aiohttp refuses a body of client_max_size bytes or more: one more than the limit.
        app = web.Application(middlewares=[self._auth], client_max_size=MAX_BODY_BYTES + 1)
        app.router.add_post("/api", self._handle_api)
        app.router.add_get("/events", self._handle_events)
        app.router.add_get("/tasks/{task_id}/log", self._handle_log)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        try:
            sock_path = self.data_dir / SOCKET_NAME
            site: web.BaseSite
            if len(os.fsencode(sock_path)) <= UNIX_PATH_MAX:
                with contextlib.suppress(FileNotFoundError):
                    sock_path.unlink()  # left by an engine that crashed; we hold the lock now
                site = web.UnixSite(runner, str(sock_path))
                await site.start()
                os.chmod(sock_path, 0o600)
                self.socket_path = sock_path
            else:
                logger.info("socket path %s is too long; serving on TCP 127.0.0.1", sock_path)
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("127.0.0.1", 0))
                self.host, self.port = sock.getsockname()[:2]
                self.token = secrets.token_urlsafe(32)
                site = web.SockSite(runner, sock)
                await site.start()
            write_engine_file(self.engine_file, self.info)
            self._request_log.attach([request_logger, logging.getLogger("aiohttp.server")])
        except BaseException:
            await runner.cleanup()
            self._forget_address()
            raise
        self._runner = runner
        logger.info("local API listening on %s", self.socket_path or f"{self.host}:{self.port}")

    async def stop(self) -> None:
        """Withdraw engine.json, end open streams cleanly, close the server and its socket."""
        runner = self._runner
        if runner is None:
            return
        self._runner = None
        with contextlib.suppress(FileNotFoundError):
            self.engine_file.unlink()
        self._stopping.set()
        for inbox in self._inboxes:
            inbox.put_nowait(None)
        await runner.cleanup()
        self._request_log.detach()
        if self.socket_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()
        self._forget_address()
        logger.info("local API stopped")

    def _forget_address(self) -> None:
        self.socket_path = None
        self.host = self.port = self.token = None

    # ------------------------------------------------------------------ routes

    @web.middleware
    async def _auth(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """On TCP, every request must carry the bearer token from engine.json."""
        if self.token is not None:
            expected = f"Bearer {self.token}"
            given = request.headers.get("Authorization", "")
            if not secrets.compare_digest(given.encode(), expected.encode()):
                exc = QueueError(
                    TaskErrorCode.VALIDATION_INVALID_PARAMS,
                    "missing or wrong API token (read it from engine.json)",
                )
                return _error_response(exc, 401)
        return await handler(request)

    async def _handle_api(self, request: web.Request) -> web.Response:
        try:
            body = decode_request(await request.read())
        except web.HTTPRequestEntityTooLarge:
            return _error_response(too_large(), 413)
        except QueueError as exc:
            return _error_response(exc, 400)
        except ConnectionResetError as exc:  # the client left before sending all of it
            request_logger.warning("a client left in the middle of its request: %s", exc)
            return web.Response(status=400)
        return web.json_response(await run_action(self.queue, body))

    async def _handle_events(self, request: web.Request) -> web.StreamResponse:
        inbox: asyncio.Queue[TaskEvent | None] = asyncio.Queue()

        def push(events: list[TaskEvent]) -> None:
            for event in events:
                if inbox.qsize() >= EVENT_BUFFER:
                    while not inbox.empty():
                        inbox.get_nowait()
                    inbox.put_nowait(TaskEvent(EventKind.QUEUE, "", detail="overflow"))
                inbox.put_nowait(event)

        unsubscribe = self.queue.subscribe(push)
        self._inboxes.add(inbox)
        inbox.put_nowait(TaskEvent(EventKind.QUEUE, "", detail="subscribed"))
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        try:
            await response.prepare(request)
            while not self._stopping.is_set():
                event = await inbox.get()
                if event is None:
                    break
                line = json.dumps(event.to_dict(), default=str).encode() + b"\n"
                await response.write(line)
            await response.write_eof()
        except ConnectionResetError:
            logger.debug("an /events client went away")
        finally:
            unsubscribe()
            self._inboxes.discard(inbox)
        return response

    async def _handle_log(self, request: web.Request) -> web.StreamResponse:
        try:
            task_id = await resolve_task_id(self.queue, request.match_info["task_id"])
        except QueueError as exc:
            status = 404 if exc.code == TaskErrorCode.QUEUE_TASK_NOT_FOUND else 400
            return _error_response(exc, status)
        if request.query.get("follow", "0").lower() not in ("1", "true", "yes"):
            text = await self.queue.read_log(task_id)
            return web.Response(text=text, content_type="text/plain", charset="utf-8")
        response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
        try:
            await response.prepare(request)
            following = until_set(self._stopping, self.queue.follow_log(task_id))
            async with contextlib.aclosing(following) as chunks:
                async for chunk in chunks:
                    await response.write(chunk.encode())
            await response.write_eof()
        except ConnectionResetError:
            logger.debug("a log follower of %s went away", task_id)
        return response
