"""The local API's schedule actions: small async functions over a `ScheduleManager`.

Each is `async def action(manager, params) -> dict` and replies with a typed message
(`qtqueue.api.messages`); a schedule is given as `Schedule.to_dict()` makes it.
`SCHEDULE_ACTIONS` maps their names to them, and `queue_actions` binds them to the queue's own
manager in the `(queue, params)` form of `qtqueue.api.actions.ACTIONS`, so the command line and
the HTTP API reach them like every other action. Params are checked by a pydantic model per
action (an unknown key is an error); values the manager parses itself (intervals, cron
expressions, time zones, the missed policy) come back as VALIDATION_INVALID_FORMAT with the
field named. Wherever a `schedule_id` is taken, a unique
prefix of 4+ characters or the schedule's unique name is accepted too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, Literal

from pydantic import Field

from qtqueue.api.messages import ScheduleList, ScheduleMessage, ScheduleRecord, ScheduleRemoved
from qtqueue.api.params import NoParams, Params, parse_params
from qtqueue.engine.queue import TaskQueue
from qtqueue.engine.schedules import ScheduleManager

logger = logging.getLogger(__name__)

__all__ = ["SCHEDULE_ACTIONS", "ScheduleAction", "queue_actions"]

ScheduleAction = Callable[[ScheduleManager, dict[str, Any]], Awaitable[dict[str, Any]]]
QueueAction = Callable[[TaskQueue, dict[str, Any]], Awaitable[dict[str, Any]]]


class _ScheduleRef(Params):
    schedule_id: str = Field(
        ..., min_length=1, description="A schedule id, a unique prefix of it, or its name"
    )


class _Timing(Params):
    every: str | float | None = Field(None, description='An interval: "45s", "10m", "1h30m"…')
    cron: str | None = Field(None, description='A cron expression: "0 3 * * *", "@hourly"…')
    timezone: str | None = Field(None, description="IANA zone for cron (default: local time)")
    missed: str | None = Field(None, description="run_once (default) or skip")
    name: str | None = None


class AddScheduleParams(_Timing):
    """`schedule_add`: a task template and exactly one of every / cron."""

    template: dict[str, Any] = Field(..., description="Task fields, as add_task takes them")
    paused: bool = False


class UpdateScheduleParams(_ScheduleRef, _Timing):
    """`schedule_update`: only the fields given change."""

    template: dict[str, Any] | None = None


class ManageScheduleParams(_ScheduleRef):
    """`schedule_manage`: one control action on one schedule."""

    action: Literal["pause", "resume", "remove", "run_now"]


async def schedule_add(manager: ScheduleManager, params: dict[str, Any]) -> dict[str, Any]:
    """Create a schedule: `{"schedule": ...}`."""
    p = parse_params(AddScheduleParams, "schedule_add", params)
    s = await manager.add_schedule(
        p.template,
        every=p.every,
        cron=p.cron,
        name=p.name or "",
        timezone=p.timezone,
        missed=p.missed or "run_once",
        paused=p.paused,
    )
    return ScheduleMessage(schedule=ScheduleRecord.of(s)).dump()


async def schedule_list(manager: ScheduleManager, params: dict[str, Any]) -> dict[str, Any]:
    """Every schedule, oldest first: `{"schedules": [...], "count": n}`."""
    parse_params(NoParams, "schedule_list", params)
    schedules = [ScheduleRecord.of(s) for s in manager.list_schedules()]
    return ScheduleList(schedules=schedules, count=len(schedules)).dump()


async def schedule_get(manager: ScheduleManager, params: dict[str, Any]) -> dict[str, Any]:
    """One schedule: `{"schedule": ...}`."""
    p = parse_params(_ScheduleRef, "schedule_get", params)
    return ScheduleMessage(schedule=ScheduleRecord.of(manager.get_schedule(p.schedule_id))).dump()


async def schedule_update(manager: ScheduleManager, params: dict[str, Any]) -> dict[str, Any]:
    """Change the given fields of a schedule: `{"schedule": ...}`."""
    p = parse_params(UpdateScheduleParams, "schedule_update", params)
    changes = {k: getattr(p, k) for k in p.model_fields_set - {"schedule_id"}}
    updated = await manager.update_schedule(p.schedule_id, **changes)
    return ScheduleMessage(schedule=ScheduleRecord.of(updated)).dump()


async def schedule_manage(manager: ScheduleManager, params: dict[str, Any]) -> dict[str, Any]:
    """Pause, resume, remove or run a schedule now. Returns `{"schedule": ...}` as it is
    after the action (run_now adds `"task_id"`), or `{"schedule_id": ..., "removed": true}`."""
    p = parse_params(ManageScheduleParams, "schedule_manage", params)
    if p.action == "remove":
        removed = await manager.delete_schedule(p.schedule_id)
        return ScheduleRemoved(schedule_id=removed, removed=True).dump()
    if p.action == "run_now":
        task_id = await manager.run_now(p.schedule_id)
        ran = ScheduleRecord.of(manager.get_schedule(p.schedule_id))
        return ScheduleMessage(schedule=ran, task_id=task_id).dump()
    control = manager.pause_schedule if p.action == "pause" else manager.resume_schedule
    return ScheduleMessage(schedule=ScheduleRecord.of(await control(p.schedule_id))).dump()


#: Every schedule action by name. Read-only.
SCHEDULE_ACTIONS: Mapping[str, ScheduleAction] = MappingProxyType(
    {
        "schedule_add": schedule_add,
        "schedule_list": schedule_list,
        "schedule_get": schedule_get,
        "schedule_update": schedule_update,
        "schedule_manage": schedule_manage,
    }
)


def queue_actions(manager_of: Callable[[TaskQueue], ScheduleManager]) -> dict[str, QueueAction]:
    """The schedule actions in the `(queue, params)` form of `ACTIONS`, each run on
    `manager_of(queue)` (the queue's own manager)."""

    def bind(action: ScheduleAction) -> QueueAction:
        async def on_queue(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
            return await action(manager_of(queue), params)

        on_queue.__doc__ = action.__doc__
        return on_queue

    return {name: bind(action) for name, action in SCHEDULE_ACTIONS.items()}
