"""The REST API: the SQLite-queue document's `/tasks/...` routes over the JSON actions.

Each route is a thin adapter: it turns the path, the query and the body into one action's
params, runs the action (`replies.call`, the local API's own code path) and answers with its
result unwrapped, or with the action's coded error and a 4xx status (`replies.status_of`).

- `POST /tasks/` — a task's fields as `add_task` takes them → 201 `{"task": {...}}`. The task
  records who asked (`created_by`: the API key's name, "api" without authentication); a body
  that names `created_by` itself is refused (400), never believed.
- `GET /tasks/` — `?status=` (one or a comma list), `task_type`, `category`, `tag`, `queue`,
  `limit` (default 100, at most `MAX_PAGE`), `offset`, `sort` (default `-created_at`, newest
  first; `priority`, `-priority`, `name`, `status`, `started_at`, `completed_at`, each with a
  leading "-" for descending) → `{"tasks": [...], "total", "limit", "offset", "sort"}`, total
  being how many match the filters.
- `GET /tasks/{task_id}` (a unique id prefix too) → `{"task": {...}}`; `DELETE` cancels it.
- `POST /tasks/{task_id}/{pause|resume|retry|approve|reject}` → `{"task": {...}}` after it;
  reject takes `{"reason": ...}`.
- `GET /tasks/stats/queue` → the statistics; `POST /tasks/worker/start|stop` → dispatching
  resumed or paused: `{"queue_paused": bool}`.
- `POST /questions/{question_id}/answer` — `{"message", ...}` as `answer_question` takes it;
  the responder is the API key's name (a body naming `responder_id` is refused, 400).
- `GET /workers` → the workers as `qtqueue workers --json` shows them (a cluster's RQ workers:
  name, host, state, current task, jobs done and failed).
- `GET /health` → `{"ok": true}`, the only route open without the API key.

The waiting order's routes (move, priority, edit) are in `rest_order.py`, the schedules' in
`rest_schedules.py`, the live ones (`/events`, the log) in
`sse.py`, the description of them all (`/openapi.json`) in `openapi.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from qtqueue.api.http import openapi, rest_order, rest_schedules, sse
from qtqueue.api.http.app import AUDITED_TASK, CALLER, ENGINE, public
from qtqueue.api.http.replies import ApiError, call, read_body, reply
from qtqueue.core.errors import QueueError, TaskErrorCode

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_PAGE", "DEFAULT_SORT", "MAX_PAGE", "add_routes", "caller"]

#: Tasks per page of `GET /tasks/` when the query names no limit, and the most it may name.
DEFAULT_PAGE = 100
MAX_PAGE = 1000
#: The order of `GET /tasks/` when the query names none.
DEFAULT_SORT = "-created_at"
#: Who made a request when no authentication named anyone.
ANONYMOUS = "api"
_LIST_QUERY = ("status", "task_type", "category", "tag", "queue", "limit", "offset", "sort")
TASK_ACTIONS = ("pause", "resume", "retry", "approve", "reject")


def _bad(code: TaskErrorCode, message: str, **details: Any) -> ApiError:
    return ApiError.of(QueueError(code, message, **details))


def caller(request: web.Request) -> str:
    """Who makes `request`: the API key's name, else "api"."""
    return request.get(CALLER) or ANONYMOUS


def _refuse_who(body: Mapping[str, Any], field: str) -> None:
    """Refuse a body that names who makes the request: the server records the key's name."""
    if field in body:
        raise _bad(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"{field}: set by the server from your API key's name; leave it out",
            fields=[field],
        )


def _merge(body: Mapping[str, Any], path: Mapping[str, Any]) -> dict[str, Any]:
    """The action's params: the body's fields and the path's (which the body may not name)."""
    clash = sorted(set(body) & set(path))
    if clash:
        raise _bad(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"{', '.join(clash)}: given by the URL, not the body; leave it out of the body",
            fields=clash,
        )
    return {**body, **path}


# --------------------------------------------------------------------------- tasks


async def create_task(request: web.Request) -> web.Response:
    """POST /tasks/: add one task → 201 `{"task": {...}}`."""
    body = await read_body(request)
    _refuse_who(body, "created_by")
    if "tasks" in body:
        raise _bad(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            "tasks: POST /tasks/ adds one task; send its fields (task_type, params…) as the body",
            fields=["tasks"],
        )
    added = await call(request, "add_task", {**body, "created_by": caller(request)})
    request[AUDITED_TASK] = added["id"]  # for the audit line
    # The task as the add left it, read from the engine itself: a second action (its params
    # model, the id resolved, two dumps of the task) was a third of an add's time over REST.
    try:
        task = await request.app[ENGINE].get_task(added["id"])
    except QueueError as exc:  # removed by someone else meanwhile
        raise ApiError.of(exc) from None
    # TaskMessage's body, built without its model: `task` is a plain dict (SkipValidation),
    # so the model would only copy the 45 fields once more.
    return reply({"task": task}, status=201)


