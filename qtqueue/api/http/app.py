"""The HTTP application: every part's routes on one aiohttp `web.Application`.

A part is a module with `add_routes(app)`; its handlers find what they serve as `app[ENGINE]`,
an `HttpEngine`: a local `TaskQueue` (`engines.LocalEngine`, and the queue itself as
`app[QUEUE]`) or a cluster's Redis (`cluster_engine.ClusterEngine`, `qtqueue run --redis URL
--http ADDR`). A handler that needs no API key is wrapped in `public` (the health
check, the admin page's HTML and assets); every other route is refused without the key.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from aiohttp import web
from prometheus_client.registry import Collector

from qtqueue.api.keys import ApiKey, LiveKey
from qtqueue.api.wire import MAX_BODY_BYTES
from qtqueue.engine.queue import TaskQueue

__all__ = [
    "ACCEPTED_KEY",
    "AUDITED_TASK",
    "CALLER",
    "ENGINE",
    "LIVE_KEY",
    "QUEUE",
    "Frames",
    "Handler",
    "HttpEngine",
    "build_app",
    "is_public",
    "public",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_H = TypeVar("_H", bound=Handler)

#: One batch of events as server-sent-event frames: (kind, the event's JSON) each.
Frames = list[tuple[str, bytes]]


class HttpEngine(Protocol):
    """What the routes need of what they serve: a local engine or a cluster."""

    #: "local" or "cluster" (the admin page says which, and what a cluster lacks).
    kind: str
    #: The data directory whose API key opens the API and whose audit.log records requests.
    data_dir: Path
    #: Whether reading the metrics blocks (Redis round trips): then they are read in a thread.
    metrics_block: bool

    async def request(self, body: object) -> dict[str, Any]:
        """`{"action", "params"}` → `{"ok": True, "result"}` or `{"ok": False, "error"}`."""
        ...

    async def get_task(self, task_id: str) -> dict[str, Any]:
        """The task (`Task.to_dict`) of a full id; QueueError when there is none."""
        ...

    async def resolve(self, task_id: str) -> str:
        """The full id of a task id or a unique prefix; QueueError when none matches."""
        ...

    def follow_log(self, task_id: str) -> AsyncIterator[str]:
        """The task's log as it grows, until the task has ended."""
        ...

    def subscribe(
        self, on_frames: Callable[[Frames], None], on_end: Callable[[], None]
    ) -> Callable[[], None]:
        """Deliver every batch of events to `on_frames` until the returned function is
        called (`on_end` runs if the events stop first); QueueError (CLUSTER_NOT_SUPPORTED)
        where there is no event stream."""
        ...

    def collector(self) -> Collector:
        """The metrics collector of `/metrics`."""
        ...

    def page_info(self) -> dict[str, Any]:
        """What the admin page is told of the engine (`kind`, and for a cluster its server
        and what it lacks)."""
        ...


#: The local engine the application serves (None when it serves a cluster).
QUEUE = web.AppKey("queue", TaskQueue)
#: What the application serves: the routes' one way to it.
ENGINE = web.AppKey("engine", HttpEngine)

#: Who makes a request (the API key's name), set by the authentication middleware; a request
#: without it (no middleware, as in some tests) is made by "api".
CALLER = web.RequestKey("caller", str)
#: The API key a request was let in with (set beside `CALLER`): a stream it opened ends once
#: that key is no longer the one `app[LIVE_KEY]` accepts (rotated away) or has expired.
ACCEPTED_KEY = web.RequestKey("accepted_key", ApiKey)
#: The key the server accepts now (set by the server that checks keys).
LIVE_KEY = web.AppKey("live_key", LiveKey)

#: The task a request acted on when its path names none (the one `POST /tasks/` created, the
#: one an answered question belongs to), set by its handler for the audit line.
AUDITED_TASK = web.RequestKey("audited_task", str)

_PUBLIC_ATTR = "__qtqueue_public__"
#: The modules of this package whose `add_routes(app)` build the application.
PARTS = ("rest", "admin", "metrics")


def public(handler: _H) -> _H:
    """Mark a route handler as reachable without the API key."""
    setattr(handler, _PUBLIC_ATTR, True)
    return handler


def is_public(handler: Any) -> bool:
    """Whether `handler` (a route's handler) was marked `public`."""
    return bool(getattr(handler, _PUBLIC_ATTR, False))


def build_app(
    queue: TaskQueue | HttpEngine,
    *,
    middlewares: Iterable[Any] = (),
    live: LiveKey | None = None,
) -> web.Application:
    """The application over `queue` (a `TaskQueue`, or another `HttpEngine`: a cluster): the
    REST API, the admin page and the metrics. `middlewares` run first (authentication, over
    the key `live`)."""
    # The parts import this module's names (QUEUE, CALLER, public): found by name here, so
    # that no import cycle runs between them.
    parts = [importlib.import_module(f"{__package__}.{name}") for name in PARTS]
    json_errors = importlib.import_module(f"{__package__}.replies").json_errors

    # aiohttp refuses a body of client_max_size bytes or more: one more than the limit. Every
    # refusal is a coded JSON error (`json_errors`, inside the given middlewares).
    app = web.Application(
        middlewares=[*middlewares, json_errors], client_max_size=MAX_BODY_BYTES + 1
    )
    if queue is None or isinstance(queue, TaskQueue):  # None: the routes only (a test's)
        app[QUEUE] = queue
        app[ENGINE] = importlib.import_module(f"{__package__}.engines").LocalEngine(queue)
    else:
        app[ENGINE] = queue
    if live is not None:
        app[LIVE_KEY] = live
    for part in parts:
        part.add_routes(app)
    return app
