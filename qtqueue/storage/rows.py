"""A task as a row of the `tasks` table, both ways, and the one transaction that writes a batch.

Encoding (`row_values`, `state_values`, the UPDATE that sets only the columns that changed) runs
on the event loop for every commit; decoding (`task_from_row`) is what opening a big store
costs. Both are pure: `SqliteTaskStore` (sqlite.py) owns the connection and decides where and
when they run.
"""

from __future__ import annotations

import json
import logging
import operator
import sqlite3
from collections.abc import Callable
from itertools import compress
from typing import Any

from qtqueue.core.task import (
    TERMINAL,
    OnInterrupt,
    Permission,
    Priority,
    Task,
    TaskStatus,
    parse_task_type,
)
from qtqueue.storage.base import TaskFilter

logger = logging.getLogger(__name__)

COLUMNS = (
    "id seq task_type name params category tags priority status progress current_step "
    "created_at started_at completed_at duration_s error error_code error_details retry_count "
    "max_retries retry_backoff timeout_s run_at expires_at depends_on resources permission "
    "on_interrupt dead_letter result paused_from wait_reason pid updated_at "
    "allow_dependency_failure ttl_s queue approved_at retry_on no_retry_on notify_webhook "
    "created_by"
).split()
INSERT = f"INSERT INTO tasks ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
#: What changes while a task lives; the rest (type, params, tags…) is written once.
STATE_COLUMNS = (
    "seq priority status progress current_step started_at completed_at duration_s error "
    "error_code error_details retry_count run_at dead_letter result paused_from wait_reason pid "
    "updated_at approved_at"
).split()
SELECT = f"SELECT {', '.join(COLUMNS)} FROM tasks"
INSERT_EVENT = (
    "INSERT INTO task_events (task_rid, at, from_status, to_status, task_type, error_code, "
    "duration_s) VALUES ((SELECT rowid FROM tasks WHERE id = ?), ?, ?, ?, ?, ?, ?)"
)
TERMINAL_VALUES = tuple(s.value for s in TERMINAL)
#: The WHERE of the partial index `tasks_finished` (schema step 10), word for word: SQLite uses
#: a partial index only for a query whose WHERE holds that same term.
FINISHED_ONLY = "status IN ('completed', 'failed', 'cancelled', 'timeout')"

_dumps = json.dumps


def row_values(t: Task) -> tuple[Any, ...]:
    return (
        t.id,
        t.seq,
        t.type_name,
        t.name,
        _dumps(t.params) if t.params else "{}",
        t.category,
        _dumps(t.tags) if t.tags else "[]",
        int(t.priority),
        t.status.value,
        t.progress,
        t.current_step,
        t.created_at,
        t.started_at,
        t.completed_at if t.status in TERMINAL else None,
        t.duration_s,
        t.error,
        t.error_code,
        _dumps(t.error_details) if t.error_details else "{}",
        t.retry_count,
        t.max_retries,
        _dumps(t.retry_backoff),
        t.timeout_s,
        t.run_at,
        t.expires_at,
        _dumps(t.depends_on) if t.depends_on else "[]",
        _dumps(t.resources) if t.resources else "{}",
        t.permission.value,
        t.on_interrupt.value,
        int(t.dead_letter),
        _dumps(t.result) if t.result is not None else None,
        t.paused_from.value if t.paused_from is not None else None,
        t.wait_reason,
        t.pid,
        t.updated_at,
        int(t.allow_dependency_failure),
        t.ttl_s,
        t.queue,
        t.approved_at,
        _dumps(t.retry_on) if t.retry_on else "[]",
        _dumps(t.no_retry_on) if t.no_retry_on else "[]",
        t.notify_webhook,
        t.created_by,
    )


