"""duckdb's errors read as the data codes: a CSV error's line (and the column, found by reading
the line again when duckdb does not name it), a JSON error's record and byte, a Parquet file cut
short, a query that does not bind."""

from __future__ import annotations

import codecs
import csv
import json
import logging
import re
from collections.abc import Sequence

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.families.data.sources import DataFile

logger = logging.getLogger(__name__)

__all__ = [
    "data_error",
    "locate_decode_error",
    "locate_field_count",
    "locate_ndjson_error",
    "sqlite_error",
]

_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")
_CONVERT = re.compile(r'converting column "([^"]+)"')
_COUNT = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")
_JSON = re.compile(
    r'Malformed JSON in file "([^"]+)", at byte (\d+) in (?:line|record/value) (\d+)'
)
_SNIFF = re.compile(r'Error when sniffing file "([^"]+)"')
_FILE = re.compile(r"^\s*file = (.+)$", re.M)
_CHUNK = 1 << 20


def sqlite_error(exc: Exception, path: str) -> QueueError:
    """The code of a `sqlite3` error on the database `path`."""
    text = str(exc)
    lowered = text.lower()
    code: TaskErrorCode | str
    if "not a database" in lowered:
        code, hint = TaskErrorCode.DATA_FORMAT_INVALID, "not a SQLite database"
    elif "locked" in lowered or "busy" in lowered:
        code, hint = "DATA_DATABASE_LOCKED", "another program holds it"
    elif "full" in lowered:
        code, hint = TaskErrorCode.SYSTEM_DISK_SPACE, "no space left"
    elif "unable to open" in lowered or "readonly" in lowered:
        code, hint = TaskErrorCode.SYSTEM_PERMISSION_DENIED, "cannot be opened for writing"
    else:
        code, hint = TaskErrorCode.DATA_FILE_CORRUPTED, "damaged"
    return QueueError(code, f"{path}: {hint} ({text})", path=path)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def locate_decode_error(path: str, encoding: str) -> tuple[int, int] | None:
    """(line, column), both from 1, of the first byte of `path` that `encoding` cannot decode,
    read in chunks; None if it all decodes."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line, column = 1, 1
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                good = decoder.decode(chunk[: exc.start]) if exc.start else ""
                line += good.count("\n")
                last = good.rfind("\n")
                return line, (column + len(good) if last < 0 else len(good) - last)
            newlines = text.count("\n")
            if newlines:
                line += newlines
                column = len(text) - text.rfind("\n")
            else:
                column += len(text)
    return None


def locate_field_count(source: DataFile) -> tuple[int, int, int] | None:
    """(line, fields expected, fields found) of the first CSV row whose field count differs
    from the first row's; None if all agree."""
    try:
        with open(source.path, encoding=source.encoding, newline="") as f:
            rows = csv.reader(f, delimiter=source.delimiter[0])
            expected = None
            for row in rows:
                if expected is None:
                    expected = len(row)
                elif row and len(row) != expected:
                    return rows.line_num, expected, len(row)
    except (UnicodeDecodeError, csv.Error):
        return None
    return None


