"""The REST API's schedules: thin adapters over the `schedule_*` JSON actions.

- `GET /schedules/` → `{"schedules": [...], "count": n}`; `POST /schedules/` — `{"template":
  {task fields}, "every" or "cron", "name", "timezone", "missed", "paused"}` as `schedule_add`
  takes it → 201 `{"schedule": {...}}`.
- `GET /schedules/{schedule_id}` (a unique prefix or the name too) → `{"schedule": {...}}`;
  `DELETE` removes it → `{"schedule_id", "removed": true}`.
- `POST /schedules/{schedule_id}/{pause|resume|run_now}` → `{"schedule": {...}}` after it
  (run_now adds `task_id`, the task it added; that task's `created_by` is `schedule:<id>`).
"""

from __future__ import annotations

import logging

from aiohttp import web

from qtqueue.api.http.replies import call, read_body, reply

logger = logging.getLogger(__name__)

__all__ = ["SCHEDULE_ACTIONS", "add_routes"]

#: The actions `POST /schedules/{schedule_id}/{action}` takes.
SCHEDULE_ACTIONS = ("pause", "resume", "run_now")


async def list_schedules(request: web.Request) -> web.Response:
    """GET /schedules/: every schedule, oldest first."""
    return reply(await call(request, "schedule_list", {}))


async def create_schedule(request: web.Request) -> web.Response:
    """POST /schedules/: add a schedule → 201 `{"schedule": {...}}`."""
    body = await read_body(request)
    return reply(await call(request, "schedule_add", body), status=201)


async def get_schedule(request: web.Request) -> web.Response:
    """GET /schedules/{schedule_id}: `{"schedule": {...}}`."""
    params = {"schedule_id": request.match_info["schedule_id"]}
    return reply(await call(request, "schedule_get", params))


async def delete_schedule(request: web.Request) -> web.Response:
    """DELETE /schedules/{schedule_id}: remove it for good."""
    params = {"schedule_id": request.match_info["schedule_id"], "action": "remove"}
    return reply(await call(request, "schedule_manage", params))


async def schedule_action(request: web.Request) -> web.Response:
    """POST /schedules/{schedule_id}/{action}: pause, resume or run it now."""
    await read_body(request, optional=True)
    params = {
        "schedule_id": request.match_info["schedule_id"],
        "action": request.match_info["action"],
    }
    return reply(await call(request, "schedule_manage", params))


def add_routes(app: web.Application) -> None:
    """Add the schedules' routes to `app`."""
    router = app.router
    router.add_get("/schedules/", list_schedules)
    router.add_post("/schedules/", create_schedule)
    router.add_get("/schedules/{schedule_id}", get_schedule)
    router.add_delete("/schedules/{schedule_id}", delete_schedule)
    actions = "|".join(SCHEDULE_ACTIONS)
    router.add_post(f"/schedules/{{schedule_id}}/{{action:{actions}}}", schedule_action)
