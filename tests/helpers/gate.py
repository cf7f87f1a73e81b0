"""A task handler the test controls: each run waits until the test lets it through."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from qtqueue.core.errors import QueueError


class Gate:
    """An async handler the test controls: each run waits until the test opens its gate.

    Records the order in which runs started and how many ran at once. Params understood:
    "label" (returned as the result) and "fail" (a TaskErrorCode to raise once let through).
    """

    def __init__(self) -> None:
        self.started: list[str] = []
        self.labels: list[Any] = []
        self.running: dict[str, Any] = {}
        self.peak = 0
        self.peak_by_label: dict[Any, int] = defaultdict(int)
        self._gates: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._all_open = False

    async def handler(self, task_id: str, params: dict[str, Any]) -> dict[str, Any]:
        self.started.append(task_id)
        label = params.get("label")
        self.labels.append(label)
        self.running[task_id] = label
        self.peak = max(self.peak, len(self.running))
        same = sum(1 for x in self.running.values() if x == label)
        self.peak_by_label[label] = max(self.peak_by_label[label], same)
        try:
            if not self._all_open:
                await self._gates[task_id].wait()
        finally:
            del self.running[task_id]
        if params.get("fail"):
            raise QueueError(params["fail"], "failing as asked")
        return {"label": params.get("label")}

    def open(self, task_id: str) -> None:
        self._gates[task_id].set()

    def open_all(self) -> None:
        """Let every run through, now and from now on."""
        self._all_open = True
        for event in self._gates.values():
            event.set()

    def runs(self, task_id: str) -> int:
        return self.started.count(task_id)
