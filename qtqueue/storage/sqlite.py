"""The embedded store: one SQLite file in WAL mode behind one aiosqlite connection.

One connection does all reads and writes (one thread, so no lock contention inside the
process); the data-directory lock keeps other processes out. `apply` writes a whole batch in one
transaction, which is what lets the engine group-commit many changes at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import operator
import os
import sqlite3
import time
from collections.abc import Callable
from itertools import compress
from pathlib import Path
from typing import Any

import aiosqlite

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.memory import cyclic_gc_paused
from qtqueue.core.task import (
    TERMINAL,
    OnInterrupt,
    Permission,
    Priority,
    Task,
    TaskStatus,
    parse_task_type,
)
from qtqueue.storage.backups import (
    BACKUPS_DIR,
    INTERVAL_S,
    backup_due,
    list_backups,
    set_aside,
    take_backup,
)
from qtqueue.storage.base import TaskFilter, Transition, WriteBatch
from qtqueue.storage.damage import QUARANTINE_TABLE, create_store, inspect, quarantine_rows
from qtqueue.storage.migrations import MIGRATIONS, SCHEMA_VERSION, statements
from qtqueue.storage.private import make_private_dir

logger = logging.getLogger(__name__)

_COLUMNS = (
    "id seq task_type name params category tags priority status progress current_step "
    "created_at started_at completed_at duration_s error error_code error_details retry_count "
    "max_retries retry_backoff timeout_s run_at expires_at depends_on resources permission "
    "on_interrupt dead_letter result paused_from wait_reason pid updated_at "
    "allow_dependency_failure ttl_s queue approved_at retry_on no_retry_on"
).split()
_INSERT = f"INSERT INTO tasks ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
#: What changes while a task lives; the rest (type, params, tags…) is written once.
_STATE_COLUMNS = (
    "seq priority status progress current_step started_at completed_at duration_s error "
    "error_code error_details retry_count run_at dead_letter result paused_from wait_reason pid "
    "updated_at approved_at"
).split()
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM tasks"
_INSERT_EVENT = (
    "INSERT INTO task_events (task_rid, at, from_status, to_status, task_type, error_code, "
    "duration_s) VALUES ((SELECT rowid FROM tasks WHERE id = ?), ?, ?, ?, ?, ?, ?)"
)
_TERMINAL_VALUES = tuple(s.value for s in TERMINAL)
#: WAL growth since the last checkpoint at which a background checkpoint starts (SQLite's
#: own default is 1000 pages, ~4 MB).
CHECKPOINT_WAL_BYTES = 4 * 1024 * 1024
#: Seconds without a commit after which whatever the WAL holds is checkpointed, so that the
#: database file alone is whole again (a copy of it is a complete backup) and the next write
#: starts the WAL over.
CHECKPOINT_IDLE_S = 1.0
#: SQLite truncates the WAL back to this size when it starts it over (after a burst).
WAL_SIZE_LIMIT = 4 * 1024 * 1024
#: While commits never pause, a checkpoint never catches up and the WAL only grows; each time
#: it has grown by this much, the writer waits once for a checkpoint to catch up (a stall of
#: a few tens of milliseconds) so that the next commit starts the WAL over.
WAL_FOLD_BYTES = 32 * 1024 * 1024
#: Batches up to this many rows commit on the event loop's thread when nothing else is using
#: the connection and small commits are cheap (see INLINE_COMMIT_S); larger ones go to the
#: connection's thread so the loop never stalls.
INLINE_ROWS = 64
#: With synchronous=FULL or EXTRA (an fsync per commit), a small commit runs on the loop's
#: thread too while small commits take less than this (a running average of their own
#: duration, fsync included): about what the two thread switches of a hop to the connection's
#: thread cost here. Such a commit takes ~0.25 ms on this machine's disk but several ms on a
#: slow one, where the loop (and the window) must not wait for it: those go to the thread.
#: (With NORMAL or OFF, a commit writes no fsync, ~0.05 ms: small ones always run inline.)
INLINE_COMMIT_S = 0.0005
#: Weight of the newest small commit in that running average.
COMMIT_COST_WEIGHT = 0.2
#: `history()` returns at most this many buckets.
MAX_HISTORY_BUCKETS = 2000
#: `history()` takes each task type's duration percentiles over its latest completions, at most
#: this many, so a busy store costs a bounded read.
DURATION_SAMPLE = 10_000
_dumps = json.dumps


def _row_values(t: Task) -> tuple[Any, ...]:
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
    )


def _state_values(t: Task) -> tuple[Any, ...]:
    """The values of `_STATE_COLUMNS`, in order. A task that is not finished is written with
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


