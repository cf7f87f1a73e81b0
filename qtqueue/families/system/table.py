"""The rows a system task writes to its log for the detail pane's table (Qt-free): a header
line `[table] <title>\t<column>\t...` and one `[row] <cell>\t<cell>...` per item (the packages
an update would change, the files a cleanup removes, a backup's summary). `parse_table` reads
them back; the family's qt.py shows them."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

__all__ = ["ROW_PREFIX", "TABLE_PREFIX", "Table", "parse_table", "row_line", "table_line"]

TABLE_PREFIX = "[table] "
ROW_PREFIX = "[row] "


def _clean(cell: object) -> str:
    return str(cell).replace("\t", " ").replace("\n", " ")


def table_line(title: str, columns: Iterable[str]) -> str:
    """The log line that starts a table."""
    return TABLE_PREFIX + "\t".join(_clean(c) for c in (title, *columns))


def row_line(cells: Iterable[object]) -> str:
    """The log line of one row."""
    return ROW_PREFIX + "\t".join(_clean(c) for c in cells)


@dataclass
class Table:
    """A table read back from a log."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)


def parse_table(lines: Iterable[str], table: Table | None = None) -> Table | None:
    """Read table and row lines (a new `[table]` line starts over); `table`: the one so far."""
    for line in lines:
        if line.startswith(TABLE_PREFIX):
            title, *columns = line[len(TABLE_PREFIX) :].split("\t")
            table = Table(title, columns)
        elif line.startswith(ROW_PREFIX) and table is not None:
            table.rows.append(line[len(ROW_PREFIX) :].split("\t"))
    return table