def state_values(t: Task) -> tuple[Any, ...]:
    """The values of `STATE_COLUMNS`, in order. A task that is not finished is written with
    no `completed_at`: the partial index `tasks_open` (the unfinished tasks) relies on it."""
    return (
        t.seq,
        int(t.priority),
        t.status.value,
        t.progress,
        t.current_step,
        t.started_at,
        t.completed_at if t.status in TERMINAL else None,
        t.duration_s,
        t.error,
        t.error_code,
        _dumps(t.error_details) if t.error_details else "{}",
        t.retry_count,
        t.run_at,
        int(t.dead_letter),
        _dumps(t.result) if t.result is not None else None,
        t.paused_from.value if t.paused_from is not None else None,
        t.wait_reason,
        t.pid,
        t.updated_at,
        t.approved_at,
    )


#: What a person may change of a waiting task (an edit, a queue picked by a new priority):
#: every column but the id, when and by whom it was added, and `STATE_COLUMNS`.
DEFINITION_COLUMNS = [
    c for c in COLUMNS if c not in STATE_COLUMNS and c not in ("id", "created_at", "created_by")
]
UPDATE_DEFINITION = (
    f"UPDATE tasks SET {', '.join(f'{c} = ?' for c in DEFINITION_COLUMNS)} WHERE id = ?"
)
#: The values of `DEFINITION_COLUMNS`, taken from a task's `row_values`.
definition_of = operator.itemgetter(*(COLUMNS.index(c) for c in DEFINITION_COLUMNS))
_N_STATE = len(STATE_COLUMNS)
STATUS_POS = STATE_COLUMNS.index("status")
#: The `state_values` of an inserted row, taken from its `row_values`.
state_at_insert = operator.itemgetter(*(COLUMNS.index(c) for c in STATE_COLUMNS))
_ALL_STATE = tuple(range(_N_STATE))
UpdatePlan = tuple[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]]
#: By the positions (in `STATE_COLUMNS`) of the columns an UPDATE sets: its statement, and
#: what takes their values out of a `state_values` tuple.
_update_plans: dict[tuple[int, ...], UpdatePlan] = {}


def update_plan(changed: tuple[int, ...]) -> UpdatePlan:
    plan = _update_plans.get(changed)
    if plan is None:
        sets = ", ".join(f"{STATE_COLUMNS[i]} = ?" for i in changed)
        take: Callable[[tuple[Any, ...]], tuple[Any, ...]] = operator.itemgetter(*changed)
        if len(changed) == 1:  # a single item comes back bare: wrap it
            (only,) = changed

            def take(new: tuple[Any, ...]) -> tuple[Any, ...]:
                return (new[only],)

        plan = _update_plans[changed] = (f"UPDATE tasks SET {sets} WHERE id = ?", take)
    return plan


def changed_columns(old: tuple[Any, ...] | None, new: tuple[Any, ...]) -> tuple[int, ...]:
    """Positions where `new` differs from what was last written (all of them when unknown)."""
    if old is None:
        return _ALL_STATE
    return tuple(compress(_ALL_STATE, map(operator.ne, new, old)))


def write_batch(
    conn: sqlite3.Connection,
    inserts: list[tuple[Any, ...]],
    updates: dict[str, list[tuple[Any, ...]]],
    events: list[tuple[Any, ...]],
    deletes: list[tuple[str]],
) -> None:
    """One transaction. `updates` maps each UPDATE statement to its rows of parameters."""
    conn.execute("BEGIN")
    try:
        if inserts:
            conn.executemany(INSERT, inserts)
        for sql, rows in updates.items():
            conn.executemany(sql, rows)
        if events:
            conn.executemany(INSERT_EVENT, events)
        if deletes:
            conn.executemany(
                "DELETE FROM task_events WHERE task_rid = (SELECT rowid FROM tasks WHERE id = ?)",
                deletes,
            )
            conn.executemany("DELETE FROM questions WHERE task_id = ?", deletes)
            conn.executemany("DELETE FROM tasks WHERE id = ?", deletes)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


# Decoding rows is what opening a big store costs: most JSON columns hold an empty object or
# list, and enum members are looked up in plain dicts rather than through Enum.__call__.
STATUSES: dict[str, TaskStatus] = {s.value: s for s in TaskStatus}
_PRIORITIES: dict[int, Priority] = {p.value: p for p in Priority}
_PERMISSIONS: dict[str, Permission] = {p.value: p for p in Permission}
_ON_INTERRUPT: dict[str, OnInterrupt] = {o.value: o for o in OnInterrupt}
_json_loads = json.loads


