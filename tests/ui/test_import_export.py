"""File › Export tasks… / Import tasks… (JSON) and Export list as CSV…, on a real engine."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import csv
import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from qtqueue.api.task_files import DEFINITION_FIELDS, csv_text
from qtqueue.api.task_import import parse_import
from qtqueue.app import wait_for_condition
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Permission, Priority, Task, TaskType
from qtqueue.engine.credentials import KeyringCredentials
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.task_list.columns import Column

Run = Callable[..., Any]
SECRET = "s3cr3t-from-the-keyring-9f2c"


def command(line: str, **kw: Any) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, {"command": line, "shell": True}, **kw)


async def _rows(window: MainWindow, n: int) -> None:
    await wait_for_condition(
        lambda: window.model.rowCount() == n, window.model.batchApplied, timeout_s=10
    )


def _waiting_tasks(window: MainWindow, run: Run) -> list[str]:
    """Three tasks that stay waiting (the queue is paused), with settings worth keeping."""

    async def scenario() -> list[str]:
        await window.queue.pause_queue()
        ids = [
            await window.queue.add_task(
                command(
                    "echo build", name="build site", category="web", tags=["nightly", "site"],
                    priority=Priority.HIGH, max_retries=3, timeout_s=120.0,
                    resources={"cpu_cores": 2}, permission=Permission.HUMAN_REQUIRED,
                )
            ),
            await window.queue.add_task(command("echo a", name="alpha", tags=["x"])),
            await window.queue.add_task(command("echo b", name="beta", category="db")),
        ]  # fmt: skip
        await _rows(window, 3)
        return ids

    ids: list[str] = run(scenario())
    return ids


async def _shown(window: MainWindow, n: int) -> None:
    proxy = window.proxy
    await wait_for_condition(
        lambda: proxy.rowCount() == n,
        proxy.rowsRemoved, proxy.layoutChanged, proxy.modelReset, timeout_s=5,
    )  # fmt: skip


def _select(window: MainWindow, *ids: str) -> None:
    window.table.clearSelection()
    window.select_tasks(ids)
    assert len(window.selected_tasks()) == len(ids)


def test_export_then_import_makes_new_tasks_with_the_same_definitions(
    window: MainWindow, run: Run, tmp_path: Path
) -> None:
    ids = _waiting_tasks(window, run)
    _select(window, ids[0], ids[2])
    out = tmp_path / "tasks.json"

    assert window.data_files.export_to(out) == 2

    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    doc = json.loads(out.read_text())
    assert doc["format"] == "qtqueue-tasks"
    names = [t["name"] for t in doc["tasks"]]
    assert sorted(names) == ["beta", "build site"]
    build = next(t for t in doc["tasks"] if t["name"] == "build site")
    assert build["tags"] == ["nightly", "site"] and build["category"] == "web"
    assert build["priority"] == "high" and build["permission"] == "human_required"
    assert build["max_retries"] == 3 and build["timeout_s"] == 120.0
    assert build["resources"] == {"cpu_cores": 2} and build["queue"] == "high_priority"
    for entry in doc["tasks"]:  # definitions only: no ids, statuses or history
        assert set(entry) <= DEFINITION_FIELDS
        assert "id" not in entry and "status" not in entry and "created_at" not in entry

    added: list[str] = run(window.data_files.import_from(out))

    assert len(added) == 2 and not set(added) & set(ids)
    run(_rows(window, 5))
    copies = [window.model.task_by_id(i) for i in added]
    assert all(c is not None for c in copies)
    copy = next(c for c in copies if c is not None and c.name == "build site")
    assert copy.params["command"] == "echo build" and copy.tags == ["nightly", "site"]
    assert copy.priority is Priority.HIGH and copy.permission is Permission.HUMAN_REQUIRED
    assert copy.max_retries == 3 and copy.timeout_s == 120.0 and copy.category == "web"
    assert sorted(t.id for t in window.selected_tasks()) == sorted(added)
    assert "Imported 2 task(s)" in window.statusBar().currentMessage()


def test_with_nothing_selected_export_writes_every_task_shown(
    window: MainWindow, run: Run, tmp_path: Path
) -> None:
    _waiting_tasks(window, run)
    window.table.clearSelection()
    window.form.searchBox.setText("alpha")  # the filter leaves one row
    run(_shown(window, 1))
    out = tmp_path / "shown.json"

    assert window.data_files.export_to(out) == 1
    assert [t["name"] for t in json.loads(out.read_text())["tasks"]] == ["alpha"]


def test_a_bad_entry_adds_nothing_and_names_the_entry_and_the_fix(
    window: MainWindow, run: Run, tmp_path: Path
) -> None:
    _waiting_tasks(window, run)
    good = {"task_type": "custom_command", "name": "fine", "params": {"command": "true"}}
    bad = {"task_type": "custom_command", "name": "broken", "params": {"commnd": "x"}}
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps({"format": "qtqueue-tasks", "tasks": [good, good, bad]}))

    added = run(window.data_files.import_from(path))

    assert added == []
    assert window.model.rowCount() == 3  # nothing half-added
    boxes = [b for b in window.findChildren(QMessageBox, "importFailed") if b.isVisible()]
    assert len(boxes) == 1
    assert "entry 3 (“broken”)" in boxes[0].text()
    assert "VALIDATION_" in boxes[0].text() and "Nothing was added" in boxes[0].text()
    assert "Nothing imported" in window.statusBar().currentMessage()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", TaskErrorCode.DATA_PARSING_FAILED),
        ('{"format": "something-else", "tasks": []}', TaskErrorCode.DATA_FORMAT_INVALID),
        ('{"tasks": []}', TaskErrorCode.DATA_FORMAT_INVALID),
        ('[{"task_type": "no_such_type"}]', TaskErrorCode.QUEUE_UNKNOWN_TASK_TYPE),
        ('[{"task_type": "custom_command", "params": {"command": "x"}, "status": "completed"}]',
         TaskErrorCode.VALIDATION_INVALID_PARAMS),
        ('[{"task_type": "custom_command", "params": {"command": "x"}, "priority": "huge"}]',
         TaskErrorCode.VALIDATION_INVALID_PARAMS),
        ('[7]', TaskErrorCode.VALIDATION_INVALID_FORMAT),
    ],
)  # fmt: skip
def test_files_that_are_not_task_lists_are_refused_with_a_code(
    window: MainWindow, text: str, code: TaskErrorCode
) -> None:
    with pytest.raises(QueueError) as refused:
        parse_import(text, window.queue.registry)
    assert refused.value.code is code
    assert refused.value.suggestion


@pytest.mark.usefixtures("secret_service")
def test_no_keyring_secret_lands_in_an_exported_file(
    window: MainWindow, run: Run, tmp_path: Path
) -> None:
    """A task naming a credential exports the credential's name, never its value."""
    run(KeyringCredentials().set("deploy-token", SECRET))
    task = Task(
        TaskType.GITHUB_CLONE,
        {"repository": "octo/site", "credential": "deploy-token"},
        name="clone site",
    )

    async def scenario() -> None:
        await window.queue.pause_queue()
        await window.queue.add_task(task)
        await _rows(window, 1)

    run(scenario())
    out = tmp_path / "creds.json"
    window.table.clearSelection()
    window.data_files.export_to(out)

    text = out.read_text()
    assert '"credential": "deploy-token"' in text
    assert SECRET not in text


