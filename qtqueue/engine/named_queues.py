"""Named queues: where a task waits (`Task.queue`), and each queue's own settings.

Three are built in and drained in this order: high_priority, default, low_priority (the RQ-style
design document's queues, with its defaults: `BUILTIN_DEFAULTS`). Users add their own (drained
with default). A task that names no queue waits in the one its priority picks
(`queue_for_priority`). Each queue may have its own concurrency limit (within the engine's
max_concurrent), a maximum length, a default timeout and retry budget for tasks that set none,
a result TTL after which its completed tasks are deleted and a failure TTL after which its
failed, cancelled and timed-out ones are (dead letters are kept until purged by hand).

Settings persist in the store's meta table as one JSON object that holds only what a user
changed from each queue's defaults (`dump`), so the documented defaults apply to every setting
the user never changed, in stores written by earlier versions too (`load`).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Priority
from qtqueue.engine.validation import MAX_DURATION_S, MAX_RETRIES
from qtqueue.executors.webhooks import url_problem

logger = logging.getLogger(__name__)

DEFAULT_QUEUE = "default"
HIGH_PRIORITY_QUEUE = "high_priority"
LOW_PRIORITY_QUEUE = "low_priority"
#: Built-in queues and their rank (lower is drained first); user-defined queues rank 1.
BUILTIN_RANKS: dict[str, int] = {HIGH_PRIORITY_QUEUE: 0, DEFAULT_QUEUE: 1, LOW_PRIORITY_QUEUE: 2}
META_KEY = "named_queues"
#: Marks the stored JSON written since queues keep only their changes from the defaults (a
#: key no queue can be named: names start with a letter or digit).
_FORMAT_KEY = "_format"
_FORMAT = 2
#: More tasks at once than this from one queue is surely a typo.
MAX_CONCURRENCY = 10_000
#: More tasks waiting in one queue than this is surely a typo.
MAX_LENGTH = 100_000_000
#: The longest a queue keeps finished tasks: a century.
MAX_TTL_S = 100 * 365 * 86400.0
#: How long every queue keeps its failed (not dead-letter) tasks unless told otherwise: 7 days.
DEFAULT_FAILURE_TTL_S = 7 * 86400.0
_HOUR_S = 3600.0
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """One named queue. None: no limit of its own / no default / kept for ever."""

    name: str
    concurrency: int | None = None
    """At most this many of its tasks run at once (within the engine's max_concurrent)."""
    timeout_s: float | None = None
    """The timeout of its tasks that set none (None: they run without one)."""
    max_retries: int | None = None
    """The retry budget of its tasks that set none (None: they run once)."""
    result_ttl_s: float | None = None
    """Its completed tasks are deleted this long after they finished."""
    failure_ttl_s: float | None = DEFAULT_FAILURE_TTL_S
    """Its failed, cancelled and timed-out tasks that are not dead letters are deleted this
    long after they finished (dead letters stay until purged by hand)."""
    max_length: int | None = None
    """At most this many of its tasks unfinished at once; adding more is refused (QUEUE_FULL)."""
    notify_webhook: str | None = None
    """Where its tasks that name no `notify_webhook` of their own post their summary when they
    end (engine/notify.py)."""
    alert_depth: int | None = None
    """Alert (a notice, and a post to `notify_webhook`) once more than this many of its tasks
    wait; again only after the backlog fell back (engine/alerts.py)."""

    @property
    def rank(self) -> int:
        """Drain order: high_priority 0, default and user-defined 1, low_priority 2."""
        return BUILTIN_RANKS.get(self.name, 1)

    @property
    def builtin(self) -> bool:
        """Whether it is one of the three built-in queues."""
        return self.name in BUILTIN_RANKS

    def to_dict(self) -> dict[str, Any]:
        """Its settings, rank and whether it is built in, JSON-ready."""
        return {**asdict(self), "rank": self.rank, "builtin": self.builtin}


SETTING_NAMES = tuple(f.name for f in fields(QueueSettings) if f.name != "name")

#: The built-in queues as the RQ-style design document configures them (its QUEUE_CONFIG and
#: queue types): timeout, retries, how long results and failures are kept.
BUILTIN_DEFAULTS: dict[str, QueueSettings] = {
    HIGH_PRIORITY_QUEUE: QueueSettings(
        HIGH_PRIORITY_QUEUE, timeout_s=_HOUR_S, max_retries=3, result_ttl_s=24 * _HOUR_S
    ),
    DEFAULT_QUEUE: QueueSettings(
        DEFAULT_QUEUE, timeout_s=2 * _HOUR_S, max_retries=3, result_ttl_s=24 * _HOUR_S
    ),
    LOW_PRIORITY_QUEUE: QueueSettings(
        LOW_PRIORITY_QUEUE, timeout_s=4 * _HOUR_S, max_retries=2, result_ttl_s=12 * _HOUR_S
    ),
}


def defaults(name: str) -> QueueSettings:
    """The settings queue `name` has until a user changes them: a built-in queue's documented
    ones, or (a user-defined queue) no limits, no default timeout or retries, and failures
    kept `DEFAULT_FAILURE_TTL_S`."""
    return BUILTIN_DEFAULTS.get(name) or QueueSettings(name)


def queue_for_priority(priority: Priority) -> str:
    """The queue a task that names none waits in, as the RQ-style document's enqueue_task
    picks it: URGENT (its CRITICAL) and HIGH go to high_priority, LOW to low_priority, the
    rest to default."""
    if priority >= Priority.HIGH:
        return HIGH_PRIORITY_QUEUE
    if priority <= Priority.LOW:
        return LOW_PRIORITY_QUEUE
    return DEFAULT_QUEUE


def check_name(name: object) -> str:
    """A valid queue name, or QueueError VALIDATION_INVALID_FORMAT."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            f"queue name {name!r}: use 1-64 letters, digits, '_', '.' or '-', starting with a "
            "letter or digit",
            queue=str(name),
        )
    return name


def _number(value: object, *, whole: bool, minimum: float, maximum: float) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if whole and not isinstance(value, int):
        return False
    return math.isfinite(value) and minimum <= value <= maximum


def updated(current: QueueSettings, changes: Mapping[str, Any]) -> QueueSettings:
    """`current` with `changes` applied (a None value clears a setting: no limit, no default,
    kept for ever); QueueError VALIDATION_INVALID_PARAMS naming every bad one."""
    problems: list[str] = []
    # The same bounds as a task's own fields: a queue's defaults become its tasks' values.
    ttl = (f"seconds from 0 to {MAX_TTL_S:.0f}", False, 0, MAX_TTL_S)
    rules = {
        "concurrency": (f"a whole number from 1 to {MAX_CONCURRENCY}", True, 1, MAX_CONCURRENCY),
        "timeout_s": (f"seconds > 0, at most {MAX_DURATION_S:.0f}", False, 1e-9, MAX_DURATION_S),
        "max_retries": (f"a whole number from 0 to {MAX_RETRIES}", True, 0, MAX_RETRIES),
        "result_ttl_s": ttl,
        "failure_ttl_s": ttl,
        "max_length": (f"a whole number from 1 to {MAX_LENGTH}", True, 1, MAX_LENGTH),
        "alert_depth": (f"a whole number from 1 to {MAX_LENGTH}", True, 1, MAX_LENGTH),
    }
    for key, value in changes.items():
        if key == "notify_webhook":
            if value is not None and (bad := url_problem(value, key)):
                problems.append(bad)
            continue
        if key not in rules:
            problems.append(f"{key}: not a queue setting (settings: {', '.join(SETTING_NAMES)})")
            continue
        what, whole, minimum, maximum = rules[key]
        if value is not None and not _number(value, whole=whole, minimum=minimum, maximum=maximum):
            problems.append(f"{key}: must be {what} (or null for none), got {value!r}")
    if problems:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS, "; ".join(problems), fields=problems
        )
    return replace(current, **changes)


def load(text: str | None) -> dict[str, QueueSettings]:
    """The queues from their stored JSON (the built-in ones always there): each queue's
    defaults with the user's changes over them.

    A store written before `_FORMAT` holds every setting of every queue it ever saved, a null
    for each one nobody set: those nulls are not choices, so the defaults stand for them."""
    queues = {name: defaults(name) for name in BUILTIN_RANKS}
    if not text:
        return queues
    try:
        data = json.loads(text)
        versioned = data.get(_FORMAT_KEY) == _FORMAT
        for name, stored in (data["queues"] if versioned else data).items():
            changes = {
                k: v
                for k, v in stored.items()
                if k in SETTING_NAMES and (versioned or v is not None)
            }
            queues[name] = replace(defaults(name), **changes)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        logger.error("ignoring unreadable queue settings (%s): %r", exc, text[:200])
    return queues


#: Set by the store's migration to version 7 in a store that already held tasks (see
#: `predating`); cleared once the engine has applied it.
PREDATING_KEY = "queue_ttls_predate"
_TTLS = ("result_ttl_s", "failure_ttl_s")


def predating(queues: dict[str, QueueSettings], text: str | None) -> dict[str, QueueSettings]:
    """The queues of a store written before queues deleted finished tasks on their own: the
    built-in queues keep finished tasks as that version did (no result or failure TTL), unless
    the stored settings (`text`) name one; the documented TTLs are a `set_queue` away."""
    try:
        data = json.loads(text) if text else {}
        stored = data["queues"] if data.get(_FORMAT_KEY) == _FORMAT else data
    except (ValueError, TypeError, AttributeError, KeyError):
        stored = {}
    kept = dict(queues)
    for name in BUILTIN_RANKS:
        mine = stored.get(name) or {}
        unset: dict[str, Any] = {k: None for k in _TTLS if mine.get(k) is None}
        kept[name] = replace(kept[name], **unset)
    return kept


def dump(queues: Mapping[str, QueueSettings]) -> str:
    """The JSON stored for `queues`: for each, the settings that differ from its defaults
    (every user-defined queue is listed, even one with none)."""
    changed: dict[str, dict[str, Any]] = {}
    for name, q in sorted(queues.items()):
        base = defaults(name)
        diff = {k: getattr(q, k) for k in SETTING_NAMES if getattr(q, k) != getattr(base, k)}
        if diff or not q.builtin:
            changed[name] = diff
    return json.dumps({_FORMAT_KEY: _FORMAT, "queues": changed})
