"""Persisted schedules: the `schedules` table's SQL and how a record maps to a row.

Records are plain dicts keyed by `SCHEDULE_COLUMNS` (the engine's `Schedule.to_dict()`), so no
engine type leaks down here: `template` is a JSON-ready dict, `paused` a bool, times are UNIX
seconds. `SqliteTaskStore` inherits `ScheduleRows`, which runs these statements on the store's
own connection, and so is itself the `ScheduleStore` (storage/base.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from qtqueue.storage.base import ScheduleStore  # re-exported: the protocol ScheduleRows meets

logger = logging.getLogger(__name__)

__all__ = [
    "DELETE_SCHEDULE",
    "SCHEDULE_COLUMNS",
    "SELECT_SCHEDULES",
    "UPSERT_SCHEDULE",
    "ScheduleRows",
    "ScheduleStore",
    "schedule_records",
    "schedule_row",
]

SCHEDULE_COLUMNS: tuple[str, ...] = tuple(
    "id name template kind cron interval_s timezone missed paused next_run_at last_run_at "
    "last_task_id last_error occurrences created_at updated_at".split()
)
#: Every schedule, oldest first.
SELECT_SCHEDULES = f"SELECT {', '.join(SCHEDULE_COLUMNS)} FROM schedules ORDER BY created_at, id"
#: Insert one schedule or replace the one with its id; takes `schedule_row(record)`.
UPSERT_SCHEDULE = (
    f"INSERT INTO schedules ({', '.join(SCHEDULE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(SCHEDULE_COLUMNS))}) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in SCHEDULE_COLUMNS[1:])
)
#: Delete one schedule by id; returns its id if it existed.
DELETE_SCHEDULE = "DELETE FROM schedules WHERE id = ? RETURNING id"


def schedule_records(rows: Iterable[Iterable[Any]]) -> list[dict[str, Any]]:
    """The records of rows read with SELECT_SCHEDULES. A template that is not JSON is left in
    the file as it is: its record has `template` None and `unreadable` saying why (the engine
    says which schedule it leaves out)."""
    records = []
    for row in rows:
        record = dict(zip(SCHEDULE_COLUMNS, row, strict=True))
        try:
            record["template"] = json.loads(record["template"])
        except (TypeError, ValueError) as exc:
            record["template"] = None
            record["unreadable"] = f"its task template is not JSON ({exc})"
        record["paused"] = bool(record["paused"])
        records.append(record)
    return records


def schedule_row(record: Mapping[str, Any]) -> list[Any]:
    """The values UPSERT_SCHEDULE takes for one record."""
    values = dict(record)
    values["template"] = json.dumps(values["template"])
    values["paused"] = int(bool(values["paused"]))
    return [values[c] for c in SCHEDULE_COLUMNS]


class ScheduleRows:
    """The `ScheduleStore` methods of a store that runs SQL through `_fetchall` (the SQLite
    task store inherits them: schedules live in its file and share its connection). Each
    write is one statement, so one transaction of its own."""

    async def _fetchall(self, sql: str, args: Any = ()) -> list[Any]:
        raise NotImplementedError  # the store's own

    async def load_schedules(self) -> list[dict[str, Any]]:
        """Every schedule as a record, oldest first."""
        return schedule_records(await self._fetchall(SELECT_SCHEDULES))

    async def save_schedule(self, record: Mapping[str, Any]) -> None:
        """Insert the schedule, or replace the one with its id."""
        await self._fetchall(UPSERT_SCHEDULE, schedule_row(record))

    async def delete_schedule(self, schedule_id: str) -> bool:
        """Delete the schedule; whether it existed."""
        return bool(await self._fetchall(DELETE_SCHEDULE, (schedule_id,)))
