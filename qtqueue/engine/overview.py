"""The engine at a glance: the resource document's `queue` and `status` views, worker slots.

The dispatcher records every start check a PENDING task fails (`EngineState.check_failed`, at
the one place a task is parked); this part reads those records and the live index, and says:

- `waiting()`: every pending task that could not start, why, since when, how often checked;
- `workers()`: the engine's slots (`max_concurrent`) as idle / busy / suspended, as the RQ-style
  document's `get_worker_stats` counts workers;
- `status()`: the overview (engine, named queues, running, waiting, workers, free resources).

Nothing here is on the dispatch path: the views are computed when asked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import os
from typing import Any

from qtqueue.core.overview import HeldBy, StartChecks
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.dispatch import Dispatcher
from qtqueue.engine.resources import ResourceAccountant
from qtqueue.engine.state import queue_order

logger = logging.getLogger(__name__)

#: The declared needs a waiting task shows, in this order.
NEED_KEYS = ("cpu_cores", "memory_gb", "disk_gb", "gpu_memory_gb")


def needs_of(task: Task) -> dict[str, float]:
    """What the task declared it needs of the machine (only what it declared, as numbers)."""
    out: dict[str, float] = {}
    for key in NEED_KEYS:
        value = task.resources.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value:
            out[key] = float(value)
    return out


class Overview:
    """Reads what the engine is doing: waiting tasks, worker slots, the status overview."""

    def __init__(self, dispatcher: Dispatcher, accountant: ResourceAccountant) -> None:
        self.dispatcher = dispatcher
        self.state = dispatcher.state
        self.slots = dispatcher.slots
        self.accountant = accountant
        dispatcher.lifecycle.on_conclude.append(self._concluded)

    def _concluded(self, task: Task, _status: TaskStatus) -> None:
        if self.state.start_checks:
            self.state.start_checks.pop(task.id, None)

    # ------------------------------------------------------------------ start checks

    def start_checks(self, task_id: str) -> StartChecks | None:
        """The start checks a PENDING task has failed since it was last queued (a copy), or
        None: it has failed none, or it is not PENDING."""
        record = self.state.start_checks.get(task_id)
        task = self.state.live.get(task_id)
        if record is None or task is None or not self._current(task, record):
            return None
        return dataclasses.replace(record)

    @staticmethod
    def _current(task: Task, record: StartChecks) -> bool:
        held = task.status == TaskStatus.PENDING or (
            task.status == TaskStatus.PAUSED and task.paused_from in (None, TaskStatus.PENDING)
        )
        return held and record.seq == task.seq

    def waiting(self) -> list[dict[str, Any]]:
        """Every PENDING task that could not start, in queue order: `{id, name, needs,
        waiting_s, attempts, last_reason, target, held_by, first_failed_at, last_checked_at}`.

        A task whose last start check failed shows that check. So does, with no check counted
        (attempts 0), one that was not checked because nothing could start it: its start time
        has not come (schedule), the queue is paused, or every worker is busy. A task about to
        start (a pass is due) is not listed. `waiting_s` counts from when the task was added.
        """
        state = self.state
        now = state.clock()
        slots_full = not self.slots.free
        shown: list[tuple[tuple[int, int, int, str], dict[str, Any]]] = []
        for task in state.live.values():
            if task.status != TaskStatus.PENDING:
                continue
            record = state.start_checks.get(task.id)
            if record is not None and record.seq == task.seq:
                row = record.to_dict()
            elif (why := self._unchecked(task, now, slots_full)) is not None:
                row = {
                    "attempts": 0,
                    "last_reason": why[1],
                    "first_failed_at": None,
                    "last_checked_at": None,
                    "held_by": why[0],
                }
            else:
                continue
            shown.append(
                (
                    queue_order(task),
                    {
                        "id": task.id,
                        "name": task.name,
                        "task_type": task.type_name,
                        "needs": needs_of(task),
                        "waiting_s": max(0.0, now - task.created_at),
                        "target": task.queue,
                        **row,
                    },
                )
            )
        shown.sort(key=lambda pair: pair[0])
        return [row for _, row in shown]

    def _unchecked(self, task: Task, now: float, slots_full: bool) -> tuple[str, str] | None:
        """(held_by, reason) of a PENDING task no check has failed for, or None when it is
        about to start (or this queue does not dispatch)."""
        if task.run_at is not None and task.run_at > now:
            when = datetime.datetime.fromtimestamp(task.run_at).isoformat(timespec="seconds")
            return HeldBy.SCHEDULE.value, task.wait_reason or f"starts at {when}"
        if not self.state.dispatching:
            return None
        if self.dispatcher.paused:
            return HeldBy.PAUSED.value, "the queue is paused: nothing new starts"
        if slots_full:
            n = self.slots.max_concurrent
            return HeldBy.WORKERS.value, f"all {n} worker{'s' if n != 1 else ''} are busy"
        return None

    # ------------------------------------------------------------------ workers

    def workers(self) -> dict[str, Any]:
        """The engine's worker slots, as the RQ-style document's `get_worker_stats` counts
        workers: `{total, idle, busy, suspended, slots: [{slot, state, task_id, task_name}]}`.

        A task suspended by `pause_task` keeps its slot (so resuming it never exceeds the
        limits): it is a suspended worker, not an idle one. There are `max_concurrent` slots;
        more only while running tasks outnumber a limit lowered under them."""
        handles = sorted(
            (h for h in self.state.active.values() if h.holds_slot),
            key=lambda h: (h.task.started_at or 0.0, h.task.seq),
        )
        slots: list[dict[str, Any]] = []
        for handle in handles:
            task = handle.task
            suspended = task.status == TaskStatus.PAUSED
            slots.append(
                {
                    "slot": len(slots) + 1,
                    "state": "suspended" if suspended else "busy",
                    "task_id": task.id,
                    "task_name": task.name,
                }
            )
        while len(slots) < self.slots.max_concurrent:
            slots.append({"slot": len(slots) + 1, "state": "idle", "task_id": None,
                          "task_name": None})  # fmt: skip
        counts = {
            state: sum(1 for s in slots if s["state"] == state)
            for state in ("idle", "busy", "suspended")
        }
        return {"total": len(slots), **counts, "slots": slots}

    # ------------------------------------------------------------------ the overview

    async def status(self) -> dict[str, Any]:
        """The overview: `{engine: {state, dispatching, paused, pid, data_dir}, queues,
        running, suspended, waiting, pending, workers: {total, idle, busy, suspended},
        free: {cpu_cores, memory_gb, disk_gb, gpu_memory_gb}, reserved: {...}}`. Free
        resources are what the machine has now less what running tasks reserved (disk: the
        home directory's disk; GPU: the best GPU, None without one)."""
        state = self.state
        paused = self.dispatcher.paused
        workers = self.workers()
        del workers["slots"]
        free = await asyncio.to_thread(self.accountant.available, self.accountant.holdings())
        return {
            "engine": {
                "state": (
                    "not dispatching"
                    if not state.dispatching
                    else "paused"
                    if paused
                    else "dispatching"
                ),
                "dispatching": state.dispatching,
                "paused": paused,
                "pid": os.getpid(),
                "data_dir": str(state.data_dir),
            },
            "queues": self.dispatcher.list_queues(),
            "running": workers["busy"],
            "suspended": workers["suspended"],
            "pending": sum(1 for t in state.live.values() if t.status == TaskStatus.PENDING),
            "waiting": len(self.waiting()),
            "workers": workers,
            "free": free,
            "reserved": self.accountant.reserved(),
        }
