"""The embedded store: one SQLite file in WAL mode behind one aiosqlite connection.

One connection does all reads and writes (one thread, so no lock contention inside the
process); the data-directory lock keeps other processes out. `apply` writes a whole batch in one
transaction, which is what lets the engine group-commit many changes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import aiosqlite

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.memory import cyclic_gc_paused
from qtqueue.core.task import TERMINAL, Task, TaskStatus
from qtqueue.storage import wal as wal_policy
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
from qtqueue.storage.questions import QuestionRows
from qtqueue.storage.rows import (
    COLUMNS,
    ORDERS,
    SELECT,
    STATUS_POS,
    TERMINAL_VALUES,
    UPDATE_DEFINITION,
    changed_columns,
    decode_rows,
    definition_of,
    id_prefix_query,
    row_values,
    state_at_insert,
    state_values,
    update_plan,
    where_clause,
    write_batch,
)
from qtqueue.storage.schedules import ScheduleRows
from qtqueue.storage.statistics import (
    read_history,
    read_stats,
    read_transitions,
    restore_transitions,
)
from qtqueue.storage.wal import WalKeeper

logger = logging.getLogger(__name__)

#: Batches up to this many rows commit on the event loop's thread when nothing else is using
#: the connection; larger ones go to the connection's thread so the loop never stalls.
#: (A commit that fsyncs, with FULL or EXTRA, always goes to the thread: inline, it measured
#: no faster here, and on a slow disk it would stall the loop, and the window, for ms.)
INLINE_ROWS = 64


def _open_reader(path: Path) -> sqlite3.Connection:
    """A query-only connection for the loop's thread (see `SqliteTaskStore.existing_ids`).
    It never waits for a lock (the loop must not sleep): a busy read goes to the thread."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA query_only=1")
    return conn