def test_csv_has_the_visible_columns_in_view_order_and_the_shown_rows(
    window: MainWindow, run: Run, tmp_path: Path
) -> None:
    _waiting_tasks(window, run)
    header = window.table.horizontalHeader()
    header.moveSection(header.visualIndex(Column.NAME), 0)  # Name first
    header.setSectionHidden(Column.CATEGORY, True)
    window.form.searchBox.setText("alpha")
    run(_shown(window, 1))
    out = tmp_path / "list.csv"

    assert window.data_files.export_csv_to(out) == 1

    with out.open(newline="") as f:
        rows = list(csv.reader(f))
    name_title = window.proxy.headerData(Column.NAME, header.orientation())
    category_title = window.proxy.headerData(Column.CATEGORY, header.orientation())
    assert rows[0][0] == name_title
    assert category_title not in rows[0]
    shown = [c for c in range(header.count()) if not header.isSectionHidden(c)]
    assert len(rows[0]) == len(shown)
    assert len(rows) == 2 and rows[1][0] == "alpha"


#: Task names a spreadsheet would run as formulas (CSV injection), and what the CSV holds.
FORMULA_NAMES = {
    '=HYPERLINK("http://evil.example","click")': '\'=HYPERLINK("http://evil.example","click")',
    "+1+cmd|' /C calc'!A0": "'+1+cmd|' /C calc'!A0",
    "-2+3": "'-2+3",
    "@SUM(1+1)": "'@SUM(1+1)",
    "\tTAB": "'\tTAB",
    "build -x": "build -x",  # a minus inside is harmless
}


def test_csv_cells_a_spreadsheet_would_run_as_formulas_start_with_a_quote(
    window: MainWindow, run: Run, tmp_path: Path
) -> None:
    async def scenario() -> None:
        await window.queue.pause_queue()
        for name in FORMULA_NAMES:
            await window.queue.add_task(command("true", name=name))
        await _rows(window, len(FORMULA_NAMES))

    run(scenario())
    out = tmp_path / "list.csv"
    window.data_files.export_csv_to(out)

    with out.open(newline="") as f:
        rows = list(csv.reader(f))
    name_column = rows[0].index(
        str(window.proxy.headerData(Column.NAME, Qt.Orientation.Horizontal))
    )
    assert sorted(r[name_column] for r in rows[1:]) == sorted(FORMULA_NAMES.values())


def test_a_plain_number_in_a_csv_cell_stays_a_number() -> None:
    text = csv_text(["n"], [["-3"], ["-1.5"], ["+2"], ["-3-1"]])
    assert text.splitlines()[1:] == ["-3", "-1.5", "+2", "'-3-1"]


def test_the_file_menu_offers_import_and_export_through_file_choosers(
    window: MainWindow,
) -> None:
    texts = [a.text() for a in window.form.menuFile.actions()]
    assert {"&Import tasks…", "&Export tasks…", "Export list as &CSV…"} <= set(texts)

    window.data_files.import_action.trigger()
    chooser = window.findChild(QFileDialog, "importTasksFile")
    assert chooser is not None and chooser.isVisible()
    chooser.reject()
    window.data_files.csv_action.trigger()
    saver = window.findChild(QFileDialog, "exportCsvFile")
    assert saver is not None and saver.acceptMode() is QFileDialog.AcceptMode.AcceptSave
    saver.reject()