def locate_ndjson_error(path: str) -> tuple[int, int, str] | None:
    """(line, column, what) of the first line of an NDJSON file that is not JSON; None if all
    parse (duckdb's own line number is one past it)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as exc:
                return number, exc.colno, exc.msg
    return None


def _source_of(text: str, sources: Sequence[DataFile]) -> DataFile | None:
    named = _FILE.search(text)
    for source in sources:
        if named and named.group(1).strip() in (source.path, source.path.rsplit("/", 1)[-1]):
            return source
        if source.path in text:
            return source
    csvs = [s for s in sources if s.format == "csv"]
    return csvs[0] if len(csvs) == 1 else None


def data_error(exc: Exception, sources: Sequence[DataFile]) -> QueueError:
    """The QueueError that duckdb's `exc` means, reading `sources` again where it must to name
    the line and column."""
    text = str(exc)
    kind = type(exc).__name__
    source = _source_of(text, sources)
    where = source.path if source else None
    if m := _CSV_LINE.search(text):
        line = int(m.group(1))
        if "Invalid unicode" in text or "not utf-8 encoded" in text:
            at = locate_decode_error(source.path, source.encoding) if source else None
            line, column = at if at else (line, None)
            return QueueError(
                TaskErrorCode.DATA_ENCODING_ERROR,
                f"{where}: line {line}"
                + (f", column {column}" if column else "")
                + f": not valid {source.encoding if source else 'text'}; set the encoding the "
                "file really uses (utf-8, latin-1 or utf-16)",
                path=where,
                line=line,
                column=column,
            )
        if c := _CONVERT.search(text):
            column_name: str | int = c.group(1)
            detail = _first_line(text.split("\n", 3)[2] if text.count("\n") >= 2 else text)
        elif c := _COUNT.search(text):
            column_name = int(c.group(1)) + 1
            detail = f"expected {c.group(1)} fields, found {c.group(2)}"
        else:
            column_name, detail = "?", _first_line(text)
        return QueueError(
            TaskErrorCode.DATA_PARSING_FAILED,
            f"{where}: line {line}, column {column_name}: {detail}",
            path=where,
            line=line,
            column=column_name,
        )
    if m := _JSON.search(text):
        ndjson = next((s for s in sources if s.path == m.group(1) and s.format == "ndjson"), None)
        bad = locate_ndjson_error(ndjson.path) if ndjson is not None else None
        if ndjson is not None and bad is not None:
            return QueueError(
                TaskErrorCode.DATA_PARSING_FAILED,
                f"{ndjson.path}: line {bad[0]}, column {bad[1]}: malformed JSON ({bad[2]})",
                path=ndjson.path,
                line=bad[0],
                column=bad[1],
            )
        return QueueError(
            TaskErrorCode.DATA_PARSING_FAILED,
            f"{m.group(1)}: line {m.group(3)}, column {m.group(2)}: malformed JSON",
            path=m.group(1),
            line=int(m.group(3)),
            column=int(m.group(2)),
        )
    if (m := _SNIFF.search(text)) and source is not None:
        if source.encoding and (at := locate_decode_error(source.path, source.encoding)):
            return QueueError(
                TaskErrorCode.DATA_ENCODING_ERROR,
                f"{where}: line {at[0]}, column {at[1]}: not valid {source.encoding}",
                path=where,
                line=at[0],
                column=at[1],
            )
        if found := locate_field_count(source):
            line, expected, got = found
            return QueueError(
                TaskErrorCode.DATA_PARSING_FAILED,
                f"{where}: line {line}, column {expected + 1}: expected {expected} fields, "
                f"found {got}",
                path=where,
                line=line,
                column=expected + 1,
            )
        return QueueError(
            TaskErrorCode.DATA_FORMAT_INVALID,
            f"{where}: not readable as CSV with delimiter {source.delimiter!r}",
            path=where,
        )
    if "magic bytes" in text or ("Parquet" in text and "corrupt" in text.lower()):
        return QueueError(TaskErrorCode.DATA_FILE_CORRUPTED, _first_line(text), path=where)
    if "No files found" in text or "No such file" in text:
        return QueueError(TaskErrorCode.DATA_FILE_NOT_FOUND, _first_line(text), path=where)
    if "Permission denied" in text:
        return QueueError(TaskErrorCode.SYSTEM_PERMISSION_DENIED, _first_line(text), path=where)
    if "No space left" in text:
        return QueueError(TaskErrorCode.SYSTEM_DISK_SPACE, _first_line(text), path=where)
    if "Out of Memory" in text:
        return QueueError(
            TaskErrorCode.DATA_SIZE_TOO_LARGE,
            f"{_first_line(text)}: raise the data_memory_limit_mb setting",
        )
    if kind in ("ParserException", "BinderException", "CatalogException"):
        return QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS, f"the query: {_first_line(text)}", query=True
        )
    if kind == "ConversionException":
        return QueueError(TaskErrorCode.DATA_PARSING_FAILED, _first_line(text), path=where)
    return QueueError(TaskErrorCode.DATA_FORMAT_INVALID, _first_line(text), path=where)
