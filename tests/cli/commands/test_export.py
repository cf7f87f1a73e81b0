"""`qtqueue export` / `qtqueue import`: the real command line on a data directory without an
engine (the lazy local backend), round trip and all-or-none."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import ok, qtqueue_command, qtqueue_env, refused, running_engine

from qtqueue.api.task_files import DEFINITION_FIELDS
from qtqueue.api.wire import MAX_BODY_BYTES
from qtqueue.engine.validation import CALLER_FIELDS


def _entry(name: str, **more: Any) -> dict[str, Any]:
    """A task that waits for approval (so thousands of them start no process)."""
    return {
        "task_type": "custom_command", "name": name, "permission": "human_required",
        "params": {"command": "true", "args": ["x" * 200]}, **more,
    }  # fmt: skip


def _task_file(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"format": "qtqueue-tasks", "version": 1, "tasks": entries}))
    return path


def _names(run: Callable[..., Any]) -> list[str]:
    return sorted(t["name"] for t in json.loads(ok(run("ls", "--json"))))


def test_export_then_import_adds_the_same_tasks_anew(tmp_path: Path) -> None:
    run = qtqueue_command(tmp_path)
    ok(run("add", "cmd", "--name", "build", "--category", "web", "--tag", "ci", "--", "make"))
    ok(run("add", "cmd", "--name", "lint", "--priority", "high", "--", "ruff", "check"))
    out = tmp_path / "tasks.json"

    assert "exported 2 task(s)" in ok(run("export", "-o", str(out)))

    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    doc = json.loads(out.read_text())
    build = next(t for t in doc["tasks"] if t["name"] == "build")
    assert build["category"] == "web" and build["tags"] == ["ci"] and "id" not in build
    assert set(build) <= DEFINITION_FIELDS
    other = qtqueue_command(tmp_path, data_dir=tmp_path / "other")
    imported = json.loads(ok(other("import", str(out), "--json")))
    assert len(imported["ids"]) == 2
    lint = json.loads(ok(other("show", imported["ids"][1], "--json")))["task"]
    assert lint["name"] == "lint" and lint["priority"] == "high"
    assert lint["params"]["command"] == "ruff" and lint["params"]["args"] == ["check"]


def test_export_by_id_writes_only_those_to_stdout(tmp_path: Path) -> None:
    run = qtqueue_command(tmp_path)
    first = ok(run("add", "cmd", "--name", "first", "--", "true")).strip()
    ok(run("add", "cmd", "--name", "second", "--", "true"))

    doc = json.loads(ok(run("export", first[:8])))

    assert [t["name"] for t in doc["tasks"]] == ["first"]


def test_import_adds_nothing_when_one_entry_is_refused(tmp_path: Path) -> None:
    run = qtqueue_command(tmp_path)
    good = {"task_type": "custom_command", "name": "good", "params": {"command": "true"}}
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps([good, {"task_type": "no_such_type"}]))

    refused(run("import", str(path)), "QUEUE_UNKNOWN_TASK_TYPE")
    refused(run("import", str(tmp_path / "missing.json")), "DATA_FILE_NOT_FOUND")
    (tmp_path / "text.json").write_text("name,type\n")
    refused(run("import", str(tmp_path / "text.json")), "DATA_PARSING_FAILED")
    assert _names(run) == []


def test_definition_fields_are_fields_a_caller_may_give() -> None:
    assert DEFINITION_FIELDS < CALLER_FIELDS
    assert {"id", "created_by", "depends_on"}.isdisjoint(DEFINITION_FIELDS)


#: Fields a task file must not hold (they belong to one queue's history): the window's import
#: refuses them (`parse_import`), and so does the command line.
HISTORY_FIELDS = [
    {"id": "0b1f6a3e-5a8e-4e3c-9d55-6f0d4b2c1a00"},
    {"depends_on": []},
    {"created_by": "someone else"},
    {"status": "completed"},
]


@pytest.mark.parametrize("extra", HISTORY_FIELDS, ids=lambda e: next(iter(e)))
def test_import_refuses_engine_owned_fields_as_the_window_does(
    tmp_path: Path, extra: dict[str, Any]
) -> None:
    run = qtqueue_command(tmp_path)
    path = _task_file(tmp_path / "t.json", [_entry("fine"), _entry("owned", **extra)])

    stderr = refused(run("import", str(path)), "VALIDATION_INVALID_PARAMS")

    assert "entry 2 (“owned”)" in stderr and next(iter(extra)) in stderr
    assert "Nothing was added" in stderr
    assert _names(run) == []


def test_a_file_over_a_request_limit_imports_whole_through_a_running_engine(
    tmp_path: Path,
) -> None:
    """6,000 tasks (1.7 MB, over the local API's 1 MiB request) go in at once, all or none,
    from a file or standard input, and the engine reads only regular files."""
    data_dir = tmp_path / "q"
    run = qtqueue_command(tmp_path, data_dir=data_dir)
    big = _task_file(tmp_path / "big.json", [_entry(f"t{i}") for i in range(6000)])
    assert big.stat().st_size > MAX_BODY_BYTES
    bad = _task_file(
        tmp_path / "bad.json", [_entry(f"b{i}") for i in range(5999)] + [_entry("x", id="1")]
    )
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with running_engine(data_dir, qtqueue_env(tmp_path), tmp_path / "engine.log"):
        refused(run("import", str(bad)), "VALIDATION_INVALID_PARAMS")
        refused(run("import", str(fifo)), "DATA_FORMAT_INVALID")
        refused(run("import", str(tmp_path / "none.json")), "DATA_FILE_NOT_FOUND")

        ids = json.loads(ok(run("import", str(big), "--json")))["ids"]
        piped = ok(run("import", "-", input=big.read_text()))

        assert len(ids) == 6000 and "imported 6000 task(s)" in piped
        total = json.loads(ok(run("stats", "--json")))["summary"]["total_tasks"]
        last = json.loads(ok(run("show", ids[-1], "--json")))["task"]
    assert total == 12000  # the refused file added none of its 5,999 good entries
    assert last["name"] == "t5999" and last["params"]["args"] == ["x" * 200]


def test_the_import_action_wants_an_absolute_path(tmp_path: Path) -> None:
    """The engine does not share the caller's working directory: a relative path is refused,
    saying so, rather than read from wherever the engine runs."""
    run = qtqueue_command(tmp_path)
    request = {"action": "import_tasks", "params": {"path": "tasks.json"}}

    stderr = refused(run("api", json.dumps(request)), "VALIDATION_INVALID_PARAMS")

    assert "absolute path" in stderr
