"""Real data files for the data family's tests: a latin-1 CSV with ';', NDJSON, Parquet written
by duckdb, a SQLite database, and a larger generated CSV."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import duckdb

from qtqueue.core.task import Task
from qtqueue.engine.queue import TaskQueue

#: The sales rows every format holds: (id, city, amount).
SALES = [
    (1, "Zürich", 10.5),
    (2, "Köln", 20.0),
    (3, "Zürich", 4.5),
    (4, "Malmö", None),
    (5, "Köln", 1.0),
]


def latin1_csv(folder: Path) -> Path:
    """sales.csv: ';'-delimited, latin-1 encoded, with a header."""
    path = folder / "sales.csv"
    lines = ["id;city;amount"] + [f"{i};{c};{'' if a is None else a}" for i, c, a in SALES]
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return path


def ndjson(folder: Path) -> Path:
    """cities.ndjson: one object per line (city, country)."""
    path = folder / "cities.ndjson"
    path.write_text(
        '{"city": "Zürich", "country": "CH"}\n{"city": "Köln", "country": "DE"}\n'
        '{"city": "Malmö", "country": "SE"}\n',
        encoding="utf-8",
    )
    return path


def parquet(folder: Path) -> Path:
    """sales.parquet, written by duckdb from SALES."""
    path = folder / "sales.parquet"
    con = duckdb.connect()
    con.execute("CREATE TABLE t (id BIGINT, city VARCHAR, amount DOUBLE)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", SALES)
    con.execute(f"COPY t TO '{path}' (FORMAT parquet)")
    con.close()
    return path


def sqlite_db(folder: Path) -> Path:
    """shop.db with a table `sales` holding SALES."""
    path = folder / "shop.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE sales (id INTEGER, city TEXT, amount REAL)")
    con.executemany("INSERT INTO sales VALUES (?, ?, ?)", SALES)
    con.commit()
    con.close()
    return path


def big_csv(path: Path, rows: int) -> Path:
    """A CSV of `rows` rows (id, cat, val, txt) written by duckdb (fast)."""
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT i AS id, 'c' || (i % 50) AS cat, (i * 7919) % 10000 / 100.0 AS val, "
        f"'some text ' || (i % 1000) AS txt FROM range({rows}) t(i)) TO '{path}' (FORMAT csv)"
    )
    con.close()
    return path


async def run_task(queue: TaskQueue, task_type: str, timeout_s: float = 20, **params: Any) -> Task:
    """Add a task (no retries) and wait for its end."""
    task_id = await queue.add_task(Task(task_type, params, max_retries=0))
    return await queue.wait_for(task_id, timeout_s=timeout_s)