_N_STATE = len(_STATE_COLUMNS)
_STATUS_POS = _STATE_COLUMNS.index("status")
#: The `_state_values` of an inserted row, taken from its `_row_values`.
_state_at_insert = operator.itemgetter(*(_COLUMNS.index(c) for c in _STATE_COLUMNS))
_ALL_STATE = tuple(range(_N_STATE))
_UpdatePlan = tuple[str, Callable[[tuple[Any, ...]], tuple[Any, ...]]]
#: By the positions (in `_STATE_COLUMNS`) of the columns an UPDATE sets: its statement, and
#: what takes their values out of a `_state_values` tuple.
_update_plans: dict[tuple[int, ...], _UpdatePlan] = {}


def _update_plan(changed: tuple[int, ...]) -> _UpdatePlan:
    plan = _update_plans.get(changed)
    if plan is None:
        sets = ", ".join(f"{_STATE_COLUMNS[i]} = ?" for i in changed)
        take: Callable[[tuple[Any, ...]], tuple[Any, ...]] = operator.itemgetter(*changed)
        if len(changed) == 1:  # a single item comes back bare: wrap it
            (only,) = changed

            def take(new: tuple[Any, ...]) -> tuple[Any, ...]:
                return (new[only],)
        plan = _update_plans[changed] = (f"UPDATE tasks SET {sets} WHERE id = ?", take)
    return plan


def _changed(old: tuple[Any, ...] | None, new: tuple[Any, ...]) -> tuple[int, ...]:
    """Positions where `new` differs from what was last written (all of them when unknown)."""
    if old is None:
        return _ALL_STATE
    return tuple(compress(_ALL_STATE, map(operator.ne, new, old)))


def _apply_sync(
    conn: sqlite3.Connection,
    inserts: list[tuple[Any, ...]],
    updates: dict[str, list[tuple[Any, ...]]],
    events: list[tuple[Any, ...]],
    deletes: list[tuple[str]],
) -> float:
    """One transaction. `updates` maps each UPDATE statement to its rows of parameters.
    Returns the seconds it took (see INLINE_COMMIT_S)."""
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    try:
        if inserts:
            conn.executemany(_INSERT, inserts)
        for sql, rows in updates.items():
            conn.executemany(sql, rows)
        if events:
            conn.executemany(_INSERT_EVENT, events)
        if deletes:
            conn.executemany(
                "DELETE FROM task_events WHERE task_rid = (SELECT rowid FROM tasks WHERE id = ?)",
                deletes,
            )
            conn.executemany("DELETE FROM tasks WHERE id = ?", deletes)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return time.perf_counter() - t0


