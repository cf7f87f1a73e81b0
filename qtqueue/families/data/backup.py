"""DATA_PROCESS with operation "backup" (the universal queue document's generic example:
`data_source` "database", `format` "json"): every table of a SQLite database — qtqueue's own by
default — written to one JSON (or NDJSON, or SQLite) file, read in one read transaction so the
copy is consistent while the engine goes on writing, streamed row by row, renamed into place
when complete."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from qtqueue.families.data.failures import sqlite_error
from qtqueue.families.data.sources import DataFile, qident, sqlite_read_only, sqlite_tables

logger = logging.getLogger(__name__)

__all__ = ["ENGINE_DB", "backup_database", "backup_source", "default_backup_path"]

#: The engine's store in its data directory (qtqueue.engine.lock.DB_NAME; a family may not
#: import the engine).
ENGINE_DB = "queue.db"
Report = Callable[[float, str], None]


def backup_source(data_source: str, data_dir: str) -> DataFile:
    """The database a backup reads: "database" is qtqueue's own."""
    path = os.path.join(data_dir, ENGINE_DB) if data_source == "database" else data_source
    return DataFile.of(path, "sqlite")


def default_backup_path(source: DataFile, data_dir: str, fmt: str) -> str:
    """<data dir>/backups/<database>-<UTC time>.<format>"""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    ext = {"sqlite": "db"}.get(fmt, fmt)
    folder = Path(data_dir) / "backups"
    folder.mkdir(mode=0o700, exist_ok=True)
    return str(folder / f"{Path(source.path).stem}-{stamp}.{ext}")


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$base64": base64.b64encode(value).decode("ascii")}
    return value


def _dump_rows(
    con: sqlite3.Connection, table: str, out: TextIO, fmt: str, stop: threading.Event
) -> int:
    cur = con.execute(f"SELECT * FROM {qident(table)}")
    names = [d[0] for d in cur.description]
    count = 0
    while rows := cur.fetchmany(5000):
        if stop.is_set():
            raise InterruptedError
        for row in rows:
            obj = {n: _json_value(v) for n, v in zip(names, row, strict=True)}
            if fmt == "ndjson":
                out.write(json.dumps({"table": table, "row": obj}, ensure_ascii=False) + "\n")
            else:
                out.write(("," if count else "") + "\n    " + json.dumps(obj, ensure_ascii=False))
            count += 1
    return count


def backup_database(
    source: DataFile, output: str, fmt: str, report: Report, stop: threading.Event
) -> dict[str, int]:
    """Write every table of `source` to `output` as `fmt` (json, ndjson or sqlite); returns
    the rows per table. Runs in a worker thread; `stop` set: InterruptedError, no output."""
    out = Path(output)
    part = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.part")
    counts: dict[str, int] = {}
    try:
        con = sqlite_read_only(source.path)
        try:
            if fmt == "sqlite":
                dest = sqlite3.connect(part)

                def pages(_status: int, remaining: int, total: int) -> None:
                    if stop.is_set():
                        raise InterruptedError
                    report(100 * (total - remaining) / max(total, 1), f"{total} pages")

                try:
                    con.backup(dest, pages=256, progress=pages)
                    for table in sqlite_tables(str(part)):
                        found = dest.execute(f"SELECT count(*) FROM {qident(table)}").fetchone()
                        counts[table] = int(found[0])
                finally:
                    dest.close()
            else:
                con.execute("BEGIN")  # one snapshot for every table
                tables = sqlite_tables(source.path)
                with part.open("w", encoding="utf-8") as f:
                    if fmt == "json":
                        f.write(json.dumps({"database": source.path})[:-1] + ', "tables": {')
                    for i, table in enumerate(tables):
                        report(100 * i / max(len(tables), 1), f"table {table}")
                        if fmt == "json":
                            f.write(("," if i else "") + f"\n  {json.dumps(table)}: [")
                        counts[table] = _dump_rows(con, table, f, fmt, stop)
                        if fmt == "json":
                            f.write("\n  ]")
                    if fmt == "json":
                        f.write("\n}}\n")
        except sqlite3.Error as exc:
            raise sqlite_error(exc, source.path) from None
        finally:
            con.close()
        os.replace(part, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    return counts
