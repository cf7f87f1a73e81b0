"""What the engine's overview says about a waiting task: plain data the window, CLI and API share.

The engine records, for each PENDING task, the start checks it failed (`StartChecks`); the
resource document's `queue` view lists them. Nothing here does IO.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

logger = logging.getLogger(__name__)


class HeldBy(StrEnum):
    """What kept a task from starting at its last start check."""

    #: Not enough free CPU cores, memory, disk or GPU memory (or an older waiter has the room).
    RESOURCES = "resources"
    #: Its named queue runs as many tasks as its concurrency allows.
    QUEUE_LIMIT = "queue_limit"
    #: Its category runs as many tasks as the category limit allows.
    CONCURRENCY = "concurrency"
    #: A task it depends on has not finished.
    DEPENDENCY = "dependency"
    #: It is HUMAN_REQUIRED and nobody has approved it.
    APPROVAL = "approval"
    #: No executor is registered for its task type.
    EXECUTOR = "executor"
    #: Its run time (a delayed start or a retry's backoff) has not come.
    SCHEDULE = "schedule"
    #: Every worker slot of the engine is busy.
    WORKERS = "workers"
    #: The queue is paused: nothing new starts.
    PAUSED = "paused"


@dataclass(slots=True)
class StartChecks:
    """The failed start checks of one PENDING task since it last became ready to start.

    Cleared when the task starts or ends; kept in memory only (like the resource document's
    queue), so an engine restart starts counting again."""

    #: How many times the task was checked and could not start.
    attempts: int
    #: Why it could not start the last time, in words ("Insufficient CPU: 4.00 available,
    #: task requires 8.00").
    last_reason: str
    #: When (UNIX time) a check first failed.
    first_failed_at: float
    #: When (UNIX time) it was last checked (and could not start).
    last_checked_at: float
    #: What held it the last time (a `HeldBy` value).
    held_by: str
    #: The queue entry (task seq) the record belongs to; a task queued again under a new seq
    #: (a retry) starts a new record.
    seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (without the internal `seq`)."""
        out = asdict(self)
        del out["seq"]
        return out
