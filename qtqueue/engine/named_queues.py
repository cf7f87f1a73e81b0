"""Named queues: where a task waits (`Task.queue`), and each queue's own settings.

Three are built in and drained in this order: high_priority, default, low_priority. Users add
their own (drained with default). Each queue may have its own concurrency limit (within the
engine's max_concurrent), a default timeout and retry budget for tasks that set none, and a
result TTL after which its finished tasks are deleted. Settings persist in the store's meta
table as one JSON object.
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
from qtqueue.engine.validation import MAX_DURATION_S, MAX_RETRIES

logger = logging.getLogger(__name__)

DEFAULT_QUEUE = "default"
#: Built-in queues and their rank (lower is drained first); user-defined queues rank 1.
BUILTIN_RANKS: dict[str, int] = {"high_priority": 0, DEFAULT_QUEUE: 1, "low_priority": 2}
META_KEY = "named_queues"
#: More tasks at once than this from one queue is surely a typo.
MAX_CONCURRENCY = 10_000
#: The longest a queue keeps finished tasks: a century.
MAX_TTL_S = 100 * 365 * 86400.0
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """One named queue. None: no limit of its own / no default."""

    name: str
    concurrency: int | None = None
    """At most this many of its tasks run at once (within the engine's max_concurrent)."""
    timeout_s: float | None = None
    """The timeout of its tasks that set none."""
    max_retries: int | None = None
    """The retry budget of its tasks that set none (max_retries 0)."""
    result_ttl_s: float | None = None
    """Its finished tasks are deleted this long after they finished."""

    @property
    def rank(self) -> int:
        """Drain order: high_priority 0, default and user-defined 1, low_priority 2."""
        return BUILTIN_RANKS.get(self.name, 1)

    @property
    def builtin(self) -> bool:
        return self.name in BUILTIN_RANKS

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rank": self.rank, "builtin": self.builtin}


SETTING_NAMES = tuple(f.name for f in fields(QueueSettings) if f.name != "name")


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
    """`current` with `changes` applied (a None value clears a setting); QueueError
    VALIDATION_INVALID_PARAMS naming every bad one."""
    problems: list[str] = []
    # The same bounds as a task's own fields: a queue's defaults become its tasks' values.
    rules = {
        "concurrency": (f"a whole number from 1 to {MAX_CONCURRENCY}", True, 1, MAX_CONCURRENCY),
        "timeout_s": (f"seconds > 0, at most {MAX_DURATION_S:.0f}", False, 1e-9, MAX_DURATION_S),
        "max_retries": (f"a whole number from 0 to {MAX_RETRIES}", True, 0, MAX_RETRIES),
        "result_ttl_s": (f"seconds from 0 to {MAX_TTL_S:.0f}", False, 0, MAX_TTL_S),
    }
    for key, value in changes.items():
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
    """The queues from their stored JSON (the built-in ones always there)."""
    queues = {name: QueueSettings(name) for name in BUILTIN_RANKS}
    if text:
        try:
            for name, settings in json.loads(text).items():
                known = {k: v for k, v in settings.items() if k in SETTING_NAMES}
                queues[name] = QueueSettings(name, **known)
        except (ValueError, TypeError, AttributeError) as exc:
            logger.error("ignoring unreadable queue settings (%s): %r", exc, text[:200])
    return queues


def dump(queues: Mapping[str, QueueSettings]) -> str:
    """The JSON stored for `queues`."""
    return json.dumps(
        {
            name: {k: v for k, v in asdict(q).items() if k != "name"}
            for name, q in sorted(queues.items())
        }
    )
