"""The window's Workers view: a cluster's workers, live — what rq-dashboard's Workers page
shows, in the desktop window.

A table of the workers (`workers_view_model.WorkersTableModel`: name, host, pid, state with its
icon and colour, current task, queues, jobs done and failed, working time, last heartbeat),
a summary line ("4 workers · 3 busy · 1 suspended"), and Suspend / Resume of the selected
workers from buttons and a context menu. Double-clicking a worker (or Enter) emits
`taskActivated(task id)` for the task it runs.

The view reads through a `WorkersSource` (defined here, so that the window imports neither
the cluster package nor Redis): `qtqueue.cluster.workers_source.ClusterWorkersSource` is the
cluster's. It reads every `REFRESH_MS` while it is visible and not at all while hidden, one
read at a time (`SingleFlight`); the rows are updated in place, so the sort order, the
selection and the scroll position stay across reads.

An action's error (the worker is gone, or it did not answer: CLUSTER_CONTROL_NO_ANSWER) shows
above the table with its code, message, the code's description and its fix.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from PySide6.QtCore import (
    QByteArray,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    QSettings,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.ui.engine_bridge import BackgroundTasks
from qtqueue.ui.icons import icon
from qtqueue.ui.single_flight import SingleFlight
from qtqueue.ui.theme import themed
from qtqueue.ui.workers_view_model import (
    NAME_ROLE,
    SORT_ROLE,
    TASK_ROLE,
    WorkerColumn,
    WorkersTableModel,
    summary_text,
)

if TYPE_CHECKING:
    from qtqueue.ui.forms.main_window_ui import Ui_MainWindow

logger = logging.getLogger(__name__)

__all__ = [
    "REFRESH_MS",
    "RESUME_TIP",
    "SUSPEND_TIP",
    "WorkersSource",
    "WorkersView",
    "error_text",
]

#: How often the workers are read while the view is visible (milliseconds).
REFRESH_MS = 1000
#: Where the table's columns are kept (QSettings), and how soon after a change.
HEADER_KEY = "workersTable/header"
SAVE_HEADER_MS = 300
SUSPEND_TIP = (
    "Suspend: this worker finishes its current task and takes no new one until resumed "
    "(it stays suspended if it restarts); the other workers go on"
)
RESUME_TIP = "Resume: this worker takes tasks from its queues again"
_ERROR_CSS = "color: #dc2626;"
_SELECT_ROWS = (
    QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
)
_NOTE_CSS = "color: #666666;"


class WorkersWindow(Protocol):
    """What `WorkersView.install` needs of the main window."""

    form: Ui_MainWindow
    background: BackgroundTasks
    settings: QSettings

    @property
    def shutdown_requested(self) -> bool:
        """Whether the window is closing or shutting down."""
        ...

    def select_task(self, task_id: str) -> None:
        """Select a task's row in the task list."""
        ...


class WorkersSource(Protocol):
    """Where the Workers view reads a cluster's workers and sends its controls."""

    async def workers(self) -> list[dict[str, Any]]:
        """One dict per worker, as `ClusterReader.workers()["slots"]` gives them (worker,
        host, pid, state, task_id, task_name, queues, successful_jobs, failed_jobs,
        working_time_s, last_heartbeat; optionally suspend_requested and alive)."""
        ...

    async def suspend(self, name: str) -> dict[str, Any]:
        """Suspend the worker `name`: {"worker", "state"}; QueueError when it cannot."""
        ...

    async def resume(self, name: str) -> dict[str, Any]:
        """Resume the worker `name`: {"worker", "state"}; QueueError when it cannot."""
        ...


def error_text(exc: QueueError) -> str:
    """'CODE: message', then the code's description and its fix, one a line."""
    info = exc.info
    lines = [f"{exc.code.value}: {exc.message}"]
    if info.description and info.description != exc.message:
        lines.append(info.description)
    if info.suggestion:
        lines.append(f"Fix: {info.suggestion}")
    return "\n".join(lines)


