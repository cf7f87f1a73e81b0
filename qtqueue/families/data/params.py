"""The data family's params models: where data comes from, where it goes, and what to do with
it (the forms, `qtqueue types` and validation are built from them)."""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from qtqueue.executors.base import Params

logger = logging.getLogger(__name__)

__all__ = [
    "Aggregate",
    "AnalyzeParams",
    "ExportParams",
    "Filter",
    "Format",
    "ImportParams",
    "Join",
    "ProcessParams",
    "ProcessSpec",
    "Sort",
]

#: A file's format; "auto" reads it from the file name's extension.
Format = Literal["auto", "csv", "json", "ndjson", "parquet", "sqlite"]
#: Encodings duckdb's core reads without an extension (others would be downloaded).
Encoding = Literal["utf-8", "latin-1", "utf-16"]
_OVERWRITE = (
    "Replace an existing output file. For a SQLite output, the database is kept and only its "
    "table output_table is replaced; without overwrite, a table of that name that exists "
    "fails the task"
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _identifier(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(f"{value!r}: letters, digits and '_', not starting with a digit")
    return value


class CsvOptions(Params):
    """How CSV files are read and written, and how much input a task accepts."""

    delimiter: str = Field(
        default=",",
        min_length=1,
        max_length=4,
        description="CSV field delimiter (',', ';', '\\t'…)",
    )
    header: bool = Field(default=True, description="CSV files have a header line")
    encoding: Encoding = Field(default="utf-8", description="Encoding of CSV inputs")
    max_input_mb: float | None = Field(
        default=None,
        gt=0,
        description="Fail with DATA_SIZE_TOO_LARGE above this many MB of input (default: the "
        "data_max_input_mb setting)",
    )


class ImportParams(CsvOptions):
    """DATA_IMPORT: a CSV, JSON, NDJSON, Parquet file (or another SQLite table) into a table of a
    SQLite database."""

    source: str = Field(
        description="The file to import", json_schema_extra={"widget": "file"}, min_length=1
    )
    database: str = Field(
        description="The SQLite database file (created if missing)",
        json_schema_extra={"widget": "file"},
        min_length=1,
    )
    table: str = Field(description="The table to write")
    mode: Literal["create", "append", "replace"] = Field(
        default="create",
        description="create: a new table (fails if it exists); append: add rows (creates it if "
        "missing); replace: drop and recreate it",
    )
    source_format: Format = Field(default="auto", description="The source's format")
    source_table: str | None = Field(
        default=None, description="For a SQLite source: its table (default: `table`)"
    )

    _table = field_validator("table")(_identifier)


class ExportParams(CsvOptions):
    """DATA_EXPORT: any supported format into any other (a SQLite table to Parquet…)."""

    source: str = Field(
        description="The file to read", json_schema_extra={"widget": "file"}, min_length=1
    )
    output: str = Field(
        description="The file to write (written whole, or not at all)",
        json_schema_extra={"widget": "file"},
        min_length=1,
    )
    output_format: Format = Field(default="auto", description="The output's format")
    source_format: Format = Field(default="auto", description="The source's format")
    source_table: str | None = Field(default=None, description="For a SQLite source: its table")
    output_table: str | None = Field(
        default=None, description="For a SQLite output: its table (default: the source's name)"
    )
    overwrite: bool = Field(default=False, description=_OVERWRITE)


class AnalyzeParams(CsvOptions):
    """DATA_ANALYZE: a profile of a file or table — rows, column types, nulls, min/max/mean,
    quantiles, distinct counts and the most frequent values."""

    source: str = Field(
        description="The file to profile", json_schema_extra={"widget": "file"}, min_length=1
    )
    source_format: Format = Field(default="auto", description="The source's format")
    source_table: str | None = Field(default=None, description="For a SQLite source: its table")
    top_values: int = Field(default=5, ge=0, le=100, description="Most frequent values per column")


class Filter(BaseModel):
    """One condition of a spec's `where` (all must hold)."""

    model_config = ConfigDict(extra="forbid")
    column: str
    op: Literal[
        "=", "!=", "<", "<=", ">", ">=", "in", "not in", "like", "is null", "is not null"
    ] = "="
    value: Any = None


class Aggregate(BaseModel):
    """One aggregate of a grouped spec: `function(column) AS alias`."""

    model_config = ConfigDict(extra="forbid")
    function: Literal["count", "count_distinct", "sum", "avg", "min", "max", "median"]
    column: str | None = Field(default=None, description="None with count: count(*)")
    alias: str | None = None


class Sort(BaseModel):
    """One key of a spec's `order_by`."""

    model_config = ConfigDict(extra="forbid")
    column: str
    descending: bool = False


class Join(BaseModel):
    """Another input joined on columns of the same name."""

    model_config = ConfigDict(extra="forbid")
    input: str
    on: list[str] = Field(min_length=1)
    how: Literal["inner", "left", "right", "full"] = "inner"


class ProcessSpec(BaseModel):
    """A declarative query: from one input (joined with others), filter, group and aggregate,
    select, sort and limit. Values are bound as parameters, names quoted: nothing is SQL text."""

    model_config = ConfigDict(extra="forbid")
    input: str | None = Field(default=None, description="The input read (default: the first)")
    join: list[Join] = []
    where: list[Filter] = []
    group_by: list[str] = []
    aggregates: list[Aggregate] = []
    select: list[str] = Field(default=[], description="Columns kept (default: all, or the groups)")
    order_by: list[Sort] = []
    limit: int | None = Field(default=None, ge=0)


class ProcessParams(CsvOptions):
    """DATA_PROCESS: one SQL query or a declarative spec over named inputs, written to a file or
    returned as rows; or, with operation "backup", a database written to JSON (the universal
    queue document's generic example)."""

    operation: Literal["query", "backup"] = Field(
        default="query",
        description="query: `sql` or `spec` over `inputs`; backup: every table of `data_source` "
        "to one file",
    )
    inputs: dict[str, str] = Field(
        default={},
        description="Name → file ('sales': 'sales.csv'); a SQLite input reads the table of its "
        "name, or 'file.db#table'",
    )
    sql: str | None = Field(
        default=None,
        description="One duckdb SQL query over the inputs' names",
        json_schema_extra={"widget": "multiline"},
    )
    spec: ProcessSpec | None = Field(default=None, description="A declarative query (or `sql`)")
    output: str | None = Field(
        default=None,
        description="The file to write (query: default none, the rows go in the result; backup: "
        "default <data dir>/backups/)",
        json_schema_extra={"widget": "file"},
    )
    format: Format | None = Field(
        default=None, description="The output's format (default: its extension; backup: json)"
    )
    data_source: str = Field(
        default="database",
        description="backup: 'database' (qtqueue's own) or a SQLite database file",
    )
    output_table: str | None = Field(
        default=None, description="For a SQLite output: its table (default: 'result')"
    )
    overwrite: bool = Field(default=False, description=_OVERWRITE)

    @field_validator("inputs")
    @classmethod
    def _names(cls, inputs: dict[str, str]) -> dict[str, str]:
        for name in inputs:
            _identifier(name)
        return inputs

    @model_validator(mode="after")
    def _one_query(self) -> ProcessParams:
        if self.operation == "backup":
            if self.format not in (None, "json", "ndjson", "sqlite"):
                raise ValueError("format: a backup is written as json, ndjson or sqlite")
            return self
        if (self.sql is None) == (self.spec is None):
            raise ValueError("give exactly one of sql and spec")
        if not self.inputs:
            raise ValueError("inputs: name at least one input")
        if self.spec is not None:
            names = [self.spec.input or next(iter(self.inputs))]
            names += [j.input for j in self.spec.join]
            unknown = [n for n in names if n not in self.inputs]
            if unknown:
                raise ValueError(f"spec names inputs that are not in inputs: {unknown}")
        return self
