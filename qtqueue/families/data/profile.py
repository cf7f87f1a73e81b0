"""DATA_ANALYZE's profile: one row per column (type, nulls, distinct, min/max/mean, quartiles,
most frequent values), from duckdb's SUMMARIZE and one GROUP BY per column; and the log lines
the detail pane's table reads back."""

from __future__ import annotations

import json
import logging
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["PROFILE_COLUMNS", "PROFILE_PREFIX", "parse_profile_line", "profile_line"]

#: A profile row's line in the task log: this prefix, then the row as JSON.
PROFILE_PREFIX = "profile: "
#: The profile's columns, in the order the detail pane shows them.
PROFILE_COLUMNS = (
    "column",
    "type",
    "nulls",
    "distinct",
    "min",
    "max",
    "mean",
    "q25",
    "median",
    "q75",
    "top",
)


def profile_line(row: dict[str, Any]) -> str:
    """The log line of one profile row."""
    return PROFILE_PREFIX + json.dumps(row, default=str, ensure_ascii=False)


def parse_profile_line(line: str) -> dict[str, Any] | None:
    """The profile row a log line holds, or None."""
    if not line.startswith(PROFILE_PREFIX):
        return None
    try:
        row = json.loads(line[len(PROFILE_PREFIX) :])
    except ValueError:
        return None
    return row if isinstance(row, dict) else None
