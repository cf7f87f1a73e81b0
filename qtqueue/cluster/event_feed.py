"""Following a cluster's changes: the event channel (`events.py`) read as the local API's
event stream, for the window's engine port over a cluster (`ClusterBackend.events`).

`follow(conn, url)` yields what `ApiClient.events` yields: first the QUEUE event
`subscribed` (every change after it follows), then `TaskEvent.to_dict()` dicts, each task's
with its snapshot read from RQ (`reads.snapshot`); one that only moved a task's progress says
`progress` in its detail; the whole cluster paused or resumed (`cluster_pause.py`) is the
QUEUE event `paused` / `resumed`, as a local engine's. A burst is coalesced: the ids named within
`COALESCE_S` of the first are read together, once each, in one pipeline. Because a worker that
dies publishes nothing (RQ's cleanup moves its job later), every `RESYNC_S` the tasks last
seen running or paused, and those RQ's started registries hold now, are read again, and only
those whose status changed are published. Redis going away ends the stream with
CLUSTER_REDIS_UNAVAILABLE (the port says "reconnecting" and follows again once it is back).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from qtqueue.cluster.connection import unavailable
from qtqueue.cluster.events import CHANNEL, QUEUE_KINDS
from qtqueue.cluster.reads import ClusterReader, snapshot
from qtqueue.core.task import ACTIVE, TaskStatus

logger = logging.getLogger(__name__)

#: How long after a first message the ids of a burst are gathered before they are read.
COALESCE_S = 0.1
#: How often the tasks seen running are read again (a dead worker publishes nothing).
RESYNC_S = 5.0
#: The longest one wait for a message blocks (the resync is checked in between).
WAIT_S = 1.0
_RUNNING = ACTIVE | {TaskStatus.PAUSED}
#: The detail of a CHANGED event that only moved a running task's progress (its status is
#: the one last published): the port reads no queue counts again for it.
PROGRESS = "progress"


def queue_event(detail: str) -> dict[str, Any]:
    """A QUEUE event with `detail` (as `TaskEvent.to_dict` makes it)."""
    return {"kind": "queue", "task_id": "", "status": None, "task": None, "detail": detail}


class _Feed:
    """The reads behind `follow` (each run in a thread: redis-py blocks)."""

    def __init__(self, conn: Redis) -> None:
        self.reader = ClusterReader(conn)
        self.pubsub = conn.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        #: The status each task was last published with.
        self.shown: dict[str, str] = {}
        #: The tasks last seen running or paused (read again at each resync).
        self.watched: set[str] = set()
        #: The cluster's pause and resume heard since the last `gather` ("paused", "resumed").
        self.queue_said: list[str] = []

    def subscribe(self) -> None:
        self.pubsub.subscribe(CHANNEL)
        self.watched = set(self.reader.job_ids(_RUNNING))

    def gather(self, wait_s: float) -> dict[str, str]:
        """The ids (and their last kind) of the messages of one burst; {} when none came
        within `wait_s`."""
        got: dict[str, str] = {}
        deadline: float | None = None
        timeout = wait_s
        while True:
            message = self.pubsub.get_message(timeout=timeout)
            if message is not None and message.get("type") == "message":
                try:
                    data = json.loads(message["data"])
                    task_id, kind = str(data["task_id"]), str(data["kind"])
                    if kind in QUEUE_KINDS:
                        self.queue_said.append(QUEUE_KINDS[kind])
                    elif got.get(task_id) != "added":  # added, then changed: still added
                        got[task_id] = kind
                except (ValueError, KeyError, TypeError):
                    logger.debug("not a qtqueue event: %r", message.get("data"))
            if got and deadline is None:
                deadline = time.monotonic() + COALESCE_S
            if deadline is None:
                return got  # nothing within wait_s
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                return got

    def read(self, kinds: dict[str, str], changed_only: bool = False) -> list[dict[str, Any]]:
        """The events for `kinds` ({task id: kind}), each task read once; with
        `changed_only`, only those whose status differs from the last published."""
        found = {job.id: snapshot(job) for job in self.reader.jobs(kinds)}
        events: list[dict[str, Any]] = []
        for task_id, kind in kinds.items():
            task = found.get(task_id)
            if task is None:
                self.watched.discard(task_id)
                if self.shown.pop(task_id, None) is not None or not changed_only:
                    events.append({**queue_event(""), "kind": "removed", "task_id": task_id})
                continue
            status, before = task.status.value, self.shown.get(task_id)
            if changed_only and before == status:
                continue
            self.shown[task_id] = status
            (self.watched.add if task.status in _RUNNING else self.watched.discard)(task_id)
            events.append({
                "kind": "added" if kind == "added" else "changed",
                "task_id": task_id, "status": status, "task": task.to_dict(),
                "detail": PROGRESS if kind == "progress" and before == status else "",
            })  # fmt: skip
        return events

    def resync(self) -> list[dict[str, Any]]:
        """The tasks seen running, and those running now, whose status changed."""
        ids = self.watched | set(self.reader.job_ids(_RUNNING))
        return self.read(dict.fromkeys(ids, "changed"), changed_only=True)

    def close(self) -> None:
        try:
            self.pubsub.close()
        except (RedisError, OSError):
            logger.debug("closing the event subscription failed", exc_info=True)


async def follow(conn: Redis, url: str) -> AsyncIterator[dict[str, Any]]:
    """The cluster's changes as the local API's event stream (see the module's notes)."""
    feed = _Feed(conn)
    try:
        try:
            await asyncio.to_thread(feed.subscribe)
        except (RedisError, OSError) as exc:
            raise unavailable(url, exc) from None
        yield queue_event("subscribed")
        next_resync = time.monotonic() + RESYNC_S
        while True:
            try:
                wait = max(0.0, min(WAIT_S, next_resync - time.monotonic()))
                kinds = await asyncio.to_thread(feed.gather, wait)
                events = [queue_event(said) for said in feed.queue_said]
                feed.queue_said.clear()
                events += await asyncio.to_thread(feed.read, kinds) if kinds else []
                if time.monotonic() >= next_resync:
                    events += await asyncio.to_thread(feed.resync)
                    next_resync = time.monotonic() + RESYNC_S
            except (RedisError, OSError) as exc:
                raise unavailable(url, exc) from None
            for event in events:
                yield event
    finally:
        await asyncio.to_thread(feed.close)
