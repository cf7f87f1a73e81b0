"""Persisted questions: the `questions` table's SQL and how a record maps to a row.

Records are plain dicts keyed by `QUESTION_COLUMNS` (`Question.to_dict()` of
`qtqueue.core.question`): `context` a JSON-ready dict, `instructions` a list of strings, times
UNIX seconds. `SqliteTaskStore` inherits `QuestionRows`, which runs these statements on the
store's own connection, and so is itself the `QuestionStore` (storage/base.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from qtqueue.storage.base import QuestionStore  # re-exported: the protocol QuestionRows meets

logger = logging.getLogger(__name__)

__all__ = [
    "QUESTION_COLUMNS",
    "QuestionRows",
    "QuestionStore",
    "question_records",
    "question_row",
]

QUESTION_COLUMNS: tuple[str, ...] = tuple(
    "id task_id request_type message context created_at expires_at conversation_id parent_id "
    "status response_type answer instructions generated_by responder_id answered_at".split()
)
_SELECT = f"SELECT {', '.join(QUESTION_COLUMNS)} FROM questions"
_ORDER = " ORDER BY created_at, id"
#: Insert one question or replace the one with its id; takes `question_row(record)`.
UPSERT_QUESTION = (
    f"INSERT INTO questions ({', '.join(QUESTION_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(QUESTION_COLUMNS))}) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in QUESTION_COLUMNS[1:])
)
#: Close every open question as `status` at a time; returns the closed rows.
CLOSE_OPEN = (
    "UPDATE questions SET status = ?, answered_at = ? WHERE status = 'open' "
    f"RETURNING {', '.join(QUESTION_COLUMNS)}"
)


def _json(text: Any, default: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return default  # a row written by hand: show the rest of it rather than nothing


def question_records(rows: Iterable[Iterable[Any]]) -> list[dict[str, Any]]:
    """The records of rows read with the columns of QUESTION_COLUMNS."""
    records = []
    for row in rows:
        record = dict(zip(QUESTION_COLUMNS, row, strict=True))
        context = _json(record["context"], {})
        record["context"] = context if isinstance(context, dict) else {"value": context}
        instructions = _json(record["instructions"], [])
        record["instructions"] = instructions if isinstance(instructions, list) else []
        records.append(record)
    return records


def question_row(record: Mapping[str, Any]) -> list[Any]:
    """The values UPSERT_QUESTION takes for one record."""
    values = dict(record)
    values["context"] = json.dumps(values.get("context") or {})
    values["instructions"] = json.dumps(list(values.get("instructions") or []))
    return [values.get(c) for c in QUESTION_COLUMNS]


class QuestionRows:
    """The `QuestionStore` methods of a store that runs SQL through `_fetchall` (the SQLite
    task store inherits them: questions live in its file and share its connection). Each
    write is one statement, so one transaction of its own."""

    async def _fetchall(self, sql: str, args: Any = ()) -> list[Any]:
        raise NotImplementedError  # the store's own

    async def save_question(self, record: Mapping[str, Any]) -> None:
        """Insert the question, or replace the one with its id."""
        await self._fetchall(UPSERT_QUESTION, question_row(record))

    async def get_question(self, question_id: str) -> dict[str, Any] | None:
        """The question with that id, or None."""
        rows = await self._fetchall(f"{_SELECT} WHERE id = ?", (question_id,))
        records = question_records(rows)
        return records[0] if records else None

    async def list_questions(
        self, *, open_only: bool = False, task_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Questions, oldest first: only open ones with `open_only`, only one task's with
        `task_id`."""
        where: list[str] = []
        args: list[Any] = []
        if open_only:
            where.append("status = 'open'")
        if task_id is not None:
            where.append("task_id = ?")
            args.append(task_id)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return question_records(await self._fetchall(_SELECT + clause + _ORDER, args))

    async def question_ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        """Up to `limit` question ids that start with `prefix`, in id order (the primary
        key's index: a range, not a scan)."""
        rows = await self._fetchall(
            "SELECT id FROM questions WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
            (prefix, prefix + "\U0010ffff", limit),
        )
        return [r[0] for r in rows if r[0].startswith(prefix)]

    async def close_open_questions(self, status: str, at: float) -> list[dict[str, Any]]:
        """Close every open question as `status` (nobody waits for them any more: the engine
        that asked them is gone); the records as closed."""
        return question_records(await self._fetchall(CLOSE_OPEN, (status, at)))
