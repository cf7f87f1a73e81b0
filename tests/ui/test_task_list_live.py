"""The task list while work goes on, against a real engine: busy bars that move (and a timer
that sleeps when nothing is busy or nothing shows), the "#" column (a waiting task's place
in its queue) following moves and priorities, a header saved before "#" existed, and the
search texts built ahead."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QObject, QRect, QSettings, Qt
from PySide6.QtGui import QImage, QStandardItemModel
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu, QTableView
from pytestqt.qtbot import QtBot

from qtqueue.core.queue_moves import MovePlace
from qtqueue.core.task import Priority, Task, TaskStatus, TaskType
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.task_list import search_text
from qtqueue.ui.task_list.columns import DEFAULT_WIDTHS, HIDDEN_BY_DEFAULT, Column
from qtqueue.ui.task_list.model import TaskTableModel
from qtqueue.ui.task_list.proxy import TaskFilterProxy
from qtqueue.ui.task_list.table_setup import setup_table
from qtqueue.ui.window_state import restore_window_state, save_header

from .conftest import Run, in_status, until, until_row
from .task_list_env import changed, make


def command(name: str, *argv: str, **kw: object) -> Task:
    params = {"command": argv[0], "args": list(argv[1:])} if argv else {"command": "true"}
    return Task(TaskType.CUSTOM_COMMAND, params, name=name, **kw)  # type: ignore[arg-type]


def add(window: MainWindow, run: Run, *tasks: Task, status: TaskStatus) -> list[str]:
    async def scenario() -> list[str]:
        ids = await window.queue.add_tasks(list(tasks))
        for i in ids:
            await until_row(window, i, in_status(status))
        return ids

    return run(scenario())


def cell_rect(window: MainWindow, task_id: str, column: Column) -> QRect:
    row = window.model.row_of(task_id)
    assert row is not None
    index = window.proxy.mapFromSource(window.model.index(row, column))
    return window.table.visualRect(index)


def grab(window: MainWindow, rect: QRect) -> QImage:
    return window.table.viewport().grab(rect).toImage()


# ------------------------------------------------------------------ busy bars


def test_a_busy_bar_moves_and_its_timer_runs_only_while_a_busy_row_shows(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    animation = window.progress_delegate.busy
    assert animation is not None
    assert not animation.timer.isActive()  # nothing runs: the window sleeps
    run(window.queue.pause_queue())
    (waiting,) = add(window, run, command("waits"), status=TaskStatus.PENDING)
    assert not animation.timer.isActive()  # a waiting task has no bar
    run(window.queue.resume_queue())
    run(until_row(window, waiting, in_status(TaskStatus.COMPLETED)))  # a full bar
    (busy,) = add(window, run, command("sleeps", "sleep", "60"), status=TaskStatus.RUNNING)
    run(until(animation.timer.isActive, window.model.batchApplied))

    # Only the busy row's progress cell repaints on a frame.
    bar = cell_rect(window, busy, Column.PROGRESS)
    assert animation.busy_cells() == [bar]
    before = grab(window, bar)
    with qtbot.waitSignal(animation.timer.timeout, timeout=2000):
        pass
    with qtbot.waitSignal(animation.timer.timeout, timeout=2000):
        pass
    assert grab(window, bar) != before  # the chunk moved

    window.hide()  # nothing to see: the next frame is the last
    qtbot.waitUntil(lambda: not animation.timer.isActive(), timeout=2000)
    window.show()  # the model's next one-second tick starts it again
    with qtbot.waitSignal(window.model.durationsTicked, timeout=3000):
        pass
    assert animation.timer.isActive()

    run(window.queue.cancel_task(busy))
    run(until_row(window, busy, in_status(TaskStatus.CANCELLED)))
    qtbot.waitUntil(lambda: not animation.timer.isActive(), timeout=2000)
    assert window.model.busy_ids == frozenset()


def test_a_running_task_with_a_percentage_does_not_wake_the_busy_timer(
    qtbot: QtBot, qapp: QApplication
) -> None:
    model = TaskTableModel(clock=lambda: 10_000.0)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    from qtqueue.ui.task_list.delegate import ProgressDelegate

    delegate = ProgressDelegate(view)
    view.setItemDelegateForColumn(Column.PROGRESS, delegate)
    view.show()
    running = make("copies", TaskStatus.RUNNING, progress=40.0, started_at=9_990.0)
    model.reset([running])
    assert delegate.busy is not None and not delegate.busy.timer.isActive()
    model.apply(changed=[changed(running, progress=0.0, current_step="starting over")])
    assert delegate.busy.timer.isActive()  # no percentage any more: busy
    view.setColumnHidden(Column.PROGRESS, True)  # no bar in sight: no frames
    assert not delegate.busy.timer.isActive()
    view.setColumnHidden(Column.PROGRESS, False)
    assert delegate.busy.timer.isActive()


# ------------------------------------------------------------------ the "#" column


def positions(window: MainWindow, ids: dict[str, str]) -> dict[str, str]:
    model = window.model
    return {
        name: model.index(model.row_of(i) or 0, Column.POSITION).data() for name, i in ids.items()
    }


def engine_order(window: MainWindow) -> list[str]:
    return [t.name for t in window.queue.ordering.waiting_order("default")]  # type: ignore[attr-defined]


def names_shown(window: MainWindow) -> list[str]:
    return [window.proxy.index(r, Column.NAME).data() for r in range(window.proxy.rowCount())]


class PaintSpy(QObject):
    """The rectangles a widget was asked to paint."""

    def __init__(self, widget: QObject) -> None:
        super().__init__()
        self.rects: list[QRect] = []
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.rects.append(event.rect())  # type: ignore[attr-defined]
        return False


def test_the_position_column_follows_moves_and_priorities_and_sorts(
    window: MainWindow, run: Run, qtbot: QtBot
) -> None:
    run(window.queue.pause_queue())
    ids = dict(zip("abcd", add(window, run, *map(command, "abcd"), status=TaskStatus.PENDING),
                   strict=True))  # fmt: skip
    assert window.model.headerData(Column.POSITION, Qt.Orientation.Horizontal) == "#"
    assert not window.table.isColumnHidden(Column.POSITION)  # shown by default, as qBittorrent
    assert positions(window, ids) == {"a": "1", "b": "2", "c": "3", "d": "4"}

    # Put "#" beside the name, where a user would drag it, and watch what repaints.
    header = window.table.horizontalHeader()
    header.moveSection(header.visualIndex(Column.POSITION), 1)
    QApplication.processEvents()
    spy = PaintSpy(window.table.viewport())

    run(window.queue.move_task(ids["d"], MovePlace.TOP))
    run(until(lambda: positions(window, ids)["d"] == "1", window.model.batchApplied))
    assert positions(window, ids) == {"a": "2", "b": "3", "c": "4", "d": "1"}
    assert engine_order(window) == ["d", "a", "b", "c"]
    a_cell = cell_rect(window, ids["a"], Column.POSITION)
    qtbot.waitUntil(lambda: any(r.contains(a_cell) for r in spy.rects), timeout=2000)

    run(window.queue.set_priority(ids["c"], Priority.HIGH))
    # A high priority puts it first in the high_priority queue (the engine's way); the
    # default queue's tasks move up.
    run(until(lambda: positions(window, ids)["c"] == "1", window.model.batchApplied))
    assert positions(window, ids) == {"a": "2", "b": "3", "c": "1", "d": "1"}
    assert engine_order(window) == ["d", "a", "b"]

    # Sorting by it lists the waiting tasks in the order the queues start them (a tie: the
    # queue drained first, high_priority, comes first).
    window.table.sortByColumn(Column.POSITION, Qt.SortOrder.AscendingOrder)
    assert names_shown(window) == ["c", "d", "a", "b"]
    run(window.queue.move_task(ids["b"], MovePlace.TOP))
    run(until(lambda: names_shown(window) == ["c", "b", "d", "a"], window.model.batchApplied))

    # Once they run and finish, the cells are blank.
    run(window.queue.resume_queue())
    for i in ids.values():
        run(until_row(window, i, in_status(TaskStatus.COMPLETED)))
    assert set(positions(window, ids).values()) == {""}


FULL = "waiting: queue 'default' is at its limit of 1"


def test_positions_count_per_queue_in_start_order() -> None:
    model = TaskTableModel()
    tasks = [
        make("n1", seq=5),
        make("n2", seq=7),
        make("urgent", seq=9, priority=Priority.URGENT),
        make("other queue", seq=1, queue="low_priority"),
        make("running", TaskStatus.RUNNING, seq=0),
    ]
    model.reset(tasks)
    place = {t.name: model.position(t) for t in model.tasks()}
    assert place == {"n1": 2, "n2": 3, "urgent": 1, "other queue": 1, "running": None}
    # A task held back (by its start time, dependencies) keeps its place, greyed; one
    # parked by a queue limit starts in its turn: not greyed.
    later = make("tonight", seq=6, run_at=time.time() + 3600)
    after = make("after", seq=8, wait_reason="waiting for 1 dependency: 3f2a91c0…")
    model.apply(changed=[later, after, changed(tasks[0], wait_reason=FULL)])
    assert model.position(later) == 3
    colour = Qt.ItemDataRole.ForegroundRole
    cells = {t.name: model.index(model.row_of(t.id) or 0, Column.POSITION) for t in model.tasks()}
    assert {n for n, c in cells.items() if c.data(colour) is not None} == {"tonight", "after"}
    assert [cells[n].data() for n in ("n1", "tonight", "n2", "after")] == ["2", "3", "4", "5"]
    model.sort(Column.POSITION)  # first places first (a tie: the queue drained first)
    assert [t.name for t in model.tasks()] == [
        "urgent", "other queue", "n1", "tonight", "n2", "after", "running",
    ]  # fmt: skip
    model.apply(removed=[tasks[2].id])  # the next one started and went: the others move up
    assert {t.name: model.position(t) for t in model.tasks()}["n1"] == 1
    assert [t.name for t in model.tasks()][:2] == ["n1", "other queue"]  # sorted again


def test_a_header_saved_before_the_position_column_keeps_the_users_columns(
    qtbot: QtBot, tmp_path: Path
) -> None:
    # A header as qtqueue saved it with 19 columns, before "#": Step dragged after Name,
    # Name 333 px wide, Type hidden, sorted by duration.
    old = QTableView()
    qtbot.addWidget(old)
    old.setModel(QStandardItemModel(0, 19))
    old_header = old.horizontalHeader()
    old_header.setSectionsMovable(True)
    old_header.moveSection(Column.STEP, 1)
    old.setColumnWidth(Column.NAME, 333)
    old.setColumnHidden(Column.TYPE, True)
    old.setSortingEnabled(True)
    old.sortByColumn(Column.DURATION, Qt.SortOrder.DescendingOrder)
    settings = QSettings(str(tmp_path / "qtqueue.ini"), QSettings.Format.IniFormat)
    settings.setValue("taskTable/header", old_header.saveState())
    settings.setValue("taskTable/columns", "19")

    model = TaskTableModel()
    proxy = TaskFilterProxy()
    proxy.setSourceModel(model)
    window = QMainWindow()
    qtbot.addWidget(window)
    table = QTableView(window)
    table.setModel(proxy)
    actions = setup_table(table, QMenu(window), lambda c, on: table.setColumnHidden(c, not on))
    restore_window_state(settings, window, table, [], actions)

    header = table.horizontalHeader()
    assert [header.logicalIndex(v) for v in range(3)] == [Column.NAME, Column.STEP, Column.STATUS]
    assert table.columnWidth(Column.NAME) == 333
    assert table.isColumnHidden(Column.TYPE) and not actions[Column.TYPE].isChecked()
    assert header.sortIndicatorSection() == Column.DURATION
    # The new column comes last, narrow and shown, as for a new user.
    assert header.visualIndex(Column.POSITION) == len(Column) - 1
    assert table.columnWidth(Column.POSITION) == DEFAULT_WIDTHS[Column.POSITION]
    assert not table.isColumnHidden(Column.POSITION) and actions[Column.POSITION].isChecked()
    assert Column.POSITION not in HIDDEN_BY_DEFAULT

    # Saved again, it comes back whole.
    save_header(settings, table)
    assert settings.value("taskTable/columns") == str(len(Column))
    again = QTableView(window)
    again.setModel(proxy)
    restore_window_state(settings, window, again, [], setup_table(again, QMenu(window), print))
    assert again.columnWidth(Column.NAME) == 333
    assert again.horizontalHeader().visualIndex(Column.STEP) == 1


# ------------------------------------------------------------------ search


def test_search_texts_are_built_while_idle_and_follow_edits(
    window: MainWindow, run: Run, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(window.queue.pause_queue())
    failing = command("sync mirror", category="backups", tags=["nightly"])
    (task_id,) = add(window, run, failing, status=TaskStatus.PENDING)
    model = window.model
    qtbot.waitUntil(lambda: model.search.ahead == 0, timeout=2000)  # built ahead, while idle

    built: list[str] = []
    real = search_text.build_text
    monkeypatch.setattr(search_text, "build_text", lambda t: built.append(t.id) or real(t))
    window.proxy.set_search_text("NIGHTLY backups")  # tag and category
    assert window.proxy.rowCount() == 1
    assert built == []  # the first search built nothing: it was ready

    # An edited task is found by its new name, no longer by its old one.
    edited = model.task_by_id(task_id)
    assert edited is not None
    edited = edited.copy()
    edited.name = "rsync archive"
    run(window.queue.update_task(task_id, edited))
    run(until_row(window, task_id, lambda t: t.name == "rsync archive"))
    window.proxy.set_search_text("archive")
    assert window.proxy.rowCount() == 1
    window.proxy.set_search_text("mirror")
    assert window.proxy.rowCount() == 0


def test_positions_know_the_engines_queues() -> None:
    from qtqueue.engine import named_queues
    from qtqueue.ui.task_list import positions

    assert positions.DEFAULT_QUEUE == named_queues.DEFAULT_QUEUE
    assert positions.RANKS == named_queues.BUILTIN_RANKS
