"""How the REST API answers: an action's result unwrapped, or a coded error with a 4xx status.

Every route runs a JSON action through `run_action` (`call`), so a request refused here is
refused by the local API and the command line with the same code and words. `status_of` maps
an error code to its HTTP status: not found 404, not allowed in the task's state 409, bad input
400, the engine closing (a cluster's Redis unreachable) 503, what a cluster does not do
(CLUSTER_NOT_SUPPORTED) 501, a bug 500 (still a coded JSON error, never a stack). `json_errors`
turns aiohttp's own refusals (unknown route 404, wrong method 405, body too large 413) and
anything else a handler raises into the same envelope.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from qtqueue.api.http.app import ENGINE
from qtqueue.api.wire import decode_request, too_large
from qtqueue.core.errors import QueueError, TaskErrorCode

logger = logging.getLogger(__name__)

__all__ = [
    "ApiError",
    "call",
    "error_response",
    "json_errors",
    "read_body",
    "reply",
    "status_of",
]

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATUS = {
    TaskErrorCode.QUEUE_TASK_NOT_FOUND: 404,
    TaskErrorCode.QUEUE_QUESTION_NOT_FOUND: 404,
    TaskErrorCode.QUEUE_SCHEDULE_NOT_FOUND: 404,
    TaskErrorCode.QUEUE_INVALID_STATE: 409,
    TaskErrorCode.QUEUE_TASK_NOT_WAITING: 409,
    TaskErrorCode.QUEUE_TASK_CHANGED: 409,
    TaskErrorCode.QUEUE_TASK_ALREADY_RUNNING: 409,
    TaskErrorCode.QUEUE_FULL: 409,
    TaskErrorCode.QUEUE_ENGINE_UNAVAILABLE: 503,
    TaskErrorCode.QUEUE_ENGINE_LOCKED: 503,
    TaskErrorCode.INTERNAL_ERROR: 500,
}
#: A cluster's codes (registered by `qtqueue.cluster`, not members of TaskErrorCode).
_CLUSTER_STATUS = {"CLUSTER_NOT_SUPPORTED": 501, "CLUSTER_REDIS_UNAVAILABLE": 503}


def status_of(code: str) -> int:
    """The HTTP status of an error `code` (400 for bad input and anything unlisted)."""
    try:
        return _STATUS.get(TaskErrorCode(code), 400)
    except ValueError:
        return _CLUSTER_STATUS.get(code, 400)


class ApiError(Exception):
    """A coded error to answer with (raised inside a handler, answered by `json_errors`)."""

    def __init__(self, error: Mapping[str, Any], status: int | None = None) -> None:
        super().__init__(error.get("message", ""))
        self.error = dict(error)
        self.status = status if status is not None else status_of(str(error.get("code", "")))

    @classmethod
    def of(cls, exc: QueueError, status: int | None = None) -> ApiError:
        """The error of a QueueError."""
        return cls(exc.to_dict(), status)


def error_response(error: Mapping[str, Any], status: int) -> web.Response:
    """The error envelope `{"ok": false, "error": {...}}` with `status`."""
    return web.json_response({"ok": False, "error": dict(error)}, status=status)


def reply(result: Mapping[str, Any], status: int = 200) -> web.Response:
    """An action's result, unwrapped, as the body."""
    return web.json_response(dict(result), status=status)


async def call(request: web.Request, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Run `action` with `params` on the request's engine: its result, or ApiError."""
    answer = await request.app[ENGINE].request({"action": action, "params": dict(params)})
    if not answer.get("ok"):
        raise ApiError(answer["error"])
    result: dict[str, Any] = answer["result"]
    return result


async def read_body(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object (checked as the local API checks one). An empty body is {}
    where `optional`."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError.of(too_large(), 413) from None
    if not raw.strip() and optional:
        return {}
    try:
        body = decode_request(raw)
    except QueueError as exc:
        raise ApiError.of(exc) from None
    if not isinstance(body, dict):
        raise ApiError.of(
            QueueError(TaskErrorCode.VALIDATION_INVALID_FORMAT, "the body must be a JSON object")
        )
    return body


def _http_error(exc: web.HTTPException, request: web.Request) -> web.Response:
    if exc.status == 413:
        return error_response(too_large().to_dict(), 413)
    if exc.status == 404:
        message = f"no such route: {request.method} {request.path}"
        suggestion = "see GET /openapi.json for the routes"
        known = {r.canonical for r in request.app.router.resources()}
        if request.path + "/" in known:
            suggestion = f"end the path with a slash: {request.path}/"
    elif exc.status == 405:
        allowed = sorted(getattr(exc, "allowed_methods", ()) or ())
        message = f"{request.method} is not allowed on {request.path}"
        suggestion = f"use {' or '.join(allowed)}" if allowed else ""
    else:
        message = f"{exc.status} {exc.reason}"
        suggestion = ""
    error = QueueError(TaskErrorCode.VALIDATION_INVALID_PARAMS, message).to_dict()
    if suggestion:
        error["suggestion"] = suggestion
    response = error_response(error, exc.status)
    if exc.status == 405 and "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response


@web.middleware
async def json_errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Every refusal as the coded JSON envelope with its 4xx status; a bug as INTERNAL_ERROR
    (500, logged with its stack here, never sent)."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.error, exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _http_error(exc, request)
    except ConnectionResetError:
        raise
    except Exception as exc:
        logger.exception("%s %s failed", request.method, request.path)
        error = QueueError(TaskErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        return error_response(error.to_dict(), 500)