def _obj(text: str) -> Any:
    """A JSON column's value; '{}' and '[]' (the common case) without the parser."""
    if text == "{}":
        return {}
    if text == "[]":
        return []
    return _json_loads(text)


def _dict(text: str) -> dict[str, Any]:
    """A JSON column that holds an object."""
    if text == "{}":
        return {}
    value = _json_loads(text)
    if type(value) is not dict:
        raise ValueError(f"a JSON {type(value).__name__} where an object belongs")
    return value


def _list(text: str) -> list[Any]:
    """A JSON column that holds a list."""
    if text == "[]":
        return []
    value = _json_loads(text)
    if type(value) is not list:
        raise ValueError(f"a JSON {type(value).__name__} where a list belongs")
    return value


def _backoff(text: str) -> float | list[float]:
    try:
        return float(text)
    except ValueError:
        return _json_loads(text)  # type: ignore[no-any-return]


_NULLABLE = frozenset(
    "started_at completed_at duration_s error error_code timeout_s run_at expires_at result "
    "paused_from pid ttl_s approved_at notify_webhook".split()
)
_INTEGERS = frozenset(
    "seq priority retry_count max_retries dead_letter pid allow_dependency_failure".split()
)
_REALS = frozenset(
    "progress created_at started_at completed_at duration_s timeout_s run_at expires_at "
    "updated_at ttl_s approved_at".split()
)
_NONE = type(None)


def _column_types(column: str) -> frozenset[type]:
    kinds: set[type] = {int} if column in _INTEGERS else {int, float} if column in _REALS else {str}
    if column in _NULLABLE:
        kinds.add(_NONE)
    return frozenset(kinds)


#: The Python types SQLite may hand back for each column of a sound row.
_ROW_TYPES = tuple(_column_types(c) for c in COLUMNS)
#: Type signatures of rows already found sound: checking a row is then one set lookup.
_SOUND_SIGNATURES: set[tuple[type, ...]] = set()


def _check_types(row: sqlite3.Row | tuple[Any, ...]) -> None:
    """Raise ValueError naming the first column whose value has a type no task field takes
    (SQLite keeps whatever was written, e.g. text in a REAL column)."""
    signature = tuple(map(type, row))
    if signature in _SOUND_SIGNATURES:
        return
    for column, kinds, value in zip(COLUMNS, _ROW_TYPES, row, strict=True):
        if type(value) not in kinds:
            # The type only: a value may be a secret (the warning goes to the log).
            raise ValueError(f"column {column} holds a {type(value).__name__} value")
    _SOUND_SIGNATURES.add(signature)


def task_from_row(row: sqlite3.Row | tuple[Any, ...]) -> Task:
    """The task a row holds; ValueError (or another exception of decoding) when the row
    cannot be one: a wrong type, broken JSON, an unknown status or priority."""
    _check_types(row)
    (
        id_, seq, task_type, name, params, category, tags, priority, status, progress,
        current_step, created_at, started_at, completed_at, duration_s, error, error_code,
        error_details, retry_count, max_retries, retry_backoff, timeout_s, run_at, expires_at,
        depends_on, resources, permission, on_interrupt, dead_letter, result, paused_from,
        wait_reason, pid, updated_at, allow_dependency_failure, ttl_s, queue, approved_at,
        retry_on, no_retry_on, notify_webhook, created_by,
    ) = row  # fmt: skip
    st = STATUSES.get(status)
    pr = _PRIORITIES.get(priority)
    pe = _PERMISSIONS.get(permission)
    oi = _ON_INTERRUPT.get(on_interrupt)
    return Task(
        id=id_,
        seq=seq,
        task_type=parse_task_type(task_type),
        name=name,
        params=_dict(params),
        category=category,
        tags=_list(tags),
        priority=pr if pr is not None else Priority(priority),
        status=st if st is not None else TaskStatus(status),
        progress=progress,
        current_step=current_step,
        created_at=created_at,
        started_at=started_at,
        completed_at=completed_at,
        duration_s=duration_s,
        error=error,
        error_code=error_code,
        error_details=_dict(error_details),
        retry_count=retry_count,
        max_retries=max_retries,
        retry_backoff=_backoff(retry_backoff),
        timeout_s=timeout_s,
        run_at=run_at,
        expires_at=expires_at,
        depends_on=_list(depends_on),
        resources=_dict(resources),
        permission=pe if pe is not None else Permission(permission),
        on_interrupt=oi if oi is not None else OnInterrupt(on_interrupt),
        dead_letter=bool(dead_letter),
        result=_obj(result) if result is not None else None,
        paused_from=TaskStatus(paused_from) if paused_from is not None else None,
        wait_reason=wait_reason,
        pid=pid,
        updated_at=updated_at,
        allow_dependency_failure=bool(allow_dependency_failure),
        ttl_s=ttl_s,
        queue=queue,
        approved_at=approved_at,
        retry_on=_obj(retry_on),
        no_retry_on=_obj(no_retry_on),
        notify_webhook=notify_webhook,
        created_by=created_by,
    )


