"""The window's Workers view over a real cluster: a real redis-server, two real `qtqueue
worker` processes (w0, w1), the real widget offscreen reading them through
`ClusterWorkersSource`, and the real main window it installs into."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cluster_control_env import BackgroundWorker
from cluster_env import RedisServer
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QSignalSpy, QTest
from PySide6.QtWidgets import QApplication

from qtqueue.app import create_main_window
from qtqueue.cluster.workers_source import ClusterWorkersSource
from qtqueue.core.task import Task
from qtqueue.executors import default_registry
from qtqueue.ui.theme import adapt
from qtqueue.ui.workers_view import HEADER_KEY, WorkersView
from qtqueue.ui.workers_view_model import WORKER_TTL_S, WorkerColumn

pytest_plugins = ["workers_view_env"]

Run = Callable[..., Any]
Until = Callable[..., Any]
AddTask = Callable[[str], tuple[Task, Path]]
OpenView = Callable[..., WorkersView]


def cell(view: WorkersView, name: str, column: WorkerColumn) -> str:
    """What the row of worker `name` shows in `column`."""
    row = view.model.row_of(name)
    assert row is not None, f"no row for {name}: {view.model.names()}"
    return str(view.model.index(row, column).data())


def states(view: WorkersView) -> dict[str, str]:
    return dict(zip(view.model.names(), view.model.states(), strict=True))


def busy_with(view: WorkersView, task_name: str) -> str | None:
    """The worker whose row shows it runs `task_name`, if one does."""
    for name, state in states(view).items():
        if state == "busy" and cell(view, name, WorkerColumn.TASK) == task_name:
            return name
    return None


def test_the_view_lists_the_workers_idle_then_one_busy_with_its_task_and_lost_past_rqs_ttl(
    two_workers: dict[str, BackgroundWorker],
    add_waiting_task: AddTask,
    open_view: OpenView,
    qt_until: Until,
) -> None:
    view = open_view()
    activated = QSignalSpy(view.taskActivated)
    resets, inserted = QSignalSpy(view.model.modelReset), QSignalSpy(view.model.rowsInserted)
    qt_until(lambda: states(view) == {"w0": "idle", "w1": "idle"}, "both idle")
    assert view.summary.text() == "2 workers · 0 busy · 0 suspended"
    for name, worker in two_workers.items():
        assert cell(view, name, WorkerColumn.HOST) == socket.gethostname()
        assert cell(view, name, WorkerColumn.PID) == str(worker.proc.pid)
        assert cell(view, name, WorkerColumn.QUEUES) == "high_priority, default, low_priority"
        assert cell(view, name, WorkerColumn.HEARTBEAT).endswith(("s ago", "just now"))
    view.select_worker("w1")
    view.table.sortByColumn(WorkerColumn.WORKER, Qt.SortOrder.DescendingOrder)

    task, go = add_waiting_task("render the docs")

    busy = qt_until(lambda: busy_with(view, "render the docs"), "a worker busy")
    assert view.summary.text() == "2 workers · 1 busy · 0 suspended"
    # updated in place: the sort and the selection stay across the reads
    assert view.selected_workers() == ["w1"]
    assert [view.proxy.index(r, 0).data() for r in range(2)] == ["w1", "w0"]
    row = view.proxy.mapFromSource(view.model.index(view.model.row_of(busy) or 0, 0))
    rect = view.table.visualRect(row.siblingAtColumn(WorkerColumn.TASK))
    QTest.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    QTest.mouseDClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert [list(args) for args in _calls(activated)] == [[task.id]]

    go.touch()
    qt_until(lambda: cell(view, busy, WorkerColumn.DONE) == "1", "its task counted")
    assert states(view)[busy] == "idle"
    assert cell(view, busy, WorkerColumn.TASK) == ""
    assert view.reads >= 3
    assert (resets.count(), inserted.count()) == (0, 2)  # rows updated in place, never reset
    # the same workers seen 7 minutes later: their heartbeats older than RQ's worker TTL
    later = open_view(clock=lambda: time.time() + WORKER_TTL_S + 5)
    qt_until(lambda: states(later) == {"w0": "lost", "w1": "lost"}, "both lost")
    assert later.summary.text() == "0 workers · 0 busy · 0 suspended · 2 lost"
    assert cell(later, "w0", WorkerColumn.HEARTBEAT).startswith("7 m ")
    row = later.model.row_of("w0") or 0
    grey = later.model.index(row, WorkerColumn.WORKER).data(Qt.ItemDataRole.ForegroundRole)
    assert grey.name() == adapt("#6b7280")
    tip = later.model.index(row, WorkerColumn.STATE).data(Qt.ItemDataRole.ToolTipRole)
    assert "RQ's worker TTL (420 s)" in tip


def test_suspend_keeps_a_worker_from_new_tasks_they_go_to_the_other_and_resume_frees_it(
    two_workers: dict[str, BackgroundWorker],
    add_waiting_task: AddTask,
    open_view: OpenView,
    qt_until: Until,
) -> None:
    view = open_view()
    qt_until(lambda: states(view) == {"w0": "idle", "w1": "idle"}, "both idle")
    assert "finishes its current task and takes no new one until resumed" in (
        view.suspend_button.toolTip()
    )
    assert view.menu.actions() == [view.suspend_action, view.resume_action]
    assert not view.suspend_button.isEnabled()  # nothing selected
    view.select_worker("w0")
    assert (view.suspend_button.isEnabled(), view.resume_button.isEnabled()) == (True, False)

    QTest.mouseClick(view.suspend_button, Qt.MouseButton.LeftButton)

    qt_until(lambda: "Suspended w0 (now suspended)" in view.message, "the answer")
    qt_until(lambda: states(view) == {"w0": "suspended", "w1": "idle"}, "w0 suspended")
    assert view.summary.text() == "2 workers · 0 busy · 1 suspended"
    assert (view.suspend_button.isEnabled(), view.resume_button.isEnabled()) == (False, True)

    _, go = add_waiting_task("nightly backup")

    assert qt_until(lambda: busy_with(view, "nightly backup"), "busy") == "w1"
    assert states(view)["w0"] == "suspended"

    view.menu.actions()[1].trigger()  # the context menu's Resume

    qt_until(lambda: "Resumed w0 (now idle)" in view.message, "the answer")
    qt_until(lambda: states(view) == {"w0": "idle", "w1": "busy"}, "w0 idle again")
    go.touch()


def test_a_busy_worker_suspended_says_suspending_until_its_task_ends_and_offline_once_stopped(
    two_workers: dict[str, BackgroundWorker],
    add_waiting_task: AddTask,
    open_view: OpenView,
    qt_until: Until,
) -> None:
    view = open_view()
    _, go = add_waiting_task("import the photos")
    busy = qt_until(lambda: busy_with(view, "import the photos"), "busy")
    view.select_worker(busy)

    view.suspend_action.trigger()

    qt_until(lambda: f"Suspending {busy}: it finishes its current task" in view.message, "said")
    qt_until(lambda: states(view)[busy] == "suspending", "suspending")
    assert view.summary.text() == "2 workers · 1 busy · 0 suspended"
    assert cell(view, busy, WorkerColumn.TASK) == "import the photos"
    go.touch()
    qt_until(lambda: states(view)[busy] == "suspended", "suspended once its task ended")
    assert cell(view, busy, WorkerColumn.DONE) == "1"

    os.kill(two_workers[busy].proc.pid, signal.SIGTERM)  # stopped while suspended

    qt_until(lambda: states(view)[busy] == "offline", "offline")
    assert view.summary.text() == "1 worker · 0 busy · 0 suspended · 1 offline"
    view.resume_action.trigger()  # resumable: its suspend would outlive a restart

    qt_until(lambda: f"Resumed {busy}: it is offline now" in view.message, "said")
    qt_until(lambda: states(view)[busy] == "gone", "no longer suspended")


def test_a_worker_that_does_not_answer_stops_or_dies_is_shown_so_with_the_codes_fix(
    two_workers: dict[str, BackgroundWorker], open_view: OpenView, qt_until: Until
) -> None:
    view = open_view()
    qt_until(lambda: states(view) == {"w0": "idle", "w1": "idle"}, "both idle")
    os.kill(two_workers["w0"].proc.pid, signal.SIGSTOP)  # it listens, but cannot answer
    view.select_worker("w0")
    view.suspend_action.trigger()
    assert not view.suspend_button.isEnabled()  # while the control is under way

    qt_until(lambda: "CLUSTER_CONTROL_NO_ANSWER" in view.message, "no answer")
    assert "did not answer within 5 s" in view.message
    assert "A worker did not take a control command" in view.message  # its description
    assert "Fix: Check the worker" in view.message
    assert view.note.styleSheet() == f"color: {adapt('#dc2626')};"
    # its suspend is in force all the same (a key it reads when it can): Resume applies now
    qt_until(lambda: states(view)["w0"] == "suspended", "w0 suspended")
    assert (view.suspend_button.isEnabled(), view.resume_button.isEnabled()) == (False, True)

    os.kill(two_workers["w1"].proc.pid, signal.SIGTERM)  # a warm shutdown: it leaves RQ's list
    os.kill(two_workers["w0"].proc.pid, signal.SIGKILL)  # dies: its RQ key outlives it

    qt_until(lambda: states(view) == {"w0": "lost", "w1": "gone"}, "lost and gone")
    assert view.summary.text() == "0 workers · 0 busy · 0 suspended · 1 lost · 1 gone"
    assert cell(view, "w1", WorkerColumn.PID) == str(two_workers["w1"].proc.pid)  # still shown

    view.select_worker("w1")
    view.suspend_action.trigger()

    qt_until(lambda: "CLUSTER_WORKER_NOT_FOUND" in view.message, "refused")
    assert "no live worker is named 'w1': it stopped or left the cluster" in view.message
    assert "it died and its heartbeat ran out" in view.message  # the code's description
    assert "Fix: See the live workers in the window's Workers view" in view.message


def test_a_redis_that_cannot_be_reached_is_said_with_the_codes_fix_and_the_last_read_stays(
    redis: RedisServer, open_view: OpenView, qt_until: Until
) -> None:
    view = open_view()
    qt_until(lambda: view.reads >= 1, "a read")
    assert view.summary.text() == "0 workers · 0 busy · 0 suspended"

    os.kill(redis.pid, signal.SIGTERM)

    qt_until(lambda: "CLUSTER_REDIS_UNAVAILABLE" in view.message, "said")
    assert f"cannot reach the cluster's Redis at 127.0.0.1:{redis.port}" in view.message
    assert "Fix: Check that redis-server runs" in view.message
    assert view.message.startswith("Cannot read the workers: ")
    assert view.summary.text() == "0 workers · 0 busy · 0 suspended"


def test_install_adds_a_workers_tab_read_only_while_shown_and_a_task_opens_in_the_list(
    redis: RedisServer, tmp_path: Path, qt_run: Run, qt_until: Until, qapp: QApplication
) -> None:
    registry = default_registry(entry_points=False)
    window = qt_run(
        create_main_window(
            tmp_path / "q", registry=registry, shutdown_policy="cancel", attach=False
        )
    )
    source = ClusterWorkersSource(redis.url)
    try:
        window.resize(1200, 700)
        window.show()
        view = WorkersView.install(window, source)
        tabs = window.form.tabs
        titles = [tabs.tabText(i) for i in range(tabs.count())]
        assert titles[titles.index("Workers") - 1] == window.form.tabs.tabText(
            tabs.indexOf(window.form.statsTab)
        )
        assert view.show_action in window.form.menuView.actions()
        assert not view.timer.isActive()  # hidden behind the Tasks tab: no reads

        assert view.show_action is not None
        view.show_action.trigger()

        assert tabs.currentWidget() is view
        assert view.timer.isActive()
        qt_until(lambda: view.reads >= 1, "a read")
        assert view.summary.text() == "0 workers · 0 busy · 0 suspended"

        task_id = qt_run(window.queue.add_task(Task("custom_command", {"command": "true"})))
        view.taskActivated.emit(task_id)

        assert tabs.currentWidget() is window.form.tasksTab
        assert not view.timer.isActive()
        qt_until(lambda: [t.id for t in window.selected_tasks()] == [task_id], "selected")
    finally:
        qt_run(window.shutdown(), 60)
        qt_run(source.close())
        window.close()
        window.deleteLater()
        qapp.processEvents()


def _calls(spy: QSignalSpy) -> list[list[object]]:
    return [spy.at(i) for i in range(spy.count())]


def test_the_columns_widths_order_and_sort_come_back_in_the_next_view(
    open_view: Callable[..., WorkersView], tmp_path: Path, qt_until: Callable[..., Any]
) -> None:
    settings = QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat)
    first = open_view(settings=settings)
    header = first.table.horizontalHeader()
    assert header.sectionSize(WorkerColumn.HOST) != 260
    header.resizeSection(WorkerColumn.HOST, 260)
    header.moveSection(header.visualIndex(WorkerColumn.STATE), 0)
    first.table.sortByColumn(WorkerColumn.HEARTBEAT, Qt.SortOrder.DescendingOrder)
    qt_until(lambda: settings.value(HEADER_KEY) is not None, "the columns kept")

    again = open_view(settings=settings).table.horizontalHeader()
    assert again.sectionSize(WorkerColumn.HOST) == 260
    assert again.visualIndex(WorkerColumn.STATE) == 0
    assert (again.sortIndicatorSection(), again.sortIndicatorOrder()) == (
        WorkerColumn.HEARTBEAT, Qt.SortOrder.DescendingOrder,
    )  # fmt: skip
