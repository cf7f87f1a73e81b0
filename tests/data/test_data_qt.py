"""The detail pane's data widget: a real DATA_ANALYZE task's log, chunk by chunk, becomes the
profile table (one row per column); other task types are not its business."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt (as tests/ui does)
pytest.importorskip("PySide6", reason="the window's extra (qtqueue[gui]) is not installed")
pytest.importorskip("pytestqt", reason="pytest-qt (qtqueue[test-gui]) is not installed")

from data_env import parquet, run_task
from pytestqt.qtbot import QtBot

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import ExecutorRegistry
from qtqueue.families.data import family
from qtqueue.families.data.qt import detail_widget


async def _analyze_log(folder: Path) -> str:
    registry = ExecutorRegistry()
    registry.add_family(family)
    async with TaskQueue(folder / "q", registry=registry) as queue:
        done = await run_task(queue, TaskType.DATA_ANALYZE, source=str(parquet(folder)))
        assert done.status is TaskStatus.COMPLETED, done.error
        return await queue.read_log(done.id)


def test_the_profile_table_shows_each_analyzed_column(qtbot: QtBot, tmp_path: Path) -> None:
    log = asyncio.run(_analyze_log(tmp_path))
    view = detail_widget()
    qtbot.addWidget(view)
    assert view.shows(Task(TaskType.DATA_ANALYZE, {"source": "x.csv"}))
    assert not view.shows(Task(TaskType.DATA_EXPORT, {}))

    cut = log.index("amount") + 3  # the last profile line arrives in two pieces
    with qtbot.waitSignal(view.updated) as signal:
        view.feed("t1", log[:cut])
    assert signal.args == ["t1"] and [r[0] for r in view.rows()] == ["id", "city"]
    view.feed("t1", log[cut:])
    view.finish("t1")
    rows = {r[0]: r for r in view.rows()}
    assert list(rows) == ["id", "city", "amount"]
    headers = [view.table.horizontalHeaderItem(c).text() for c in range(view.table.columnCount())]
    amount = dict(zip(headers, rows["amount"], strict=True))
    assert (amount["type"], amount["nulls"], amount["mean"]) == ("DOUBLE", "1", "9")
    assert dict(zip(headers, rows["city"], strict=True))["top"].startswith("Köln (2), ")
    view.feed(
        "t1",
        'profile: {"column": "ratio", "type": "DOUBLE", "q25": "23.920400000000004", '
        '"max": "2026-12-28"}\n',
    )
    ratio = dict(zip(headers, {r[0]: r for r in view.rows()}["ratio"], strict=True))
    assert (ratio["q25"], ratio["max"]) == ("23.9204", "2026-12-28")  # numbers shown short
    view.reset()
    assert view.rows() == []


@pytest.mark.parametrize(
    ("task_type", "first"),
    [
        ("data_import", ["source", "database", "table"]),
        ("data_export", ["source", "output"]),
        ("data_process", ["operation", "inputs", "sql"]),
        ("data_analyze", ["source"]),
    ],
)
def test_each_data_form_opens_with_what_a_user_fills_first(
    qtbot: QtBot, task_type: str, first: list[str]
) -> None:
    """The file to read comes first, the CSV options (delimiter, header, encoding) after."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QComboBox

    from qtqueue.executors import default_registry
    from qtqueue.ui.new_task_dialog import NewTaskDialog
    from qtqueue.ui.paramform.form import TaskForm

    dialog = NewTaskDialog(default_registry(entry_points=False))
    qtbot.addWidget(dialog)
    picker = dialog.findChild(QComboBox, "taskTypePicker")
    picker.setCurrentIndex(picker.findData(task_type, Qt.ItemDataRole.UserRole + 1))
    qtbot.waitUntil(lambda: first[0] in dialog.findChild(TaskForm, "taskForm").field_names())
    names = dialog.findChild(TaskForm, "taskForm").field_names()
    assert names[: len(first)] == first
    assert names.index("delimiter") > names.index(first[-1])
