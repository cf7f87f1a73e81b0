"""The "#" column: a waiting task's place in its named queue, 1 for the task the queue starts
next (as qBittorrent's "#"), the order the engine starts tasks in and moves them by
(`engine.state.queue_order` within one queue: higher priority first, then the lower queue
number `seq`, then the id).

`QueuePositions` keeps, per queue, the sorted keys of its waiting (PENDING) tasks. A position
is a binary search in that list (O(log n), no per-paint pass), and a change costs one insert
or delete in it (a C memmove, microseconds at 100,000 waiting tasks): nothing is recomputed
row by row when one task starts and every other one moves up a place.
"""

from __future__ import annotations

import logging
import math
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable

from qtqueue.core.task import Task, TaskStatus

logger = logging.getLogger(__name__)

#: The queue a task without one waits in, and the built-in queues' drain order
#: (`engine.named_queues.DEFAULT_QUEUE` and `BUILTIN_RANKS`, which a test compares: the
#: window does not import the engine at start to read them). Other queues rank 1.
DEFAULT_QUEUE = "default"
RANKS: dict[str, int] = {"high_priority": 0, DEFAULT_QUEUE: 1, "low_priority": 2}

_Key = tuple[int, int, str]


def _key(t: Task) -> _Key:
    return (-t.priority, t.seq, t.id)  # IntEnum: negated, a plain int


def _queue(t: Task) -> str:
    return t.queue or DEFAULT_QUEUE


class QueuePositions:
    """Where each waiting task stands in its queue (see the module docstring)."""

    def __init__(self) -> None:
        self._queues: dict[str, list[_Key]] = {}

    def reset(self, tasks: Iterable[Task]) -> None:
        """Forget everything and follow `tasks` (one pass, one sort per queue)."""
        queues: dict[str, list[_Key]] = {}
        pending = TaskStatus.PENDING
        for t in tasks:
            if t.status is pending:
                queues.setdefault(_queue(t), []).append(_key(t))
        for keys in queues.values():
            keys.sort()
        self._queues = queues

    def change(self, old: Task | None, new: Task | None) -> bool:
        """Follow one task from snapshot `old` to `new` (None: not in the list); True if
        the waiting order of a queue changed (so other tasks' places may have too)."""
        was = old is not None and old.status == TaskStatus.PENDING
        now = new is not None and new.status == TaskStatus.PENDING
        if not was and not now:
            return False
        if was and now:
            assert old is not None and new is not None
            if _queue(old) == _queue(new) and _key(old) == _key(new):
                return False
        if was:
            assert old is not None
            keys = self._queues.get(_queue(old), [])
            i = bisect_left(keys, _key(old))
            if i < len(keys) and keys[i] == _key(old):
                del keys[i]
        if now:
            assert new is not None
            insort(self._queues.setdefault(_queue(new), []), _key(new))
        return True

    def position(self, t: Task) -> int | None:
        """`t`'s place in its queue (1 starts first), or None for a task that does not wait
        (or that this object does not follow)."""
        if t.status != TaskStatus.PENDING:
            return None
        keys = self._queues.get(_queue(t))
        if not keys:
            return None
        key = _key(t)
        i = bisect_left(keys, key)
        return i + 1 if i < len(keys) and keys[i] == key else None

    def text(self, t: Task) -> str:
        """The "#" cell: the place, or '' for a task that does not wait."""
        place = self.position(t)
        return "" if place is None else str(place)

    def sort_key(self, t: Task) -> float:
        """The "#" column's sort value: the place (tasks that do not wait after every
        waiting one, ascending); among equal places, the queue drained first
        (high_priority, then default and the others, then low_priority) first."""
        place = self.position(t)
        return math.inf if place is None else place + RANKS.get(_queue(t), 1) / 4

    def sort_keys(self) -> Callable[[Task], float]:
        """`sort_key` for sorting every row: each place read once from the sorted lists
        (a dict lookup per row instead of a binary search)."""
        inf = math.inf
        table = {
            key[2]: place + RANKS.get(queue, 1) / 4
            for queue, keys in self._queues.items()
            for place, key in enumerate(keys, 1)
        }
        return lambda t: table.get(t.id, inf)