class SqliteTaskStore(ScheduleRows, QuestionRows):
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
        self._loop: asyncio.AbstractEventLoop  # set by open()
        self._fsyncs = self.synchronous in ("FULL", "EXTRA")
        self._wal: WalKeeper | None = None  # set by open()
        self._reads = 0  # operations in flight on the connection's thread
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
        self._wal = WalKeeper(self.path, fsyncs=self._fsyncs, loop=self._loop, on_quiet=self._quiet)
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
            # Checkpoints run beside the writer (see wal.py), never inside a commit.
            await db.execute("PRAGMA wal_autocheckpoint=0")
            await db.execute(f"PRAGMA journal_size_limit={wal_policy.WAL_SIZE_LIMIT}")
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
            async with db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'") as cur:
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
        if self._backup is not None:
            await asyncio.gather(self._backup, return_exceptions=True)
        if self._wal is not None:
            await self._wal.close()
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

    def _quiet(self) -> None:
        """Commits paused and the WAL is being checkpointed: take the daily backup if due."""
        if time.time() >= self._next_backup_at and self._backup is None and self._db is not None:
            self._backup = self._loop.create_task(self._backup_if_due(), name="daily store backup")
            self._backup.add_done_callback(self._backup_done)

    def _backup_done(self, task: asyncio.Task[None]) -> None:
        self._backup = None
        if not task.cancelled() and task.exception() is not None:
            logger.warning("the daily backup of %s failed: %s", self.path, task.exception())

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
        wal = self._wal
        assert wal is not None  # set with the connection
        await wal.fold_if_due()
        db = self.db
        written = self._written
        # Each UPDATE sets only the columns that differ from what this store last wrote for
        # the task: SQLite rewrites an index whenever its columns (or its WHERE's) are SET,
        # changed or not, so a claim that sets just status, started_at and updated_at touches
        # no index at all (a W3 commit: 125 -> 45 us). Unknown tasks get every column.
        states: list[tuple[str, tuple[Any, ...]]] = []
        updates: dict[str, list[tuple[Any, ...]]] = {}
        for t in batch.updates:
            new = state_values(t)
            changed = changed_columns(written.get(t.id), new)
            states.append((t.id, new))
            if changed:
                sql, take = update_plan(changed)
                values = (*take(new), t.id)
                rows_of = updates.get(sql)
                if rows_of is None:
                    updates[sql] = [values]
                else:
                    rows_of.append(values)
        inserts = [row_values(t) for t in batch.inserts]
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
        try:
            if self._reads == 0 and size <= INLINE_ROWS and not self._fsyncs:
                # Small, fsync-free commit while the connection's thread is idle: do it right
                # here (~0.05 ms) instead of paying two thread switches for it.
                write_batch(db._conn, inserts, updates, events, deletes)
            else:
                await db._execute(  # type: ignore[no-untyped-call]
                    write_batch, db._conn, inserts, updates, events, deletes
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
                written[t.id] = state_at_insert(row)
        for task_id, new in states:
            if new[STATUS_POS] in TERMINAL_VALUES:
                written.pop(task_id, None)
            else:
                written[task_id] = new
        for task_id in batch.deletes:
            written.pop(task_id, None)
        wal.committed()

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
        tasks, bad = decode_rows(rows)
        if bad:
            await self._quarantine(bad)
        return tasks

    async def _quarantine(self, bad: list[tuple[Any, str]]) -> None:
        db = self.db
        self._reads += 1  # on the connection's thread: no inline commit meanwhile
        try:
            moved = await db._execute(  # type: ignore[no-untyped-call]
                quarantine_rows, db._conn, COLUMNS, bad, time.time()
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
        row = await self._fetchone(f"{SELECT} WHERE id = ?", (task_id,))
        tasks = await self._tasks([row]) if row else []
        return tasks[0] if tasks else None

    async def list_tasks(self, flt: TaskFilter | None = None) -> list[Task]:
        flt = flt or TaskFilter()
        where, args = where_clause(flt)
        order = (
            f" ORDER BY {ORDERS[flt.order]}"
            if flt.order is not None
            else " ORDER BY created_at DESC, seq DESC"
            if flt.newest_first
            else (" ORDER BY created_at, seq")
        )
        limit = ""
        if flt.limit is not None:
            limit = " LIMIT ? OFFSET ?"
            args += [flt.limit, flt.offset]
        with cyclic_gc_paused():
            rows = await self._fetchall(SELECT + where + order + limit, args)
            return await self._tasks(rows)

    async def count_tasks(self, flt: TaskFilter | None = None) -> int:
        flt = flt or TaskFilter()
        where, args = where_clause(flt)
        row = await self._fetchone("SELECT count(*) FROM tasks" + where, args)
        return int(row[0]) if row else 0

    async def load_unfinished(self) -> list[Task]:
        # `completed_at IS NULL` is the partial index tasks_open's WHERE, so SQLite uses it.
        q = (
            f"{SELECT} WHERE completed_at IS NULL "
            "AND status NOT IN ('completed', 'failed', 'cancelled', 'timeout') ORDER BY seq"
        )
        rows = await self._fetchall(q)
        return await self._tasks(rows)

    async def update_definition(self, task: Task) -> None:
        """Write the fields a person may edit of `task` (`DEFINITION_COLUMNS`); its state
        goes through `apply` as ever."""
        await self._fetchall(UPDATE_DEFINITION, (*definition_of(row_values(task)), task.id))

    async def max_seq(self) -> int:
        row = await self._fetchone("SELECT coalesce(max(seq), 0) FROM tasks")
        return int(row[0]) if row else 0

    async def finished_before(
        self,
        cutoff: float,
        queue: str | None = None,
        statuses: Collection[TaskStatus] | None = None,
    ) -> list[str]:
        values = TERMINAL_VALUES if statuses is None else tuple(s.value for s in statuses)
        q = (
            f"SELECT id FROM tasks WHERE completed_at < ? AND dead_letter = 0 AND status IN "
            f"({', '.join('?' * len(values))})"
        )
        args: tuple[Any, ...] = (cutoff, *values)
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
        """Which of `ids` the store holds (committed). A few (one `add_task`) are looked up
        on the loop's thread by the reader connection (microseconds, where a hop to the
        connection's thread costs far more); without that wait, the new task's insert joins
        the transaction of what the engine registers in the same turn of the loop."""
        reader = self._reader
        if reader is not None and 0 < len(ids) <= INLINE_ROWS:
            q = f"SELECT id FROM tasks WHERE id IN ({', '.join('?' * len(ids))})"
            with contextlib.suppress(sqlite3.OperationalError):  # busy: on the thread instead
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
        """See `statistics.read_transitions`."""
        return await read_transitions(self._fetchall, task_id)

    async def restore_transitions(self) -> int:
        """See `statistics.restore_transitions`."""
        return await restore_transitions(self._fetchall)

    async def stats(self, now: float) -> dict[str, Any]:
        """See `statistics.read_stats`."""
        return await read_stats(self._fetchall, now)

    async def history(
        self, since: float, bucket_s: float, *, until: float | None = None
    ) -> dict[str, Any]:
        """See `statistics.read_history`."""
        return await read_history(self._fetchall, since, bucket_s, until=until)
