"""`LocalEngine`: the `HttpEngine` of a local `TaskQueue` — the routes' way to the engine of
this process, exactly as they reached it before there was a cluster to serve (the local API's
actions through `run_action`, the engine's events, log followers and in-memory metrics).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from prometheus_client.registry import Collector

from qtqueue.api.actions import run_action
from qtqueue.api.http.app import Frames
from qtqueue.api.http.metrics import EngineCollector
from qtqueue.api.task_ids import resolve_task_id
from qtqueue.engine.events import TaskEvent
from qtqueue.engine.queue import TaskQueue

logger = logging.getLogger(__name__)

__all__ = ["LocalEngine", "frames_of"]


def frames_of(events: list[TaskEvent]) -> Frames:
    """A batch of engine events as SSE frames: (kind, the event's JSON) each."""
    return [(e.kind.value, json.dumps(e.to_dict(), default=str).encode()) for e in events]


class LocalEngine:
    """The HTTP routes' engine over a local `TaskQueue`."""

    kind = "local"
    metrics_block = False

    def __init__(self, queue: TaskQueue) -> None:
        self.queue = queue

    @property
    def data_dir(self) -> Path:
        """The queue's data directory."""
        return self.queue.data_dir

    async def request(self, body: object) -> dict[str, Any]:
        """One action of the local API (`run_action`)."""
        return await run_action(self.queue, body)

    async def get_task(self, task_id: str) -> dict[str, Any]:
        """The task, read from the engine itself."""
        return (await self.queue.get_task(task_id)).to_dict()

    async def resolve(self, task_id: str) -> str:
        """The full id of a task id or unique prefix."""
        return await resolve_task_id(self.queue, task_id)

    def follow_log(self, task_id: str) -> AsyncIterator[str]:
        """The engine's log follower."""
        return self.queue.follow_log(task_id)

    def subscribe(
        self, on_frames: Callable[[Frames], None], on_end: Callable[[], None]
    ) -> Callable[[], None]:
        """The engine's events, each committed batch as frames (they never stop first)."""
        return self.queue.subscribe(lambda events: on_frames(frames_of(events)))

    def collector(self) -> Collector:
        """The engine's counts and gauges (`EngineCollector`)."""
        return EngineCollector(self.queue)

    def page_info(self) -> dict[str, Any]:
        """A local engine: the page offers everything."""
        return {"kind": self.kind}
