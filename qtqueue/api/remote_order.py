"""The waiting order's requests of an attached engine (a mixin of `RemoteEngine`): move a
waiting task, give it another priority, edit it, over the `move_task`, `set_priority` and
`update_task` actions, with the engine's coded errors as raised there."""

from __future__ import annotations

import logging
from typing import Any

from qtqueue.core.queue_moves import MovePlace
from qtqueue.core.task import Priority, Task
from qtqueue.engine.validation import CALLER_FIELDS

logger = logging.getLogger(__name__)


def edit_fields(task: Task) -> dict[str, Any]:
    """What `update_task` takes of an edited task: the fields a caller sets (the engine
    keeps who added it)."""
    return {k: v for k, v in task.to_dict().items() if k in CALLER_FIELDS and k != "created_by"}


class RemoteOrder:
    """`EnginePort.move_task`, `set_priority` and `update_task` over the local API."""

    async def call(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One action on the engine (`RemoteEngine.call`)."""
        raise NotImplementedError

    async def move_task(
        self, task_id: str, place: MovePlace | str, before: str | None = None
    ) -> Task:
        """Move a waiting task in its queue's order."""
        params: dict[str, Any] = {"task_id": task_id, "place": MovePlace(place).value}
        if before is not None:
            params["before"] = before
        return Task.from_dict((await self.call("move_task", params))["task"])

    async def set_priority(self, task_id: str, priority: Priority | int | str) -> Task:
        """Give a waiting task another priority."""
        value = priority.name.lower() if isinstance(priority, Priority) else priority
        reply = await self.call("set_priority", {"task_id": task_id, "priority": value})
        return Task.from_dict(reply["task"])

    async def update_task(self, task_id: str, edited: Task) -> Task:
        """Edit a waiting task (same id)."""
        params = {"task_id": task_id, "task": edit_fields(edited), "updated_at": edited.updated_at}
        reply = await self.call("update_task", params)
        return Task.from_dict(reply["task"])