def _open_reader(path: Path) -> sqlite3.Connection:
    """A query-only connection for the loop's thread (see `SqliteTaskStore.existing_ids`)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA query_only=1")
    return conn


def _checkpoint_sync(path: Path) -> None:
    conn = sqlite3.connect(path, timeout=5.0)
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        conn.close()


# Decoding rows is what opening a big store costs: most JSON columns hold an empty object or
# list, and enum members are looked up in plain dicts rather than through Enum.__call__.
_STATUSES: dict[str, TaskStatus] = {s.value: s for s in TaskStatus}
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
    "paused_from pid ttl_s approved_at".split()
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
_ROW_TYPES = tuple(_column_types(c) for c in _COLUMNS)
#: Type signatures of rows already found sound: checking a row is then one set lookup.
_SOUND_SIGNATURES: set[tuple[type, ...]] = set()


def _check_types(row: sqlite3.Row | tuple[Any, ...]) -> None:
    """Raise ValueError naming the first column whose value has a type no task field takes
    (SQLite keeps whatever was written, e.g. text in a REAL column)."""
    signature = tuple(map(type, row))
    if signature in _SOUND_SIGNATURES:
        return
    for column, kinds, value in zip(_COLUMNS, _ROW_TYPES, row, strict=True):
        if type(value) not in kinds:
            # The type only: a value may be a secret (the warning goes to the log).
            raise ValueError(f"column {column} holds a {type(value).__name__} value")
    _SOUND_SIGNATURES.add(signature)


def _task_from_row(row: sqlite3.Row | tuple[Any, ...]) -> Task:
    """The task a row holds; ValueError (or another exception of decoding) when the row
    cannot be one: a wrong type, broken JSON, an unknown status or priority."""
    _check_types(row)
    (
        id_, seq, task_type, name, params, category, tags, priority, status, progress,
        current_step, created_at, started_at, completed_at, duration_s, error, error_code,
        error_details, retry_count, max_retries, retry_backoff, timeout_s, run_at, expires_at,
        depends_on, resources, permission, on_interrupt, dead_letter, result, paused_from,
        wait_reason, pid, updated_at, allow_dependency_failure, ttl_s, queue, approved_at,
        retry_on, no_retry_on,
    ) = row  # fmt: skip
    st = _STATUSES.get(status)
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
    )


def _decode(rows: list[Any]) -> tuple[list[Task], list[tuple[Any, str]]]:
    """The tasks of `rows`, and (id, reason) for each row that is not a task. The one place
    where a row that cannot be read is caught: the store quarantines it (see `_tasks`)."""
    tasks: list[Task] = []
    bad: list[tuple[Any, str]] = []
    for row in rows:
        try:
            tasks.append(_task_from_row(row))
        except Exception as exc:  # whatever decoding raised, the row is what is wrong
            bad.append((row[0], f"{type(exc).__name__}: {exc}"))
    return tasks, bad


def _where(flt: TaskFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if flt.statuses:
        if not any(s in TERMINAL for s in flt.statuses):
            clauses.append("completed_at IS NULL")  # unfinished only: the index tasks_open
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


class SqliteTaskStore:
    """`TaskStore` on one SQLite file (WAL).

    `synchronous` is SQLite's: "NORMAL" (the default) survives any crash of the process and
    fsyncs at checkpoints; "FULL" also fsyncs every commit, surviving power loss at a cost.

    A damaged file (emptied, cut short, overwritten, unreadable) is refused with
    QueueError(QUEUE_STORE_CORRUPT, details `damaged=True`) and left as it is, unless
    `replace_damaged`: then it is set aside (`set_aside_as`) and an empty store started.
    Backups go to `<folder of path>/backups` (see `qtqueue.storage.backups`): before each
    migration, and at most once every `backup_interval_s` while the store holds tasks.
    """

    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "NORMAL",
        replace_damaged: bool = False,
        backup_interval_s: float = INTERVAL_S,
    ) -> None:
        self.path = Path(path)
        self.replace_damaged = replace_damaged
        #: Where a damaged file was moved by `open` (with `replace_damaged`), else None.
        self.set_aside_as: Path | None = None
        self.backups_dir = self.path.parent / BACKUPS_DIR
        self.backup_interval_s = backup_interval_s
        self._next_backup_at = 0.0  # UNIX time
        self._backup: asyncio.Task[None] | None = None
        self.synchronous = synchronous.upper()
        if self.synchronous not in ("NORMAL", "FULL", "OFF", "EXTRA"):
            raise ValueError(f"synchronous must be NORMAL, FULL, OFF or EXTRA, not {synchronous!r}")
        self._db: aiosqlite.Connection | None = None
        self._wal_path = f"{self.path}-wal"
        self._checkpointer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop  # set by open()
        self._wal_mark = 0  # the WAL's size when the last checkpoint started
        self._wal_bytes = 0  # its size after the last commit
        self._fold_at = WAL_FOLD_BYTES  # WAL size at which the writer waits for a checkpoint
        self._uncheckpointed = False  # commits since the last checkpoint started
        self._last_commit = 0.0  # loop time
        self._idle_timer: asyncio.TimerHandle | None = None
        self._reads = 0  # operations in flight on the connection's thread
        #: Running average of a small commit's duration (see INLINE_COMMIT_S), on the thread
        #: until one was measured; always 0 (inline) without an fsync per commit.
        self._fsyncs = self.synchronous in ("FULL", "EXTRA")
        self._commit_s = INLINE_COMMIT_S if self._fsyncs else 0.0
        #: A second connection, used on the loop's thread for small reads by primary key (see
        #: existing_ids): WAL lets it read the last commit while the writer's thread commits.
        self._reader: sqlite3.Connection | None = None
        #: The state columns as last committed, by task id, for unfinished tasks (see apply).
        self._written: dict[str, tuple[Any, ...]] = {}

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def open(self) -> None:
        """Open the file, check it is ours and bring its schema up to date; take the daily
        backup if one is due."""
        make_private_dir(self.path.parent)
        # Captured here, never looked up later: Qt (qasync) may resume a coroutine of ours
        # outside the loop's run, where get_running_loop() raises.
        self._loop = asyncio.get_running_loop()
        try:
            db, version = await self._open_file()
        except QueueError as exc:
            if not (self.replace_damaged and exc.details.get("damaged")):
                raise
            self.set_aside_as = set_aside(self.path, "damaged", time.time())
            logger.error(
                "%s %s: it was set aside as %s and an empty store was started in its place "
                "('qtqueue restore' lists the backups)",
                self.path,
                exc.details["problem"],
                self.set_aside_as,
            )
            await asyncio.to_thread(create_store, self.path)
            db, version = await self._open_file()
        logger.debug("opened %s at schema version %d", self.path, version)
        self._db = db
        self._reader = _open_reader(self.path)
        await self._backup_if_due()

    def _damaged(self, problem: str) -> QueueError:
        backups = list_backups(self.backups_dir)
        latest = (
            f"; the newest backup is {backups[0].name}" if backups else "; no backup is kept yet"
        )
        return QueueError(
            TaskErrorCode.QUEUE_STORE_CORRUPT,
            f"{self.path} {problem}. Nothing was changed{latest}",
            path=str(self.path),
            damaged=True,
            problem=problem,
            backups=[b.name for b in backups],
        )

    async def _open_file(self) -> tuple[aiosqlite.Connection, int]:
        problem = await asyncio.to_thread(inspect, self.path)
        if problem is not None:
            raise self._damaged(problem)
        if not self.path.exists():
            await asyncio.to_thread(create_store, self.path)
        # check_same_thread=False: small commits run on the loop's thread (see apply).
        db = await aiosqlite.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            await db.execute("PRAGMA busy_timeout=5000")
            # Read-only checks first: a file we refuse must be left exactly as it was.
            version = await self._check(db)
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute(f"PRAGMA synchronous={self.synchronous}")
            # Checkpoints run beside the writer (see _committed), never inside a commit.
            await db.execute("PRAGMA wal_autocheckpoint=0")
            await db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            await db.execute("PRAGMA foreign_keys=ON")
            version = await self._migrate(db, version)
        except sqlite3.DatabaseError as exc:
            await db.close()
            raise self._damaged(f"cannot be read as a qtqueue database: {exc}") from exc
        except BaseException:
            await db.close()
            raise
        return db, version

    async def _check(self, db: aiosqlite.Connection) -> int:
        """The file's schema version, after checking (without writing) that it is ours."""
        async with db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        if version == 0:
            async with db.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            ) as cur:
                row = await cur.fetchone()
            if row and row[0]:
                raise sqlite3.DatabaseError("the file holds tables but no qtqueue schema version")
        if version > SCHEMA_VERSION:
            raise QueueError(
                TaskErrorCode.QUEUE_STORE_CORRUPT,
                f"{self.path} was written by a newer qtqueue (schema {version}, this one knows "
                f"up to {SCHEMA_VERSION}); upgrade qtqueue to open it. The file is not damaged: "
                "do not bring a backup back over it",
                path=str(self.path),
                schema_version=version,
            )
        # A damaged page shows up here rather than mid-run.
        async with db.execute("PRAGMA quick_check") as cur:
            row = await cur.fetchone()
        if not row or row[0] != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {row[0] if row else 'no answer'}")
        return version

    async def _migrate(self, db: aiosqlite.Connection, version: int) -> int:
        if 0 < version < SCHEMA_VERSION:
            await asyncio.to_thread(
                take_backup, self.path, self.backups_dir, f"pre-migration-v{version}", time.time()
            )
        while version < SCHEMA_VERSION:
            await db.execute("BEGIN IMMEDIATE")
            try:
                for statement in statements(MIGRATIONS[version]):
                    await db.execute(statement)
                version += 1
                await db.execute(f"PRAGMA user_version = {version}")
                await db.execute("COMMIT")
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            logger.info("migrated %s to schema version %d", self.path, version)
        return version

    async def _backup_if_due(self) -> None:
        """The daily backup, if the store holds tasks and the newest backup is older than
        `backup_interval_s`."""
        now = time.time()
        if not await asyncio.to_thread(backup_due, self.backups_dir, now, self.backup_interval_s):
            self._next_backup_at = now + self.backup_interval_s
            return
        if await self._fetchone("SELECT 1 FROM tasks LIMIT 1") is None:
            return  # nothing worth keeping yet: try again at the next quiet moment
        try:
            await asyncio.to_thread(take_backup, self.path, self.backups_dir, "daily", now)
        except (OSError, sqlite3.Error) as exc:
            logger.warning("the daily backup of %s failed: %s", self.path, exc)
        self._next_backup_at = now + self.backup_interval_s

    async def close(self) -> None:
        """Close the connection (a checkpoint happens on close). Idempotent."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._backup is not None:
            await asyncio.gather(self._backup, return_exceptions=True)
        if self._checkpointer is not None:
            await asyncio.gather(self._checkpointer, return_exceptions=True)
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

    def _committed(self) -> None:
        """Checkpoint policy, after each commit: copy the WAL back into the database on a
        connection and thread of its own, once the WAL has grown by CHECKPOINT_WAL_BYTES since
        the last checkpoint, and once commits pause for CHECKPOINT_IDLE_S.

        A PASSIVE checkpoint never blocks the writer, so a commit never waits for a
        checkpoint's fsync (SQLite's automatic checkpoint runs inside the commit that crosses
        its threshold, which showed as 10+ ms latency spikes). Growth, not size, is what
        counts: the WAL file keeps its size when SQLite starts it over, and a size test ran
        checkpoints back to back for as long as writes went on (~700 per 10,000 tasks, 0.9 s
        of a second core). While writes never pause, a checkpoint cannot finish before the
        next commit, so the WAL keeps growing; the pause is what lets it start over."""
        self._uncheckpointed = True
        loop = self._loop
        self._last_commit = loop.time()
        if self._idle_timer is None:
            self._idle_timer = loop.call_later(CHECKPOINT_IDLE_S, self._idle)
        if self._checkpointer is not None:
            return
        wal_bytes = self._wal_bytes = self._wal_size()
        if wal_bytes < self._wal_mark:  # truncated when SQLite started it over
            self._wal_mark = wal_bytes
            self._fold_at = WAL_FOLD_BYTES
        if wal_bytes - self._wal_mark >= CHECKPOINT_WAL_BYTES:
            self._checkpoint(wal_bytes)

    async def _fold_wal(self) -> None:
        """Hold the next commit until a checkpoint has copied the whole WAL back, so that
        the commit starts the WAL over (and SQLite truncates it to WAL_SIZE_LIMIT)."""
        self._fold_at = self._wal_bytes + WAL_FOLD_BYTES  # once per that much growth
        if self._checkpointer is not None:
            await asyncio.gather(self._checkpointer, return_exceptions=True)
        self._checkpoint(self._wal_bytes)
        assert self._checkpointer is not None
        await asyncio.gather(self._checkpointer, return_exceptions=True)

    def _idle(self) -> None:
        self._idle_timer = None
        if self._db is None or not self._uncheckpointed:
            return
        loop = self._loop
        quiet = loop.time() - self._last_commit
        if quiet < CHECKPOINT_IDLE_S or self._checkpointer is not None:
            self._idle_timer = loop.call_later(max(CHECKPOINT_IDLE_S - quiet, 0.05), self._idle)
            return
        self._checkpoint(self._wal_size())
        if time.time() >= self._next_backup_at and self._backup is None:
            self._backup = loop.create_task(self._backup_if_due(), name="daily store backup")
            self._backup.add_done_callback(self._backup_done)

    def _backup_done(self, task: asyncio.Task[None]) -> None:
        self._backup = None
        if not task.cancelled() and task.exception() is not None:
            logger.warning("the daily backup of %s failed: %s", self.path, task.exception())

    def _wal_size(self) -> int:
        try:
            return os.stat(self._wal_path).st_size
        except FileNotFoundError:
            return 0

    def _checkpoint(self, wal_bytes: int) -> None:
        self._wal_mark = wal_bytes
        self._uncheckpointed = False
        self._checkpointer = self._loop.create_task(
            asyncio.to_thread(_checkpoint_sync, self.path), name="wal checkpoint"
        )
        self._checkpointer.add_done_callback(self._checkpoint_done)

    def _checkpoint_done(self, task: asyncio.Task[None]) -> None:
        self._checkpointer = None
        if not task.cancelled() and task.exception() is not None:
            logger.warning("WAL checkpoint failed: %s", task.exception())

    async def apply(self, batch: WriteBatch) -> None:
        """Write the batch in one transaction; durable on return."""
        if not batch:
            return
        # Rows are converted here, on the loop, so they match the engine's state right now;
        # the whole transaction then costs at most one hop to the connection's thread instead
        # of one per statement. aiosqlite runs every call through `_execute` on that thread
        # (its public methods are thin wrappers over it); the pinned version range keeps it.
        # Only this method writes, and reads are counted, so an inline commit never overlaps
        # an operation on the connection's thread.
        if self._wal_bytes >= self._fold_at:
            await self._fold_wal()
        db = self.db
        written = self._written
        # Each UPDATE sets only the columns that differ from what this store last wrote for
        # the task: SQLite rewrites an index whenever its columns (or its WHERE's) are SET,
        # changed or not, so a claim that sets just status, started_at and updated_at touches
        # no index at all (a W3 commit: 125 -> 45 us). Unknown tasks get every column.
        states: list[tuple[str, tuple[Any, ...]]] = []
        updates: dict[str, list[tuple[Any, ...]]] = {}
        for t in batch.updates:
            new = _state_values(t)
            changed = _changed(written.get(t.id), new)
            states.append((t.id, new))
            if changed:
                sql, take = _update_plan(changed)
                values = (*take(new), t.id)
                rows_of = updates.get(sql)
                if rows_of is None:
                    updates[sql] = [values]
                else:
                    rows_of.append(values)
        inserts = [_row_values(t) for t in batch.inserts]
        events = [
            (
                e.task_id,
                e.at,
                e.from_status.value if e.from_status else None,
                e.to_status.value,
                e.task_type,
                e.error_code,
                e.duration_s,
            )
            for e in batch.transitions
        ]
        deletes = [(i,) for i in batch.deletes]
        size = len(inserts) + len(batch.updates) + len(events)
        small = size <= INLINE_ROWS
        try:
            if small and self._reads == 0 and self._commit_s < INLINE_COMMIT_S:
                # Small, cheap commit while the connection's thread is idle: do it right here
                # (~0.05 ms; with FULL, its fsync too) instead of paying two thread switches.
                took = _apply_sync(db._conn, inserts, updates, events, deletes)
            else:
                took = await db._execute(  # type: ignore[no-untyped-call]
                    _apply_sync, db._conn, inserts, updates, events, deletes
                )
        except BaseException:
            # Committed or not (a cancelled wait leaves the thread running), these rows are
            # no longer known: write them in full next time.
            for task_id, _ in states:
                written.pop(task_id, None)
            raise
        # Committed: remember what the rows now hold, for unfinished tasks only (a finished
        # one is rarely written again, and then in full).
        for t, row in zip(batch.inserts, inserts, strict=True):
            if t.status not in TERMINAL:
                written[t.id] = _state_at_insert(row)
        for task_id, new in states:
            if new[_STATUS_POS] in _TERMINAL_VALUES:
                written.pop(task_id, None)
            else:
                written[task_id] = new
        for task_id in batch.deletes:
            written.pop(task_id, None)
        if small and self._fsyncs:
            self._commit_s += (took - self._commit_s) * COMMIT_COST_WEIGHT
        self._committed()

    async def _fetchall(self, sql: str, args: Any = ()) -> list[Any]:
        """All rows of one statement, in one hop; counted so apply() knows the thread is busy."""
        self._reads += 1
        try:
            return list(await self.db.execute_fetchall(sql, args))
        finally:
            self._reads -= 1

    async def _fetchone(self, sql: str, args: Any = ()) -> Any:
        rows = await self._fetchall(sql, args)
        return rows[0] if rows else None

    async def _tasks(self, rows: list[Any]) -> list[Task]:
        """The tasks of `rows`. A row that is not a task is quarantined: moved, raw data and
        transitions kept, to the `quarantine` table, and named in a warning; every other
        row is returned as usual."""
        tasks, bad = _decode(rows)
        if bad:
            await self._quarantine(bad)
        return tasks

    async def _quarantine(self, bad: list[tuple[Any, str]]) -> None:
        db = self.db
        self._reads += 1  # on the connection's thread: no inline commit meanwhile
        try:
            moved = await db._execute(  # type: ignore[no-untyped-call]
                quarantine_rows, db._conn, _COLUMNS, bad, time.time()
            )
        finally:
            self._reads -= 1
        for task_id, reason in moved:
            logger.warning(
                "task %s cannot be read (%s): it was moved, with its raw data, to the %s "
                "table of %s; every other task is served as before",
                task_id,
                reason,
                QUARANTINE_TABLE,
                self.path,
            )

    async def get_task(self, task_id: str) -> Task | None:
        row = await self._fetchone(f"{_SELECT} WHERE id = ?", (task_id,))
        tasks = await self._tasks([row]) if row else []
        return tasks[0] if tasks else None

    async def list_tasks(self, flt: TaskFilter | None = None) -> list[Task]:
        flt = flt or TaskFilter()
        where, args = _where(flt)
        order = (
            " ORDER BY created_at DESC, seq DESC"
            if flt.newest_first
            else (" ORDER BY created_at, seq")
        )
        limit = ""
        if flt.limit is not None:
            limit = " LIMIT ? OFFSET ?"
            args += [flt.limit, flt.offset]
        with cyclic_gc_paused():
            rows = await self._fetchall(_SELECT + where + order + limit, args)
            return await self._tasks(rows)

    async def count_tasks(self, flt: TaskFilter | None = None) -> int:
        flt = flt or TaskFilter()
        where, args = _where(flt)
        row = await self._fetchone("SELECT count(*) FROM tasks" + where, args)
        return int(row[0]) if row else 0

    async def load_unfinished(self) -> list[Task]:
        # `completed_at IS NULL` is the partial index tasks_open's WHERE, so SQLite uses it.
        q = (
            f"{_SELECT} WHERE completed_at IS NULL "
            "AND status NOT IN ('completed', 'failed', 'cancelled', 'timeout') ORDER BY seq"
        )
        rows = await self._fetchall(q)
        return await self._tasks(rows)

    async def max_seq(self) -> int:
        row = await self._fetchone("SELECT coalesce(max(seq), 0) FROM tasks")
        return int(row[0]) if row else 0

    async def finished_before(self, cutoff: float, queue: str | None = None) -> list[str]:
        q = (
            f"SELECT id FROM tasks WHERE completed_at < ? AND dead_letter = 0 AND status IN "
            f"({', '.join('?' * len(_TERMINAL_VALUES))})"
        )
        args: tuple[Any, ...] = (cutoff, *_TERMINAL_VALUES)
        if queue is not None:
            q += " AND queue = ?"
            args += (queue,)
        rows = await self._fetchall(q, args)
        return [r[0] for r in rows]

    async def get_meta(self, key: str) -> str | None:
        row = await self._fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return str(row[0]) if row else None

    async def set_meta(self, key: str, value: str) -> None:
        await self._fetchall(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def existing_ids(self, ids: list[str]) -> set[str]:
        """Which of `ids` the store holds (committed).

        A few ids (one `add_task`) are looked up right here, on the loop's thread, through the
        reader connection: a primary-key lookup costs microseconds, a hop to the connection's
        thread and back far more, and no await means the new task's insert joins the
        transaction of whatever the engine registers in the same turn of the loop (the claim of
        the task added just before it)."""
        reader = self._reader
        if reader is not None and len(ids) <= INLINE_ROWS:
            if not ids:
                return set()
            q = f"SELECT id FROM tasks WHERE id IN ({', '.join('?' * len(ids))})"
            return {r[0] for r in reader.execute(q, ids)}
        found: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            q = f"SELECT id FROM tasks WHERE id IN ({', '.join('?' * len(chunk))})"
            found.update(r[0] for r in await self._fetchall(q, chunk))
        return found

    async def ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        sql, args = id_prefix_query(prefix, limit)
        return [r[0] for r in await self._fetchall(sql, args) if r[0].startswith(prefix)]

    async def transitions(self, task_id: str) -> list[Transition]:
        q = (
            "SELECT ?, at, from_status, to_status, task_type, error_code, duration_s "
            "FROM task_events WHERE task_rid = (SELECT rowid FROM tasks WHERE id = ?) ORDER BY id"
        )
        found: list[Transition] = []
        for r in await self._fetchall(q, (task_id, task_id)):
            from_status = _STATUSES.get(r[2]) if r[2] else None
            to_status = _STATUSES.get(r[3])
            if to_status is None or (r[2] and from_status is None):
                # A garbled history row hides one step, never the task.
                logger.warning("task %s: skipped a transition that cannot be read: %r", task_id, r)
                continue
            found.append(
                Transition(
                    task_id=r[0],
                    at=r[1],
                    from_status=from_status,
                    to_status=to_status,
                    task_type=r[4],
                    error_code=r[5],
                    duration_s=r[6],
                )
            )
        return found

    async def restore_transitions(self) -> int:
        # One index seek per task (task_events_task holds each task's transition ids).
        rows = await self._fetchall(
            "INSERT INTO task_events (task_rid, at, from_status, to_status, task_type, "
            "error_code, duration_s) "
            "SELECT t.rowid, t.updated_at, e.to_status, t.status, t.task_type, t.error_code, "
            f"CASE WHEN t.status IN ({', '.join('?' * len(_TERMINAL_VALUES))}) "
            "THEN t.duration_s END "
            "FROM tasks AS t LEFT JOIN task_events AS e ON e.id = "
            "(SELECT max(id) FROM task_events WHERE task_rid = t.rowid) "
            "WHERE e.to_status IS NOT t.status ORDER BY t.updated_at RETURNING id",
            _TERMINAL_VALUES,
        )
        return len(rows)

    async def stats(self, now: float) -> dict[str, Any]:
        """Figures computed in SQL: distributions over tasks, outcomes over transitions."""

        async def pairs(sql: str, *args: Any) -> dict[str, int]:
            return {str(k): int(v) for k, v in await self._fetchall(sql, args)}

        async def one(sql: str, *args: Any) -> tuple[Any, ...]:
            row = await self._fetchone(sql, args)
            return tuple(row) if row else ()

        status_distribution = await pairs("SELECT status, count(*) FROM tasks GROUP BY status")
        type_distribution = await pairs("SELECT task_type, count(*) FROM tasks GROUP BY task_type")
        error_distribution = await pairs(
            "SELECT error_code, count(*) FROM tasks WHERE error_code IS NOT NULL "
            "AND status IN ('failed', 'timeout', 'cancelled') GROUP BY error_code"
        )
        # Outcomes are counted per task, by its latest transition: a task that failed and
        # then completed on a retry is one success (its failed attempt stays in the history).
        completed, failed, timed_out, cancelled, avg_duration = await one(
            "SELECT sum(to_status = 'completed'), sum(to_status = 'failed'), "
            "sum(to_status = 'timeout'), sum(to_status = 'cancelled'), "
            "avg(CASE WHEN to_status = 'completed' THEN duration_s END) FROM task_events "
            "WHERE id IN (SELECT max(id) FROM task_events GROUP BY task_rid)"
        )
        completed, failed, timed_out, cancelled = (
            int(completed or 0),
            int(failed or 0),
            int(timed_out or 0),
            int(cancelled or 0),
        )
        finished = completed + failed + timed_out
        total_retries, with_retries, at_max = await one(
            "SELECT coalesce(sum(retry_count), 0), coalesce(sum(retry_count > 0), 0), "
            "coalesce(sum(max_retries > 0 AND retry_count >= max_retries), 0) FROM tasks"
        )

        async def activity(since: float) -> dict[str, int]:
            counts = await pairs(
                "SELECT to_status, count(*) FROM task_events WHERE at >= ? AND (from_status "
                "IS NULL OR to_status IN ('completed', 'failed', 'timeout', 'cancelled')) "
                "GROUP BY to_status",
                since,
            )
            created = counts.pop("pending", 0)
            for s in ("completed", "failed", "timeout", "cancelled"):
                counts.setdefault(s, 0)
            return {"created": created, **counts}

        return {
            "status_distribution": status_distribution,
            "type_distribution": type_distribution,
            "error_distribution": error_distribution,
            "performance": {
                "average_duration_seconds": float(avg_duration or 0.0),
                "success_rate": (100.0 * completed / finished) if finished else 0.0,
                "completed_tasks": completed,
                "failed_tasks": failed + timed_out,
                "cancelled_tasks": cancelled,
            },
            "retry_statistics": {
                "total_retries": int(total_retries),
                "tasks_with_retries": int(with_retries),
                "tasks_at_max_retries": int(at_max),
            },
            "recent_activity": {
                "last_24_hours": await activity(now - 86400),
                "last_hour": await activity(now - 3600),
            },
        }

    async def history(
        self, since: float, bucket_s: float, *, until: float | None = None
    ) -> dict[str, Any]:
        """Activity over time from `task_events`, in buckets of `bucket_s` from `since`.

        Each bucket (oldest first) counts the tasks that finished in it by outcome, under
        the latest-outcome rule of `stats()`: a task counts once, in the bucket of its latest
        transition if that one is terminal (a failure later retried counts where the retry
        ended). `success_rate` is completed / (completed + failed + timeout) in percent, None
        where nothing finished; `finished` (throughput) also counts cancelled tasks.
        `queue_depth` is the number of tasks waiting to start (PENDING; held tasks are PAUSED
        and not counted) at the bucket's end: the PENDING tasks now, minus the entries into
        PENDING and plus the departures from it that came after that bucket.
        Buckets run up to `until` (default: the last event); at most `MAX_HISTORY_BUCKETS`,
        widening `bucket_s` where needed. `durations` gives, per task type, the median and
        p95 of `duration_s` over its latest `DURATION_SAMPLE` completions since `since`.
        """
        if bucket_s <= 0:
            raise ValueError(f"bucket_s must be positive, not {bucket_s!r}")
        if until is None:
            last = await self._fetchone("SELECT max(at) FROM task_events")
            until = last[0] if last and last[0] is not None else since
        span = max(until - since, 0.0)
        bucket_s = max(bucket_s, span / (MAX_HISTORY_BUCKETS - 1))
        count = math.floor(span / bucket_s) + 1  # the bucket holding `until` included
        # The latest transition of each task, where it is terminal and inside the window.
        outcomes = await self._fetchall(
            "SELECT CAST((e.at - ?) / ? AS INTEGER) AS b, e.to_status, count(*) "
            "FROM task_events AS e WHERE e.at >= ? AND e.to_status IN "
            "('completed', 'failed', 'timeout', 'cancelled') AND NOT EXISTS "
            "(SELECT 1 FROM task_events AS later WHERE later.task_rid = e.task_rid "
            "AND later.id > e.id) GROUP BY b, e.to_status",
            (since, bucket_s, since),
        )
        moves = await self._fetchall(
            "SELECT CAST((at - ?) / ? AS INTEGER) AS b, "
            "sum(to_status = 'pending') - sum(from_status IS 'pending') "
            "FROM task_events WHERE at >= ? GROUP BY b",
            (since, bucket_s, since),
        )
        # `completed_at IS NULL` is the partial index tasks_open's WHERE, so SQLite uses it.
        waiting = await self._fetchone(
            "SELECT count(*) FROM tasks WHERE completed_at IS NULL AND status = 'pending'"
        )
        buckets: list[dict[str, Any]] = [
            {
                "start": since + i * bucket_s,
                "completed": 0,
                "failed": 0,
                "timeout": 0,
                "cancelled": 0,
                "finished": 0,
                "success_rate": None,
                "queue_depth": 0,
            }
            for i in range(count)
        ]
        for b, status, n in outcomes:
            if 0 <= b < count:
                buckets[b][status] += int(n)
                buckets[b]["finished"] += int(n)
        # Walk back from the tasks waiting now, undoing each bucket's moves: this reads only
        # the window's events and ends on the same figure as the `tasks` table.
        net = {int(b): int(n or 0) for b, n in moves}
        depth = int(waiting[0]) if waiting else 0
        depth -= sum(n for b, n in net.items() if b >= count)
        for i in reversed(range(count)):
            buckets[i]["queue_depth"] = max(depth, 0)
            depth -= net.get(i, 0)
        for bucket in buckets:
            decided = bucket["completed"] + bucket["failed"] + bucket["timeout"]
            if decided:
                bucket["success_rate"] = 100.0 * bucket["completed"] / decided
        samples: dict[str, list[float]] = {}
        for task_type, duration in await self._fetchall(
            "SELECT task_type, duration_s FROM (SELECT task_type, duration_s, row_number() "
            "OVER (PARTITION BY task_type ORDER BY at DESC) AS n FROM task_events "
            "WHERE to_status = 'completed' AND duration_s IS NOT NULL AND at >= ?) "
            "WHERE n <= ?",
            (since, DURATION_SAMPLE),
        ):
            samples.setdefault(str(task_type), []).append(float(duration))
        durations = {
            task_type: {
                "count": len(values),
                "median_s": _percentile(sorted(values), 50),
                "p95_s": _percentile(sorted(values), 95),
            }
            for task_type, values in sorted(samples.items())
        }
        return {
            "since": since,
            "until": since + count * bucket_s,
            "bucket_s": bucket_s,
            "buckets": buckets,
            "durations": durations,
        }


def _percentile(ordered: list[float], q: float) -> float:
    """The `q`th percentile (0-100) of sorted values, interpolated between the closest ranks."""
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