def decode_rows(rows: list[Any]) -> tuple[list[Task], list[tuple[Any, str]]]:
    """The tasks of `rows`, and (id, reason) for each row that is not a task. The one place
    where a row that cannot be read is caught: the store quarantines it (see `_tasks`)."""
    tasks: list[Task] = []
    bad: list[tuple[Any, str]] = []
    for row in rows:
        try:
            tasks.append(task_from_row(row))
        except Exception as exc:  # whatever decoding raised, the row is what is wrong
            bad.append((row[0], f"{type(exc).__name__}: {exc}"))
    return tasks, bad


#: The orders a listing may ask for (`TaskFilter.order`): a column, "-" first for descending;
#: ties go in queue order.
ORDERS = {
    f"{sign}{column}": f"{column}{' DESC' if sign else ''}, seq{' DESC' if sign else ''}"
    for column in ("created_at", "priority", "name", "status", "started_at", "completed_at")
    for sign in ("", "-")
}


def where_clause(flt: TaskFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if flt.statuses:
        if not any(s in TERMINAL for s in flt.statuses):
            clauses.append("completed_at IS NULL")  # unfinished only: the index tasks_open
        elif all(s in TERMINAL for s in flt.statuses):
            clauses.append(FINISHED_ONLY)  # the partial index tasks_finished's own WHERE
        clauses.append(f"status IN ({', '.join('?' * len(flt.statuses))})")
        args.extend(s.value for s in flt.statuses)
    dead_letter = int(flt.dead_letter) if flt.dead_letter is not None else None
    for column, value in (
        ("category", flt.category),
        ("task_type", flt.task_type),
        ("dead_letter", dead_letter),
        ("error_code", flt.error_code),
        ("queue", flt.queue),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if flt.tag is not None:
        clauses.append("EXISTS (SELECT 1 FROM json_each(tasks.tags) WHERE value = ?)")
        args.append(flt.tag)
    if flt.ids:
        clauses.append(f"id IN ({', '.join('?' * len(flt.ids))})")
        args.extend(flt.ids)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def id_prefix_query(prefix: str, limit: int) -> tuple[str, tuple[Any, ...]]:
    """The statement (and its arguments) that lists up to `limit` ids starting with `prefix`.

    A range on the primary key, `prefix <= id < prefix'` (`prefix'`: its last character
    raised by one): ids compare byte by byte as UTF-8, so this is exactly "starts with", and
    SQLite answers it by a search of the id index (LIKE and GLOB would need a table scan here).
    """
    if not prefix:
        return "SELECT id FROM tasks ORDER BY id LIMIT ?", (limit,)
    last = ord(prefix[-1])
    if last >= 0x10FFFF:  # no character follows: every longer id is below the bound anyway
        return "SELECT id FROM tasks WHERE id >= ? ORDER BY id LIMIT ?", (prefix, limit)
    upper = prefix[:-1] + chr(last + 1 + (0x800 if 0xD800 <= last + 1 <= 0xDFFF else 0))
    return (
        "SELECT id FROM tasks WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
        (prefix, upper, limit),
    )
