"""One task's duckdb: a connection held to the family's memory limit and threads, its work run in
a worker thread while the event loop reports duckdb's progress (bytes read of the inputs) and,
on cancel, interrupts it; outputs written to a temporary name beside the output and renamed
when complete, so a failed or cancelled task leaves nothing behind.

SQLite tables are read and written with Python's `sqlite3` in batches: duckdb's sqlite extension
is downloaded at run time, which fails offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import decimal
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.executors.base import RunContext
from qtqueue.families.data.failures import data_error, sqlite_error
from qtqueue.families.data.settings import DataSettings
from qtqueue.families.data.sources import (
    DataFile,
    copy_options,
    lit,
    qident,
    sqlite_read_only,
    sqlite_tables,
)

logger = logging.getLogger(__name__)

__all__ = ["DuckJob", "Stopped", "table_exists"]

T = TypeVar("T")
_BATCH = 20_000
_POLL_S = 0.1


#: One lock per database file (by its real path), held by every write of this process into it
#: from before it looks whether the file exists until its cleanup, so that a task which created
#: the file and then fails cannot remove it after another task committed a table there.
_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(database: str) -> threading.Lock:
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(os.path.realpath(database), threading.Lock())


def _remove_if_empty(database: str) -> None:
    """Remove a database this task created, unless something else wrote a table there (another
    program, which qtqueue's lock does not hold back)."""
    try:
        if sqlite_tables(database):
            return
    except sqlite3.Error:
        return
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(database + suffix)


class Stopped(Exception):
    """The task was cancelled while a batch loop ran in the worker thread."""


def _duck_type(declared: str) -> str:
    d = declared.upper()
    if "INT" in d:
        return "BIGINT"
    if any(w in d for w in ("REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL")):
        return "DOUBLE"
    if "BLOB" in d:
        return "BLOB"
    return "VARCHAR"


def _sqlite_type(duck: str) -> str:
    d = duck.upper()
    if d in (
        "BOOLEAN",
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "HUGEINT",
    ):
        return "INTEGER"
    if d in ("FLOAT", "DOUBLE", "REAL") or d.startswith("DECIMAL"):
        return "REAL"
    if d == "BLOB":
        return "BLOB"
    return "TEXT"


def _plain(value: Any) -> Any:
    """A value sqlite3 stores as is."""
    if value is None or isinstance(value, (int, float, str, bytes)):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.time, dt.datetime)):
        return value.isoformat()
    return json.dumps(value, default=str)


def _text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else str(value)


def table_exists(database: str, table: str, fix: str = "") -> QueueError:
    """VALIDATION_INVALID_PARAMS: `table` exists in `database`, and what to do about it."""
    fix = fix or "set overwrite to replace that table, or name another table"
    return QueueError(
        TaskErrorCode.VALIDATION_INVALID_PARAMS,
        f"{database}: table {table!r} exists: {fix}",
        path=database,
        table=table,
    )


