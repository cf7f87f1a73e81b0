"""Authentication and the audit trail of the HTTP API: one aiohttp middleware.

Every route whose handler is not marked `public` (`app.is_public`) needs the data directory's
API key as `Authorization: Bearer KEY`. Without it, with a wrong one or an expired one the
reply is 401 with `WWW-Authenticate: Bearer` and a coded error (API_KEY_REQUIRED) — nothing
else: no route, no task, the same body for a missing key as for a wrong one. A request that
is let through carries the key's name as `request[CALLER]`.

The key is checked against a `LiveKey` held in memory (no keyring read per request); rotating
the key in this process (`qtqueue.api.keys.ApiKeys.rotate`) changes it at once.

Every state-changing request (POST, PUT, PATCH, DELETE), refused or not, leaves one line on
the logger `qtqueue.audit`: who (the key's name, or "-"), the method and route, the ids the
route names (the task created, for a new task), and the status code. Never the key.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from qtqueue.api.http.app import CALLER, CREATED_TASK, Handler, is_public
from qtqueue.api.keys import LiveKey
from qtqueue.core.errors import QueueError, TaskErrorCode

logger = logging.getLogger(__name__)
#: One line per state-changing request.
audit_logger = logging.getLogger("qtqueue.audit")

__all__ = ["STATE_CHANGING", "audit_logger", "auth_middleware", "unauthorized"]

#: The methods whose requests are audited.
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: The longest route parameter written to an audit line.
_MAX_ID = 80


def unauthorized(expired: bool = False) -> web.Response:
    """The 401 reply: a coded error and nothing else."""
    message = (
        "the API key has expired (make a new one with 'qtqueue token rotate')"
        if expired
        else "a valid API key is required (Authorization: Bearer KEY)"
    )
    error = QueueError(TaskErrorCode.API_KEY_REQUIRED, message)
    return web.json_response(
        {"ok": False, "error": error.to_dict()},
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="qtqueue"'},
    )


def auth_middleware(live: LiveKey) -> Any:
    """The middleware that lets through only requests carrying `live`'s key (and any request
    to a public route), and audits the state-changing ones."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_public(request.match_info.handler):
            return await handler(request)
        header = request.headers.get("Authorization")
        key = live.check(header)
        if key is None:
            refusal = unauthorized(expired=live.check(header, now=0.0) is not None)
            _audit(request, "-", refusal.status)
            return refusal
        request[CALLER] = key.name
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            _audit(request, key.name, exc.status)
            raise
        except BaseException:
            _audit(request, key.name, 500)
            raise
        _audit(request, key.name, response.status)
        return response

    return authenticate


def _audit(request: web.Request, who: str, status: int) -> None:
    if request.method not in STATE_CHANGING or not audit_logger.isEnabledFor(logging.INFO):
        return
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "(no route)"
    ids = [f"{name}={_clean(value)}" for name, value in request.match_info.items()]
    created = request.get(CREATED_TASK) if status == 201 else None
    if created is not None and "task_id" not in request.match_info:
        ids.append(f"task_id={_clean(created)}")
    audit_logger.info(
        "%s %s %s%s -> %d",
        _clean(who),
        request.method,
        route,
        "".join(f" {i}" for i in ids),
        status,
    )


def _clean(value: str) -> str:
    """`value` fit for one log line: printable, bounded (route parameters come from clients)."""
    text = value if value.isprintable() else value.encode("unicode_escape").decode("ascii")
    return text if len(text) <= _MAX_ID else text[:_MAX_ID] + "…"
