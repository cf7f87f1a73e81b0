"""`qtqueue export` / `qtqueue import`: the real command line on a data directory without an
engine (the lazy local backend), round trip and all-or-none."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers.cli import ok, qtqueue_command, refused

from qtqueue.api.task_files import DEFINITION_FIELDS
from qtqueue.engine.validation import CALLER_FIELDS


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
