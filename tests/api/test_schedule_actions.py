"""Specification of the schedule actions: JSON in, JSON out, every problem a QueueError."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from qtqueue.api.schedule_actions import SCHEDULE_ACTIONS
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskStatus
from qtqueue.engine.queue import TaskQueue
from qtqueue.engine.schedules import ScheduleManager

C = TaskErrorCode
TRUE = {"task_type": "custom_command", "params": {"command": "true"}}


@pytest.fixture
async def schedules(queue: TaskQueue) -> AsyncIterator[ScheduleManager]:
    yield queue.schedules  # started and closed with the queue


async def call(manager: ScheduleManager, action_name: str, **params: Any) -> dict[str, Any]:
    result = await SCHEDULE_ACTIONS[action_name](manager, params)
    assert json.loads(json.dumps(result)) == result  # JSON-ready as it is
    return result


async def test_add_list_get_and_update_only_what_is_given(schedules: ScheduleManager) -> None:
    added = (await call(schedules, "schedule_add", template=TRUE, every="10m", name="n"))[
        "schedule"
    ]
    assert (added["kind"], added["interval_s"], added["missed"]) == ("interval", 600.0, "run_once")

    listed = await call(schedules, "schedule_list")
    assert (listed["count"], listed["schedules"]) == (1, [added])
    assert (await call(schedules, "schedule_get", schedule_id="n"))["schedule"] == added

    renamed = (await call(schedules, "schedule_update", schedule_id=added["id"], name="m"))[
        "schedule"
    ]
    assert renamed["name"] == "m"
    assert renamed["next_run_at"] == added["next_run_at"]  # the timing was not touched
    skip = await call(schedules, "schedule_update", schedule_id="m", missed="skip")
    assert skip["schedule"]["missed"] == "skip"


async def test_manage_pauses_resumes_runs_now_and_removes(
    schedules: ScheduleManager, queue: TaskQueue
) -> None:
    s = await schedules.add_schedule(TRUE, cron="@daily")
    paused = await call(schedules, "schedule_manage", schedule_id=s.id, action="pause")
    assert paused["schedule"]["paused"] is True
    resumed = await call(schedules, "schedule_manage", schedule_id=s.id, action="resume")
    assert resumed["schedule"]["paused"] is False

    ran = await call(schedules, "schedule_manage", schedule_id=s.id, action="run_now")
    assert ran["schedule"]["last_task_id"] == ran["task_id"]
    assert (await queue.wait_for(ran["task_id"], timeout_s=10)).status == TaskStatus.COMPLETED

    removed = await call(schedules, "schedule_manage", schedule_id=s.id, action="remove")
    assert removed == {"schedule_id": s.id, "removed": True}


@pytest.mark.parametrize(
    ("action", "params", "code"),
    [
        ("schedule_add", {"template": TRUE, "every": "1h", "colour": "red"},
         C.VALIDATION_INVALID_PARAMS),
        ("schedule_add", {"every": "1h"}, C.VALIDATION_MISSING_REQUIRED),
        ("schedule_add", {"template": TRUE, "every": "often"}, C.VALIDATION_INVALID_FORMAT),
        ("schedule_add", {"template": TRUE, "cron": "@daily", "missed": "x"},
         C.VALIDATION_INVALID_FORMAT),
        ("schedule_list", {"all": True}, C.VALIDATION_INVALID_PARAMS),
        ("schedule_get", {}, C.VALIDATION_MISSING_REQUIRED),
        ("schedule_manage", {"schedule_id": "x", "action": "explode"},
         C.VALIDATION_INVALID_PARAMS),
        ("schedule_manage", {"schedule_id": "nope", "action": "pause"}, C.QUEUE_SCHEDULE_NOT_FOUND),
        ("schedule_update", {"schedule_id": "nope", "name": "x"}, C.QUEUE_SCHEDULE_NOT_FOUND),
    ],
)  # fmt: skip
async def test_bad_params_are_queue_errors_with_a_code(
    schedules: ScheduleManager, action: str, params: dict[str, Any], code: TaskErrorCode
) -> None:
    with pytest.raises(QueueError) as exc:
        await SCHEDULE_ACTIONS[action](schedules, params)
    assert exc.value.code == code
    assert schedules.list_schedules() == []
