"""Persisted schedules: the `schedules` table, beside the tasks on the task store's connection.

Records are plain dicts keyed by `SCHEDULE_COLUMNS` (the engine's `Schedule.to_dict()`), so no
engine type leaks down here: `template` is a JSON-ready dict, `paused` a bool, times are UNIX
seconds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from qtqueue.storage.sqlite import SqliteTaskStore

logger = logging.getLogger(__name__)

__all__ = ["SCHEDULE_COLUMNS", "ScheduleStore", "SqliteScheduleStore"]

SCHEDULE_COLUMNS: tuple[str, ...] = tuple(
    "id name template kind cron interval_s timezone missed paused next_run_at last_run_at "
    "last_task_id last_error occurrences created_at updated_at".split()
)
_SELECT = f"SELECT {', '.join(SCHEDULE_COLUMNS)} FROM schedules ORDER BY created_at, id"
_UPSERT = (
    f"INSERT INTO schedules ({', '.join(SCHEDULE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(SCHEDULE_COLUMNS))}) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in SCHEDULE_COLUMNS[1:])
)


class ScheduleStore(Protocol):
    """Where schedules persist. Contracts every backend keeps:

    - every write is atomic and durable on return;
    - `load_schedules` returns every schedule, oldest first (by created_at, then id);
    - `delete_schedule` of an unknown id returns False; it never raises for a missing row.
    """

    async def load_schedules(self) -> list[dict[str, Any]]:
        """Every schedule as a record."""

    async def save_schedule(self, record: Mapping[str, Any]) -> None:
        """Insert the schedule, or replace the one with its id."""

    async def delete_schedule(self, schedule_id: str) -> bool:
        """Delete the schedule; whether it existed."""


class SqliteScheduleStore:
    """`ScheduleStore` on an open `SqliteTaskStore`'s connection.

    Each write is one statement, so one transaction of its own, and goes through the task
    store's counted `_fetchall`: while it is in flight the store knows its connection's thread
    is busy and never commits a task batch inline beside it (see `SqliteTaskStore.apply`).
    """

    def __init__(self, store: SqliteTaskStore) -> None:
        self._store = store

    async def load_schedules(self) -> list[dict[str, Any]]:
        records = []
        for row in await self._store._fetchall(_SELECT):
            record = dict(zip(SCHEDULE_COLUMNS, row, strict=True))
            try:
                record["template"] = json.loads(record["template"])
            except (TypeError, ValueError) as exc:
                # Left in the file as it is; the engine says which one it leaves out.
                record["template"] = None
                record["unreadable"] = f"its task template is not JSON ({exc})"
            record["paused"] = bool(record["paused"])
            records.append(record)
        return records

    async def save_schedule(self, record: Mapping[str, Any]) -> None:
        values = dict(record)
        values["template"] = json.dumps(values["template"])
        values["paused"] = int(bool(values["paused"]))
        await self._store._fetchall(_UPSERT, [values[c] for c in SCHEDULE_COLUMNS])

    async def delete_schedule(self, schedule_id: str) -> bool:
        rows = await self._store._fetchall(
            "DELETE FROM schedules WHERE id = ? RETURNING id", (schedule_id,)
        )
        return bool(rows)
