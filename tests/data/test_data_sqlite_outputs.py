"""SQLite databases as inputs, through a real TaskQueue on real files: database files whose names
hold '?' or '%' are read as named, with no stray file created."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

from data_env import SALES, run_task

from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue

S = TaskStatus
T = TaskType


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
