"""SQLite databases as outputs and inputs, through a real TaskQueue on real files: an export or a
query written into a database that already exists adds its table and never replaces one unless
told to (overwrite replaces that table only); database files whose names hold '?' or '%' are
read as named, with no stray file created; a failed import into a new database does not take
with it a table another import committed there meanwhile."""

from __future__ import annotations

import asyncio
import csv
import sqlite3
from pathlib import Path
from typing import Any

from data_env import SALES, big_csv, latin1_csv, run_task

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.events import TaskEvent
from qtqueue.engine.queue import TaskQueue

S = TaskStatus
T = TaskType
LATIN: dict[str, Any] = {"delimiter": ";", "encoding": "latin-1"}
#: The rows an existing database's tables hold before a task writes into it.
ORDERS = [(i, f"cust{i}", i * 10.0) for i in range(1000)]


def _shop(path: Path) -> Path:
    """A database that already holds tables `sales`, `result` and `customers`."""
    with sqlite3.connect(path) as con:
        for table in ("sales", "result", "customers"):
            con.execute(f"CREATE TABLE {table} (order_id INTEGER, customer TEXT, total REAL)")
            con.executemany(f"INSERT INTO {table} VALUES (?, ?, ?)", ORDERS)
    con.close()
    return path


def _table(db: Path, table: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as con:
        rows = con.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
    con.close()
    return rows


async def test_an_export_or_query_into_an_existing_database_never_replaces_a_table_unasked(
    dq: TaskQueue, tmp_path: Path
) -> None:
    sales_csv, db = latin1_csv(tmp_path), _shop(tmp_path / "shop.db")
    into_db: dict[str, Any] = {"inputs": {"sales": str(sales_csv)}, "output": str(db), **LATIN}
    export = await run_task(dq, T.DATA_EXPORT, source=str(sales_csv), output=str(db), **LATIN)
    query = await run_task(dq, T.DATA_PROCESS, sql="SELECT * FROM sales", **into_db)
    for refused, table in ((export, "sales"), (query, "result")):
        assert refused.status is S.FAILED, refused.result
        assert refused.error_code == "VALIDATION_INVALID_PARAMS"
        assert f"table {table!r} exists" in (refused.error or "")
        assert "set overwrite" in (refused.error or "")
        assert "another table" in (refused.error or "")
    for table in ("sales", "result", "customers"):
        assert _table(db, table) == ORDERS, table
    added = await run_task(
        dq,
        T.DATA_EXPORT,
        source=str(sales_csv),
        output=str(db),
        output_table="sales_csv",
        **LATIN,
    )
    assert added.status is S.COMPLETED, added.error
    assert _table(db, "sales_csv") == SALES and _table(db, "sales") == ORDERS
    replaced = await run_task(
        dq, T.DATA_EXPORT, source=str(sales_csv), output=str(db), overwrite=True, **LATIN
    )
    grouped = "SELECT city, count(*) AS n FROM sales GROUP BY city"
    requeried = await run_task(dq, T.DATA_PROCESS, sql=grouped, overwrite=True, **into_db)
    assert replaced.status is S.COMPLETED and requeried.status is S.COMPLETED
    assert _table(db, "sales") == SALES
    assert _table(db, "result") == [("Köln", 2), ("Malmö", 1), ("Zürich", 2)]
    assert _table(db, "customers") == ORDERS  # overwrite replaces that table only


async def test_sqlite_files_named_with_question_mark_or_percent_are_read_as_named(
    dq: TaskQueue, tmp_path: Path
) -> None:
    folder = tmp_path / "dbs"
    folder.mkdir()
    for name, rows in (("sales?v2.db", SALES[:2]), ("50%.db", SALES[2:])):
        db = folder / name
        with sqlite3.connect(db) as con:
            con.execute("CREATE TABLE t (id INTEGER, city TEXT, amount REAL)")
            con.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
        con.close()
        out = tmp_path / f"{db.stem}.csv"
        export = await run_task(
            dq, T.DATA_EXPORT, source=str(db), source_table="t", output=str(out)
        )
        assert export.status is S.COMPLETED, export.error
        with out.open(encoding="utf-8") as f:
            assert [tuple(r) for r in csv.reader(f)][1:] == [
                (str(i), c, "" if a is None else str(a)) for i, c, a in rows
            ]
        backup = await run_task(
            dq,
            T.DATA_PROCESS,
            operation="backup",
            data_source=str(db),
            output=str(tmp_path / f"{db.stem}.json"),
        )
        assert backup.status is S.COMPLETED and backup.result is not None, backup.error
        assert backup.result["tables"] == {"t": len(rows)}
    assert sorted(p.name for p in folder.iterdir()) == ["50%.db", "sales?v2.db"]


class _Steps:
    """Sets `seen[words]` once a task reports a step holding `words`."""

    def __init__(self, *words: str) -> None:
        self.seen = {w: asyncio.Event() for w in words}

    def __call__(self, events: list[TaskEvent]) -> None:
        for e in events:
            step = (e.task.current_step or "") if e.task is not None else ""
            for words, seen in self.seen.items():
                if words in step:
                    seen.set()


async def test_a_failed_import_into_a_new_database_keeps_the_table_another_import_wrote_there(
    dq: TaskQueue, tmp_path: Path
) -> None:
    src, db = big_csv(tmp_path / "big.csv", 300_000), tmp_path / "new.db"
    steps = _Steps("rows written", "waiting for another task")
    dq.subscribe(steps)
    first = await dq.add_task(
        Task(T.DATA_IMPORT, {"source": str(src), "database": str(db), "table": "big"})
    )
    await asyncio.wait_for(steps.seen["rows written"].wait(), 30)
    await dq.pause_task(first)  # it created new.db and holds its write transaction
    good = {"source": str(latin1_csv(tmp_path)), "database": str(db), "table": "good", **LATIN}
    second = await dq.add_task(Task(T.DATA_IMPORT, good, max_retries=0))
    await asyncio.wait_for(steps.seen["waiting for another task"].wait(), 10)
    await dq.cancel_task(first)  # the import that created new.db fails: rolled back
    cancelled = await dq.wait_for(first, timeout_s=10)
    written = await dq.wait_for(second, timeout_s=10)
    assert cancelled.status is S.CANCELLED and written.status is S.COMPLETED, written.error
    with sqlite3.connect(db) as con:
        tables = con.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
    con.close()
    assert tables == [("good",)] and _table(db, "good") == SALES
