"""Change events: what subscribers (the window, the API) hear after each durable change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum

from qtqueue.core.task import Task, TaskStatus

logger = logging.getLogger(__name__)


class EventKind(StrEnum):
    """What happened to a task, or to the queue as a whole."""

    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"
    QUEUE = "queue"
    NOTICE = "notice"
    """Something a person should hear about (a supervised task started, a task awaits
    approval); `detail` says what, in words. Carries no snapshot."""
    #: A recurring schedule was added, changed or deleted: `task_id` is "", `detail` its id.
    SCHEDULE_CHANGED = "schedule_changed"
    #: A question of the task was asked, answered, timed out or cancelled (durable): `detail`
    #: is the question's id (`TaskQueue.questions`). Carries no snapshot.
    QUESTION = "question"


@dataclass(slots=True, frozen=True)
class TaskEvent:
    """One change, published only once it is durable.

    `status` is the task's status right after the change. `task` is a snapshot taken when the
    change was made; it is None for REMOVED, QUEUE and NOTICE events, and when nobody
    subscribed.
    """

    kind: EventKind
    task_id: str
    status: TaskStatus | None = None
    task: Task | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "task_id": self.task_id,
            "status": self.status.value if self.status is not None else None,
            "task": self.task.to_dict() if self.task is not None else None,
            "detail": self.detail,
        }


Subscriber = Callable[[list[TaskEvent]], None]


class EventBus:
    """Fans batches of events out to subscribers, in order, on the event loop.

    A subscriber is a plain callable taking a list of events (one list per committed batch);
    one that raises is logged and kept. `stream()` gives an async iterator with a bounded
    buffer for consumers that may fall behind (oldest events are dropped, and a QUEUE event
    with detail "overflow" tells them to resynchronise).
    """

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        #: Those of them that read no snapshots (the engine's own counters).
        self._light: list[Subscriber] = []

    @property
    def has_subscribers(self) -> bool:
        """Whether someone wants snapshots (events are made with them then)."""
        return len(self._subscribers) > len(self._light)

    def subscribe(self, fn: Subscriber, *, snapshots: bool = True) -> Callable[[], None]:
        """Start delivering to `fn`; returns a function that stops it. `snapshots=False`: `fn`
        reads no `TaskEvent.task` (no snapshot is taken for it alone)."""
        self._subscribers.append(fn)
        if not snapshots:
            self._light.append(fn)

        def unsubscribe() -> None:
            if fn in self._subscribers:
                self._subscribers.remove(fn)
            if fn in self._light:
                self._light.remove(fn)

        return unsubscribe

    def publish(self, events: list[TaskEvent]) -> None:
        if not events:
            return
        for fn in list(self._subscribers):
            try:
                fn(events)
            except Exception:
                logger.exception("event subscriber %r failed", fn)

    async def stream(self, maxsize: int = 10000) -> AsyncIterator[TaskEvent]:
        """Events as they come, until the consumer stops iterating."""
        queue: asyncio.Queue[TaskEvent] = asyncio.Queue()

        def push(events: list[TaskEvent]) -> None:
            for e in events:
                if queue.qsize() >= maxsize:
                    while not queue.empty():
                        queue.get_nowait()
                    queue.put_nowait(TaskEvent(EventKind.QUEUE, "", detail="overflow"))
                queue.put_nowait(e)

        unsubscribe = self.subscribe(push)
        try:
            while True:
                yield await queue.get()
        finally:
            unsubscribe()
