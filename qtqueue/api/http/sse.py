"""The live routes: `GET /events` (server-sent events) and `GET /tasks/{task_id}/log`.

`/events` is a `text/event-stream`. It opens with `event: hello`; then every engine event, once
durable, as `id: <n>\\nevent: <kind>\\ndata: <TaskEvent.to_dict() as JSON>\\n\\n` (`n` counts
the stream's events from 1; `kind` is added, changed, removed, queue, question, notice or
schedule_changed); a comment `: keepalive` every `KEEPALIVE_S` seconds of silence. A client
more than `EVENT_BUFFER` events behind loses what it had not read and gets `event: overflow`:
it should read the tasks again. Events are not kept: a client that reconnects reads the tasks
again too (its Last-Event-ID is not replayed).

On a cluster (`qtqueue run --redis URL --http ADDR`) the events are the cluster's event stream
(`ClusterBackend.events()`, Redis pub/sub), framed the same way; a cluster without one answers
`/events` with 501 CLUSTER_NOT_SUPPORTED, and when its stream ends (Redis went away) every
`/events` stream ends and its client reconnects.

One subscription to the engine serves every stream: each batch the engine commits is written
as text once, and each client's share goes out in one write (1,000 changes a second are a few
writes, not a thousand).

`/tasks/{task_id}/log` is the retained log as text; `?follow=1` streams it as it grows until
the task is finished (as the local API's route does).

Every open stream (`Streams`) ends cleanly (its last chunk, then the end of the reply) when
the server stops, and when the API key it was opened with is no longer accepted — rotated
away or expired: the client reconnects and gets 401. A stream whose client went away is
dropped (its `/events` subscription with it) within `SWEEP_S`, not at its next write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from qtqueue.api.http.app import ACCEPTED_KEY, ENGINE, LIVE_KEY, Frames, HttpEngine
from qtqueue.api.http.replies import ApiError, call
from qtqueue.api.streaming import until_set
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.log_streams import MarkStripper, strip_marks

logger = logging.getLogger(__name__)

__all__ = [
    "BROADCAST",
    "EVENT_BUFFER",
    "KEEPALIVE_S",
    "STREAMS",
    "SWEEP_S",
    "Broadcast",
    "Streams",
    "add_routes",
]

#: Events a slow client may fall behind by before it is told to read the tasks again.
EVENT_BUFFER = 10000
#: Seconds of silence after which a stream sends a keepalive comment.
KEEPALIVE_S = 15.0
#: Seconds between two checks of the open streams (client gone, key rotated away or expired).
SWEEP_S = 0.5
_YES = ("1", "true", "yes")


class _Stream:
    """One open stream: `ended` once the server stops, its key is no longer accepted or its
    client went away (then `on_end` runs)."""

    def __init__(self, request: web.Request, on_end: Callable[[], None] | None) -> None:
        self.request = request
        self.ended = asyncio.Event()
        self._on_end = on_end
        self._key = request.get(ACCEPTED_KEY)
        self._live = request.app.get(LIVE_KEY)

    def allowed(self, now: float | None = None) -> bool:
        """Whether the key the stream was opened with is still accepted (always, when no key
        was checked)."""
        key, live = self._key, self._live
        if key is None or live is None:
            return True
        return live.key is key and not key.expired(time.time() if now is None else now)

    def gone(self) -> bool:
        """Whether the client closed the connection."""
        transport = self.request.transport
        return transport is None or transport.is_closing()

    def end(self) -> None:
        if not self.ended.is_set():
            self.ended.set()
            if self._on_end is not None:
                self._on_end()


class Streams:
    """The application's open streams (`/events`, log followers): all ended when the server
    stops; checked every `SWEEP_S` while any is open."""

    def __init__(self) -> None:
        self.open: set[_Stream] = set()
        self.stopping = False
        self._sweeper: asyncio.Task[None] | None = None

    def add(self, request: web.Request, on_end: Callable[[], None] | None = None) -> _Stream:
        """Register the stream `request` opens; `remove` it when it ends."""
        stream = _Stream(request, on_end)
        self.open.add(stream)
        if self.stopping:
            stream.end()
        elif self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep())
        return stream

    def remove(self, stream: _Stream) -> None:
        """A stream's reply is over."""
        self.open.discard(stream)

    def end_all(self) -> None:
        """End every stream (the server stops)."""
        self.stopping = True
        for stream in list(self.open):
            stream.end()
        if self._sweeper is not None:
            self._sweeper.cancel()

    async def _sweep(self) -> None:
        while self.open:
            await asyncio.sleep(SWEEP_S)
            now = time.time()
            for stream in list(self.open):
                if stream.gone() or not stream.allowed(now):
                    stream.end()


STREAMS = web.AppKey("sse_streams", Streams)