class _Words(NamedTuple):
    do: str
    doing: str
    done: str


_SUSPEND = _Words("suspend", "Suspending", "suspended")
_RESUME = _Words("resume", "Resuming", "resumed")
_Control = Callable[[str], Coroutine[Any, Any, dict[str, Any]]]


def _answer_text(done: str, answer: dict[str, Any]) -> str:
    """What came of one worker's control, in words."""
    state = str(answer.get("state") or "")
    name = answer.get("worker", "?")
    if state == "offline":
        after = "stays suspended when it starts, until resumed" if done == "suspended" else (
            "takes tasks again when it starts"
        )  # fmt: skip
        return f"{done.capitalize()} {name}: it is offline now, and {after}"
    if state == "suspending":
        return f"Suspending {name}: it finishes its current task, then takes no new one"
    return f"{done.capitalize()} {name} (now {state})"


class WorkersView(QWidget):
    """The workers of a cluster, read from `source` (see the module's notes).

    `clock` gives the time the heartbeats' ages are measured at (epoch seconds); `spawn`
    starts the view's background work (the window's `BackgroundTasks.spawn`, so its shutdown
    cancels a read in flight; default: the view's own); `settings` keeps the table's columns
    (the window's; default: the application's). Signals: `taskActivated(task id)`;
    `refreshed()` after each read is shown; `acted(text)` after each action with what came of
    it (its error's text included)."""

    taskActivated = Signal(str)
    refreshed = Signal()
    acted = Signal(str)

    def __init__(
        self,
        source: WorkersSource,
        parent: QWidget | None = None,
        *,
        clock: Callable[[], float] = time.time,
        spawn: Callable[[Coroutine[Any, Any, Any], str], object] | None = None,
        settings: QSettings | None = None,
    ) -> None:
        super().__init__(parent)
        #: The window's settings; None: the application's, opened for each read or write (a
        #: QSettings of the view's own would die with the view's Python object, on whatever
        #: thread collects it, with its write-back event still posted).
        self.settings = settings
        self.setObjectName("workersView")
        self.source = source
        self._clock = clock
        self._background = BackgroundTasks()
        self._spawn = spawn or self._background.spawn
        self.reads = 0
        self._acting = False
        self._stopped: Callable[[], bool] = lambda: False
        #: View › Workers (`install`'s), None before.
        self.show_action: QAction | None = None
        self.model = WorkersTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setDynamicSortFilter(True)
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self._flight = SingleFlight(self._spawn, self._again)
        self._update_actions()

    def _build(self) -> None:
        self.summary = QLabel("Reading the workers…", self)
        self.summary.setObjectName("workersSummary")
        font = self.summary.font()
        font.setBold(True)
        self.summary.setFont(font)
        self.note = QLabel(self)
        self.note.setObjectName("workersNote")
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note.hide()
        self.suspend_action = QAction(icon("pause"), "&Suspend", self)
        self.suspend_action.setObjectName("actionSuspendWorker")
        self.suspend_action.setToolTip(SUSPEND_TIP)
        self.suspend_action.setStatusTip(SUSPEND_TIP)
        self.suspend_action.triggered.connect(self.suspend_selected)
        self.resume_action = QAction(icon("resume"), "&Resume", self)
        self.resume_action.setObjectName("actionResumeWorker")
        self.resume_action.setToolTip(RESUME_TIP)
        self.resume_action.setStatusTip(RESUME_TIP)
        self.resume_action.triggered.connect(self.resume_selected)
        self.suspend_button = self._button(self.suspend_action, "suspendWorkerButton")
        self.resume_button = self._button(self.resume_action, "resumeWorkerButton")
        self.table = QTableView(self)
        self.table.setObjectName("workersTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(WorkerColumn.WORKER, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.activated.connect(self._activated)
        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(WorkerColumn.TASK, QHeaderView.ResizeMode.Stretch)
        widths = {WorkerColumn.WORKER: 130, WorkerColumn.HOST: 130, WorkerColumn.PID: 70,
                  WorkerColumn.STATE: 110, WorkerColumn.QUEUES: 200, WorkerColumn.DONE: 60,
                  WorkerColumn.FAILED: 60, WorkerColumn.WORKING: 90,
                  WorkerColumn.HEARTBEAT: 100}  # fmt: skip
        for column, width in widths.items():
            self.table.setColumnWidth(column, width)
        # The columns as the user left them (widths, order, sort), kept as they change.
        saved = (self.settings or QSettings()).value(HEADER_KEY)
        if isinstance(saved, QByteArray):
            header.restoreState(saved)
        self._save_header = QTimer(self)
        self._save_header.setSingleShot(True)
        self._save_header.setInterval(SAVE_HEADER_MS)
        self._save_header.timeout.connect(self.save_header)
        header.sectionResized.connect(self._save_header.start)
        header.sectionMoved.connect(self._save_header.start)
        header.sortIndicatorChanged.connect(self._save_header.start)
        self.menu = QMenu(self)
        self.menu.addAction(self.suspend_action)
        self.menu.addAction(self.resume_action)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.suspend_button)
        top.addWidget(self.resume_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)

    def _button(self, action: QAction, name: str) -> QPushButton:
        button = QPushButton(action.icon(), action.text(), self)
        button.setObjectName(name)
        button.setToolTip(action.toolTip())
        button.clicked.connect(action.trigger)
        action.enabledChanged.connect(button.setEnabled)
        return button

    # ------------------------------------------------------------------ installing

    @classmethod
    def install(cls, window: WorkersWindow, source: WorkersSource) -> WorkersView:
        """Add a "Workers" tab after the window's Statistics tab and a View › Workers entry
        that shows it; a double-clicked worker's task is selected in the task list. Reads run
        among the window's background tasks (its shutdown cancels one in flight). The caller
        closes `source` (a closer of the window) where it holds a connection."""
        form = window.form
        view = cls(source, spawn=window.background.spawn, settings=window.settings)
        tabs = form.tabs
        tabs.insertTab(tabs.indexOf(form.statsTab) + 1, view, icon("status-running"), "Workers")
        view.show_action = QAction("&Workers", view)
        view.show_action.setObjectName("actionShowWorkers")
        view.show_action.setToolTip("The cluster's workers: their state, task and controls")
        view.show_action.triggered.connect(lambda: tabs.setCurrentWidget(view))
        form.menuView.addAction(view.show_action)
        view.taskActivated.connect(lambda task_id: tabs.setCurrentWidget(form.tasksTab))
        view.taskActivated.connect(window.select_task)
        view._stopped = lambda: window.shutdown_requested
        return view

    # ------------------------------------------------------------------ reading

    def showEvent(self, event: QShowEvent) -> None:
        """Shown: read now, then every REFRESH_MS."""
        super().showEvent(event)
        if not self._stopped():
            self.timer.start()
            self.refresh()

    def hideEvent(self, event: QHideEvent) -> None:
        """Hidden (another tab, the window closed): no more reads."""
        super().hideEvent(event)
        self.timer.stop()
        if self._save_header.isActive():
            self._save_header.stop()
            self.save_header()

    def save_header(self) -> None:
        """Keep the table's columns (widths, order, sort) for the next start."""
        state = self.table.horizontalHeader().saveState()
        if self.settings is not None:
            self.settings.setValue(HEADER_KEY, state)
        else:
            QSettings().setValue(HEADER_KEY, state)  # written back as it goes out of scope

    def refresh(self) -> None:
        """Read the workers (at once, or once the read in flight is done)."""
        if self._stopped():
            self.timer.stop()
            return
        self._flight.start(self._read, "read the cluster's workers")

    def _again(self) -> None:
        if self.isVisible() and not self._stopped():
            QTimer.singleShot(0, self, self.refresh)  # dropped if the view is deleted

    async def _read(self) -> None:
        try:
            slots = await self.source.workers()
        except QueueError as exc:
            self._say(f"Cannot read the workers: {error_text(exc)}", error=True)
            return
        except Exception as exc:  # a source's own failure: shown, and the next read tries again
            logger.exception("reading the workers failed")
            self._say(f"Cannot read the workers: {exc}", error=True)
            return
        self.reads += 1
        self.model.apply(slots, self._clock())
        self.summary.setText(summary_text(self.model.states()))
        if self.note.property("readError"):
            self._say("")
        self._update_actions()
        self.refreshed.emit()

    def _say(self, text: str, *, error: bool = False) -> None:
        self.note.setText(text)
        self.note.setStyleSheet(themed(_ERROR_CSS if error else _NOTE_CSS))
        self.note.setProperty("readError", error and text.startswith("Cannot read"))
        self.note.setVisible(bool(text))

    @property
    def message(self) -> str:
        """The note shown above the table ('' when none)."""
        return self.note.text() if self.note.isVisibleTo(self) else ""

    # ------------------------------------------------------------------ selection, actions

    def selected_workers(self) -> list[str]:
        """The selected workers' names, top to bottom."""
        rows = sorted(i.row() for i in self.table.selectionModel().selectedRows())
        return [str(self.proxy.index(r, 0).data(NAME_ROLE)) for r in rows]

    def select_worker(self, name: str) -> None:
        """Select the worker `name`'s row (only it)."""
        row = self.model.row_of(name)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        self.table.selectionModel().setCurrentIndex(index, _SELECT_ROWS)

    def _update_actions(self, *_args: object) -> None:
        """Suspend applies while a selected worker is not told to suspend, Resume while one
        is (suspending, suspended, offline, or lost with its suspend in force)."""
        told = [self.model.suspend_in_force(n) for n in self.selected_workers()]
        self.suspend_action.setEnabled(not self._acting and not all(told))
        self.resume_action.setEnabled(not self._acting and any(told))

    def _context_menu(self, pos: QPoint) -> None:
        self.menu.popup(self.table.viewport().mapToGlobal(pos))

    def _activated(self, index: QModelIndex) -> None:
        task_id = str(index.data(TASK_ROLE) or "")
        if task_id:
            self.taskActivated.emit(task_id)

    def suspend_selected(self) -> None:
        """Suspend the selected workers (each finishes its current task first)."""
        self._act(_SUSPEND, self.source.suspend)

    def resume_selected(self) -> None:
        """Resume the selected workers."""
        self._act(_RESUME, self.source.resume)

    def _act(self, words: _Words, control: _Control) -> None:
        names = self.selected_workers()
        if not names or self._acting:
            return
        self._acting = True
        self._update_actions()
        self._say(f"{words.doing} {', '.join(names)}…")
        self._spawn(self._control(words, control, names), f"{words.done} workers")

    async def _control(self, words: _Words, control: _Control, names: list[str]) -> None:
        said, failed = [], []
        try:
            for name in names:
                try:
                    said.append(_answer_text(words.done, await control(name)))
                except QueueError as exc:
                    failed.append(f"Could not {words.do} {name}: {error_text(exc)}")
                except Exception as exc:
                    logger.exception("%s %s failed", words.do, name)
                    error = QueueError(TaskErrorCode.UNKNOWN_ERROR, str(exc), worker=name)
                    failed.append(f"Could not {words.do} {name}: {error_text(error)}")
        finally:
            self._acting = False
            self._update_actions()
        text = "\n".join(failed + said)
        self._say(text, error=bool(failed))
        self.acted.emit(text)
        self.refresh()

    # ------------------------------------------------------------------ stopping

    async def stop(self) -> None:
        """No more reads; the view's own background work is cancelled, and the source closed
        where it can be (`close()`)."""
        self.timer.stop()
        self._stopped = lambda: True
        await self._background.cancel_all()
        close = getattr(self.source, "close", None)
        if close is not None:
            await close()
