"""Specification of the SQLite store as a `QuestionStore`: the questions running tasks ask, kept
beside the tasks on the task store's own connection; and a store of schema version 5 (before
questions) gaining the table without losing anything."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from helpers.store_rows import as_stored

from qtqueue.core.question import Question
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.storage import SqliteTaskStore, WriteBatch
from qtqueue.storage.base import QuestionStore
from qtqueue.storage.migrations import MIGRATIONS, SCHEMA_VERSION
from qtqueue.storage.questions import QUESTION_COLUMNS

FIXTURES = Path(__file__).parent / "fixtures"
T0 = 1_700_000_000.0
S = TaskStatus


def _id(n: int) -> str:
    return f"10000000-0000-4000-8000-{n:012d}"


def question(n: int, **fields: Any) -> dict[str, Any]:
    """A question record as the engine writes it (`Question.to_dict()`)."""
    base = Question(
        id=f"30000000-0000-4000-8000-{n:012d}",
        task_id=_id(51),
        request_type="clarification",
        message=f"question {n}: which branch?",
        context={"repository": "/srv/repo", "nested": {"files": ["a.py", "b.py"]}},
        created_at=T0 + n,
        expires_at=T0 + n + 1800,
        conversation_id="conversation-1",
    ).to_dict()
    return {**base, **fields}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[QuestionStore]:
    s = SqliteTaskStore(tmp_path / "queue.db")
    await s.open()
    try:
        yield s
    finally:
        await s.close()


async def test_a_question_is_kept_as_written_and_replaced_by_its_id(store: QuestionStore) -> None:
    asked = question(1)
    await store.save_question(asked)
    assert await store.get_question(asked["id"]) == asked
    assert set(asked) == set(QUESTION_COLUMNS)

    answered = {
        **asked,
        "status": "answered",
        "response_type": "instruction",
        "answer": "use main",
        "instructions": ["git checkout main", "rebase"],
        "generated_by": "human",
        "responder_id": "alice",
        "answered_at": T0 + 60,
    }
    await store.save_question(answered)
    assert await store.list_questions() == [answered]
    assert Question.from_dict(answered).instructions == ["git checkout main", "rebase"]


async def test_an_unknown_question_is_none_and_listings_filter_and_keep_order(
    store: QuestionStore,
) -> None:
    assert await store.get_question("no-such-question") is None
    later, other_task, earlier = question(3), question(2, task_id=_id(52)), question(1)
    for q in (later, other_task, earlier):
        await store.save_question(q)
    await store.save_question({**later, "status": "timed_out", "answered_at": T0 + 2000})

    every = await store.list_questions()
    assert [q["id"] for q in every] == [earlier["id"], other_task["id"], later["id"]]
    assert [q["id"] for q in await store.list_questions(open_only=True)] == [
        earlier["id"],
        other_task["id"],
    ]
    assert [q["id"] for q in await store.list_questions(task_id=_id(52))] == [other_task["id"]]
    assert await store.list_questions(open_only=True, task_id="nobody") == []


async def test_ids_are_found_by_prefix_through_the_key(store: QuestionStore) -> None:
    for n in (1, 2, 11):
        await store.save_question(question(n))
    prefix = "30000000-0000-4000-8000-0000000000"
    assert await store.question_ids_with_prefix(prefix + "1", 5) == [question(11)["id"]]
    assert len(await store.question_ids_with_prefix(prefix, 5)) == 3
    assert await store.question_ids_with_prefix(prefix, 2) == [
        question(1)["id"],
        question(2)["id"],
    ]
    assert await store.question_ids_with_prefix("4", 5) == []


async def test_closing_the_open_questions_leaves_the_answered_ones(store: QuestionStore) -> None:
    answered = question(1, status="answered", answer="yes", answered_at=T0 + 5)
    await store.save_question(answered)
    await store.save_question(question(2))
    closed = await store.close_open_questions("cancelled", T0 + 100)
    assert [(q["id"], q["status"], q["answered_at"]) for q in closed] == [
        (question(2)["id"], "cancelled", T0 + 100)
    ]
    assert await store.get_question(answered["id"]) == answered
    assert await store.close_open_questions("cancelled", T0 + 200) == []


# --- version 5 ---------------------------------------------------------------------------------
# `fixtures/v5.db` was written once by `SqliteTaskStore` at schema version 5 (the store of
# issue #11) with the tasks below: one running (left by an engine that stopped) and one done.
# Version 6 adds the questions table.

V5_TASKS = [
    Task(
        id=_id(51), seq=1, task_type=TaskType.CUSTOM_COMMAND, name="deploy",
        params={"command": "sh", "args": ["-c", "read answer"]}, status=S.RUNNING,
        created_at=T0, started_at=T0 + 1, current_step="Step 1/2: asking", updated_at=T0 + 1,
    ),
    Task(
        id=_id(52), seq=2, task_type=TaskType.CUSTOM_COMMAND, name="build",
        params={"command": "make"}, status=S.COMPLETED, created_at=T0 + 2, started_at=T0 + 3,
        completed_at=T0 + 4, duration_s=1.0, result={"exit_code": 0},
        retry_on=["NETWORK_TIMEOUT"], updated_at=T0 + 4,
    ),
]  # fmt: skip


async def write_v5_fixture(path: Path) -> None:
    """How fixtures/v5.db was made (at schema version 5). Kept for the record only."""
    assert SCHEMA_VERSION == 5
    store = SqliteTaskStore(path)
    await store.open()
    await store.apply(WriteBatch(inserts=V5_TASKS))
    await store.close()


def _schema(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    return sorted(conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"))


def test_the_checked_in_v5_file_is_at_schema_version_5_and_its_steps_were_not_edited() -> None:
    fresh = sqlite3.connect(":memory:")
    fixture = sqlite3.connect(f"file:{FIXTURES / 'v5.db'}?mode=ro&immutable=1", uri=True)
    try:
        assert fixture.execute("PRAGMA user_version").fetchone()[0] == 5
        for step in MIGRATIONS[:5]:
            fresh.executescript(step)
        assert _schema(fresh) == _schema(fixture)
    finally:
        fresh.close()
        fixture.close()


async def test_a_version_5_database_gains_an_empty_questions_table_and_keeps_its_tasks(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queue.db"
    shutil.copyfile(FIXTURES / "v5.db", path)
    store = SqliteTaskStore(path)
    await store.open()
    try:
        assert await store.list_tasks() == as_stored(V5_TASKS)
        assert await store.list_questions() == []
        await store.save_question(question(1))
        assert [q["id"] for q in await store.list_questions(task_id=_id(51))] == [
            question(1)["id"]
        ]
    finally:
        await store.close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