class _Client:
    """One stream's pending text, in frames, and how many events they hold."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, bytes]] = []  # (kind, data line) per event
        self.pending = 0
        self.overflowed = False
        self.closed = False
        self.ready = asyncio.Event()

    def push(self, frames: list[tuple[str, bytes]]) -> None:
        if self.pending + len(frames) > EVENT_BUFFER:
            self.frames.clear()
            self.pending = 0
            self.overflowed = True
        else:
            self.frames.extend(frames)
            self.pending += len(frames)
        self.ready.set()

    def close(self) -> None:
        self.closed = True
        self.ready.set()

    def take(self) -> tuple[list[tuple[str, bytes]], bool]:
        frames, self.frames = self.frames, []
        overflowed, self.overflowed = self.overflowed, False
        self.pending = 0
        self.ready.clear()
        return frames, overflowed


class Broadcast:
    """The engine's events as SSE frames, for every open stream (one subscription)."""

    def __init__(self, engine: HttpEngine) -> None:
        self.engine = engine
        self.clients: set[_Client] = set()
        self._unsubscribe: Any = None

    def _on_frames(self, frames: Frames) -> None:
        for client in self.clients:
            client.push(frames)

    def _on_end(self) -> None:
        """The engine's event stream ended (a cluster's Redis went away): every stream ends,
        and its client reconnects."""
        self._unsubscribe = None
        for client in list(self.clients):
            client.close()

    def join(self) -> _Client:
        """A new stream's client; the first one subscribes to the engine (QueueError where the
        engine has no event stream)."""
        if not self.clients or self._unsubscribe is None:
            self._unsubscribe = self.engine.subscribe(self._on_frames, self._on_end)
        client = _Client()
        self.clients.add(client)
        return client

    def leave(self, client: _Client) -> None:
        """A stream ended; the last one unsubscribes."""
        self.clients.discard(client)
        if not self.clients and self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


BROADCAST = web.AppKey("sse_broadcast", Broadcast)


def _encode(frames: list[tuple[str, bytes]], first_id: int) -> bytes:
    parts: list[bytes] = []
    for n, (kind, data) in enumerate(frames, first_id):
        parts.append(b"id: %d\nevent: %s\ndata: %s\n\n" % (n, kind.encode(), data))
    return b"".join(parts)


async def events(request: web.Request) -> web.StreamResponse:
    """GET /events: the engine's events as server-sent events (see the module's docstring)."""
    broadcast = request.app[BROADCAST]
    try:
        client = broadcast.join()
    except QueueError as exc:  # a cluster without an event stream: CLUSTER_NOT_SUPPORTED
        raise ApiError.of(exc) from None
    stream = request.app[STREAMS].add(request, on_end=client.close)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    seq = 0
    try:
        await response.prepare(request)
        await response.write(b'event: hello\ndata: {"kind": "hello"}\n\n')
        while not client.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.ready.wait(), KEEPALIVE_S)
            if not stream.allowed():
                break
            frames, overflowed = client.take()  # closed: what was pushed before still goes
            out = b""
            if overflowed:
                seq += 1
                out += b'id: %d\nevent: overflow\ndata: {"kind": "overflow"}\n\n' % seq
            if frames:
                out += _encode(frames, seq + 1)
                seq += len(frames)
            if out or not client.closed:
                await response.write(out or b": keepalive\n\n")
        await response.write_eof()
    except ConnectionResetError:
        logger.debug("an /events client went away")
    finally:
        broadcast.leave(client)
        request.app[STREAMS].remove(stream)
    return response


async def task_log(request: web.Request) -> web.StreamResponse:
    """GET /tasks/{task_id}/log: the log as text; `?follow=1` streams it until the task ends.
    `?streams=1` keeps the marks around what the command wrote to stderr
    (`qtqueue.core.log_streams`); without it the text is plain."""
    task_id = request.match_info["task_id"]
    unknown = sorted(set(request.query) - {"follow", "tail_bytes", "streams"})
    if unknown:
        raise ApiError.of(
            QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS,
                f"unknown query parameter(s): {', '.join(unknown)} (known: follow, tail_bytes, "
                f"streams)",
            )
        )
    marked = request.query.get("streams", "0").lower() in _YES
    if request.query.get("follow", "0").lower() not in _YES:
        params: dict[str, Any] = {"task_id": task_id}
        if "tail_bytes" in request.query:
            params["tail_bytes"] = _int_query(request, "tail_bytes")
        text = (await call(request, "read_log", params))["log"]
        if not marked:
            text = strip_marks(text)
        return web.Response(text=text, content_type="text/plain", charset="utf-8")
    engine = request.app[ENGINE]
    try:
        task_id = await engine.resolve(task_id)
    except QueueError as exc:
        raise ApiError.of(exc) from None
    response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    streams = request.app[STREAMS]
    stream = streams.add(request)
    try:
        await response.prepare(request)
        following = until_set(stream.ended, engine.follow_log(task_id))
        stripper = None if marked else MarkStripper()
        async with contextlib.aclosing(following) as chunks:
            async for chunk in chunks:
                if not stream.allowed():
                    break
                await response.write((stripper.feed(chunk) if stripper else chunk).encode())
        if stripper is not None:
            await response.write(stripper.finish().encode())
        await response.write_eof()
    except ConnectionResetError:
        logger.debug("a log follower of %s went away", task_id)
    finally:
        streams.remove(stream)
    return response


def _int_query(request: web.Request, name: str) -> int:
    text = request.query[name]
    try:
        return int(text)
    except ValueError:
        raise ApiError.of(
            QueueError(
                TaskErrorCode.VALIDATION_INVALID_FORMAT,
                f"{name}: {text!r} is not a whole number",
                field=name,
            )
        ) from None


async def _close_streams(app: web.Application) -> None:
    app[STREAMS].end_all()


def add_routes(app: web.Application) -> None:
    """Add `/events` and the log route to `app`."""
    app[BROADCAST] = Broadcast(app[ENGINE])
    app[STREAMS] = Streams()
    app.on_shutdown.append(_close_streams)
    app.router.add_get("/events", events, allow_head=False)
    app.router.add_get("/tasks/{task_id}/log", task_log)
