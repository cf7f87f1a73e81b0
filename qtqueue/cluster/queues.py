"""The cluster's queues: the RQ-style design document's three, in the order workers drain them.

| queue           | job timeout | retries | results kept | failures kept |
|-----------------|-------------|---------|--------------|---------------|
| high_priority   | 1 h         | 3       | 24 h         | 7 days        |
| default         | 2 h         | 3       | 24 h         | 7 days        |
| low_priority    | 4 h         | 2       | 12 h         | 7 days        |

These are the local engine's built-in named queues (`engine.named_queues.BUILTIN_DEFAULTS`,
the same document's numbers), so a task means the same on either backend. A task that names
no queue goes to the one its priority names, as the document's `enqueue_task` picks it:
URGENT (the document's CRITICAL) and HIGH to high_priority, LOW to low_priority, NORMAL to
default. A task's own timeout and retry count, when it sets them, win over its queue's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Priority
from qtqueue.engine import named_queues
from qtqueue.engine.named_queues import (
    BUILTIN_DEFAULTS,
    DEFAULT_FAILURE_TTL_S,
    DEFAULT_QUEUE,
    HIGH_PRIORITY_QUEUE,
    LOW_PRIORITY_QUEUE,
)

logger = logging.getLogger(__name__)

#: The queues a worker drains when told none, in its order: high_priority, default,
#: low_priority (RQ's Worker takes from the first that has a job).
DRAIN_ORDER: tuple[str, ...] = (HIGH_PRIORITY_QUEUE, DEFAULT_QUEUE, LOW_PRIORITY_QUEUE)


@dataclass(frozen=True, slots=True)
class ClusterQueue:
    """One of the cluster's queues and the defaults its jobs get."""

    name: str
    timeout_s: float
    """A job's running-time limit when its task sets none."""
    max_retries: int
    """A job's retries when its task sets none."""
    result_ttl_s: float
    """How long a finished job's result is kept."""
    failure_ttl_s: float
    """How long a failed job stays in the failed registry (the dead-letter queue)."""


def _from_engine(name: str) -> ClusterQueue:
    s = BUILTIN_DEFAULTS[name]
    assert s.timeout_s is not None and s.max_retries is not None and s.result_ttl_s is not None
    return ClusterQueue(
        name,
        timeout_s=s.timeout_s,
        max_retries=s.max_retries,
        result_ttl_s=s.result_ttl_s,
        failure_ttl_s=s.failure_ttl_s if s.failure_ttl_s is not None else DEFAULT_FAILURE_TTL_S,
    )


#: The three queues by name, with the document's defaults.
QUEUES: dict[str, ClusterQueue] = {name: _from_engine(name) for name in DRAIN_ORDER}


def queue_for_priority(priority: Priority) -> ClusterQueue:
    """The queue a task of `priority` goes to when it names none (see the module's table)."""
    return QUEUES[named_queues.queue_for_priority(priority)]


def queue_named(name: str) -> ClusterQueue:
    """The cluster queue `name`; CLUSTER_NOT_SUPPORTED for any other name (user-defined
    queues are the local engine's for now)."""
    queue = QUEUES.get(name)
    if queue is None:
        raise QueueError(
            "CLUSTER_NOT_SUPPORTED",
            f"queue {name!r}: a cluster has the queues {', '.join(DRAIN_ORDER)}",
            queue=name,
        )
    return queue


def parse_queue_list(text: str) -> list[str]:
    """`--queues high_priority,default`: the names in the order given (duplicates dropped).
    Any valid queue name is taken (a worker may drain queues of its own); an empty list or a
    bad name is VALIDATION_INVALID_FORMAT."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            "--queues: name at least one queue (e.g. high_priority,default,low_priority)",
        )
    return [named_queues.check_name(n) for n in dict.fromkeys(names)]
