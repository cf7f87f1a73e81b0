"""The main window: the live task table, its actions, filters, detail pane and statistics.

The static layout is Designer's (`ui/main_window.ui`, compiled into `forms/main_window_ui.py`
and composed as `self.form`). This module wires it: the engine's events arrive through
`EngineBridge` into `TaskTableModel`; each user action is one small async slot that awaits
the engine. Widgets keep no business state: what a task may do next is decided by its status.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar

from PySide6.QtCore import (
    QByteArray,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    QSettings,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QHeaderView,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QWidget,
)
from qasync import asyncSlot

from qtqueue.core.errors import QueueError
from qtqueue.core.memory import cyclic_gc_paused, settle_long_lived
from qtqueue.core.task import (
    ACTIVE,
    RETRYABLE_TERMINAL,
    TERMINAL,
    UNFINISHED,
    Task,
    TaskStatus,
)
from qtqueue.engine.queue import TaskQueue
from qtqueue.engine.restore import backup_now
from qtqueue.ui.app_settings import AppSettings
from qtqueue.ui.backups_dialog import (
    BackupsDialog,
    as_queue_error,
    show_backup_taken,
    show_coded_error,
)
from qtqueue.ui.closing import CloseGuard, running_tasks
from qtqueue.ui.confirm import ask_yes, confirm_task_action
from qtqueue.ui.credential_store import CredentialStore
from qtqueue.ui.credentials_dialog import CredentialsDialog
from qtqueue.ui.detail_pane import DetailPane
from qtqueue.ui.engine_bridge import BackgroundTasks, EngineBridge, event_loop
from qtqueue.ui.forms.main_window_ui import Ui_MainWindow
from qtqueue.ui.icons import icon
from qtqueue.ui.progress_delegate import ProgressDelegate
from qtqueue.ui.schedule_dialog import ScheduleDialog, ScheduleEditor
from qtqueue.ui.settings_dialog import SettingsDialog
from qtqueue.ui.stats_view import StatsView
from qtqueue.ui.task_table_model import (
    HEADERS,
    HIDDEN_BY_DEFAULT,
    Column,
    TaskFilterProxy,
    TaskTableModel,
    awaits_approval,
    format_duration,
)
from qtqueue.ui.tray import TaskNotifier, TrayIcon

logger = logging.getLogger(__name__)

_F = TypeVar("_F", bound=Callable[..., Coroutine[Any, Any, Any]])

SETTINGS_ORGANIZATION = "qtqueue"
SETTINGS_APPLICATION = "qtqueue"

#: Which tasks each action applies to; it is enabled only if it applies to every selected row.
APPLIES: dict[str, Callable[[TaskStatus], bool]] = {
    "actionPause": lambda s: s == TaskStatus.PENDING or s in ACTIVE,
    "actionResume": lambda s: s == TaskStatus.PAUSED,
    "actionRetry": lambda s: s in RETRYABLE_TERMINAL,
    "actionCancel": lambda s: s in UNFINISHED,
    "actionRemove": lambda s: s in TERMINAL,
}


#: Actions that depend on more than the status; enabled only if they apply to every selected row.
APPLIES_TO_TASK: dict[str, Callable[[Task], bool]] = {
    "actionApprove": awaits_approval,
    "actionReject": awaits_approval,
    "actionRequeueDeadLetters": lambda t: t.dead_letter,
}

#: The status filter's choice that shows dead letters (failed for good after their retries).
DEAD_LETTERS = "dead_letters"

#: The status filter's choices: label, statuses (None: all), icon.
STATUS_FILTERS: tuple[tuple[str, frozenset[TaskStatus] | None, str | None], ...] = (
    ("All tasks", None, None),
    ("Unfinished", UNFINISHED, None),
    ("Running", ACTIVE, "status-running"),
    ("Waiting", frozenset({TaskStatus.PENDING}), "status-pending"),
    ("Paused", frozenset({TaskStatus.PAUSED}), "status-paused"),
    ("Finished", TERMINAL, None),
    ("Completed", frozenset({TaskStatus.COMPLETED}), "status-completed"),
    ("Failed or timed out", frozenset({TaskStatus.FAILED, TaskStatus.TIMEOUT}), "status-failed"),
    ("Cancelled", frozenset({TaskStatus.CANCELLED}), "status-cancelled"),
)
#: After those: (label, data, icon) of the dead-letter choice.
DEAD_LETTER_FILTER = ("Dead letters", DEAD_LETTERS, "dead-letter")

#: Default column widths (px); the user's own are remembered.
COLUMN_WIDTHS: dict[Column, int] = {
    # The columns shown by default add up to ~1,350 px: the whole row, error code included,
    # fits a 1,400 px window without scrolling sideways.
    Column.NAME: 180,
    Column.TYPE: 125,
    Column.CATEGORY: 80,
    Column.QUEUE: 100,
    Column.TAGS: 70,
    Column.PRIORITY: 65,
    Column.STATUS: 145,
    Column.PROGRESS: 120,
    Column.RESOURCES: 115,
    Column.CREATED: 70,
    Column.STARTED: 70,
    Column.DURATION: 70,
    Column.RETRIES: 50,
    Column.ERROR_CODE: 180,
    Column.LAST_ERROR: 320,
    Column.ID: 280,
}

_SEARCH_DELAY_MS = 150
_STATS_DELAY_MS = 500
_ACTIONS_DELAY_MS = 50


def owned_slot(*types: type) -> Callable[[_F], _F]:
    """`qasync.asyncSlot` whose task is owned by the window (failures logged, cancelled on
    shutdown). Only for methods of `MainWindow` (a QObject: qasync #177)."""

    def decorate(fn: _F) -> _F:
        @functools.wraps(fn)
        async def run(self: MainWindow, *args: Any) -> Any:
            current = asyncio.current_task()
            if current is not None:
                self._background.adopt(current)
            return await fn(self, *args)

        return asyncSlot(*types)(run)  # type: ignore[no-any-return]

    return decorate


class MainWindow(QMainWindow):
    """The main window over a started `TaskQueue`. Call `await load()` once, then show it.

    `closers` are awaited in order by `shutdown()` after the window's own parts have stopped
    (the composition root passes the API server's and the queue's). Closing the window runs
    `shutdown()` first; `closed` is emitted once it is done and the window is closed.
    `actionsUpdated` is emitted whenever the actions' enabled states were re-evaluated, and
    `statsUpdated(dict)` with every `get_queue_stats()` result shown (in the summary labels
    that `StatsView`, the Statistics tab, keeps beside its charts).
    `restoreRequested(name)` is emitted once the user confirmed bringing the backup `name`
    back (File › Restore a backup…): the composition root shuts this window down, restores,
    and opens a new window on the restored queue.
    """

    closed = Signal()
    restoreRequested = Signal(str)
    actionsUpdated = Signal()
    statsUpdated = Signal(dict)

    def __init__(
        self,
        queue: TaskQueue,
        bridge: EngineBridge,
        *,
        closers: Sequence[Callable[[], Awaitable[object]]] = (),
        settings: QSettings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.queue = queue
        self.bridge = bridge
        self._closers = list(closers)
        self.settings = settings or QSettings(SETTINGS_ORGANIZATION, SETTINGS_APPLICATION)
        self.app_settings = AppSettings(self.settings)
        self.notifier = TaskNotifier(queue, self.app_settings, self)
        self.tray: TrayIcon | None = None  # set_tray(), where the desktop has a tray
        self._quitting = False
        self.form = Ui_MainWindow()
        self.form.setupUi(self)
        self.setWindowIcon(icon("app"))
        self._background = BackgroundTasks()
        self._shutdown: asyncio.Future[None] | None = None
        self._credentials: CredentialStore | None = None
        self._shut_down = False
        self._closing = False
        self._closing_task: asyncio.Task[None] | None = None
        self.close_guard = CloseGuard(self)
        self._select_when_shown: str | None = None
        self._stats_running = False
        self._stats_again = False
        self.schedule_dialog: ScheduleDialog | None = None

        self.model = TaskTableModel(self)
        self.proxy = TaskFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = self.form.taskTable
        self.table.setModel(self.proxy)
        self.progress_delegate = ProgressDelegate(self.table)
        self.table.setItemDelegateForColumn(Column.PROGRESS, self.progress_delegate)
        self.detail = DetailPane(
            queue, self, duration_of=self.model.duration_of, families=queue.registry.families()
        )
        self.form.mainSplitter.addWidget(self.detail)
        self.form.mainSplitter.setStretchFactor(0, 1)
        self.form.mainSplitter.setStretchFactor(1, 1)
        self.form.mainSplitter.setSizes([380, 420])  # the detail pane has grown: half each
        # The charts take the Designer placeholder's place; its summary labels sit beside them.
        self.stats_view = StatsView.in_place_of(
            self.form.statsView, self.form.statsLayout, queue, bridge
        )
        self.form.statsView = self.stats_view

        self._timers()
        self._setup_actions()
        self._setup_table()
        self._setup_filters()
        self._setup_status_bar()
        self._connect()
        self._restore_settings()

    # ------------------------------------------------------------------ setup

    def _timers(self) -> None:
        def single_shot(ms: int, slot: Callable[[], None]) -> QTimer:
            timer = QTimer(self)
            timer.setSingleShot(True)
            timer.setInterval(ms)
            timer.timeout.connect(slot)
            return timer

        self._search_timer = single_shot(_SEARCH_DELAY_MS, self._apply_search)
        self._stats_timer = single_shot(_STATS_DELAY_MS, self._start_stats_refresh)
        self._actions_timer = single_shot(_ACTIONS_DELAY_MS, self.update_actions)

    def _setup_actions(self) -> None:
        f = self.form
        for action, name in (
            (f.actionNewTask, "new"),
            (f.actionPause, "pause"),
            (f.actionResume, "resume"),
            (f.actionRetry, "retry"),
            (f.actionCancel, "cancel"),
            (f.actionRemove, "remove"),
            (f.actionPauseQueue, "queue-pause"),
            (f.actionApprove, "approve"),
            (f.actionReject, "reject"),
            (f.actionRequeueDeadLetters, "retry"),
            (f.actionRequeueAllDeadLetters, "retry"),
            (f.actionPurgeDeadLetters, "remove"),
            (f.actionScheduleTask, "schedule"),
            (f.actionSchedules, "schedule"),
        ):
            action.setIcon(icon(name))
        self.actionDuplicate = QAction("&Duplicate…", self)
        self.actionDuplicate.setObjectName("actionDuplicate")
        self.actionDuplicate.setShortcut(QKeySequence("Ctrl+D"))
        self.actionDuplicate.setToolTip("Open the new task form filled from the selected task")
        self.actionDuplicate.setEnabled(False)
        f.menuTasks.insertAction(f.actionPause, self.actionDuplicate)
        self.actionNewTaskAfter = QAction("New task &after these…", self)
        self.actionNewTaskAfter.setObjectName("actionNewTaskAfter")
        self.actionNewTaskAfter.setToolTip(
            "Open the new task form; the task starts once the selected tasks have completed"
        )
        self.actionNewTaskAfter.setEnabled(False)
        f.menuTasks.insertAction(f.actionPause, self.actionNewTaskAfter)
        f.menuTasks.insertSeparator(f.actionPause)
        self.actionCredentials = QAction("&Credentials…", self)
        self.actionCredentials.setObjectName("actionCredentials")
        self.actionCredentials.setToolTip("Registry logins, tokens and API keys in the OS keyring")
        first = f.menuFile.actions()[0] if f.menuFile.actions() else None
        f.menuFile.insertAction(first, self.actionCredentials)
        self.actionSettings = QAction("&Settings…", self)
        self.actionSettings.setObjectName("actionSettings")
        self.actionSettings.setShortcut(QKeySequence("Ctrl+,"))
        self.actionSettings.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.actionSettings.setToolTip("Concurrency, retention, notifications, tray and quitting")
        f.menuFile.insertAction(first, self.actionSettings)
        f.menuFile.insertSeparator(first)
        self.actionBackUpNow = QAction("&Back up now", self)
        self.actionBackUpNow.setObjectName("actionBackUpNow")
        self.actionBackUpNow.setToolTip("Copy the queue's database into its backups folder now")
        self.actionRestoreBackup = QAction("&Restore a backup…", self)
        self.actionRestoreBackup.setObjectName("actionRestoreBackup")
        self.actionRestoreBackup.setToolTip(
            "Close the queue and bring back one of its backups, keeping the current database"
        )
        f.menuFile.insertActions(f.actionQuit, [self.actionBackUpNow, self.actionRestoreBackup])
        f.menuFile.insertSeparator(f.actionQuit)
        # Space pauses or resumes the selection while the table has the focus.
        self.actionTogglePause = QAction("Pause or resume", self.table)
        self.actionTogglePause.setObjectName("actionTogglePause")
        self.actionTogglePause.setShortcut(QKeySequence(Qt.Key.Key_Space))
        self.actionTogglePause.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.table.addAction(self.actionTogglePause)
        self.addAction(self.actionDuplicate)
        self.context_menu = QMenu(self)
        self.context_menu.setObjectName("taskContextMenu")
        for action in (
            f.actionNewTask,
            self.actionDuplicate,
            self.actionNewTaskAfter,
            None,
            f.actionPause,
            f.actionResume,
            f.actionRetry,
            f.actionCancel,
            None,
            f.actionApprove,
            f.actionReject,
            f.actionRequeueDeadLetters,
            f.actionScheduleTask,
            None,
            f.actionRemove,
        ):
            if action is None:
                self.context_menu.addSeparator()
            else:
                self.context_menu.addAction(action)

    def _setup_table(self) -> None:
        header = self.table.horizontalHeader()
        header.setSectionsMovable(True)
        header.setFirstSectionMovable(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        vertical = self.table.verticalHeader()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(self.table.fontMetrics().height() + 10)
        for column, width in COLUMN_WIDTHS.items():
            self.table.setColumnWidth(column, width)
        for column in HIDDEN_BY_DEFAULT:
            self.table.setColumnHidden(column, True)
        self.table.sortByColumn(Column.CREATED, Qt.SortOrder.DescendingOrder)
        self._column_actions: dict[Column, QAction] = {}
        for column in Column:
            action = QAction(HEADERS[column], self)
            action.setCheckable(True)
            action.setChecked(column not in HIDDEN_BY_DEFAULT)
            action.setEnabled(column != Column.NAME)
            action.toggled.connect(functools.partial(self._show_column, column))
            self.form.menuColumns.addAction(action)
            self._column_actions[column] = action

    def _setup_filters(self) -> None:
        f = self.form
        for label, statuses, icon_name in STATUS_FILTERS:
            if icon_name:
                f.filterStatus.addItem(icon(icon_name), label, statuses)
            else:
                f.filterStatus.addItem(label, statuses)
        label, data, icon_name = DEAD_LETTER_FILTER
        f.filterStatus.insertSeparator(f.filterStatus.count())
        f.filterStatus.addItem(icon(icon_name), label, data)
        for combo in (f.filterType, f.filterCategory, f.filterTag):
            combo.addItem("All", None)
        self.setTabOrder(f.searchBox, f.filterStatus)

    def _setup_status_bar(self) -> None:
        self.counts_label = QLabel(self)
        self.counts_label.setObjectName("countsLabel")
        self.queue_state_label = QLabel(self)
        self.queue_state_label.setObjectName("queueStateLabel")
        bar = self.form.statusBar
        bar.addPermanentWidget(self.counts_label)
        bar.addPermanentWidget(self.queue_state_label)

    def _connect(self) -> None:
        f = self.form
        self.bridge.tasksChanged.connect(self._on_tasks_changed)
        self.bridge.tasksRemoved.connect(self._on_tasks_removed)
        self.bridge.queueStateChanged.connect(self._on_queue_state)
        self.model.batchApplied.connect(self._after_batch)
        self.model.layoutChanged.connect(self._update_shown)
        self.model.valuesChanged.connect(self._refresh_filter_choices)
        self.model.durationsTicked.connect(self.detail.refresh_timing)
        self.proxy.rowsInserted.connect(self._update_shown)
        self.proxy.rowsRemoved.connect(self._update_shown)
        self.proxy.modelReset.connect(self._update_shown)
        self.proxy.layoutChanged.connect(self._update_shown)
        selection = self.table.selectionModel()
        selection.selectionChanged.connect(self._on_selection_changed)
        selection.currentRowChanged.connect(self._show_current)
        self.table.customContextMenuRequested.connect(self._show_context_menu)
        header = self.table.horizontalHeader()
        header.customContextMenuRequested.connect(self._show_header_menu)
        header.sectionMoved.connect(self._save_header)
        header.sortIndicatorChanged.connect(self._save_header)

        f.actionNewTask.triggered.connect(self.new_task)
        self.actionDuplicate.triggered.connect(self.duplicate_task)
        self.actionNewTaskAfter.triggered.connect(self.new_task_after)
        self.actionCredentials.triggered.connect(self.open_credentials)
        self.actionSettings.triggered.connect(self.open_settings)
        self.actionBackUpNow.triggered.connect(self.back_up_now)
        self.actionRestoreBackup.triggered.connect(self.open_backups)
        f.actionPause.triggered.connect(self.pause_selected)
        f.actionResume.triggered.connect(self.resume_selected)
        f.actionRetry.triggered.connect(self.retry_selected)
        f.actionCancel.triggered.connect(self.ask_cancel)
        f.actionRemove.triggered.connect(self.ask_remove)
        f.actionApprove.triggered.connect(self.approve_selected)
        f.actionReject.triggered.connect(self.ask_reject)
        f.actionRequeueDeadLetters.triggered.connect(self.requeue_selected_dead_letters)
        f.actionRequeueAllDeadLetters.triggered.connect(self.ask_requeue_all_dead_letters)
        f.actionPurgeDeadLetters.triggered.connect(self.ask_purge_dead_letters)
        f.actionScheduleTask.triggered.connect(self.schedule_task)
        f.actionSchedules.triggered.connect(self.open_schedules)
        f.actionPauseQueue.triggered.connect(self.toggle_queue_paused)
        self.actionTogglePause.triggered.connect(self._toggle_pause)
        f.actionSelectAll.triggered.connect(self.table.selectAll)
        f.actionFind.triggered.connect(self._focus_search)
        f.actionQuit.triggered.connect(self.request_quit)

        f.filterStatus.currentIndexChanged.connect(self._apply_status_filter)
        f.filterType.currentIndexChanged.connect(self._apply_value_filters)
        f.filterCategory.currentIndexChanged.connect(self._apply_value_filters)
        f.filterTag.currentIndexChanged.connect(self._apply_value_filters)
        f.searchBox.textChanged.connect(lambda _text: self._search_timer.start())
        f.searchBox.returnPressed.connect(self._apply_search)

    # ------------------------------------------------------------------ loading

    async def load(self) -> None:
        """Start listening to the engine, then show every stored task."""
        self.bridge.start()
        self.notifier.start()
        with cyclic_gc_paused():
            tasks = await self.queue.list_tasks()
            self.model.reset(tasks)
            # The snapshots stay for the window's life: keep full collections off them.
            settle_long_lived()
        self._set_queue_paused_state(self.queue.queue_paused)
        self._stats_timer.start(0)

    # ------------------------------------------------------------------ engine → model

    @Slot(list)
    def _on_tasks_changed(self, tasks: list[Task]) -> None:
        self.model.apply(changed=tasks)

    @Slot(list)
    def _on_tasks_removed(self, ids: list[str]) -> None:
        self.model.apply(removed=ids)

    @Slot(str)
    def _on_queue_state(self, state: str) -> None:
        self._set_queue_paused_state(state == "paused")
        self._stats_timer.start()

    def _after_batch(self) -> None:
        self._update_counts()
        self._update_shown()
        shown = self.detail.task
        if shown is not None:
            latest = self.model.task_by_id(shown.id)
            if latest is None:
                self.detail.show_task(self._current_task())
            elif latest is not shown:
                self.detail.show_task(latest)
        if self._select_when_shown is not None:
            self._select_task(self._select_when_shown)
        # Re-checking a big selection costs a walk over it: at most every few frames.
        if self._selection_size() <= 1000:
            self.update_actions()
        elif not self._actions_timer.isActive():
            self._actions_timer.start()
        if not self._stats_timer.isActive():
            self._stats_timer.start()

    # ------------------------------------------------------------------ selection

    def selected_tasks(self) -> list[Task]:
        """The snapshots of the selected rows, top to bottom."""
        proxy, model = self.proxy, self.model
        rows: set[int] = set()
        for rng in self.table.selectionModel().selection():
            for r in range(rng.top(), rng.bottom() + 1):
                rows.add(proxy.mapToSource(proxy.index(r, 0)).row())
        return [model.task(r) for r in sorted(rows) if r >= 0]

    def _selection_size(self) -> int:
        return sum(r.height() for r in self.table.selectionModel().selection())

    def _current_task(self) -> Task | None:
        selection = self.table.selectionModel()
        current = selection.currentIndex()
        if current.isValid() and selection.isRowSelected(current.row(), QModelIndex()):
            return self.model.task(self.proxy.mapToSource(current).row())
        ranges = selection.selection()
        if ranges.isEmpty():
            return None
        return self.model.task(self.proxy.mapToSource(self.proxy.index(ranges[0].top(), 0)).row())

    def _on_selection_changed(self, *_args: object) -> None:
        self.update_actions()
        self._show_current()

    def _show_current(self, *_args: object) -> None:
        self.detail.show_task(self._current_task())

    def update_actions(self) -> None:
        """Enable each action only if it applies to every selected task."""
        tasks = self.selected_tasks()
        statuses = {t.status for t in tasks}
        f = self.form
        for name, applies in APPLIES.items():
            getattr(f, name).setEnabled(bool(statuses) and all(applies(s) for s in statuses))
        for name, fits in APPLIES_TO_TASK.items():
            getattr(f, name).setEnabled(bool(tasks) and all(fits(t) for t in tasks))
        self.actionDuplicate.setEnabled(len(tasks) == 1)
        # a dependent of a task that failed or was cancelled would fail at once
        self.actionNewTaskAfter.setEnabled(
            bool(tasks)
            and all(t.status in UNFINISHED or t.status == TaskStatus.COMPLETED for t in tasks)
        )
        f.actionScheduleTask.setEnabled(len(tasks) == 1)
        self.actionsUpdated.emit()

    def _select_task(self, task_id: str) -> None:
        row = self.model.row_of(task_id)
        if row is None:
            return
        self._select_when_shown = None
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return  # filtered out
        flags = (
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows
        )
        self.table.selectionModel().setCurrentIndex(index, flags)
        self.table.scrollTo(index)

    def select_task(self, task_id: str) -> None:
        """Select a task's row (now, or as soon as it shows up)."""
        self._select_when_shown = task_id
        self._select_task(task_id)

    def _selection_for(self, ids: Iterable[str]) -> QItemSelection:
        selection = QItemSelection()
        for task_id in ids:
            row = self.model.row_of(task_id)
            if row is None:
                continue
            index = self.proxy.mapFromSource(self.model.index(row, 0))
            if index.isValid():
                selection.select(index, index)
        return selection

    def select_tasks(self, ids: Iterable[str]) -> None:
        """Select exactly these tasks' rows (those that are shown)."""
        flags = (
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows
        )
        self.table.selectionModel().select(self._selection_for(ids), flags)

    # ------------------------------------------------------------------ actions

    async def _each(
        self,
        verb: str,
        op: Callable[[str], Awaitable[object]],
        applies: Callable[[Task], bool] | None = None,
    ) -> None:
        """Run `op` on every selected task that it applies to (by default: the action's
        status rule); report failures."""
        await self._on_each(verb, [t.id for t in self._selected_for(verb, applies)], op)

    def _selected_for(
        self, verb: str, applies: Callable[[Task], bool] | None = None
    ) -> list[Task]:
        """The selected tasks that `applies` to (by default: the action's status rule)."""
        if applies is None:
            by_status = APPLIES[f"action{verb.capitalize()}"]
            applies = lambda t: by_status(t.status)  # noqa: E731
        return [t for t in self.selected_tasks() if applies(t)]

    async def _on_each(
        self, verb: str, ids: Sequence[str], op: Callable[[str], Awaitable[object]]
    ) -> None:
        if not ids:
            return
        results = await asyncio.gather(*(op(i) for i in ids), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        self._report(verb, len(ids), failures)

    def _report(self, verb: str, count: int, failures: Sequence[BaseException]) -> None:
        """Say in the status bar how an action on `count` tasks went: the first error's code,
        message and suggestion."""
        for r in failures:
            if not isinstance(r, QueueError):
                logger.error("%s failed", verb, exc_info=r)
        if failures:
            first = failures[0]
            what = (
                f"{first.code.value}: {first} — {first.suggestion}"
                if isinstance(first, QueueError)
                else repr(first)
            )
            self.show_message(f"Could not {verb} {len(failures)} of {count} tasks — {what}")
        else:
            done = {"pause": "paused", "resume": "resumed", "retry": "queued again",
                    "cancel": "cancelled", "remove": "removed", "approve": "approved",
                    "reject": "rejected", "requeue": "queued again"}[verb]
            self.show_message(f"{count} task{'s' if count != 1 else ''} {done}")
        self.update_actions()

    @owned_slot()
    async def pause_selected(self) -> None:
        await self._each("pause", self.queue.pause_task)

    @owned_slot()
    async def resume_selected(self) -> None:
        await self._each("resume", self.queue.resume_task)

    @owned_slot()
    async def retry_selected(self) -> None:
        await self._each("retry", self.queue.retry_task)

    @Slot()
    def ask_cancel(self) -> QMessageBox | None:
        """Cancel (Ctrl+K): ask first (unless told not to), then cancel the selected tasks."""
        return self._confirm_each("cancel", self.queue.cancel_task)

    @Slot()
    def ask_remove(self) -> QMessageBox | None:
        """Remove (Del): ask first (unless told not to), then delete the selected tasks."""
        return self._confirm_each("remove", self.queue.remove_task)

    def _confirm_each(
        self, verb: str, op: Callable[[str], Awaitable[object]]
    ) -> QMessageBox | None:
        """Run `op` on the selected tasks that the action applies to, after a question naming
        them when the settings ask for one (then the box is returned)."""
        tasks = self._selected_for(verb)
        if not tasks:
            return None
        ids = [t.id for t in tasks]

        def act() -> None:
            self._background.spawn(self._on_each(verb, ids, op), f"{verb} tasks")

        if not self.app_settings.asks_before(verb):
            act()
            return None
        return confirm_task_action(
            self, verb, tasks, on_yes=act,
            on_dont_ask_again=lambda: self.app_settings.stop_asking_before(verb),
        )

    @owned_slot()
    async def approve_selected(self) -> None:
        """Let every selected task that awaits approval run."""
        await self._each("approve", self.queue.approve_task, awaits_approval)

    @Slot()
    def ask_reject(self) -> QInputDialog | None:
        """Ask for an optional reason, then reject the selected tasks awaiting approval."""
        ids = [t.id for t in self.selected_tasks() if awaits_approval(t)]
        if not ids:
            return None
        box = QInputDialog(self)
        box.setObjectName("rejectReasonDialog")
        box.setWindowTitle("Reject")
        many = f"these {len(ids)} tasks" if len(ids) > 1 else "this task"
        box.setLabelText(f"Reject {many}? They end cancelled (QUEUE_REJECTED).\n"
                         "Reason (optional):")
        box.setOkButtonText("Reject")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.textValueSelected.connect(
            lambda reason: self._background.spawn(
                self.reject_tasks(ids, reason), "reject tasks"
            )
        )
        box.open()
        return box

    async def reject_tasks(self, ids: Sequence[str], reason: str = "") -> None:
        """Reject these tasks (each ends CANCELLED with QUEUE_REJECTED and the reason)."""
        await self._on_each(
            "reject", ids, lambda task_id: self.queue.reject_task(task_id, reason)
        )

    @owned_slot()
    async def requeue_selected_dead_letters(self) -> None:
        ids = [t.id for t in self.selected_tasks() if t.dead_letter]
        await self._requeue(ids)

    async def _requeue(self, ids: Sequence[str] | None) -> None:
        """Requeue these dead letters (None: every one) in one engine call."""
        try:
            done = await self.queue.requeue_dead_letters(ids)
        except QueueError as exc:
            self._report("requeue", len(ids or ()), [exc])
            return
        self._report("requeue", len(done), [])

    def dead_letter_count(self) -> int:
        return sum(1 for t in self.model.tasks() if t.dead_letter)

    @Slot()
    def ask_requeue_all_dead_letters(self) -> QMessageBox:
        return self._confirm_dead_letters(
            "requeue",
            "Queue every dead letter ({n}) again? Each starts over with its retries reset.",
            lambda: self._requeue(None),
        )

    @Slot()
    def ask_purge_dead_letters(self) -> QMessageBox:
        return self._confirm_dead_letters(
            "purge",
            "Delete every dead letter ({n}) and its log for good?",
            self._purge_dead_letters,
        )

    async def _purge_dead_letters(self) -> None:
        try:
            done = await self.queue.purge_dead_letters()
        except QueueError as exc:
            self.show_message(f"Could not purge the dead letters — {exc.code.value}: {exc} — "
                              f"{exc.suggestion}")
            return
        self.show_message(f"{len(done)} dead letter{'s' if len(done) != 1 else ''} deleted")

    def _confirm_dead_letters(
        self, verb: str, question: str, act: Callable[[], Coroutine[Any, Any, None]]
    ) -> QMessageBox:
        """A non-blocking Yes/Cancel box (objectName confirmRequeueDeadLetters or
        confirmPurgeDeadLetters); Yes runs `act`."""
        return ask_yes(
            self,
            name=f"confirm{verb.capitalize()}DeadLetters",
            title=f"{verb.capitalize()} dead letters",
            text=question.format(n=f"{self.dead_letter_count():,}"),
            on_yes=lambda: self._background.spawn(act(), f"{verb} dead letters"),
        )

    @Slot()
    def open_schedules(self) -> ScheduleDialog:
        """Show the schedule manager (one per window, non-modal)."""
        if self.schedule_dialog is None:
            self.schedule_dialog = ScheduleDialog(
                self.queue.schedules,
                self.queue.registry,
                self.bridge,
                credential_names=self.credentials().names(),
                parent=self,
            )
        self.schedule_dialog.refresh()
        self.schedule_dialog.show()
        self.schedule_dialog.raise_()
        self.schedule_dialog.activateWindow()
        return self.schedule_dialog

    @Slot()
    def schedule_task(self) -> ScheduleEditor | None:
        """A new schedule whose template is the selected task."""
        tasks = self.selected_tasks()
        if len(tasks) != 1:
            return None
        editor = ScheduleEditor(
            self.queue.registry,
            self.queue.schedules,
            task=tasks[0],
            credential_names=self.credentials().names(),
            parent=self,
        )
        editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def saved() -> None:
            if editor.saved is not None:
                s = editor.saved
                self.show_message(f"Schedule “{s.name}” added: {s.summary}")

        editor.accepted.connect(saved)
        editor.open()
        return editor

    @owned_slot()
    async def toggle_queue_paused(self) -> None:
        """The checkable action was toggled: pause or resume the queue to match it."""
        paused = self.form.actionPauseQueue.isChecked()
        try:
            if paused:
                await self.queue.pause_queue()
            else:
                await self.queue.resume_queue()
        except QueueError as exc:
            self.show_message(f"Could not {'pause' if paused else 'resume'} the queue: {exc}")
        self._set_queue_paused_state(self.queue.queue_paused)

    def _toggle_pause(self) -> None:
        f = self.form
        if f.actionPause.isEnabled():
            f.actionPause.trigger()
        elif f.actionResume.isEnabled():
            f.actionResume.trigger()

    @Slot()
    def new_task(self) -> None:
        self._open_task_dialog(None)

    @Slot()
    def new_task_after(self) -> None:
        """The new task form with 'Run after' filled with the selected tasks."""
        ids = [t.id for t in self.selected_tasks()]
        if ids:
            self._open_task_dialog(None, after=ids)

    @Slot()
    def duplicate_task(self) -> None:
        tasks = self.selected_tasks()
        if len(tasks) == 1:
            self._open_task_dialog(tasks[0])

    def _open_task_dialog(self, template: Task | None, after: list[str] | None = None) -> None:
        try:
            from qtqueue.ui.new_task_dialog import NewTaskDialog
        except ImportError as exc:
            logger.warning("the new task dialog is not available: %s", exc)
            box = QMessageBox(
                QMessageBox.Icon.Information,
                "New task",
                "The new task form is not available in this installation.",
                QMessageBox.StandardButton.Ok,
                self,
            )
            box.setObjectName("newTaskUnavailable")
            box.setInformativeText(
                "Tasks can be added with the command line, e.g. "
                "`qtqueue add command -- make test`; they show up here at once."
            )
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
            return
        dialog = NewTaskDialog(
            self.queue.registry,
            parent=self,
            task=template,
            credential_names=self.credentials().names(),
            queue_names=[q["name"] for q in self.queue.list_queues()],
            known_tasks=self.model,
            submit=self.queue.add_task,  # a refusal is shown in the form, nothing lost
        )
        if after:
            dialog.after_edit.setText(", ".join(after))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def queued() -> None:
            if dialog.queued_id is not None:
                self.select_task(dialog.queued_id)

        dialog.accepted.connect(queued)
        dialog.open()

    def credentials(self) -> CredentialStore:
        """The keyring-backed credential store, made (and first read) on first use, so
        opening the window never touches the keyring."""
        if self._credentials is None:
            self._credentials = CredentialStore(parent=self)
            self._credentials.refresh()
        return self._credentials

    def open_credentials(self) -> None:
        """Show the credentials manager (values stay in the keyring; shown only on request)."""
        dialog = CredentialsDialog(self.credentials(), parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def open_settings(self) -> SettingsDialog:
        """Show the settings dialog; OK saves them and applies them to the engine live."""
        dialog = SettingsDialog(self.queue, self.app_settings, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.show_message("Settings saved and applied"))
        dialog.open()
        return dialog

    @owned_slot()
    async def back_up_now(self) -> None:
        """Copy the store into its backups folder and say where it went (or why not), in a
        box and in the status bar."""
        try:
            backup = await asyncio.to_thread(backup_now, self.queue.data_dir, time.time())
        except (QueueError, OSError) as exc:
            error = as_queue_error(exc)
            show_coded_error(self, "backupFailed", "Not backed up", error)
            self.show_message(f"Not backed up — {error.code.value}: {error}")
            return
        show_backup_taken(self, backup)
        self.show_message(f"Backed up to {backup.path}")

    @Slot()
    def open_backups(self) -> BackupsDialog:
        """List the backups; one the user confirms is passed on as `restoreRequested`."""
        dialog = BackupsDialog(
            data_dir=self.queue.data_dir,
            running=lambda: len(self.running_tasks()),
            policy=self.close_guard.policy,
            parent=self,
        )
        dialog.restoreChosen.connect(self.restoreRequested)
        dialog.open()
        reading = self._background.spawn(dialog.load(), "read the backups")
        dialog.finished.connect(lambda _result: reading.cancel())
        return dialog

    def show_message(self, text: str, timeout_ms: int = 6000) -> None:
        self.form.statusBar.showMessage(text, timeout_ms)

    def _show_context_menu(self, pos: QPoint) -> None:
        self.context_menu.popup(self.table.viewport().mapToGlobal(pos))

    def _show_header_menu(self, pos: QPoint) -> None:
        self.form.menuColumns.popup(self.table.horizontalHeader().mapToGlobal(pos))

    def _show_column(self, column: Column, shown: bool) -> None:
        self.table.setColumnHidden(column, not shown)
        self._save_header()

    def _focus_search(self) -> None:
        self.form.tabs.setCurrentWidget(self.form.tasksTab)
        self.form.searchBox.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.form.searchBox.selectAll()

    # ------------------------------------------------------------------ filters

    def _apply_status_filter(self) -> None:
        data = self.form.filterStatus.currentData()
        dead_letters = data == DEAD_LETTERS
        self.proxy.set_dead_letters(dead_letters)
        self.proxy.set_statuses(None if dead_letters else data)
        if dead_letters:
            # What a dead letter died of is what one looks at them for.
            self._column_actions[Column.LAST_ERROR].setChecked(True)

    def _apply_value_filters(self) -> None:
        f = self.form
        self.proxy.set_task_type(f.filterType.currentData())
        self.proxy.set_category(f.filterCategory.currentData())
        self.proxy.set_tag(f.filterTag.currentData())

    def _apply_search(self) -> None:
        self._search_timer.stop()
        self.proxy.set_search_text(self.form.searchBox.text())

    def _refresh_filter_choices(self) -> None:
        f = self.form
        for combo, values in (
            (f.filterType, self.model.known_types()),
            (f.filterCategory, self.model.known_categories()),
            (f.filterTag, self.model.known_tags()),
        ):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("All", None)
            for value in values:
                combo.addItem(value, value)
            combo.setCurrentIndex(max(0, combo.findData(current)) if current else 0)
            combo.blockSignals(False)

    # ------------------------------------------------------------------ status

    def _update_counts(self) -> None:
        counts = self.model.status_counts()
        running = sum(counts[s] for s in ACTIVE)
        failed = counts[TaskStatus.FAILED] + counts[TaskStatus.TIMEOUT]
        parts = [f"{running} running", f"{counts[TaskStatus.PENDING]} pending"]
        if counts[TaskStatus.PAUSED]:
            parts.append(f"{counts[TaskStatus.PAUSED]} paused")
        parts.append(f"{failed} failed")
        self.counts_label.setText(" · ".join(parts))

    def _update_shown(self, *_args: object) -> None:
        total = self.model.rowCount()
        shown = self.proxy.rowCount()
        text = f"{shown:,} of {total:,} tasks" if self.proxy.filtering else f"{total:,} tasks"
        self.form.shownLabel.setText(text)

    def _set_queue_paused_state(self, paused: bool) -> None:
        action = self.form.actionPauseQueue
        action.setChecked(paused)
        action.setText("Resume &queue" if paused else "Pause &queue")
        action.setIcon(icon("resume" if paused else "queue-pause"))
        label = self.queue_state_label
        label.setText("Queue paused" if paused else "Queue running")
        label.setStyleSheet("color: #b45309; font-weight: bold;" if paused else "")
        label.setToolTip("New tasks wait until the queue is resumed" if paused else "")

    def _start_stats_refresh(self) -> None:
        if self._shut_down or self._closing:
            return
        if self._stats_running:
            self._stats_again = True
            return
        self._stats_running = True
        self._background.spawn(self._refresh_stats(), "refresh statistics")

    async def _refresh_stats(self) -> None:
        try:
            stats = await self.queue.get_queue_stats()
        except QueueError as exc:
            logger.debug("no statistics: %s", exc)
            return
        finally:
            self._stats_running = False
            if self._stats_again:
                self._stats_again = False
                self._stats_timer.start()
        self.show_stats(stats)

    def show_stats(self, stats: dict[str, Any]) -> None:
        """Show `TaskQueue.get_queue_stats()` figures in the statistics view."""
        f = self.form
        summary = stats.get("summary", {})
        perf = stats.get("performance", {})
        dist = stats.get("status_distribution", {})
        f.statTotal.setText(f"{summary.get('total_tasks', 0):,}")
        f.statRunning.setText(str(summary.get("running_tasks", 0)))
        f.statQueued.setText(f"{summary.get('queue_size', 0):,}")
        f.statCompleted.setText(f"{dist.get(TaskStatus.COMPLETED.value, 0):,}")
        failed = dist.get(TaskStatus.FAILED.value, 0) + dist.get(TaskStatus.TIMEOUT.value, 0)
        f.statFailed.setText(f"{failed:,}")
        f.statSuccessRate.setText(f"{perf.get('success_rate', 0.0):.1f} %")
        f.statAverageDuration.setText(
            format_duration(perf.get("average_duration_seconds") or None) or "—"
        )
        f.statDeadLetters.setText(f"{summary.get('dead_letters', 0):,}")
        f.statConcurrency.setText(f"{summary.get('max_concurrent_tasks', 0)} tasks at once")
        f.statQueueState.setText("paused" if summary.get("queue_paused") else "running")
        self.statsUpdated.emit(stats)

    # ------------------------------------------------------------------ settings

    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.value("mainWindow/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        header = s.value("taskTable/header")
        if isinstance(header, QByteArray) and s.value("taskTable/columns") == str(len(Column)):
            self.table.horizontalHeader().restoreState(header)
        for splitter, key in (
            (self.form.mainSplitter, "mainWindow/splitter"),
            (self.detail.form.detailSplitter, "detailPane/splitter"),
        ):
            state = s.value(key)
            if isinstance(state, QByteArray):
                splitter.restoreState(state)
        header_view = self.table.horizontalHeader()
        for column, action in self._column_actions.items():
            action.blockSignals(True)
            action.setChecked(not header_view.isSectionHidden(column))
            action.blockSignals(False)

    def _save_header(self, *_args: object) -> None:
        self.settings.setValue("taskTable/header", self.table.horizontalHeader().saveState())
        self.settings.setValue("taskTable/columns", str(len(Column)))

    def save_settings(self) -> None:
        """Remember geometry, columns (order, visibility, widths, sort) and splitters."""
        s = self.settings
        s.setValue("mainWindow/geometry", self.saveGeometry())
        self._save_header()
        s.setValue("mainWindow/splitter", self.form.mainSplitter.saveState())
        s.setValue("detailPane/splitter", self.detail.form.detailSplitter.saveState())
        s.sync()

    # ------------------------------------------------------------------ closing

    @property
    def is_shut_down(self) -> bool:
        return self._shut_down

    async def shutdown(self) -> None:
        """Stop following the engine, then run the closers (server, queue). Idempotent."""
        if self._shutdown is None:
            self._shutdown = asyncio.ensure_future(self._do_shutdown())
        await asyncio.shield(self._shutdown)

    async def _do_shutdown(self) -> None:
        self.save_settings()
        self._stats_timer.stop()
        self._actions_timer.stop()
        self._search_timer.stop()
        self.model.stop()
        await self.bridge.stop()
        self.notifier.stop()
        if self.tray is not None:
            self.tray.hide()
        await self.detail.stop()
        await self.stats_view.stop()
        if self.schedule_dialog is not None:
            await self.schedule_dialog.stop()
        await self._background.cancel_all()
        if self._credentials is not None:
            await asyncio.to_thread(self._credentials.close)
        for closer in self._closers:
            try:
                await closer()
            except Exception:
                logger.exception("closing %r failed", closer)
        self._shut_down = True

    def set_tray(self, tray: TrayIcon | None) -> None:
        """The tray icon the window may close to (None: there is no tray)."""
        self.tray = tray

    def quit(self) -> None:
        """Really quit, without a question (SIGTERM, or once the user confirmed): close even
        with close-to-tray; running tasks follow the shutdown policy."""
        self._quitting = True
        self.close()

    def running_tasks(self) -> list[Task]:
        """The tasks whose commands quitting would stop."""
        return running_tasks(self.model.tasks())

    @Slot()
    def request_quit(self) -> QMessageBox | None:
        """Quit from the menu (Ctrl+Q) or the tray: while tasks run, first say how many it
        stops and let the user cancel (the box is returned)."""
        return self.close_guard.request_quit()

    def closes_to_tray(self) -> bool:
        """Whether closing (not quitting) only hides the window: the setting is on and the
        tray is shown."""
        return (
            not self._quitting
            and self.tray is not None
            and self.tray.isVisible()
            and self.app_settings.close_to_tray
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._shut_down:
            event.accept()
            self.closed.emit()
            return
        event.ignore()
        if not self._closing and self.closes_to_tray():
            self.hide()
            return
        running = [] if self._quitting or self._closing else self.running_tasks()
        if running:
            self.close_guard.ask_close(running)  # keep running hidden, stop them, or cancel
            return
        if not self._closing:
            self._closing = True
            self.hide()
            # Not among the background tasks: shutdown() cancels those.
            self._closing_task = event_loop().create_task(
                self._shutdown_then_close(), name="shut down"
            )

    async def _shutdown_then_close(self) -> None:
        await self.shutdown()
        self.close()

    def bring_to_front(self) -> None:
        """Show the window on top (a second launch asked for it)."""
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()
