"""The data family's executors: DATA_IMPORT, DATA_EXPORT, DATA_PROCESS and DATA_ANALYZE.

Each checks its inputs first (missing, wrong format, a Parquet file cut short, over the size
limit), then runs duckdb in a worker thread (`duck.DuckJob`): progress is the share of the inputs'
bytes read, cancel interrupts the query, and an output appears only when it is complete.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sqlite3
import threading
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.executors.base import Executor, RunContext
from qtqueue.families.data.backup import backup_database, backup_source, default_backup_path
from qtqueue.families.data.failures import sqlite_error
from qtqueue.families.data.params import (
    AnalyzeParams,
    CsvOptions,
    ExportParams,
    ImportParams,
    ProcessParams,
)
from qtqueue.families.data.profile import profile_line
from qtqueue.families.data.sources import DataFile, detect_format, qident, sqlite_table_exists
from qtqueue.families.data.spec import spec_sql

if TYPE_CHECKING:
    from qtqueue.families.data.duck import DuckJob

logger = logging.getLogger(__name__)


def duck() -> ModuleType:
    """The duckdb side (`duck.py`), imported when a task first runs: registering the family
    (every window and CLI start) does not load duckdb."""
    from qtqueue.families.data import duck as module

    return module


#: What an export or process does when its SQLite output's table exists.
_OVERWRITE_FIX = "set overwrite to replace that table, or name another table (output_table)"

__all__ = ["AnalyzeExecutor", "ExportExecutor", "ImportExecutor", "ProcessExecutor"]


def _source(p: CsvOptions, spec: str, fmt: str | None, table: str | None) -> DataFile:
    return DataFile.of(
        spec, fmt, table, delimiter=p.delimiter, header=p.header, encoding=p.encoding
    )


def _check_output(output: str, overwrite: bool, inputs: list[DataFile]) -> str:
    path = os.path.abspath(os.path.expanduser(output))
    if not Path(path).parent.is_dir():
        raise QueueError(
            TaskErrorCode.DATA_FILE_NOT_FOUND,
            f"{path}: its folder does not exist",
            path=path,
        )
    if any(s.path == path for s in inputs):
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS, f"{path}: the output is also an input"
        )
    if os.path.exists(path) and not overwrite:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            f"{path} exists: set overwrite to replace it",
            path=path,
        )
    return path


def _check_sqlite_output(out: DataFile, overwrite: bool) -> None:
    """Without overwrite, a SQLite output's table must not exist yet (the database may: the
    table is added to it); checked before any input is read, and again when it is written."""
    if overwrite or not os.path.exists(out.path) or out.table is None:
        return
    try:
        exists = sqlite_table_exists(out.path, out.table)
    except sqlite3.Error as exc:
        raise sqlite_error(exc, out.path) from None
    if exists:
        raise duck().table_exists(out.path, out.table, _OVERWRITE_FIX)


async def _write(
    job: DuckJob, ctx: RunContext[Any], query: str, out: DataFile, opts: CsvOptions, overwrite: bool
) -> int:
    """The rows of `query` written to `out` (a file, or a SQLite table): how many. A SQLite
    table is replaced only with `overwrite`; other tables of its database are never touched."""
    if out.format == "sqlite":
        table = out.table or "result"
        mode = "replace" if overwrite else "create"
        return await job.run(
            lambda: job.write_sqlite(query, out.path, table, mode, _OVERWRITE_FIX),
            f"writing {table}",
        )
    return await job.run(
        lambda: job.write_file(query, out.path, out.format, opts.delimiter, opts.header),
        f"writing {Path(out.path).name}",
    )


def _size(path: str) -> int:
    return os.path.getsize(path) if os.path.exists(path) else 0


class ImportExecutor(Executor[ImportParams]):
    """DATA_IMPORT: a file into a SQLite table (create, append or replace), in one transaction."""

    task_type = TaskType.DATA_IMPORT
    summary = "Import a CSV, JSON, NDJSON, Parquet file or SQLite table into a SQLite table"

    async def run(self, ctx: RunContext[ImportParams]) -> dict[str, Any]:
        p = ctx.params
        ctx.phase(TaskStatus.VALIDATING)
        src = _source(p, p.source, p.source_format, p.source_table or p.table)
        database = os.path.abspath(os.path.expanduser(p.database))
        _check_output(database, True, [src])
        job = duck().DuckJob(ctx, [src], p.max_input_mb)
        try:
            ctx.phase(TaskStatus.RUNNING)
            ctx.log(f"importing {src.path} ({src.format}) into {database} table {p.table}")
            await job.run(lambda: job.attach("src", src), "reading")
            rows = await job.run(
                lambda: job.write_sqlite(
                    "SELECT * FROM src", database, p.table, p.mode, "use mode append or replace"
                ),
                f"importing into {p.table}",
            )
        finally:
            job.close()
        ctx.log(f"{rows} rows written to {p.table}")
        ctx.progress(100, f"{rows} rows imported")
        return {"database": database, "table": p.table, "mode": p.mode, "rows": rows}


class ExportExecutor(Executor[ExportParams]):
    """DATA_EXPORT: any supported format into any other."""

    task_type = TaskType.DATA_EXPORT
    summary = "Convert data between CSV, JSON, NDJSON, Parquet and SQLite tables"

    async def run(self, ctx: RunContext[ExportParams]) -> dict[str, Any]:
        p = ctx.params
        ctx.phase(TaskStatus.VALIDATING)
        src = _source(p, p.source, p.source_format, p.source_table)
        fmt = detect_format(p.output, p.output_format)
        path = _check_output(p.output, p.overwrite or fmt == "sqlite", [src])
        table = p.output_table or Path(src.path).stem.replace("-", "_").replace(".", "_")
        out = DataFile(path, fmt, table)
        if fmt == "sqlite":
            _check_sqlite_output(out, p.overwrite)
        job = duck().DuckJob(ctx, [src], p.max_input_mb)
        try:
            ctx.phase(TaskStatus.RUNNING)
            ctx.log(f"exporting {src.path} ({src.format}) to {path} ({fmt})")
            await job.run(lambda: job.attach("src", src), "reading")
            rows = await _write(job, ctx, "SELECT * FROM src", out, p, p.overwrite)
        finally:
            job.close()
        ctx.log(f"{rows} rows written to {path}")
        ctx.progress(100, f"{rows} rows exported")
        return {"output": path, "format": fmt, "rows": rows, "bytes": _size(path)}


class ProcessExecutor(Executor[ProcessParams]):
    """DATA_PROCESS: one SQL query or a declarative spec over named inputs; or a backup of a
    database (qtqueue's own by default) to JSON."""

    task_type = TaskType.DATA_PROCESS
    title = "Data processing"
    summary = "Query, filter, join and aggregate files with SQL or a spec; or back up a database"

    async def run(self, ctx: RunContext[ProcessParams]) -> dict[str, Any]:
        p = ctx.params
        ctx.phase(TaskStatus.VALIDATING)
        if p.operation == "backup":
            return await self._backup(ctx)
        sources = {name: _source(p, spec, None, name) for name, spec in p.inputs.items()}
        out: DataFile | None = None
        if p.output is not None:
            fmt = detect_format(p.output, p.format)
            path = _check_output(p.output, p.overwrite or fmt == "sqlite", list(sources.values()))
            out = DataFile(path, fmt, p.output_table or "result")
            if fmt == "sqlite":
                _check_sqlite_output(out, p.overwrite)
        query = spec_sql(p.spec, next(iter(p.inputs))) if p.spec is not None else p.sql or ""
        job = duck().DuckJob(ctx, list(sources.values()), p.max_input_mb)
        try:
            query = job.check_query(query)
            ctx.phase(TaskStatus.RUNNING)
            for name, src in sources.items():
                ctx.log(f"input {name}: {src.path} ({src.format})")
                await job.run(functools.partial(job.attach, name, src), f"reading {name}")
            if out is not None:
                rows = await _write(job, ctx, query, out, p, p.overwrite)
                ctx.log(f"{rows} rows written to {out.path}")
                ctx.progress(100, f"{rows} rows written")
                return {
                    "output": out.path,
                    "format": out.format,
                    "rows": rows,
                    "bytes": _size(out.path),
                }
            limit = job.settings.data_preview_rows

            def fetch() -> tuple[list[str], list[list[Any]], int]:
                job.con.execute(f"CREATE TEMP TABLE _result AS {query}")
                cur = job.con.execute("SELECT * FROM _result")
                names = [d[0] for d in cur.description or ()]
                first = [list(r) for r in cur.fetchmany(limit)]
                total = job.con.execute("SELECT count(*) FROM _result").fetchone()
                return names, first, int(total[0]) if total else len(first)

            columns, preview, total = await job.run(fetch, "query")
        finally:
            job.close()
        ctx.progress(100, f"{total} rows")
        return {
            "columns": columns,
            "rows": _jsonable(preview),
            "row_count": total,
            "truncated": total > len(preview),
        }

    async def _backup(self, ctx: RunContext[ProcessParams]) -> dict[str, Any]:
        p = ctx.params
        fmt = p.format or "json"
        src = backup_source(p.data_source, ctx.data_dir)
        src.size()
        output = p.output or default_backup_path(src, ctx.data_dir, fmt)
        path = _check_output(output, p.overwrite, [src])
        stop = threading.Event()
        loop = asyncio.get_running_loop()
        ctx.phase(TaskStatus.RUNNING)
        ctx.log(f"backing up {src.path} to {path} ({fmt})")

        def report(pct: float, step: str) -> None:
            loop.call_soon_threadsafe(ctx.progress, pct, step)

        work = asyncio.ensure_future(
            asyncio.to_thread(backup_database, src, path, fmt, report, stop)
        )
        try:
            counts = await asyncio.shield(work)
        except asyncio.CancelledError:
            stop.set()
            await asyncio.wait({work}, timeout=10)
            if work.done() and not work.cancelled():
                work.exception()  # InterruptedError: the cancel itself
            raise
        for table, n in counts.items():
            ctx.log(f"table {table}: {n} rows")
        ctx.progress(100, f"{len(counts)} tables backed up")
        return {
            "data_source": p.data_source,
            "database": src.path,
            "output": path,
            "format": fmt,
            "tables": counts,
            "bytes": _size(path),
        }


def _jsonable(rows: list[list[Any]]) -> list[list[Any]]:
    return [
        [v if v is None or isinstance(v, (bool, int, float, str)) else str(v) for v in r]
        for r in rows
    ]


class AnalyzeExecutor(Executor[AnalyzeParams]):
    """DATA_ANALYZE: a profile of every column, as the result and as a table in the detail pane."""

    task_type = TaskType.DATA_ANALYZE
    title = "Data analysis"
    summary = "Profile a file or table: rows, types, nulls, min/max/mean, quantiles, top values"

    async def run(self, ctx: RunContext[AnalyzeParams]) -> dict[str, Any]:
        p = ctx.params
        ctx.phase(TaskStatus.VALIDATING)
        src = _source(p, p.source, p.source_format, p.source_table)
        job = duck().DuckJob(ctx, [src], p.max_input_mb)
        try:
            ctx.phase(TaskStatus.RUNNING)
            await job.run(lambda: job.attach("src", src), "reading")
            summary = await job.run(
                lambda: job.con.execute("SUMMARIZE SELECT * FROM src").fetchall(),
                "profiling",
                (5, 60),
            )
            columns: list[dict[str, Any]] = []
            rows = 0
            for i, s in enumerate(summary):
                name, ctype, lo, hi, distinct, mean, _std, q25, q50, q75, count, nullpct = s[:12]
                rows = int(count)
                top: list[list[Any]] = []
                if p.top_values:  # the grouping that finds them also counts distinct exactly
                    top, distinct = await job.run(
                        functools.partial(_top_values, job, name, p.top_values),
                        f"top values of {name}",
                        (60 + 35 * i / len(summary), 60 + 35 * (i + 1) / len(summary)),
                    )
                entry = {
                    "column": name,
                    "type": ctype,
                    "nulls": round(float(nullpct or 0) * rows / 100),
                    "distinct": distinct,
                    "min": lo,
                    "max": hi,
                    "mean": _number(mean),
                    "q25": q25,
                    "median": q50,
                    "q75": q75,
                    "top": top,
                }
                columns.append(entry)
                ctx.log(profile_line(entry))
        finally:
            job.close()
        ctx.progress(100, f"{rows} rows, {len(columns)} columns")
        return {"source": src.path, "format": src.format, "rows": rows, "columns": columns}


def _top_values(job: DuckJob, column: str, limit: int) -> tuple[list[list[Any]], int]:
    """([value as text, count] of the `limit` most frequent values of `column` of `src`, the
    exact number of distinct values, NULL not counted)."""
    col = qident(column)
    found = job.con.execute(
        f"SELECT {col}, count(*) AS n, count(*) OVER () - max(({col} IS NULL)::INT) OVER () "
        f"FROM src GROUP BY 1 ORDER BY n DESC, 1 LIMIT {int(limit)}"
    ).fetchall()
    distinct = int(found[0][2]) if found else 0
    return [[None if v is None else str(v), int(n)] for v, n, _ in found], distinct


def _number(value: Any) -> Any:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return value
