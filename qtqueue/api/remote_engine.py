"""`RemoteEngine`: the engine port over the local API, for a window attached to an engine that
another process runs (`qtqueue run`, or another window).

Every action goes through `ApiClient.call` (`POST /api`) and replies become `Task`,
`Question` and `Schedule` objects again; the engine's `GET /events` stream becomes `TaskEvent`s
with their snapshots, published to local subscribers exactly as the in-process bus does. The
reads the window makes synchronously (queue paused, named queues, schedules, start checks) are
answered from caches the stream keeps current.

When the stream breaks (the engine stopped), subscribers get a QUEUE event `ENGINE_LOST`;
the engine file is then watched, and when an engine answers again the state is read anew
(every task re-published as CHANGED, those gone meanwhile as REMOVED) and `ENGINE_BACK`
follows. An "overflow" from the
server (this client fell behind) is answered the same way: everything is read again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from qtqueue.api.client import ApiClient
from qtqueue.api.light_client import answers, read_engine_file
from qtqueue.api.port import ENGINE_BACK, ENGINE_LOST
from qtqueue.api.remote_order import RemoteOrder
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.overview import StartChecks
from qtqueue.core.question import Question
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.events import EventBus, EventKind, Subscriber, TaskEvent
from qtqueue.engine.runner import ShutdownPolicy
from qtqueue.engine.schedule_rules import MissedPolicy, Schedule, template_of
from qtqueue.engine.validation import CALLER_FIELDS
from qtqueue.executors import ExecutorRegistry
from qtqueue.settings import EngineSettings, Settings, family_settings

logger = logging.getLogger(__name__)

__all__ = ["RemoteEngine", "attach", "event_of", "new_task_fields"]

#: How often the engine file is looked at again while the engine is away.
RECONNECT_EVERY_S = 1.0
#: How long `connect` waits for the engine's event stream to begin.
SUBSCRIBE_WAIT_S = 10.0
#: How long `close` lets requests under way finish.
CLOSE_WAIT_S = 5.0


def new_task_fields(task: Task) -> dict[str, Any]:
    """What the `add_task` action takes of `task`: the fields a caller sets (`CALLER_FIELDS`),
    the ones `TaskQueue.add_task` reads in process; the engine's own (status, times…) are left
    out, as is an empty `created_by` (the engine fills in the user)."""
    data = {k: v for k, v in task.to_dict().items() if k in CALLER_FIELDS}
    if not data.get("created_by"):
        data.pop("created_by", None)
    return data


def event_of(data: Mapping[str, Any]) -> TaskEvent:
    """The `TaskEvent` that `TaskEvent.to_dict()` made `data` from."""
    status = data.get("status")
    task = data.get("task")
    return TaskEvent(
        EventKind(str(data["kind"])),
        str(data.get("task_id") or ""),
        status=TaskStatus(status) if status else None,
        task=Task.from_dict(task) if isinstance(task, dict) else None,
        detail=str(data.get("detail") or ""),
    )


class _Questions:
    """`QuestionsPort` over the `questions` and `answer_question` actions."""

    def __init__(self, engine: RemoteEngine) -> None:
        self._engine = engine

    async def list(
        self, *, open_only: bool = True, task_id: str | None = None
    ) -> list[Question]:
        params: dict[str, Any] = {"open_only": open_only}
        if task_id is not None:
            params["task_id"] = task_id
        reply = await self._engine.call("questions", params)
        return [Question.from_dict(q) for q in reply.get("questions", [])]

    async def answer(
        self,
        question_id: str,
        message: str,
        *,
        response_type: str = "answer",
        instructions: Sequence[str] = (),
        generated_by: str = "human",
        responder_id: str | None = None,
    ) -> Question:
        reply = await self._engine.call(
            "answer_question",
            {
                "question_id": question_id,
                "message": message,
                "response_type": response_type,
                "instructions": list(instructions),
                "generated_by": generated_by,
                "responder_id": responder_id,
            },
        )
        return Question.from_dict(reply["question"])


class _Overview:
    """`OverviewPort` from the `waiting` action, read again after each batch of changes."""

    def __init__(self) -> None:
        self.checks: dict[str, StartChecks] = {}

    def start_checks(self, task_id: str) -> StartChecks | None:
        return self.checks.get(task_id)

    def update(self, waiting: Iterable[Mapping[str, Any]]) -> None:
        checks: dict[str, StartChecks] = {}
        for w in waiting:
            if not w.get("attempts"):
                continue
            checks[str(w["id"])] = StartChecks(
                attempts=int(w["attempts"]),
                last_reason=str(w.get("last_reason") or ""),
                first_failed_at=float(w.get("first_failed_at") or 0.0),
                last_checked_at=float(w.get("last_checked_at") or 0.0),
                held_by=str(w.get("held_by") or ""),
            )
        self.checks = checks


class _Schedules:
    """`SchedulesPort` over the schedule actions; the list is kept by SCHEDULE_CHANGED events."""

    def __init__(self, engine: RemoteEngine) -> None:
        self._engine = engine
        self.cached: list[Schedule] = []

    def list_schedules(self) -> list[Schedule]:
        return list(self.cached)

    async def refresh(self) -> None:
        reply = await self._engine.call("schedule_list")
        self.cached = [Schedule.from_dict(s) for s in reply.get("schedules", [])]

    async def _one(self, action: str, params: dict[str, Any]) -> Schedule:
        reply = await self._engine.call(action, params)
        await self.refresh()
        return Schedule.from_dict(reply["schedule"])

    async def add_schedule(
        self,
        template: Mapping[str, Any] | Task,
        *,
        every: str | float | None = None,
        cron: str | None = None,
        name: str = "",
        timezone: str | None = None,
        missed: MissedPolicy | str = MissedPolicy.RUN_ONCE,
        paused: bool = False,
    ) -> Schedule:
        body = template_of(template) if isinstance(template, Task) else dict(template)
        return await self._one(
            "schedule_add",
            {
                "template": body, "every": every, "cron": cron, "name": name,
                "timezone": timezone, "paused": paused,
                "missed": missed.value if isinstance(missed, MissedPolicy) else missed,
            },
        )  # fmt: skip

    async def update_schedule(self, ref: str, **changes: Any) -> Schedule:
        params: dict[str, Any] = {"schedule_id": ref}
        for key, value in changes.items():
            if isinstance(value, Task):
                value = template_of(value)
            elif isinstance(value, MissedPolicy):
                value = value.value
            params[key] = value
        return await self._one("schedule_update", params)

    async def pause_schedule(self, ref: str) -> Schedule:
        return await self._one("schedule_manage", {"schedule_id": ref, "action": "pause"})

    async def resume_schedule(self, ref: str) -> Schedule:
        return await self._one("schedule_manage", {"schedule_id": ref, "action": "resume"})

    async def delete_schedule(self, ref: str) -> str:
        params = {"schedule_id": ref, "action": "remove"}
        reply = await self._engine.call("schedule_manage", params)
        await self.refresh()
        return str(reply["schedule_id"])

    async def run_now(self, ref: str) -> str:
        params = {"schedule_id": ref, "action": "run_now"}
        reply = await self._engine.call("schedule_manage", params)
        await self.refresh()
        return str(reply["task_id"])


class _Settings:
    """`EngineSettingsPort` over `config_get` / `config_set`; `current()` is the last read."""

    def __init__(self, engine: RemoteEngine, registry: ExecutorRegistry) -> None:
        self._engine = engine
        self._models = family_settings(registry)
        self._current = Settings(EngineSettings(), {})

    def current(self) -> Settings:
        return self._current

    def _read(self, reply: Mapping[str, Any]) -> None:
        families = reply.get("families") or {}
        self._current = Settings(
            EngineSettings.model_validate(reply.get("engine") or {}),
            {
                name: model.model_validate(families[name])
                for name, model in self._models.items()
                if name in families
            },
        )

    async def refresh(self) -> None:
        """Read the settings the engine uses now."""
        self._read(await self._engine.call("config_get"))

    async def change(self, edited: Settings) -> None:
        params = {
            "engine": edited.engine.model_dump(mode="json", exclude_unset=True),
            "families": {
                name: model.model_dump(mode="json", exclude_unset=True)
                for name, model in edited.families.items()
            },
        }
        self._read(await self._engine.call("config_set", params))


class RemoteEngine(RemoteOrder):
    """The engine port (`qtqueue.api.port.EnginePort`) of an engine in another process.

    `await attach(data_dir, registry)` gives one connected; `await close()` stops following
    it (the engine itself keeps running)."""

    owns_engine = False

    def __init__(self, data_dir: Path, info: dict[str, Any], registry: ExecutorRegistry) -> None:
        self.data_dir = data_dir
        self.registry = registry
        #: Not asked when an attached window closes: the engine is not this window's to stop.
        self.shutdown_policy = ShutdownPolicy.REQUEUE
        self._info = info
        self._client = ApiClient(data_dir, info)
        self._bus = EventBus()
        self._questions = _Questions(self)
        self._overview = _Overview()
        self._schedules = _Schedules(self)
        #: The engine's settings, for the settings dialog (`EngineSettingsPort`).
        self.settings = _Settings(self, registry)
        self._paused = False
        self._queues: list[dict[str, Any]] = []
        self._pump: asyncio.Task[None] | None = None
        self._subscribed: asyncio.Future[None] | None = None
        self._refreshing: asyncio.Task[None] | None = None
        self._refresh_again = False
        self._calls: set[asyncio.Task[dict[str, Any]]] = set()  # requests under way
        #: The ids subscribers know of (listed, or seen in events): on a resync, those gone
        #: meanwhile are published as REMOVED.
        self._known: set[str] = set()
        #: Whether the engine answers now (False between ENGINE_LOST and ENGINE_BACK).
        self.connected = False

    # ------------------------------------------------------------------ the port's reads

    @property
    def engine_pid(self) -> int:
        return int(self._info.get("pid", 0))

    @property
    def questions(self) -> _Questions:
        return self._questions

    @property
    def overview(self) -> _Overview:
        return self._overview

    @property
    def schedules(self) -> _Schedules:
        return self._schedules

    @property
    def queue_paused(self) -> bool:
        return self._paused

    def list_queues(self) -> list[dict[str, Any]]:
        return [dict(q) for q in self._queues]

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        return self._bus.subscribe(fn)

    # ------------------------------------------------------------------ connection

    async def call(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One action on the engine; its QueueError as raised by the engine.

        A caller cancelled meanwhile (the window closing) stops waiting, but the request runs
        to its end (`close` waits for it): a request cut off mid-write is left half-sent."""
        request = asyncio.get_running_loop().create_task(
            self._client.call(action, params), name=f"engine action {action}"
        )
        self._calls.add(request)
        request.add_done_callback(self._calls.discard)
        return await asyncio.shield(request)

    async def connect(self) -> None:
        """Read the state, then follow the event stream (returns once subscribed)."""
        loop = asyncio.get_running_loop()
        self._subscribed = loop.create_future()
        self._pump = loop.create_task(self._follow(), name="follow the attached engine")
        self._pump.add_done_callback(self._pump_done)
        try:
            await asyncio.wait_for(asyncio.shield(self._subscribed), SUBSCRIBE_WAIT_S)
        except TimeoutError:
            self._subscribed.cancel()
            raise QueueError(
                TaskErrorCode.QUEUE_ENGINE_UNAVAILABLE,
                f"the engine of {self.data_dir} did not start its event stream within "
                f"{SUBSCRIBE_WAIT_S:g} s",
            ) from None
        await self._read_state()
        self.connected = True

    def _pump_done(self, task: asyncio.Task[None]) -> None:
        error = task.exception() if not task.cancelled() else None
        if error is not None and not isinstance(error, QueueError):
            logger.error("following the engine failed", exc_info=error)
        if self._subscribed is not None and not self._subscribed.done():
            self._subscribed.set_exception(
                error or QueueError(TaskErrorCode.QUEUE_ENGINE_UNAVAILABLE, "stream ended")
            )

    async def close(self) -> None:
        """Stop following the engine and close the connections; the engine keeps running."""
        for task in (self._pump, self._refreshing):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._pump = self._refreshing = None
        if self._calls:
            _done, late = await asyncio.wait(set(self._calls), timeout=CLOSE_WAIT_S)
            for request in late:
                request.cancel()
            # Every outcome is retrieved: nobody waits for them any more.
            await asyncio.gather(*self._calls, *late, return_exceptions=True)
        await self._client.close()

    async def _read_state(self) -> None:
        status = await self.call("engine_status")
        self._paused = bool(status.get("engine", {}).get("paused", False))
        self._queues = list((await self.call("list_queues")).get("queues", []))
        await self._schedules.refresh()
        await self.settings.refresh()
        self._overview.update((await self.call("waiting")).get("waiting", []))

    async def _follow(self) -> None:
        """Follow the stream; when it breaks, wait for an engine and follow it again."""
        while True:
            try:
                async for data in self._client.events():
                    await self._on_event(event_of(data))
            except QueueError as exc:
                logger.info("the attached engine went away: %s", exc)
            if self._subscribed is not None and not self._subscribed.done():
                raise QueueError(
                    TaskErrorCode.QUEUE_ENGINE_UNAVAILABLE,
                    f"the engine of {self.data_dir} stopped before it could be followed",
                )
            self.connected = False
            self._bus.publish([TaskEvent(EventKind.QUEUE, "", detail=ENGINE_LOST)])
            await self._client.close()
            self._info = await self._engine_again()
            self._client = ApiClient(self.data_dir, self._info)

    async def _engine_again(self) -> dict[str, Any]:
        """Wait until an engine announces itself on the data directory and answers."""
        while True:
            info = read_engine_file(self.data_dir)
            if info is not None and await answers(info):
                return info
            await asyncio.sleep(RECONNECT_EVERY_S)  # a poll: the engine file has no notifier

    async def _on_event(self, event: TaskEvent) -> None:
        if event.kind == EventKind.QUEUE and event.detail == "subscribed":
            if self._subscribed is not None and not self._subscribed.done():
                self._subscribed.set_result(None)
                return
            await self._resync(ENGINE_BACK)
            return
        if event.kind == EventKind.QUEUE and event.detail == "overflow":
            await self._resync("")
            return
        if event.kind == EventKind.QUEUE and event.detail in ("paused", "resumed"):
            self._paused = event.detail == "paused"
        if event.kind == EventKind.SCHEDULE_CHANGED:
            with contextlib.suppress(QueueError):
                await self._schedules.refresh()
        if event.kind in (EventKind.ADDED, EventKind.CHANGED, EventKind.REMOVED):
            if event.kind == EventKind.REMOVED:
                self._known.discard(event.task_id)
            else:
                self._known.add(event.task_id)
            self._refresh_soon()
        self._bus.publish([event])

    async def _resync(self, detail: str) -> None:
        """Read everything again and publish it: each task as CHANGED, then `detail`."""
        await self._read_state()
        tasks = await self.list_tasks()
        self.connected = True
        gone = self._known - {t.id for t in tasks}
        events = [TaskEvent(EventKind.REMOVED, task_id) for task_id in sorted(gone)]
        events += [TaskEvent(EventKind.CHANGED, t.id, t.status, t) for t in tasks]
        self._known = {t.id for t in tasks}
        state = "paused" if self._paused else "resumed"
        events.append(TaskEvent(EventKind.QUEUE, "", detail=state))
        if detail:
            events.append(TaskEvent(EventKind.QUEUE, "", detail=detail))
        self._bus.publish(events)

    def _refresh_soon(self) -> None:
        """Read the named queues and start checks again, one read at a time."""
        if self._refreshing is not None and not self._refreshing.done():
            self._refresh_again = True
            return
        self._refreshing = asyncio.get_running_loop().create_task(
            self._refresh(), name="read queues and start checks"
        )

    async def _refresh(self) -> None:
        while True:
            self._refresh_again = False
            try:
                self._queues = list((await self.call("list_queues")).get("queues", []))
                self._overview.update((await self.call("waiting")).get("waiting", []))
            except QueueError:
                return  # the engine went away; the stream says so
            if not self._refresh_again:
                return

    # ------------------------------------------------------------------ tasks

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

    async def list_tasks(
        self,
        status: TaskStatus | str | Iterable[TaskStatus | str] | None = None,
        *,
        category: str | None = None,
        tag: str | None = None,
        task_type: TaskType | str | None = None,
        dead_letter: bool | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[Task]:
        statuses: list[str] | None = None
        if status is not None:
            many = [status] if isinstance(status, str) else list(status)
            statuses = [str(TaskStatus(s).value) for s in many]
        params = {
            "status": statuses, "category": category, "tag": tag,
            "type": str(task_type.value if isinstance(task_type, TaskType) else task_type)
            if task_type is not None else None,
            "dead_letter": dead_letter, "limit": limit, "offset": offset,
            "newest_first": newest_first,
        }  # fmt: skip
        reply = await self.call("list_tasks", {k: v for k, v in params.items() if v is not None})
        tasks = [Task.from_dict(t) for t in reply.get("tasks", [])]
        self._known.update(t.id for t in tasks)
        return tasks

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

    # ------------------------------------------------------------------ the queue

    async def pause_queue(self) -> None:
        await self.call("pause_queue")
        self._paused = True

    async def resume_queue(self) -> None:
        await self.call("resume_queue")
        self._paused = False

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

    def follow_log(self, task_id: str) -> AsyncIterator[str]:
        return self._client.follow_log(task_id)


async def attach(data_dir: Path, registry: ExecutorRegistry) -> RemoteEngine | None:
    """A `RemoteEngine` following the engine that runs on `data_dir`, or None when no live
    engine announces itself there (or none answers)."""
    info = read_engine_file(data_dir)
    if info is None or not await answers(info):
        return None
    engine = RemoteEngine(data_dir, info, registry)
    try:
        await engine.connect()
    except QueueError:
        await engine.close()
        return None
    except BaseException:
        await engine.close()
        raise
    return engine
