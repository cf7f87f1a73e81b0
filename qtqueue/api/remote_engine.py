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

The same port serves a window on a cluster (`qtqueue --redis URL gui`): there the client is
a `ClusterBackend` (the same actions, its event stream read from Redis's pub/sub), made by
the `client` factory given, and `again` waits for Redis to answer instead of the engine file
(`qtqueue.api.cluster_port`).

This module keeps the connection and the state the stream keeps current; the requests that are
one action each are in `remote_tasks` and `remote_order` (mixins), and the questions, start
checks, schedules and settings parts in `remote_ports`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from qtqueue.api.client import ApiClient
from qtqueue.api.light_client import answers, read_engine_file
from qtqueue.api.port import ENGINE_BACK, ENGINE_LOST
from qtqueue.api.remote_ports import (
    RemoteOverview,
    RemoteQuestions,
    RemoteSchedules,
    RemoteSettings,
)
from qtqueue.api.remote_tasks import RemoteTasks, new_task_fields
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.events import EventBus, EventKind, Subscriber, TaskEvent
from qtqueue.engine.runner import ShutdownPolicy
from qtqueue.executors import ExecutorRegistry

logger = logging.getLogger(__name__)

__all__ = ["RemoteEngine", "attach", "event_of", "new_task_fields"]

#: How often the engine file is looked at again while the engine is away.
RECONNECT_EVERY_S = 1.0
#: How long `connect` waits for the engine's event stream to begin.
SUBSCRIBE_WAIT_S = 10.0
#: How long `close` lets requests under way finish.
CLOSE_WAIT_S = 5.0


class EngineClient(Protocol):
    """What the port needs of its way to the engine: `ApiClient` (an engine's local API) or
    `qtqueue.cluster.backend.ClusterBackend` (a cluster's Redis) fits."""

    async def call(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One action; its QueueError as the engine raised it."""
        ...

    def events(self) -> AsyncIterator[dict[str, Any]]:
        """Every change as `TaskEvent.to_dict()` dicts, the QUEUE event `subscribed` first;
        ends (or raises QueueError) when the engine goes away."""
        ...

    def follow_log(self, task_id: str) -> AsyncIterator[str]:
        """The task's log as it grows."""
        ...

    async def close(self) -> None:
        """Close the connections."""
        ...


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


class RemoteEngine(RemoteTasks):
    """The engine port (`qtqueue.api.port.EnginePort`) of an engine in another process.

    `await attach(data_dir, registry)` gives one connected; `await close()` stops following
    it (the engine itself keeps running)."""

    owns_engine = False

    def __init__(
        self,
        data_dir: Path,
        info: dict[str, Any],
        registry: ExecutorRegistry,
        *,
        client: Callable[[], EngineClient] | None = None,
        again: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`client`: makes the connection (default: the local API of the engine `info`
        announces); `again`: returns once it may be made again after the engine went away
        (default: an engine announces itself on `data_dir` and answers)."""
        self.data_dir = data_dir
        self.registry = registry
        #: Not asked when an attached window closes: the engine is not this window's to stop.
        self.shutdown_policy = ShutdownPolicy.REQUEUE
        self._info = info
        self._new_client = client or (lambda: ApiClient(self.data_dir, self._info))
        self._again = again or self._engine_again
        self._client: EngineClient = self._new_client()
        #: The cluster this port shows ("redis://HOST:PORT"), None for an engine's.
        self.cluster: str | None = None
        self._bus = EventBus()
        self._questions = RemoteQuestions(self)
        self._overview = RemoteOverview()
        self._schedules = RemoteSchedules(self)
        #: The engine's settings, for the settings dialog (`EngineSettingsPort`).
        self.settings = RemoteSettings(self, registry)
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
    def questions(self) -> RemoteQuestions:
        return self._questions

    @property
    def overview(self) -> RemoteOverview:
        return self._overview

    @property
    def schedules(self) -> RemoteSchedules:
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
            await self._again()
            self._client = self._new_client()

    async def _engine_again(self) -> None:
        """Wait until an engine announces itself on the data directory and answers."""
        while True:
            info = read_engine_file(self.data_dir)
            if info is not None and await answers(info):
                self._info = info
                return
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
            if event.detail != "progress":  # a cluster's progress: no queue counts changed
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

    # ------------------------------------------------------------------ requests that keep state

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

    async def pause_queue(self) -> None:
        await self.call("pause_queue")
        self._paused = True

    async def resume_queue(self) -> None:
        await self.call("resume_queue")
        self._paused = False

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