def _list_params(request: web.Request) -> dict[str, Any]:
    """The `list_tasks` params of `GET /tasks/`'s query."""
    query = request.query
    unknown = sorted(set(query) - set(_LIST_QUERY))
    if unknown:
        raise _bad(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"unknown query parameter(s): {', '.join(unknown)} (known: {', '.join(_LIST_QUERY)})",
            fields=unknown,
        )
    repeated = sorted(k for k in set(query) if k != "status" and len(query.getall(k)) > 1)
    if repeated:
        raise _bad(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"{', '.join(repeated)}: give each at most once",
            fields=repeated,
        )
    params: dict[str, Any] = {"with_total": True}
    statuses = [s.strip() for v in query.getall("status", []) for s in v.split(",") if s.strip()]
    if statuses:
        params["status"] = statuses
    for key, name in (("task_type", "type"), ("category", "category"), ("tag", "tag")):
        if key in query:
            params[name] = query[key]
    if "queue" in query:
        params["queue"] = query["queue"]
    params["limit"] = _whole(query, "limit", DEFAULT_PAGE, MAX_PAGE)
    params["offset"] = _whole(query, "offset", 0, None)
    params["sort"] = query.get("sort", DEFAULT_SORT)
    return params


def _whole(query: Mapping[str, str], name: str, default: int, most: int | None) -> int:
    if name not in query:
        return default
    text = query[name]
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise _bad(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            f"{name}: {text[:40]!r} is not a whole number of 0 or more",
            fields=[name],
        )
    value = int(text)
    if most is not None and value > most:
        raise _bad(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"{name}: {value} is over the most a page holds ({most}); page with offset",
            fields=[name],
        )
    return value


async def list_tasks(request: web.Request) -> web.Response:
    """GET /tasks/: a page of the tasks matching the query, and how many match."""
    params = _list_params(request)
    result = await call(request, "list_tasks", params)
    return reply(
        {
            "tasks": result["tasks"],
            "total": result["total"],
            "limit": params["limit"],
            "offset": params["offset"],
            "sort": params["sort"],
        }
    )


async def get_task(request: web.Request) -> web.Response:
    """GET /tasks/{task_id}: `{"task": {...}}`."""
    return reply(await call(request, "get_task", {"task_id": request.match_info["task_id"]}))


async def cancel_task(request: web.Request) -> web.Response:
    """DELETE /tasks/{task_id}: cancel it → `{"task": {...}}` as cancelled."""
    params = {"task_id": request.match_info["task_id"], "action": "cancel"}
    return reply(await call(request, "queue_manage", params))


async def task_action(request: web.Request) -> web.Response:
    """POST /tasks/{task_id}/{action}: pause, resume, retry, approve or reject it."""
    action = request.match_info["action"]
    body = await read_body(request, optional=True)
    params = _merge(body, {"task_id": request.match_info["task_id"]})
    if action == "approve":
        return reply(await call(request, "approve_task", params))
    if action == "reject":
        return reply(await call(request, "reject_task", params))
    return reply(await call(request, "queue_manage", _merge(params, {"action": action})))


async def queue_stats(request: web.Request) -> web.Response:
    """GET /tasks/stats/queue: summary, distributions, performance, retries, activity."""
    return reply(await call(request, "stats", {}))


async def worker_start(request: web.Request) -> web.Response:
    """POST /tasks/worker/start: dispatch tasks again → `{"queue_paused": false}`."""
    await read_body(request, optional=True)
    return reply(await call(request, "resume_queue", {}))


async def worker_stop(request: web.Request) -> web.Response:
    """POST /tasks/worker/stop: start nothing new (running tasks go on) →
    `{"queue_paused": true}`."""
    await read_body(request, optional=True)
    return reply(await call(request, "pause_queue", {}))


async def answer_question(request: web.Request) -> web.Response:
    """POST /questions/{question_id}/answer: `{"question": {...}}` as answered, by the
    caller (the API key's name)."""
    body = await read_body(request)
    _refuse_who(body, "responder_id")
    path = {"question_id": request.match_info["question_id"]}
    params = {**_merge(body, path), "responder_id": caller(request)}
    answered = await call(request, "answer_question", params)
    request[AUDITED_TASK] = answered["question"]["task_id"]  # for the audit line
    return reply(answered)


async def workers(request: web.Request) -> web.Response:
    """GET /workers: the workers (a cluster's RQ workers, a local engine's slots) →
    `{total, idle, busy, suspended, slots: [...]}` as `qtqueue workers --json` prints it."""
    return reply(await call(request, "workers", {}))


@public
async def health(request: web.Request) -> web.Response:
    """GET /health: the engine answers (no key needed)."""
    return reply({"ok": True})


def add_routes(app: web.Application) -> None:
    """Add this part's routes to `app` (fixed paths before the ones with an id in them)."""
    router = app.router
    router.add_get("/health", health)
    router.add_get("/tasks/stats/queue", queue_stats)
    router.add_post("/tasks/worker/start", worker_start)
    router.add_post("/tasks/worker/stop", worker_stop)
    router.add_post("/tasks/", create_task)
    router.add_get("/tasks/", list_tasks)
    router.add_get("/tasks/{task_id}", get_task)
    router.add_delete("/tasks/{task_id}", cancel_task)
    router.add_post(f"/tasks/{{task_id}}/{{action:{'|'.join(TASK_ACTIONS)}}}", task_action)
    router.add_post("/questions/{question_id}/answer", answer_question)
    router.add_get("/workers", workers)
    rest_order.add_routes(app)
    sse.add_routes(app)
    rest_schedules.add_routes(app)
    openapi.add_routes(app)
