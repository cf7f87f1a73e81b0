"""The HTTP application: every part's routes on one aiohttp `web.Application`.

A part is a module with `add_routes(app)`; its handlers find the engine as `app[QUEUE]`
(`request.app[QUEUE]`). A handler that needs no API key is wrapped in `public` (the health
check, the admin page's HTML and assets); every other route is refused without the key.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from aiohttp import web

from qtqueue.api.keys import ApiKey, LiveKey
from qtqueue.api.wire import MAX_BODY_BYTES
from qtqueue.engine.queue import TaskQueue

__all__ = [
    "ACCEPTED_KEY",
    "AUDITED_TASK",
    "CALLER",
    "LIVE_KEY",
    "QUEUE",
    "Handler",
    "build_app",
    "is_public",
    "public",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_H = TypeVar("_H", bound=Handler)

#: The engine the application serves.
QUEUE = web.AppKey("queue", TaskQueue)

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
    queue: TaskQueue,
    *,
    middlewares: Iterable[Any] = (),
    live: LiveKey | None = None,
) -> web.Application:
    """The application over `queue`: the REST API, the admin page and the metrics.
    `middlewares` run first (authentication, over the key `live`)."""
    # The parts import this module's names (QUEUE, CALLER, public): found by name here, so
    # that no import cycle runs between them.
    parts = [importlib.import_module(f"{__package__}.{name}") for name in PARTS]
    json_errors = importlib.import_module(f"{__package__}.replies").json_errors

    # aiohttp refuses a body of client_max_size bytes or more: one more than the limit. Every
    # refusal is a coded JSON error (`json_errors`, inside the given middlewares).
    app = web.Application(
        middlewares=[*middlewares, json_errors], client_max_size=MAX_BODY_BYTES + 1
    )
    app[QUEUE] = queue
    if live is not None:
        app[LIVE_KEY] = live
    for part in parts:
        part.add_routes(app)
    return app
