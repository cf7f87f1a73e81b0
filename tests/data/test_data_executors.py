"""The data executors through a real TaskQueue on real files (a ';'-delimited latin-1 CSV,
NDJSON, Parquet written by duckdb, a SQLite database): import, export between formats, process
by SQL and by spec, analyze; progress and cancel mid-file on a larger CSV; and the code each
failure gets, naming the line and column where the data is wrong, with no output left behind."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import duckdb
import pytest
from data_env import SALES, big_csv, latin1_csv, ndjson, parquet, run_task, sqlite_db

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.data.profile import parse_profile_line

S = TaskStatus
T = TaskType
LATIN = {"delimiter": ";", "encoding": "latin-1"}


def _rows(path: Path, fmt: str) -> list[tuple[object, ...]]:
    reader = {"parquet": "read_parquet", "ndjson": "read_json", "json": "read_json"}[fmt]
    return duckdb.sql(f"SELECT * FROM {reader}('{path}') ORDER BY 1").fetchall()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".part" in p.name)


async def test_import_latin1_semicolon_csv_into_sqlite_create_append_replace(
    dq: TaskQueue, tmp_path: Path
) -> None:
    csv_path, db = latin1_csv(tmp_path), tmp_path / "out.db"
    params = {"source": str(csv_path), "database": str(db), "table": "sales", **LATIN}
    done = await run_task(dq, T.DATA_IMPORT, **params)
    assert done.status is S.COMPLETED, done.error
    assert done.result == {"database": str(db), "table": "sales", "mode": "create", "rows": 5}
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT * FROM sales ORDER BY id").fetchall() == SALES
    again = await run_task(dq, T.DATA_IMPORT, **params)
    assert again.error_code == "VALIDATION_INVALID_PARAMS" and "append or replace" in again.error
    appended = await run_task(dq, T.DATA_IMPORT, **params, mode="append")
    replaced_ndjson = await run_task(
        dq,
        T.DATA_IMPORT,
        source=str(ndjson(tmp_path)),
        database=str(db),
        table="cities",
        mode="replace",
    )
    assert (appended.result or {})["rows"] == 5 and replaced_ndjson.status is S.COMPLETED
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM sales").fetchone() == (10,)
        assert con.execute("SELECT country FROM cities ORDER BY city").fetchall() == [
            ("DE",),
            ("SE",),
            ("CH",),
        ]


async def test_export_between_every_format_keeps_the_rows(dq: TaskQueue, tmp_path: Path) -> None:
    db, pq = sqlite_db(tmp_path), parquet(tmp_path)
    to_parquet = await run_task(
        dq, T.DATA_EXPORT, source=f"{db}#sales", output=str(tmp_path / "from_db.parquet")
    )
    to_ndjson = await run_task(dq, T.DATA_EXPORT, source=str(pq), output=str(tmp_path / "s.jsonl"))
    to_json = await run_task(
        dq,
        T.DATA_EXPORT,
        source=str(latin1_csv(tmp_path)),
        output=str(tmp_path / "s.json"),
        **LATIN,
    )
    for task in (to_parquet, to_ndjson, to_json):
        assert task.status is S.COMPLETED, task.error
        assert task.result is not None and task.result["rows"] == 5
    assert _rows(tmp_path / "from_db.parquet", "parquet") == SALES
    assert _rows(tmp_path / "s.jsonl", "ndjson") == SALES
    doc = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert doc[0] == {"id": 1, "city": "Zürich", "amount": 10.5}
    to_sqlite = await run_task(
        dq, T.DATA_EXPORT, source=str(pq), output=str(tmp_path / "copy.db"), output_table="s"
    )
    assert to_sqlite.status is S.COMPLETED, to_sqlite.error
    with sqlite3.connect(tmp_path / "copy.db") as con:
        assert con.execute("SELECT * FROM s ORDER BY id").fetchall() == SALES
    exists = await run_task(dq, T.DATA_EXPORT, source=str(pq), output=str(tmp_path / "s.json"))
    assert exists.error_code == "VALIDATION_INVALID_PARAMS" and "overwrite" in exists.error


async def test_process_sql_joins_csv_with_ndjson_into_parquet(
    dq: TaskQueue, tmp_path: Path
) -> None:
    out = tmp_path / "by_country.parquet"
    done = await run_task(
        dq,
        T.DATA_PROCESS,
        inputs={"sales": str(latin1_csv(tmp_path)), "cities": str(ndjson(tmp_path))},
        sql="SELECT country, sum(amount) AS total FROM sales JOIN cities USING (city) "
        "GROUP BY country ORDER BY country",
        output=str(out),
        **LATIN,
    )
    assert done.status is S.COMPLETED, done.error
    assert duckdb.sql(f"SELECT * FROM '{out}' ORDER BY 1").fetchall() == [
        ("CH", 15.0),
        ("DE", 21.0),
        ("SE", None),
    ]


async def test_process_spec_filters_groups_and_sorts_a_sqlite_table(
    dq: TaskQueue, tmp_path: Path
) -> None:
    db = sqlite_db(tmp_path)
    spec = {
        "where": [
            {"column": "amount", "op": ">", "value": 2},
            {"column": "city", "op": "!=", "value": "x'); DROP TABLE sales; --"},
        ],
        "group_by": ["city"],
        "aggregates": [
            {"function": "count"},
            {"function": "sum", "column": "amount", "alias": "total"},
        ],
        "order_by": [{"column": "total", "descending": True}],
    }
    done = await run_task(dq, T.DATA_PROCESS, inputs={"sales": str(db)}, spec=spec)
    assert done.status is S.COMPLETED, done.error
    assert done.result == {
        "columns": ["city", "count_all", "total"],
        "rows": [["Köln", 1, 20.0], ["Zürich", 2, 15.0]],
        "row_count": 2,
        "truncated": False,
    }
    with sqlite3.connect(db) as con:  # the value was a value, never SQL
        assert con.execute("SELECT count(*) FROM sales").fetchone() == (5,)


async def test_process_spec_joins_inputs_and_selects_sorts_limits(
    dq: TaskQueue, tmp_path: Path
) -> None:
    spec = {
        "input": "sales",
        "join": [{"input": "cities", "on": ["city"], "how": "left"}],
        "where": [{"column": "country", "op": "in", "value": ["CH", "DE"]}],
        "select": ["id", "country"],
        "order_by": [{"column": "id", "descending": True}],
        "limit": 3,
    }
    out = tmp_path / "picked.ndjson"
    done = await run_task(
        dq,
        T.DATA_PROCESS,
        inputs={"cities": str(ndjson(tmp_path)), "sales": str(latin1_csv(tmp_path))},
        spec=spec,
        output=str(out),
        **LATIN,
    )
    assert done.status is S.COMPLETED and (done.result or {})["rows"] == 3, done.error
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"id": 5, "country": "DE"},
        {"id": 3, "country": "CH"},
        {"id": 2, "country": "DE"},
    ]


async def test_analyze_profiles_every_column_and_logs_the_table(
    dq: TaskQueue, tmp_path: Path
) -> None:
    done = await run_task(dq, T.DATA_ANALYZE, source=str(parquet(tmp_path)), top_values=2)
    assert done.status is S.COMPLETED, done.error
    result = done.result or {}
    assert result["rows"] == 5
    by_name = {c["column"]: c for c in result["columns"]}
    assert by_name["amount"]["nulls"] == 1 and by_name["amount"]["mean"] == 9.0
    assert (by_name["id"]["min"], by_name["id"]["max"]) == ("1", "5")
    assert by_name["city"]["top"][0][1] == 2 and by_name["city"]["distinct"] == 3
    assert by_name["amount"]["distinct"] == 4  # exact, the NULL not counted
    assert by_name["amount"]["median"] is not None
    logged = [parse_profile_line(line) for line in (await dq.read_log(done.id)).splitlines()]
    assert [r["column"] for r in logged if r] == ["id", "city", "amount"]


class _Progress:
    """Sets `mid` once a task of `task_id` reports progress between 5 and 95 % with `words`
    (the bytes read) in its step."""

    def __init__(self, task_id: list[str], words: str = "MB read") -> None:
        self.task_id = task_id
        self.words = words
        self.mid = asyncio.Event()

    def __call__(self, events: list[TaskEvent]) -> None:
        for e in events:
            if e.kind is EventKind.CHANGED and e.task is not None and e.task_id in self.task_id:
                step = e.task.current_step or ""
                if 5 < e.task.progress < 95 and self.words in step:
                    self.mid.set()


@pytest.mark.parametrize("task_type", [T.DATA_PROCESS, T.DATA_IMPORT])
async def test_progress_by_bytes_and_cancel_mid_file_leave_no_output(
    dq: TaskQueue, tmp_path: Path, task_type: TaskType
) -> None:
    folder = tmp_path / "work"  # beside the queue's own data directory
    folder.mkdir()
    src = big_csv(folder / "big.csv", 3_000_000)
    if task_type is T.DATA_PROCESS:
        out = folder / "sorted.csv"
        params: dict[str, object] = {
            "inputs": {"big": str(src)},
            "sql": "SELECT cat, txt, val, id FROM big ORDER BY txt, val DESC, id",
            "output": str(out),
        }
    else:
        out = folder / "big.db"
        params = {"source": str(src), "database": str(out), "table": "big"}
    ids: list[str] = []
    watch = _Progress(ids)
    dq.subscribe(watch)
    ids.append(await dq.add_task(Task(task_type, params, max_retries=0)))
    await asyncio.wait_for(watch.mid.wait(), 30)
    assert (await dq.get_task(ids[0])).status is S.RUNNING
    await dq.cancel_task(ids[0])
    done = await dq.wait_for(ids[0], timeout_s=5)
    assert done.status is S.CANCELLED
    assert [p.name for p in folder.iterdir()] == ["big.csv"]  # no output, no part file


async def test_a_query_past_its_time_limit_stops_with_timeout_and_no_output(
    dq: TaskQueue, tmp_path: Path
) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    src = big_csv(folder / "big.csv", 3_000_000)
    params = {
        "inputs": {"big": str(src)},
        "sql": "SELECT txt, val, id FROM big ORDER BY txt, val DESC, id",
        "output": str(folder / "sorted.parquet"),
    }
    task_id = await dq.add_task(Task(T.DATA_PROCESS, params, max_retries=0, timeout_s=0.3))
    done = await dq.wait_for(task_id, timeout_s=10)
    assert done.status is S.TIMEOUT
    assert [p.name for p in folder.iterdir()] == ["big.csv"]


async def test_an_import_pauses_between_batches_and_resumes_to_every_row(
    dq: TaskQueue, tmp_path: Path
) -> None:
    src, db = big_csv(tmp_path / "big.csv", 500_000), tmp_path / "big.db"
    ids: list[str] = []
    watch = _Progress(ids, "rows written")
    dq.subscribe(watch)
    params = {"source": str(src), "database": str(db), "table": "big"}
    ids.append(await dq.add_task(Task(T.DATA_IMPORT, params, max_retries=0)))
    await asyncio.wait_for(watch.mid.wait(), 30)
    await dq.pause_task(ids[0])
    assert (await dq.get_task(ids[0])).status is S.PAUSED
    await dq.resume_task(ids[0])
    done = await dq.wait_for(ids[0], timeout_s=60)
    assert done.status is S.COMPLETED and (done.result or {})["rows"] == 500_000, done.error
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*), sum(id) FROM big").fetchone() == (
            500_000,
            sum(range(500_000)),
        )


@pytest.mark.parametrize(
    ("content", "code", "where"),
    [
        (b"a;b\n1;x\n2;caf\xe9\n3;z\n", "DATA_ENCODING_ERROR", "line 3, column 6"),
        (
            b"a;b\n" + b"1;x\n" * 30000 + b"2;y;extra\n" + b"3;z\n" * 10,
            "DATA_PARSING_FAILED",
            "line 30002, column 3",
        ),
        (b"a;b\n1;x\n2;y;extra\n3;z\n", "DATA_PARSING_FAILED", "line 3, column 3"),
        (b"a;b\n" + b"1;x\n" * 30000 + b"two;y\n", "DATA_PARSING_FAILED", "line 30002, column a"),
    ],
    ids=["latin1-byte-in-utf8", "extra-field", "extra-field-small-file", "not-a-number"],
)
async def test_csv_errors_name_the_line_and_column(
    dq: TaskQueue, tmp_path: Path, content: bytes, code: str, where: str
) -> None:
    src = tmp_path / "bad.csv"
    src.write_bytes(content)
    done = await run_task(
        dq,
        T.DATA_PROCESS,
        inputs={"t": str(src)},
        delimiter=";",
        sql="SELECT sum(a) AS s, count(b) AS n FROM t",
        output=str(tmp_path / "out.csv"),
    )
    assert done.status is S.FAILED and done.error_code == code, done.error
    assert where in (done.error or "")
    assert done.error_info is not None and done.error_info.suggestion
    assert not (tmp_path / "out.csv").exists() and _leftovers(tmp_path) == []


async def test_file_errors_get_their_codes(dq: TaskQueue, tmp_path: Path) -> None:
    good = parquet(tmp_path)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[:200])
    fake = tmp_path / "fake.parquet"
    fake.write_text("id,city\n1,x\n")
    bad_json = tmp_path / "bad.ndjson"
    bad_json.write_text('{"a": 1}\n{"a": 2\n{"a": 3}\n')
    cases = {
        "DATA_FILE_NOT_FOUND": {"source": str(tmp_path / "missing.csv")},
        "DATA_FILE_CORRUPTED": {"source": str(cut)},
        "DATA_FORMAT_INVALID": {"source": str(fake)},
        "DATA_PARSING_FAILED": {"source": str(bad_json)},
        "DATA_SIZE_TOO_LARGE": {"source": str(good), "max_input_mb": 0.0001},
    }
    for code, params in cases.items():
        done = await run_task(dq, T.DATA_ANALYZE, **params)
        assert done.status is S.FAILED and done.error_code == code, (code, done.error)
    json_error = await run_task(dq, T.DATA_ANALYZE, source=str(bad_json))
    assert "line 2, column 8" in (json_error.error or "")
    bad_sql = await run_task(
        dq,
        T.DATA_PROCESS,
        inputs={"s": str(good)},
        sql="SELECT nope FROM s",
        output=str(tmp_path / "o.csv"),
    )
    assert bad_sql.error_code == "VALIDATION_INVALID_PARAMS" and "nope" in (bad_sql.error or "")
    elsewhere = tmp_path / "elsewhere.csv"
    for sql in (f"COPY s TO '{elsewhere}'", "SELECT 1; SELECT 2", f"ATTACH '{tmp_path}/x.db'"):
        refused = await run_task(
            dq, T.DATA_PROCESS, inputs={"s": str(good)}, sql=sql, output=str(tmp_path / "o.csv")
        )
        assert refused.error_code == "VALIDATION_INVALID_PARAMS" and "one SELECT" in (
            refused.error or ""
        ), sql
    assert not elsewhere.exists() and not (tmp_path / "x.db").exists()
    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("these are notes, not a database\n" * 200)
    into_notes = await run_task(
        dq, T.DATA_IMPORT, source=str(good), database=str(not_a_db), table="sales"
    )
    assert into_notes.error_code == "DATA_FORMAT_INVALID", into_notes.error
    assert not_a_db.read_text().startswith("these are notes")  # left as it was
