"""The data family: DATA_IMPORT, DATA_EXPORT, DATA_PROCESS, DATA_ANALYZE — CSV (delimiter,
header, encoding), JSON, NDJSON, Parquet files and SQLite tables, through duckdb.

Why duckdb: one dependency-free wheel whose core reads and writes CSV, JSON and Parquet with
nothing downloaded, and streams: a query over a file larger than memory runs inside a memory
limit (spilling to a temporary folder), reports its progress (`query_progress`, the share of
the input read) and stops on `interrupt()` — measured smaller, faster and leaner than pandas
and polars here (bench/data.py). Its sqlite extension would be downloaded at run time, which
fails offline, so SQLite tables are read and written with Python's `sqlite3`, in batches.

duckdb is an extra (`pip install 'qtqueue[data]'`) imported only inside the executors' modules;
without it the types are listed, and adding or running one raises QUEUE_EXTRA_NOT_INSTALLED.
"""

from __future__ import annotations

import logging
from importlib import resources

from qtqueue.core.errors import CATALOG
from qtqueue.executors.base import Executor
from qtqueue.executors.family import Family
from qtqueue.families.data.settings import DataSettings

logger = logging.getLogger(__name__)

__all__ = ["DataSettings", "data_executors", "family"]


def data_executors() -> list[Executor]:
    """One instance of each of the family's executors."""
    from qtqueue.families.data.executors import (
        AnalyzeExecutor,
        ExportExecutor,
        ImportExecutor,
        ProcessExecutor,
    )

    return [ImportExecutor(), ExportExecutor(), ProcessExecutor(), AnalyzeExecutor()]


#: The family's own error codes and message rules (its DATA_* codes are the core's).
ERRORS = resources.files(__name__) / "errors.toml"

#: The Data family, advertised as `data` in the `qtqueue.families` entry-point group.
family = Family(
    name="data",
    title="Data",
    category="data",
    executors=data_executors,
    settings_model=DataSettings,
    errors=ERRORS,
    # An import is named by its table, the others by what they read.
    name_keys=("table", "source", "output", "operation"),
    qt_module=f"{__name__}.qt",
    requires=("duckdb",),
    extra="data",
)

CATALOG.register_file(family.name, ERRORS)
