"""Where data is: a file of a known format (or a SQLite table), checked before anything is read,
and how duckdb reads or writes it.

Plain Python: no duckdb import here, so the checks and the SQL text are cheap to test.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from qtqueue.core.errors import QueueError, TaskErrorCode

logger = logging.getLogger(__name__)

__all__ = [
    "DataFile",
    "copy_options",
    "detect_format",
    "lit",
    "qident",
    "sqlite_read_only",
    "sqlite_table_exists",
    "sqlite_tables",
]

_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".db": "sqlite",
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
}
_SQLITE_MAGIC = b"SQLite format 3\x00"
_PARQUET_MAGIC = b"PAR1"


def lit(text: str) -> str:
    """`text` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def qident(name: str) -> str:
    """`name` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def detect_format(path: str, given: str | None) -> str:
    """The format `given`, or the one `path`'s extension names; DATA_FORMAT_INVALID if none."""
    if given and given != "auto":
        return given
    found = _EXTENSIONS.get(Path(path).suffix.lower())
    if found is None:
        raise QueueError(
            TaskErrorCode.DATA_FORMAT_INVALID,
            f"{path}: cannot tell the format from the extension; set the format "
            f"(csv, json, ndjson, parquet or sqlite)",
            path=path,
        )
    return found


@dataclass(frozen=True, slots=True)
class DataFile:
    """One input: a file, its format, and for SQLite the table read; CSV reading options."""

    path: str
    format: str
    table: str | None = None
    delimiter: str = ","
    header: bool = True
    encoding: str = "utf-8"

    @classmethod
    def of(
        cls,
        spec: str,
        given_format: str | None = None,
        table: str | None = None,
        *,
        delimiter: str = ",",
        header: bool = True,
        encoding: str = "utf-8",
    ) -> DataFile:
        """An input from `spec` ("file" or "file.db#table"), its format given or detected."""
        path, _, named = spec.partition("#") if "#" in spec else (spec, "", "")
        fmt = detect_format(path, given_format)
        return cls(
            os.path.abspath(os.path.expanduser(path)),
            fmt,
            named or table,
            delimiter,
            header,
            encoding,
        )

    def size(self) -> int:
        """Its size in bytes, checked: DATA_FILE_NOT_FOUND, DATA_FORMAT_INVALID (a directory,
        not what its format says) or DATA_FILE_CORRUPTED (a Parquet file cut short)."""
        path = Path(self.path)
        if not path.exists():
            raise QueueError(
                TaskErrorCode.DATA_FILE_NOT_FOUND, f"{self.path}: no such file", path=self.path
            )
        if not path.is_file():
            raise QueueError(
                TaskErrorCode.DATA_FORMAT_INVALID, f"{self.path}: not a file", path=self.path
            )
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(16)
            f.seek(max(0, size - 4))
            tail = f.read(4)
        if self.format == "parquet":
            if head[:4] != _PARQUET_MAGIC:
                raise QueueError(
                    TaskErrorCode.DATA_FORMAT_INVALID,
                    f"{self.path}: not a Parquet file (it does not start with PAR1)",
                    path=self.path,
                )
            if tail != _PARQUET_MAGIC or size < 12:
                raise QueueError(
                    TaskErrorCode.DATA_FILE_CORRUPTED,
                    f"{self.path}: the Parquet file is cut short (no footer: {size} bytes)",
                    path=self.path,
                    size=size,
                )
        if self.format == "sqlite" and head != _SQLITE_MAGIC:
            raise QueueError(
                TaskErrorCode.DATA_FORMAT_INVALID,
                f"{self.path}: not a SQLite database",
                path=self.path,
            )
        return size

    def reader(self) -> str:
        """The duckdb table function that reads it (not for SQLite: see `sqlite_load`)."""
        p = lit(self.path)
        if self.format == "csv":
            return (
                f"read_csv({p}, delim={lit(self.delimiter)}, header={str(self.header).lower()}, "
                f"encoding={lit(self.encoding)})"
            )
        if self.format == "json":
            return f"read_json({p}, format='auto')"
        if self.format == "ndjson":
            return f"read_json({p}, format='newline_delimited')"
        if self.format == "parquet":
            return f"read_parquet({p})"
        raise ValueError(f"no duckdb reader for {self.format}")


def copy_options(fmt: str, delimiter: str = ",", header: bool = True) -> str:
    """The options of duckdb's COPY … TO for `fmt` (csv, json, ndjson, parquet)."""
    if fmt == "csv":
        return f"FORMAT csv, DELIMITER {lit(delimiter)}, HEADER {str(header).lower()}"
    if fmt == "json":
        return "FORMAT json, ARRAY true"
    if fmt == "ndjson":
        return "FORMAT json"
    if fmt == "parquet":
        return "FORMAT parquet"
    raise ValueError(f"no COPY format for {fmt}")


def sqlite_read_only(path: str) -> sqlite3.Connection:
    """A read-only connection to the SQLite database `path`. Its URI is percent-encoded, so a
    name holding '?', '%' or '#' names that file (not a shorter one, created empty)."""
    return sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True)


def sqlite_table_exists(path: str, table: str) -> bool:
    """Whether the SQLite database `path` holds the table `table` (read only)."""
    con = sqlite_read_only(path)
    try:
        found = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
        ).fetchone()
    finally:
        con.close()
    return found is not None


def sqlite_tables(path: str) -> list[str]:
    """The user tables of a SQLite database, read only."""
    con = sqlite_read_only(path)
    try:
        rows = con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]
