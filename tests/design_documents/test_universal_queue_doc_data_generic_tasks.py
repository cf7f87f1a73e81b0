"""The universal queue document's "Generic Tasks" example (1-universal-queue.md, Usage
Examples 5): `DATA_PROCESS` with `data_source` "database", `operation` "backup" and `format`
"json" is accepted by the data family and does what it says — qtqueue's own database, every
table, written to a JSON file in the data directory's backups folder."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from qtqueue import Task, TaskQueue, TaskStatus, TaskType

S = TaskStatus


async def test_universal_queue_doc_usage_5_generic_tasks_backs_up_the_database_to_json(
    user_data_dir: Path,
) -> None:
    queue = TaskQueue()
    # --- the document
    # Generic task for any operation
    generic_task = Task(
        task_type=TaskType.DATA_PROCESS,
        params={"data_source": "database", "operation": "backup", "format": "json"},
        category="data",
        tags=["data", "backup", "database"],
    )
    task_id = await queue.add_task(generic_task)
    # ---
    done = await queue.wait_for(task_id, timeout_s=20)
    assert done.status is S.COMPLETED, done.error
    result = done.result or {}
    output = Path(result["output"])
    assert output.parent == user_data_dir / "backups" and output.suffix == ".json"
    backup = json.loads(output.read_text(encoding="utf-8"))
    # Every table of the engine's store, this very task among the rows of `tasks`.
    assert set(backup["tables"]) == set(result["tables"]) and "tasks" in backup["tables"]
    assert task_id in {row["id"] for row in backup["tables"]["tasks"]}
    assert [p.name for p in output.parent.iterdir()] == [output.name]  # nothing else written
    await queue.close()


async def test_universal_queue_doc_usage_5_generic_tasks_backs_up_a_named_database(
    user_data_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE items (name TEXT, photo BLOB)")
        con.execute("INSERT INTO items VALUES ('cup', x'00ff')")
    con.close()
    queue = TaskQueue()
    task_id = await queue.add_task(
        Task(
            task_type=TaskType.DATA_PROCESS,
            params={
                "data_source": str(db),
                "operation": "backup",
                "format": "ndjson",
                "output": str(tmp_path / "shop.ndjson"),
            },
        )
    )
    done = await queue.wait_for(task_id, timeout_s=20)
    assert done.status is S.COMPLETED, done.error
    lines = (tmp_path / "shop.ndjson").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"table": "items", "row": {"name": "cup", "photo": {"$base64": "AP8="}}}
    ]
    missing = await queue.wait_for(
        await queue.add_task(
            Task(
                TaskType.DATA_PROCESS,
                {"operation": "backup", "data_source": str(tmp_path / "x.db")},
            )
        ),
        timeout_s=20,
    )
    assert missing.error_code == "DATA_FILE_NOT_FOUND"
    await queue.close()
