"""Authentication and the audit trail of the HTTP API: one aiohttp middleware.

Every route whose handler is not marked `public` (`app.is_public`) needs the data directory's
API key as `Authorization: Bearer KEY`. Without it, with a wrong one or an expired one the
reply is 401 with `WWW-Authenticate: Bearer` and a coded error (API_KEY_REQUIRED) — nothing
else: no route, no task, the same body for a missing key as for a wrong one. A request that
is let through carries the key's name as `request[CALLER]` and the key as
`request[ACCEPTED_KEY]` (an open stream ends when that key is rotated away or expires).

The key is checked against a `LiveKey` held in memory (no keyring read per request); rotating
the key in this process (`qtqueue.api.keys.ApiKeys.rotate`) changes it at once.

Every state-changing request (POST, PUT, PATCH, DELETE), refused or not, leaves one line on
the logger `qtqueue.audit`: who (the key's name, or "-"), the method and route, the ids the
route names (the task created, for a new task; the question's task, for an answer), and the
status code. Never the key. The same line goes to the data directory's `audit.log`
(`audit_file`: 0600, rotated at `AUDIT_MAX_BYTES` with `AUDIT_BACKUPS` old files) whatever
the process's log level: the window, which logs only warnings, keeps its trail there too.
"""

from __future__ import annotations

import io
import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from aiohttp import web

from qtqueue.api.http.app import ACCEPTED_KEY, AUDITED_TASK, CALLER, Handler, is_public
from qtqueue.api.keys import LiveKey
from qtqueue.core.errors import QueueError, TaskErrorCode

logger = logging.getLogger(__name__)
#: One line per state-changing request.
audit_logger = logging.getLogger("qtqueue.audit")

__all__ = [
    "AUDIT_FILE",
    "STATE_CHANGING",
    "audit_file",
    "audit_logger",
    "auth_middleware",
    "unauthorized",
]

#: The methods whose requests are audited.
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: The longest route parameter written to an audit line.
_MAX_ID = 80
#: The audit trail's file in the data directory, its size before it is rotated, and how many
#: rotated files are kept (audit.log.1 … audit.log.N).
AUDIT_FILE = "audit.log"
AUDIT_MAX_BYTES = 1_000_000
AUDIT_BACKUPS = 5


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


class _PrivateRotatingFile(RotatingFileHandler):
    """A rotating log file only its owner can read (each new file is made 0600)."""

    def _open(self) -> io.TextIOWrapper:
        return open(
            self.baseFilename, "a", encoding=self.encoding, errors=self.errors,
            opener=_private,
        )  # fmt: skip


def audit_file(data_dir: Path) -> logging.Handler:
    """The handler that writes audit lines to `data_dir`'s `AUDIT_FILE` (made 0600); the
    caller closes it."""
    path = Path(data_dir) / AUDIT_FILE
    handler = _PrivateRotatingFile(
        path, maxBytes=AUDIT_MAX_BYTES, backupCount=AUDIT_BACKUPS, encoding="utf-8"
    )
    os.chmod(path, 0o600)  # a file left by an older version may have been readable by others
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    return handler


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


def auth_middleware(live: LiveKey, trail: logging.Handler | None = None) -> Any:
    """The middleware that lets through only requests carrying `live`'s key (and any request
    to a public route), and audits the state-changing ones (also to `trail`, if given, at
    any log level)."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_public(request.match_info.handler):
            return await handler(request)
        header = request.headers.get("Authorization")
        key = live.check(header)
        if key is None:
            refusal = unauthorized(expired=live.check(header, now=0.0) is not None)
            _audit(request, "-", refusal.status, trail)
            return refusal
        request[CALLER] = key.name
        request[ACCEPTED_KEY] = key
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            _audit(request, key.name, exc.status, trail)
            raise
        except BaseException:
            _audit(request, key.name, 500, trail)
            raise
        _audit(request, key.name, response.status, trail)
        return response

    return authenticate


def _audit(
    request: web.Request,
    who: str,
    status: int,
    trail: logging.Handler | None,
) -> None:
    if request.method not in STATE_CHANGING:
        return
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "(no route)"
    ids = [f"{name}={_clean(value)}" for name, value in request.match_info.items()]
    if "task_id" not in request.match_info:
        task_id = request.get(AUDITED_TASK)
        if task_id is not None:
            ids.append(f"task_id={_clean(task_id)}")
    args = (_clean(who), request.method, route, "".join(f" {i}" for i in ids), status)
    logged = audit_logger.isEnabledFor(logging.INFO)
    if not logged and trail is None:
        return
    record = audit_logger.makeRecord(
        audit_logger.name, logging.INFO, __file__, 0, "%s %s %s%s -> %d", args, None
    )
    if logged:
        audit_logger.handle(record)
    if trail is not None:
        trail.handle(record)


def _clean(value: str) -> str:
    """`value` fit for one log line: printable, bounded (route parameters come from clients)."""
    text = value if value.isprintable() else value.encode("unicode_escape").decode("ascii")
    return text if len(text) <= _MAX_ID else text[:_MAX_ID] + "…"
