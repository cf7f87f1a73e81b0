"""What the statistics charts' bands say: a time bucket's figures and period in words, the
status chart's rows, and the unit a time axis counts in."""

from __future__ import annotations

import logging
import time
from typing import Any

from qtqueue.core.task import ACTIVE, TERMINAL, TaskStatus
from qtqueue.ui.stats.charts import AMBER, BLUE, GREEN, PURPLE, RED, SLATE, Hit
from qtqueue.ui.stats.links import FilterRequest
from qtqueue.ui.task_list.filters import DEAD_LETTERS

logger = logging.getLogger(__name__)

#: The status chart's rows: label, the statuses it counts (the status filter's choice of
#: the same set, which a click selects; or dead letters), colour.
STATUS_ROWS: tuple[tuple[str, frozenset[TaskStatus] | str, str], ...] = (
    ("Running", ACTIVE, BLUE),
    ("Waiting", frozenset({TaskStatus.PENDING}), PURPLE),
    ("Paused", frozenset({TaskStatus.PAUSED}), SLATE),
    ("Completed", frozenset({TaskStatus.COMPLETED}), GREEN),
    ("Failed or timed out", frozenset({TaskStatus.FAILED, TaskStatus.TIMEOUT}), RED),
    ("Cancelled", frozenset({TaskStatus.CANCELLED}), AMBER),
    ("Dead letters", DEAD_LETTERS, "#7f1d1d"),
)


def period_words(start: float, end: float, span_s: float) -> str:
    """A bucket's period in words ("14:00–15:00"; with the day over more than a day)."""
    fmt = "%a %H:%M" if span_s > 86400 else "%H:%M"
    first = time.strftime(fmt, time.localtime(start))
    return f"{first}–{time.strftime('%H:%M', time.localtime(end))}"


def time_unit(span_s: float) -> tuple[float, str]:
    """The unit (seconds, name) that time axes over `span_s` count in."""
    if span_s <= 2 * 3600:
        return 60.0, "minutes"
    if span_s <= 3 * 86400:
        return 3600.0, "hours"
    return 86400.0, "days"


def bucket_hit(
    bucket: dict[str, Any], bucket_s: float, until: float, unit_s: float, span_s: float
) -> Hit:
    """The tooltip and link of one time bucket (its column on both time charts)."""
    start = float(bucket["start"])
    end = start + bucket_s
    period = period_words(start, end, span_s)
    rate = bucket["success_rate"]
    lines = [
        period,
        f"Finished: {bucket['finished']:,} ({bucket['completed']:,} completed, "
        f"{bucket['failed'] + bucket.get('timeout', 0):,} failed or timed out, "
        f"{bucket.get('cancelled', 0):,} cancelled)",
        "Success rate: —" if rate is None else f"Success rate: {rate:.0f} %",
        f"Waiting to start at the end: {bucket['queue_depth']:,}",
    ]
    request = None
    if bucket["finished"]:
        lines.append("Click: show only the tasks that finished then")
        request = FilterRequest(
            f"finished {period}", status=TERMINAL, finished=(start, end), period=period
        )
    return Hit((start - until) / unit_s, (end - until) / unit_s, "\n".join(lines), request)
