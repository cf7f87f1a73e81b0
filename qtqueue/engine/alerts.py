"""Alerts, as the RQ-style design document's monitoring has them: a person hears when a task
becomes a dead letter, or when a named queue's backlog passes the threshold set for it.

Each alert is a NOTICE event (the window's tray shows it: "Dead letter: <task>", "Queue
backlog: ...") and, when the task's named queue has a `notify_webhook`, a JSON POST to it
(`X-Qtqueue-Event: alert.dead_letter` or `alert.queue_depth`), signed and retried as the
notifier posts task summaries (engine/notify.py).

A queue's backlog is how many of its tasks wait (PENDING), counted from the engine's durable
events task by task (no scan of the tasks per change). The depth alert fires once when the
backlog goes above the queue's `alert_depth`, and is armed again only once the backlog fell to
`REARM_FRACTION` of it: a backlog that hovers around the threshold does not alert again and
again.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine import named_queues
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.notify import Notifier
from qtqueue.engine.state import EngineState

logger = logging.getLogger(__name__)

__all__ = ["REARM_FRACTION", "Alerts"]

#: The depth alert of a queue is armed again once its backlog falls to this share of its
#: `alert_depth` (rounded down).
REARM_FRACTION = 0.9


def rearm_depth(alert_depth: int) -> int:
    """The backlog at or below which a queue's depth alert is armed again."""
    return math.floor(alert_depth * REARM_FRACTION)


class Alerts:
    """Dead-letter and queue-depth alerts of one engine (see the module's description)."""

    def __init__(
        self,
        state: EngineState,
        on_evict: list[Callable[[Task], None]],
        notifier: Notifier,
    ) -> None:
        self.state = state
        self.notifier = notifier
        #: Waiting (PENDING) tasks by id, and the queue each waits in.
        self._waiting: dict[str, str] = {}
        #: How many tasks wait in each named queue.
        self.depth: Counter[str] = Counter()
        #: Queues whose depth alert fired and is not armed again yet.
        self.raised: set[str] = set()
        #: How many alerts were raised, by kind ("dead_letter", "queue_depth").
        self.raised_total: Counter[str] = Counter()
        state.events.subscribe(self._on_events, snapshots=False)
        on_evict.append(self._evicted)

    def start(self) -> None:
        """Count the waiting tasks the engine opened with (its live index, once loaded)."""
        self._waiting = {
            t.id: t.queue or named_queues.DEFAULT_QUEUE
            for t in self.state.live.values()
            if t.status == TaskStatus.PENDING
        }
        self.depth = Counter(self._waiting.values())
        self.raised.clear()

    # ------------------------------------------------------------------ queue depth

    def _on_events(self, events: list[TaskEvent]) -> None:
        touched: set[str] = set()
        for e in events:
            if e.kind in (EventKind.ADDED, EventKind.CHANGED):
                if e.status == TaskStatus.PENDING:
                    if e.task_id not in self._waiting:
                        name = self._queue_of(e)
                        self._waiting[e.task_id] = name
                        self.depth[name] += 1
                        touched.add(name)
                    continue
            elif e.kind != EventKind.REMOVED:
                continue
            gone = self._waiting.pop(e.task_id, None)
            if gone is not None:
                self.depth[gone] -= 1
                touched.add(gone)
        for name in touched:
            self._check_depth(name)

    def _queue_of(self, event: TaskEvent) -> str:
        task = self.state.live.get(event.task_id) or event.task
        return (task.queue if task is not None else None) or named_queues.DEFAULT_QUEUE

    def _check_depth(self, name: str) -> None:
        queue = self.state.queues.get(name)
        limit = queue.alert_depth if queue is not None else None
        depth = self.depth[name]
        if limit is None:
            self.raised.discard(name)
        elif name in self.raised:
            if depth <= rearm_depth(limit):
                self.raised.discard(name)
                logger.info("queue %r: backlog down to %d, its depth alert is armed", name, depth)
        elif depth > limit:
            self.raised.add(name)
            self._raise(
                "queue_depth",
                name,
                f"queue backlog: {depth} tasks wait in {name!r} (alert above {limit})",
                {"depth": depth, "alert_depth": limit},
            )

    # ------------------------------------------------------------------ dead letters

    def _evicted(self, task: Task) -> None:
        """A task's final state is durable: alert if it is a dead letter."""
        if not task.dead_letter:
            return
        name = task.queue or named_queues.DEFAULT_QUEUE
        code = f" ({task.error_code})" if task.error_code else ""
        self._raise(
            "dead_letter",
            name,
            f"dead letter: {task.name or task.type_name}{code}",
            {
                "task_id": task.id,
                "name": task.name,
                "task_type": task.type_name,
                "status": task.status.value,
                "error_code": task.error_code,
                "error": task.error,
                "retry_count": task.retry_count,
            },
            task,
        )

    # ------------------------------------------------------------------ telling

    def _raise(
        self, kind: str, queue: str, text: str, facts: dict[str, Any], task: Task | None = None
    ) -> None:
        """Publish the NOTICE and post the alert to the queue's webhook, if it has one."""
        self.raised_total[kind] += 1
        logger.warning("alert: %s", text)
        notice = (
            self.state.notice(task, text)
            if task is not None
            else TaskEvent(EventKind.NOTICE, "", detail=text)
        )
        self.state.events.publish([notice])
        settings = self.state.queues.get(queue)
        url = settings.notify_webhook if settings is not None else None
        if url is None:
            return
        event = f"alert.{kind}"
        body = {"event": event, "queue": queue, "message": text, "at": self.state.clock(), **facts}

        def note(line: str, failed: bool) -> None:
            (logger.warning if failed else logger.info)("%s: %s", event, line)

        self.notifier.send(
            self.notifier.post(url, json.dumps(body).encode(), event, "alert", note),
            f"{event} {queue}",
        )
