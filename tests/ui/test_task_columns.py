"""The task table's columns as a user reads them: the progress bar only where a task is
under way (busy when it has not said how far), the step in its own column, ETA and speed,
type names in words, natural name order, the last error shown by default, a selection
count, and rows that hold still under the pointer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from PySide6.QtCore import QEvent, QItemSelection, QItemSelectionModel, QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QColor, QEnterEvent, QImage, QPainter
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem, QTableView
from pytestqt.qtbot import QtBot

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.executors import Executor, RunContext, default_registry
from qtqueue.executors.base import Params
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.new_task_dialog import NewTaskDialog
from qtqueue.ui.task_list import model as model_module
from qtqueue.ui.task_list.columns import BUSY, HIDDEN_BY_DEFAULT, Column, Role
from qtqueue.ui.task_list.delegate import ProgressDelegate
from qtqueue.ui.task_list.model import TaskTableModel
from qtqueue.ui.task_list.table_setup import selected_row_count

from .conftest import Run, until, until_row
from .task_list_env import changed, make

ASC = Qt.SortOrder.AscendingOrder
DESC = Qt.SortOrder.DescendingOrder


def cell(model: TaskTableModel, task: Task, column: Column, role: int = 0) -> Any:
    row = model.row_of(task.id)
    assert row is not None
    return model.index(row, column).data(role or Qt.ItemDataRole.DisplayRole)


def names(model: TaskTableModel) -> list[str]:
    return [model.task(r).name for r in range(model.rowCount())]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(10_000.0)


@pytest.fixture
def model(qapp: QApplication, clock: Clock) -> TaskTableModel:
    return TaskTableModel(
        clock=clock, titles={"custom_command": "Shell command", "docker_push": "Docker push"}
    )


# ------------------------------------------------------------------ status


def test_a_task_waiting_for_its_start_time_reads_scheduled_until_then(
    model: TaskTableModel, clock: Clock
) -> None:
    later = make("nightly", run_at=clock.now + 3600)
    due = make("due now", run_at=clock.now - 1)
    model.reset([later, due])
    assert cell(model, later, Column.STATUS) == "Scheduled"
    assert cell(model, due, Column.STATUS) == "Pending"
    clock.now += 3601  # its time has come: it waits like any other
    assert cell(model, later, Column.STATUS) == "Pending"


# ------------------------------------------------------------------ progress and step


def statuses() -> dict[str, Task]:
    return {
        "running": make(
            "running", TaskStatus.RUNNING, progress=42.0, current_step="copying", started_at=9_990.0
        ),
        "busy": make("busy", TaskStatus.RUNNING, started_at=9_990.0, current_step="starting"),
        "step %": make(
            "step %", TaskStatus.DOWNLOADING, current_step="fetched 12 % of it", started_at=9_990.0
        ),
        "pending": make("pending"),
        "paused early": make("paused early", TaskStatus.PAUSED, paused_from=None),
        "paused mid-run": make(
            "paused mid-run", TaskStatus.PAUSED, progress=30.0, paused_from=TaskStatus.RUNNING
        ),
        "failed": make("failed", TaskStatus.FAILED, progress=60.0, error="boom"),
        "timeout": make("timeout", TaskStatus.TIMEOUT, progress=10.0),
        "cancelled": make("cancelled", TaskStatus.CANCELLED, progress=20.0),
        "completed": make("completed", TaskStatus.COMPLETED, progress=100.0, duration=5.0),
    }


def test_progress_bar_only_for_work_under_way_and_busy_without_a_percentage(
    model: TaskTableModel,
) -> None:
    tasks = statuses()
    model.reset(list(tasks.values()))
    bars = {name: cell(model, t, Column.PROGRESS, Role.BAR) for name, t in tasks.items()}
    assert bars == {
        "running": 42.0, "busy": BUSY, "step %": 12.0, "pending": None, "paused early": None,
        "paused mid-run": 30.0, "failed": None, "timeout": None, "cancelled": None,
        "completed": 100.0,
    }  # fmt: skip
    texts = {name: cell(model, t, Column.PROGRESS) for name, t in tasks.items()}
    assert texts["running"] == "42 %" and texts["completed"] == "100 %"
    assert texts["pending"] == texts["failed"] == texts["cancelled"] == ""
    # The step has its own column; the percentage stays the progress column's sort value.
    assert cell(model, tasks["running"], Column.STEP) == "copying"
    assert model.headerData(Column.STEP, Qt.Orientation.Horizontal) == "Step"
    assert cell(model, tasks["running"], Column.PROGRESS, Role.SORT) == 42.0


def paint(delegate: ProgressDelegate, view: QTableView, row: int) -> QImage:
    image = QImage(120, 24, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, 120, 24)
    option.widget = view
    option.fontMetrics = view.fontMetrics()
    painter = QPainter(image)
    delegate.paint(painter, option, view.model().index(row, Column.PROGRESS))
    painter.end()
    return image


def colours(image: QImage) -> set[int]:
    return {image.pixel(x, y) for x in range(0, image.width(), 2) for y in range(image.height())}


def test_the_delegate_draws_a_bar_a_busy_bar_or_nothing(
    qtbot: QtBot, model: TaskTableModel
) -> None:
    tasks = statuses()
    model.reset([tasks["running"], tasks["busy"], tasks["pending"], tasks["failed"]])
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    delegate = ProgressDelegate(view)
    rows = {t.name: model.row_of(t.id) or 0 for t in model.tasks()}
    running, busy = paint(delegate, view, rows["running"]), paint(delegate, view, rows["busy"])
    pending, failed = paint(delegate, view, rows["pending"]), paint(delegate, view, rows["failed"])
    assert len(colours(pending)) == 1 and len(colours(failed)) == 1  # no bar, no text
    assert len(colours(running)) > 2 and len(colours(busy)) > 2
    assert running != busy


# ------------------------------------------------------------------ ETA and speed


def test_eta_from_similar_finished_tasks_then_own_rate_and_unknown_is_a_dash(
    model: TaskTableModel, clock: Clock
) -> None:
    history = [
        make(f"backup {i}", TaskStatus.COMPLETED, duration=d, progress=100.0)
        for i, d in ((1, 100.0), (2, 120.0), (3, 110.0))
    ]
    like = make("backup 12", TaskStatus.RUNNING, started_at=clock.now - 30)
    own = make("render", TaskStatus.RUNNING, progress=25.0, started_at=clock.now - 60)
    unknown = make("mystery", TaskStatus.RUNNING, started_at=clock.now - 60)
    other_type = make(
        "backup 13",
        TaskStatus.RUNNING,
        task_type=TaskType.DOCKER_PUSH,
        started_at=clock.now - 30,
        params={},
    )
    waiting = make("backup 14")
    model.reset([*history, like, own, unknown, other_type, waiting])
    assert cell(model, like, Column.ETA) == "1 m 20 s"  # median 110 s, 30 s run
    assert cell(model, own, Column.ETA) == "3 m 00 s"  # a quarter in a minute
    assert cell(model, unknown, Column.ETA) == "—"
    tip = Qt.ItemDataRole.ToolTipRole
    assert "similar finished tasks" in cell(model, like, Column.ETA, tip)
    assert "progress so far" in cell(model, own, Column.ETA, tip)
    assert "Not known yet" in cell(model, unknown, Column.ETA, tip)
    assert cell(model, other_type, Column.ETA) == "—"  # another type is not similar
    assert cell(model, waiting, Column.ETA) == ""
    clock.now += 20  # the clock moves; the ETA follows
    assert cell(model, like, Column.ETA) == "1 m 00 s"
    # A new finished run joins the history.
    model.apply(changed=[make("backup 4", TaskStatus.COMPLETED, duration=400.0)])
    model.apply(changed=[make("backup 5", TaskStatus.COMPLETED, duration=400.0)])
    assert cell(model, like, Column.ETA) == "1 m 10 s"  # median now 120 s, 50 s run
    model.sort(Column.ETA, ASC)
    assert names(model)[:2] == ["backup 12", "render"]  # 70 s, 240 s; unknown last
    assert names(model).index("mystery") > 1


def test_speed_and_eta_from_reported_bytes(model: TaskTableModel, clock: Clock) -> None:
    pull = make(
        "pull", TaskStatus.PULLING, started_at=clock.now, done_bytes=0, total_bytes=50_000_000
    )
    plain = make("plain", TaskStatus.RUNNING, started_at=clock.now)
    model.reset([pull, plain])
    for second in range(1, 6):
        clock.now += 1
        pull = changed(pull, done_bytes=second * 2_000_000, progress=second * 4.0)
        model.apply(changed=[pull])
    assert cell(model, pull, Column.SPEED) == "2.0 MB/s"
    assert cell(model, pull, Column.ETA) == "20 s"  # 40 MB left at 2 MB/s
    assert "bytes" in cell(model, pull, Column.ETA, Qt.ItemDataRole.ToolTipRole)
    assert cell(model, plain, Column.SPEED) == "—"
    model.apply(changed=[changed(pull, status=TaskStatus.COMPLETED, duration_s=5.0)])
    assert cell(model, pull, Column.SPEED) == ""


class BytesParams(Params):
    total: int = 8_000_000


class CopiesBytes(Executor[BytesParams]):
    """Reports bytes halfway, then waits for the test's gate."""

    task_type: ClassVar[str] = "copy_bytes"
    title = "Copy"
    gate: ClassVar[asyncio.Event | None] = None

    async def run(self, ctx: RunContext[BytesParams]) -> dict[str, Any] | None:
        total = ctx.params.total
        ctx.progress(50, "copying", done_bytes=total // 2, total_bytes=total)
        assert CopiesBytes.gate is not None
        await CopiesBytes.gate.wait()
        return None


def test_bytes_a_task_reports_reach_the_window_as_speed_and_eta(
    make_window: Callable[..., MainWindow], data_dir: Path, run: Run
) -> None:
    registry = default_registry(entry_points=False)
    registry.register(CopiesBytes())
    window = make_window(data_dir, registry=registry)
    CopiesBytes.gate = asyncio.Event()
    task_id = run(window.queue.add_task(Task("copy_bytes", {"total": 8_000_000}, name="copy")))
    task = run(until_row(window, task_id, lambda t: t.done_bytes == 4_000_000))
    assert task.total_bytes == 8_000_000
    model = window.model
    assert cell(model, task, Column.TYPE) == "Copy"
    assert cell(model, task, Column.SPEED).endswith("/s")
    assert cell(model, task, Column.ETA) not in ("", "—")
    assert cell(model, task, Column.STEP) == "copying"
    CopiesBytes.gate.set()
    run(until_row(window, task_id, lambda t: t.status == TaskStatus.COMPLETED))
    assert cell(model, task, Column.SPEED) == ""


# ------------------------------------------------------------------ type, name, error


def test_type_names_in_words_and_sorted_by_them(model: TaskTableModel) -> None:
    tasks = [
        make("a", task_type=TaskType.CUSTOM_COMMAND),
        make("b", task_type=TaskType.DOCKER_PUSH, params={}),
        make("c", task_type=TaskType.SYSTEM_BACKUP, params={}),
    ]
    model.reset(tasks)
    assert [cell(model, t, Column.TYPE) for t in tasks] == [
        "Shell command",
        "Docker push",
        "System backup",
    ]
    model.sort(Column.TYPE, ASC)  # by title: Docker < Shell < System (not docker < custom)
    assert names(model) == ["b", "a", "c"]


def test_built_in_types_read_as_words(qtbot: QtBot) -> None:
    titles = default_registry(entry_points=False).titles()
    assert titles["custom_command"] == "Shell command"
    assert titles["custom_script"] == "Script"
    assert titles["docker_push"] == "Docker push"
    dialog = NewTaskDialog(default_registry(entry_points=False))
    qtbot.addWidget(dialog)
    shown = [dialog.type_picker.itemText(i).strip() for i in range(dialog.type_picker.count())]
    assert "Shell command" in shown and "Docker push" in shown
    assert "custom_command" not in shown
    assert dialog.type_names()[0] in titles  # the choice still names the type


def test_names_sort_naturally(model: TaskTableModel) -> None:
    model.reset([make(n) for n in ("backup 10", "backup 2", "Backup 1", "backup 2a", "alpha")])
    model.sort(Column.NAME, ASC)
    assert names(model) == ["alpha", "Backup 1", "backup 2", "backup 2a", "backup 10"]
    model.sort(Column.NAME, DESC)
    assert names(model) == ["backup 10", "backup 2a", "backup 2", "Backup 1", "alpha"]


def test_last_error_is_shown_by_default_and_the_code_can_be_shown(
    window: MainWindow, run: Run
) -> None:
    assert Column.ERROR_CODE in HIDDEN_BY_DEFAULT and Column.LAST_ERROR not in HIDDEN_BY_DEFAULT
    table = window.table
    assert not table.isColumnHidden(Column.LAST_ERROR) and table.isColumnHidden(Column.ERROR_CODE)
    task_id = run(
        window.queue.add_task(
            Task(TaskType.CUSTOM_COMMAND, {"command": "qtq-no-such-program-16"}, name="broken")
        )
    )
    task = run(until_row(window, task_id, lambda t: t.status == TaskStatus.FAILED))
    assert cell(window.model, task, Column.LAST_ERROR) == (task.error or "").split("\n")[0] != ""
    action = window._column_actions[Column.ERROR_CODE]
    assert not action.isChecked()
    action.setChecked(True)
    assert not table.isColumnHidden(Column.ERROR_CODE)


# ------------------------------------------------------------------ selection, stillness


def test_the_count_says_how_many_rows_are_selected(window: MainWindow, run: Run) -> None:
    later = time.time() + 3_600  # they wait, scheduled
    ids = [run(window.queue.add_task(make(f"later {i}", run_at=later))) for i in range(3)]
    run(until(lambda: window.model.rowCount() == 3, window.model.batchApplied))
    label = window.form.shownLabel
    assert label.text() == "3 tasks"
    window.select_tasks(ids[:2])
    assert label.text() == "3 tasks · 2 selected"
    window.select_tasks(ids)
    assert label.text() == "3 tasks · 3 selected"
    window.select_tasks(ids[:1])
    assert label.text() == "3 tasks"


def test_rows_hold_still_while_held_and_fall_in_order_after(model: TaskTableModel) -> None:
    tasks = [
        make(n, TaskStatus.RUNNING, progress=p, started_at=9_990.0)
        for n, p in (("a", 90.0), ("b", 50.0), ("c", 10.0))
    ]
    model.reset(tasks)
    model.sort(Column.PROGRESS, DESC)
    model.hold_resort(True)
    model.apply(changed=[changed(tasks[2], progress=95.0)])
    assert names(model) == ["a", "b", "c"]  # c has overtaken, but stays under the pointer
    assert cell(model, tasks[2], Column.PROGRESS) == "95 %"
    model.hold_resort(False)
    assert names(model) == ["c", "a", "b"]
    model.hold_resort(True)
    model.sort(Column.NAME, ASC)  # a header click sorts at once
    assert names(model) == ["a", "b", "c"]


def test_pointer_over_the_table_holds_the_order(window: MainWindow, qtbot: QtBot) -> None:
    viewport = window.table.viewport()
    inside = QPointF(QPoint(10, 10))
    QApplication.sendEvent(
        viewport, QEnterEvent(inside, inside, QPointF(viewport.mapToGlobal(inside)))
    )
    assert window.model.resort_held
    QApplication.sendEvent(viewport, QEvent(QEvent.Type.Leave))
    assert not window.model.resort_held


def test_the_selection_count_is_quick_with_every_row_selected(
    qtbot: QtBot, model: TaskTableModel
) -> None:
    model.reset([make(f"t {i}") for i in range(100_000)])
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setColumnHidden(Column.QUEUE, True)
    selection = view.selectionModel()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    selection.select(QItemSelection(model.index(10, 0), model.index(19, 0)), flags)
    selection.select(QItemSelection(model.index(15, 0), model.index(24, 0)), flags)
    assert selected_row_count(selection) == 15  # rows 10–24, the overlap once
    view.selectAll()
    started = time.perf_counter()
    assert selected_row_count(selection) == 100_000
    assert time.perf_counter() - started < 0.5


def test_a_big_tables_delayed_re_sort_waits_for_the_pointer_too(
    qtbot: QtBot, model: TaskTableModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_module, "RESORT_NOW_MAX_ROWS", 2)  # "big": re-sorts are spaced
    tasks = [
        make(n, TaskStatus.RUNNING, progress=p, started_at=9_990.0)
        for n, p in (("a", 90.0), ("b", 50.0), ("c", 10.0))
    ]
    model.reset(tasks)
    model.sort(Column.PROGRESS, DESC)
    model.apply(changed=[changed(tasks[2], progress=95.0)])  # a re-sort is due in 500 ms
    model.hold_resort(True)  # then the pointer comes over the rows
    with qtbot.waitSignal(model._resort_timer.timeout, timeout=3_000):
        pass
    assert names(model) == ["a", "b", "c"]
    model.hold_resort(False)
    with qtbot.waitSignal(model._resort_timer.timeout, timeout=3_000):
        pass
    assert names(model) == ["c", "a", "b"]
