"""The REST API's waiting order: thin adapters over the `move_task`, `set_priority` and
`update_task` JSON actions.

- `POST /tasks/{task_id}/move` — `{"place": "top"|"up"|"down"|"bottom"|"before", "before":
  id}` → `{"task": {...}}` as moved.
- `POST /tasks/{task_id}/priority` — `{"priority": "high"}` (or 0-3) → `{"task": {...}}`.
- `PATCH /tasks/{task_id}` — the fields to change, as `POST /tasks/` takes them, merged over
  the task's current ones (`{"name": "x"}` renames it, the rest stays) → `{"task": {...}}`
  as saved (same id). With `"updated_at"` (the value a GET gave) the edit is refused with 409
  QUEUE_TASK_CHANGED if the task changed since. A task that started answers 409
  (QUEUE_TASK_NOT_WAITING).
"""

from __future__ import annotations

import logging

from aiohttp import web

from qtqueue.api.http.replies import call, read_body, reply

logger = logging.getLogger(__name__)

__all__ = ["add_routes"]


async def move_task(request: web.Request) -> web.Response:
    """POST /tasks/{task_id}/move: move a waiting task in its queue."""
    body = await read_body(request)
    params = {**body, "task_id": request.match_info["task_id"]}
    return reply(await call(request, "move_task", params))


async def set_priority(request: web.Request) -> web.Response:
    """POST /tasks/{task_id}/priority: give a waiting task another priority."""
    body = await read_body(request)
    params = {**body, "task_id": request.match_info["task_id"]}
    return reply(await call(request, "set_priority", params))


async def update_task(request: web.Request) -> web.Response:
    """PATCH /tasks/{task_id}: edit a waiting task (same id)."""
    body = await read_body(request)
    params: dict[str, object] = {"task_id": request.match_info["task_id"], "task": body}
    if "updated_at" in body:  # the version the edit started from, not a field to set
        params["updated_at"] = body.pop("updated_at")
    return reply(await call(request, "update_task", params))


def add_routes(app: web.Application) -> None:
    """Add the waiting order's routes to `app`."""
    router = app.router
    router.add_post("/tasks/{task_id}/move", move_task)
    router.add_post("/tasks/{task_id}/priority", set_priority)
    router.add_patch("/tasks/{task_id}", update_task)
