"""The task, queue and log requests of an attached engine (a mixin of `RemoteEngine`): each
`EnginePort` method that is one action on the engine and keeps no state here, with the engine's
coded errors as raised there and replies made `Task`s again."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from qtqueue.api.remote_order import RemoteOrder
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task
from qtqueue.engine.validation import CALLER_FIELDS

logger = logging.getLogger(__name__)

__all__ = ["RemoteTasks", "new_task_fields"]


def new_task_fields(task: Task) -> dict[str, Any]:
    """What the `add_task` action takes of `task`: the fields a caller sets (`CALLER_FIELDS`),
    the ones `TaskQueue.add_task` reads in process; the engine's own (status, times…) are left
    out, as is an empty `created_by` (the engine fills in the user)."""
    data = {k: v for k, v in task.to_dict().items() if k in CALLER_FIELDS}
    if not data.get("created_by"):
        data.pop("created_by", None)
    return data


class RemoteTasks(RemoteOrder):
    """The `EnginePort` requests that are one action each: add, read, manage and answer tasks,
    dead letters, the queue's figures and a task's log (`call` is `RemoteEngine.call`)."""

    async def _task(self, action: str, params: dict[str, Any]) -> Task:
        return Task.from_dict((await self.call(action, params))["task"])

    async def add_task(self, task: Task) -> str:
        return str((await self.call("add_task", new_task_fields(task)))["id"])

    async def add_tasks(self, tasks: Iterable[Task]) -> list[str]:
        fields = [new_task_fields(t) for t in tasks]
        return [str(i) for i in (await self.call("add_task", {"tasks": fields}))["ids"]]

    async def import_file(self, path: Path) -> list[str]:
        """A task file's tasks, all or none; the engine reads it (it may exceed a request)."""
        return [str(i) for i in (await self.call("import_tasks", {"path": str(path)}))["ids"]]

    async def get_task(self, task_id: str) -> Task:
        return await self._task("get_task", {"task_id": task_id})

    async def _manage(self, task_id: str, action: str) -> Task:
        return await self._task("queue_manage", {"task_id": task_id, "action": action})

    async def pause_task(self, task_id: str) -> Task:
        return await self._manage(task_id, "pause")

    async def resume_task(self, task_id: str) -> Task:
        return await self._manage(task_id, "resume")

    async def cancel_task(self, task_id: str) -> Task:
        return await self._manage(task_id, "cancel")

    async def retry_task(self, task_id: str) -> Task:
        return await self._manage(task_id, "retry")

    async def remove_task(self, task_id: str) -> None:
        await self.call("queue_manage", {"task_id": task_id, "action": "remove"})

    async def approve_task(self, task_id: str) -> Task:
        return await self._task("approve_task", {"task_id": task_id})

    async def reject_task(self, task_id: str, reason: str = "") -> Task:
        return await self._task("reject_task", {"task_id": task_id, "reason": reason})

    async def send_input(self, task_id: str, text: str | bytes, *, eof: bool = False) -> None:
        try:
            data = text.decode() if isinstance(text, bytes) else text
        except UnicodeDecodeError as exc:  # the action takes text; in process, bytes go as is
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_FORMAT,
                f"input: not UTF-8 text ({exc.reason} at byte {exc.start}); an engine in "
                "another process takes text input only",
                field="text",
            ) from None
        await self.call(
            "send_input", {"task_id": task_id, "text": data, "newline": False, "eof": eof}
        )

    async def requeue_dead_letters(self, ids: Iterable[str] | None = None) -> list[str]:
        params: dict[str, Any] = {"all": True} if ids is None else {"ids": list(ids)}
        if ids is not None and not params["ids"]:
            return []  # as in process: no ids, nothing requeued (the action reads none as all)
        return list((await self.call("requeue_dead_letters", params)).get("ids", []))

    async def purge_dead_letters(self, ids: Iterable[str] | None = None) -> list[str]:
        params: dict[str, Any] = {"all": True} if ids is None else {"ids": list(ids)}
        if ids is not None and not params["ids"]:
            return []
        return list((await self.call("purge_dead_letters", params)).get("ids", []))

    async def get_queue_stats(self) -> dict[str, Any]:
        return await self.call("stats")

    async def get_history(
        self, since_s: float = 86400, bucket_s: float | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"since_s": since_s}
        if bucket_s is not None:
            params["bucket_s"] = bucket_s
        return await self.call("history", params)

    async def read_log(self, task_id: str, tail_bytes: int | None = None) -> str:
        params: dict[str, Any] = {"task_id": task_id}
        if tail_bytes is not None:
            params["tail_bytes"] = tail_bytes
        return str((await self.call("read_log", params)).get("log", ""))