class DuckJob:
    """One task's duckdb connection, its inputs' total size and its cancel switch."""

    def __init__(self, ctx: RunContext[Any], sources: Sequence[DataFile], max_mb: float | None):
        self.ctx = ctx
        self.sources = list(sources)
        self.settings = ctx.family_settings(DataSettings)
        limit = max_mb if max_mb is not None else self.settings.data_max_input_mb
        self.total_bytes = sum(s.size() for s in self.sources)
        if limit and self.total_bytes > limit * 1_000_000:
            raise QueueError(
                TaskErrorCode.DATA_SIZE_TOO_LARGE,
                f"the input is {self.total_bytes / 1e6:.1f} MB, over the limit of {limit:g} MB "
                "(max_input_mb, or the data_max_input_mb setting)",
                size_bytes=self.total_bytes,
                limit_mb=limit,
            )
        self.cancel = threading.Event()
        # Set while the task may run: pause clears it, and the batch loops (SQLite tables read
        # or written) wait on it between batches; a duckdb query itself runs to its end.
        self.running = threading.Event()
        self.running.set()
        ctx.set_suspend_hooks(self.running.clear, self.running.set)
        #: Rows written so far by `write_sqlite` (shown beside the bytes read).
        self.rows = 0
        #: The database `write_sqlite` waits for while another task of this process writes it.
        self.waiting: str | None = None
        self._tmp = tempfile.mkdtemp(prefix="qtqueue-data-")
        self.con = duckdb.connect(
            ":memory:",
            config={
                "memory_limit": f"{self.settings.data_memory_limit_mb}MB",
                "threads": self.settings.data_threads,
                "temp_directory": self._tmp,
                "preserve_insertion_order": False,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            },
        )
        self.con.execute("SET enable_progress_bar = true; SET enable_progress_bar_print = false")

    def close(self) -> None:
        """Close the connection and remove its spill folder."""
        with contextlib.suppress(Exception):
            self.con.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    # ---- running in the worker thread, watched from the loop ----

    async def run(self, fn: Callable[[], T], step: str, span: tuple[float, float] = (5, 95)) -> T:
        """`fn()` in a worker thread; progress from duckdb's query progress meanwhile; cancel
        interrupts it (and waits for the thread to stop); duckdb's errors as data codes."""
        await self.ctx.checkpoint()  # paused between stages: the next one waits
        future = asyncio.ensure_future(asyncio.to_thread(fn))
        lo, hi = span
        total_mb = self.total_bytes / 1e6
        try:
            while True:
                done, _ = await asyncio.wait({future}, timeout=_POLL_S)
                if done:
                    break
                pct = self.con.query_progress()
                if self.waiting is not None:
                    self.ctx.progress(
                        lo, f"{step}: waiting for another task writing {self.waiting}"
                    )
                elif pct >= 0:
                    rows = f", {self.rows:,} rows written" if self.rows else ""
                    self.ctx.progress(
                        lo + (hi - lo) * pct / 100,
                        f"{step}: {total_mb * pct / 100:.1f} of {total_mb:.1f} MB read{rows}",
                    )
            return future.result()
        except asyncio.CancelledError:
            self.cancel.set()
            self.running.set()  # a paused batch loop wakes to stop
            self.con.interrupt()
            await asyncio.wait({future}, timeout=10)
            if future.done() and not future.cancelled():
                future.exception()  # Stopped or duckdb's "Interrupted": the cancel itself
            raise
        except (QueueError, Stopped):
            raise
        except duckdb.Error as exc:
            raise data_error(exc, self.sources) from None

    def _between_batches(self) -> None:
        """Wait here while paused; raise Stopped once cancelled (thread side)."""
        self.running.wait()
        if self.cancel.is_set():
            raise Stopped

    def check_query(self, sql: str) -> str:
        """`sql` if it is one SELECT (a query reads; it never writes a file, attaches a
        database or changes a setting); VALIDATION_INVALID_PARAMS otherwise."""
        try:
            statements = self.con.extract_statements(sql)
        except duckdb.Error as exc:
            raise data_error(exc, self.sources) from None
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            kinds = ", ".join(s.type.name for s in statements) or "nothing"
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS,
                f"sql: give one SELECT query (found: {kinds}); the output is written by the "
                "task, to `output`",
                query=True,
            )
        return sql.strip().rstrip(";")

    # ---- inputs ----

    def attach(self, name: str, source: DataFile) -> None:
        """Make `source` readable as the view or table `name` (thread side)."""
        if source.format == "sqlite":
            self._load_sqlite(name, source)
        else:
            self.con.execute(f"CREATE VIEW {qident(name)} AS SELECT * FROM {source.reader()}")

    def _load_sqlite(self, name: str, source: DataFile) -> None:
        table = source.table or name
        scon = sqlite_read_only(source.path)
        try:
            cols = scon.execute(f"PRAGMA table_info({qident(table)})").fetchall()
            if not cols:
                raise QueueError(
                    TaskErrorCode.DATA_FILE_NOT_FOUND,
                    f"{source.path}: no table {table!r}",
                    path=source.path,
                    table=table,
                )
            types = [_duck_type(c[2] or "") for c in cols]
            defs = ", ".join(f"{qident(c[1])} {t}" for c, t in zip(cols, types, strict=True))
            self.con.execute(f"CREATE TEMP TABLE {qident(name)} ({defs})")
            unnest = ", ".join(f"unnest(${i + 1}::{t}[])" for i, t in enumerate(types))
            insert = f"INSERT INTO {qident(name)} SELECT {unnest}"
            cur = scon.execute(f"SELECT * FROM {qident(table)}")
            while rows := cur.fetchmany(_BATCH):
                self._between_batches()
                columns = [list(c) for c in zip(*rows, strict=True)]
                for i, t in enumerate(types):
                    if t == "VARCHAR":
                        columns[i] = [_text(v) for v in columns[i]]
                self.con.execute(insert, columns)
        except sqlite3.Error as exc:
            raise sqlite_error(exc, source.path) from None
        finally:
            scon.close()

    # ---- outputs ----

    def write_file(self, query: str, output: str, fmt: str, delimiter: str, header: bool) -> int:
        """The rows of `query` into `output` (thread side), whole or not at all: the rows."""
        out = Path(output)
        part = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            row = self.con.execute(
                f"COPY ({query}) TO {lit(str(part))} ({copy_options(fmt, delimiter, header)})"
            ).fetchone()
            os.replace(part, out)
        finally:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
        return int(row[0]) if row else 0

    def write_sqlite(
        self, query: str, database: str, table: str, mode: str, exists_fix: str = ""
    ) -> int:
        """The rows of `query` into `table` of `database` (thread side), in one transaction:
        rolled back on failure or cancel (and a database created for it removed, if no table
        was written there meanwhile). Writes of this process into one database wait for each
        other (the progress says so), which keeps that removal from taking another task's
        committed table with it. `mode` create refuses a table that exists (`exists_fix` says
        what to do instead); replace drops and recreates that table only; append adds to it."""
        cur = self.con.execute(query)
        lock = _write_lock(database)
        while not lock.acquire(timeout=_POLL_S):
            self.waiting = Path(database).name
            self._between_batches()  # cancelled while waiting: Stopped
        self.waiting = None
        try:
            return self._write_sqlite(cur, database, table, mode, exists_fix)
        finally:
            lock.release()

    def _write_sqlite(
        self, cur: duckdb.DuckDBPyConnection, database: str, table: str, mode: str, fix: str
    ) -> int:
        existed = os.path.exists(database)
        names = [d[0] for d in cur.description or ()]
        types = [_sqlite_type(str(d[1])) for d in cur.description or ()]
        written = 0
        try:
            scon = sqlite3.connect(database, isolation_level=None)
        except sqlite3.Error as exc:
            raise sqlite_error(exc, database) from None
        try:
            scon.execute("BEGIN IMMEDIATE")
            exists = scon.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
            ).fetchone()
            if exists and mode == "create":
                raise table_exists(database, table, fix)
            if exists and mode == "replace":
                scon.execute(f"DROP TABLE {qident(table)}")
            if not exists or mode == "replace":
                defs = ", ".join(f"{qident(n)} {t}" for n, t in zip(names, types, strict=True))
                scon.execute(f"CREATE TABLE {qident(table)} ({defs})")
            cols = ", ".join(qident(n) for n in names)
            marks = ", ".join("?" for _ in names)
            insert = f"INSERT INTO {qident(table)} ({cols}) VALUES ({marks})"
            while rows := cur.fetchmany(_BATCH):
                self._between_batches()
                scon.executemany(insert, [tuple(_plain(v) for v in r) for r in rows])
                written += len(rows)
                self.rows = written
            scon.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                if scon.in_transaction:
                    scon.execute("ROLLBACK")
            scon.close()
            if not existed:
                _remove_if_empty(database)
            if isinstance(exc, sqlite3.Error):
                raise sqlite_error(exc, database) from None
            raise
        scon.close()
        return written
