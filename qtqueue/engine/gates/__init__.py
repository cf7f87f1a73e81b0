"""What a PENDING task waits for before it may start: one `Gate` protocol, applied in order.

The dispatcher asks each gate of an ordered tuple about a task: `Admit` (go on to the next
gate), `Park(reason, held_by)` (the gate keeps the task's queue entry and releases it when what it
waits for comes; the task says why it waits), or `Fail(...)` (the task ends now, with a
coded error). Each gate keeps its own state: the dependents map, the expiry alarm, the
resource re-check timer, the tasks awaiting approval.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.lifecycle import Lifecycle

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Admit:
    """The gate lets the task go on."""


@dataclass(frozen=True)
class Park:
    """The gate holds the task back (and keeps its queue entry) for `reason`."""

    reason: str
    #: What holds it (a `qtqueue.core.overview.HeldBy` value), for the overview's records.
    held_by: str = ""


@dataclass(frozen=True)
class Fail:
    """The task cannot ever pass: it ends with `status` and this coded error."""

    #: How it ends (FAILED, or CANCELLED for an expired task).
    status: TaskStatus
    code: TaskErrorCode | str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    #: Whether the task's retries apply (an unreadable resource declaration: yes).
    allow_retry: bool = False

    def end(self, lifecycle: Lifecycle, task: Task) -> None:
        """End `task` as this verdict says."""
        lifecycle.conclude(
            task,
            self.status,
            code=self.code,
            message=self.message,
            details=self.details,
            allow_retry=self.allow_retry,
        )


Verdict = Admit | Park | Fail
ADMIT = Admit()


class Gate(Protocol):
    """One condition a task must meet before it starts."""

    def begin_pass(self) -> None:
        """A dispatch pass begins (a gate may look at its waiters once per pass)."""

    def check(self, task: Task) -> Verdict:
        """Admit, park (the gate then holds the task's entry) or fail `task`."""
        ...
