"""The main window: the live task table, its filters, detail pane and statistics.

The static layout is Designer's (`ui/main_window.ui`, compiled into `forms/main_window_ui.py`
and composed as `self.form`). This module composes it: the engine's events arrive through
`EngineBridge` into `TaskTableModel` (`task_list/`); the task actions are `TaskActions`
(`task_actions.py`, what applies to a task is `core.actions`' rule); the menus' dialogs are
`WindowDialogs`; the questions tasks ask are `QuestionsView` (`questions_view.py`, a tab
with a count badge). The tray reaches the window only through its `TrayWindow` port.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
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
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QSplitter, QWidget

from qtqueue.core.errors import QueueError
from qtqueue.core.memory import cyclic_gc_paused, settle_long_lived
from qtqueue.ui.forms.main_window_ui import Ui_MainWindow
from qtqueue.ui.icons import icon, set_action_icons
from qtqueue.ui.owned_slots import owned_slot
from qtqueue.ui.paint_watch import PaintWatch
from qtqueue.ui.task_list.columns import Column, counts_text, shown_text
from qtqueue.ui.theme import themed
from qtqueue.ui.window_state import (
    restore_geometry,
    restore_window_state,
    save_header,
    save_window_state,
)

if TYPE_CHECKING:  # the frame is imported before the engine: the rest is imported by compose()
    from qtqueue.api.port import EnginePort, EngineSettingsPort
    from qtqueue.core.task import Task, TaskStatus
    from qtqueue.ui.engine_bridge import EngineBridge
    from qtqueue.ui.stats_view import StatsView
    from qtqueue.ui.tray import TrayIcon

logger = logging.getLogger(__name__)

SETTINGS_ORGANIZATION = "qtqueue"
SETTINGS_APPLICATION = "qtqueue"
_ACTIONS_DELAY_MS = 50
#: Seconds `load()` gives Qt to paint the loaded rows before it builds the charts.
_ROWS_PAINT_WAIT_S = 0.25
#: Select whole rows, replacing the selection.
_SELECT_ROWS = (
    QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
)


class MainWindow(QMainWindow):
    """The main window over a started engine (`EnginePort`: in process, or attached). Call
    `await load()` once, then show it.

    `closers` are awaited in order by `shutdown()` after the window's own parts have stopped
    (the composition root passes the API server's and the queue's). Closing the window runs
    `shutdown()` first; `closed` is emitted once it is done and the window is closed.
    `actionsUpdated` is emitted whenever the actions' enabled states were re-evaluated,
    `statsUpdated(dict)` with every `get_queue_stats()` result shown, and `statusChanged`
    whenever the status counts or the queue's paused state may have changed.
    `restoreRequested(name)` is emitted once the user confirmed bringing the backup `name`
    back (File › Restore a backup…): the composition root shuts this window down, restores,
    and opens a new window on the restored queue.
    """

    closed = Signal()
    restoreRequested = Signal(str)
    actionsUpdated = Signal()
    statsUpdated = Signal(dict)
    statusChanged = Signal()

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        """The window's frame: menus, toolbar, an empty table, the saved size and place —
        what can show before the engine is even imported. `compose()` puts the engine
        behind it."""
        super().__init__(parent)
        self.settings = settings or QSettings(SETTINGS_ORGANIZATION, SETTINGS_APPLICATION)
        self.tray: TrayIcon | None = None  # set_tray(), where the desktop has a tray
        self._quitting = False
        self.form = Ui_MainWindow()
        self.form.setupUi(self)
        self.setWindowIcon(icon("app"))
        self._shutdown: asyncio.Future[None] | None = None
        self._shut_down = False
        self._closing = False
        self._closing_task: asyncio.Task[None] | None = None
        self._select_when_shown: str | None = None
        self.composed = False
        set_action_icons(self.form)
        restore_geometry(self.settings, self)
        self.form.shownLabel.setText("Opening the queue…")

    def compose(
        self,
        queue: EnginePort,
        bridge: EngineBridge,
        *,
        engine_settings: EngineSettingsPort,
        closers: Sequence[Callable[[], Awaitable[object]]] = (),
    ) -> None:
        """Put a started engine (`EnginePort`: in process, or attached) behind the frame:
        the model, the detail pane, the actions and dialogs. Then `await load()`."""
        # Imported now, not with the module: the frame shows before any of them loads.
        from qtqueue.ui import window_parts as parts

        self.queue = queue
        self.bridge = bridge
        self.engine_settings = engine_settings  # the settings dialog's way to the engine
        self._closers = list(closers)
        self.app_settings = parts.AppSettings(self.settings)
        self.editors = parts.form_editors()  # its forms' editors; a family adds its own
        self.notifier = parts.TaskNotifier(queue, self.app_settings, self)
        self.background = parts.BackgroundTasks()
        self.close_guard = parts.CloseGuard(self, self)

        self.model = parts.TaskTableModel(self, titles=queue.registry.titles())
        self.proxy = parts.TaskFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = self.form.taskTable
        self.table.setModel(self.proxy)
        self.selection = parts.SelectedTasks(self.table, self.model, self.proxy)  # listeners after
        self.progress_delegate = parts.ProgressDelegate(self.table)
        self.table.setItemDelegateForColumn(Column.PROGRESS, self.progress_delegate)
        self.detail = parts.DetailPane(
            queue, self, duration_of=self.model.duration_of, families=queue.registry.families(),
            questions=queue.questions, overview=queue.overview,
        )
        self.stats_view: StatsView | None = None  # built by load(), once the tasks show

        self.questions = parts.QuestionsView(queue.questions, self.model.task_by_id, self)
        self.questions.attach(
            self.form, bridge, self.notifier, self.detail.answers, self.select_task,
        )
        self.task_actions = parts.TaskActions(self, self.background, self)
        self.queue_order = parts.QueueOrderActions.install(self)  # move, priority, edit, drag
        self.dialogs = parts.WindowDialogs(
            self, self.background, lambda: len(self.running_tasks()),
            self.close_guard.policy, self,
        )
        self.dialogs.restoreChosen.connect(self.restoreRequested)
        parts.install_detail_pane(self)  # beside the table; View › Detail pane
        self.task_actions.updated.connect(self.actionsUpdated)
        self._timers()
        self._setup_table()
        self.filters = parts.TaskFilters(
            self.form, self.model, self.proxy,
            lambda: self._column_actions[Column.LAST_ERROR].setChecked(True), self,
        )
        self.setTabOrder(self.form.searchBox, self.form.filterStatus)
        self.sidebar = parts.SideBar.install(self)
        self._setup_status_bar()
        self._connect()
        self._restore_settings()
        self.data_files, self.templates = parts.install_data(self)  # File › Import/Export…
        parts.install_open_cluster(self, self.app_settings)  # File › Open cluster
        self.composed = True

    # ------------------------------------------------------------------ setup

    def _timers(self) -> None:
        from qtqueue.ui.stats_refresh import StatsRefresh

        def single_shot(ms: int, slot: Callable[[], None]) -> QTimer:
            timer = QTimer(self)
            timer.setSingleShot(True)
            timer.setInterval(ms)
            timer.timeout.connect(slot)
            return timer

        self.stats_refresh = StatsRefresh(
            self.queue, self.show_stats, self.background.spawn,
            lambda: self._shut_down or self.shutdown_requested, self,
        )  # fmt: skip
        self._stats_timer = self.stats_refresh.timer
        self._actions_timer = single_shot(_ACTIONS_DELAY_MS, self.update_actions)

    def _setup_table(self) -> None:
        from qtqueue.ui.task_list.table_setup import setup_table

        self._column_actions = setup_table(self.table, self.form.menuColumns, self._show_column)

    def _setup_status_bar(self) -> None:
        self.counts_label = QLabel(self)
        self.counts_label.setObjectName("countsLabel")
        self.queue_state_label = QLabel(self)
        self.queue_state_label.setObjectName("queueStateLabel")
        bar = self.form.statusBar
        bar.addPermanentWidget(self.counts_label)
        bar.addPermanentWidget(self.queue_state_label)
        from qtqueue.ui.engine_link import EngineLink

        self.engine_link = EngineLink(self, self.queue, self.bridge, bar)

    def _connect(self) -> None:
        f = self.form
        self.bridge.tasksChanged.connect(self._on_tasks_changed)
        self.bridge.tasksRemoved.connect(self._on_tasks_removed)
        self.bridge.queueStateChanged.connect(self._on_queue_state)
        self.model.batchApplied.connect(self._after_batch)
        self.model.layoutChanged.connect(self._update_shown)
        self.model.durationsTicked.connect(self.detail.refresh_timing)
        self.proxy.rowsInserted.connect(self._update_shown)
        self.proxy.rowsRemoved.connect(self._update_shown)
        self.proxy.modelReset.connect(self._update_shown)
        self.proxy.layoutChanged.connect(self._update_shown)
        selection = self.table.selectionModel()
        selection.selectionChanged.connect(self._on_selection_changed)
        selection.selectionChanged.connect(self._update_shown)
        selection.currentRowChanged.connect(self._show_current)
        self.table.customContextMenuRequested.connect(self._show_context_menu)
        header = self.table.horizontalHeader()
        header.customContextMenuRequested.connect(self._show_header_menu)
        header.sectionMoved.connect(self._save_header)
        header.sortIndicatorChanged.connect(self._save_header)

        f.actionPauseQueue.triggered.connect(self.toggle_queue_paused)
        f.actionSelectAll.triggered.connect(self.table.selectAll)
        f.actionFind.triggered.connect(self._focus_search)
        f.actionQuit.triggered.connect(self.request_quit)

    # ------------------------------------------------------------------ loading

    async def load(self) -> None:
        """Start listening to the engine, then show every stored task, then build the
        statistics tab (its charts' library is imported only now: the window may be shown
        before `load`, and the tasks are what the user waits for)."""
        self.bridge.start()
        self.notifier.start()
        self.form.shownLabel.setText("Loading tasks…")
        with cyclic_gc_paused():
            tasks = await self.queue.list_tasks()
            if self.shutdown_requested:  # closed while it read them: build nothing more
                return
            rows_painted = PaintWatch(self.table.viewport())
            self.model.reset(tasks)
            # The snapshots stay for the window's life: keep full collections off them.
            settle_long_lived()
        self._update_shown()
        # The rows reach the screen before the charts' library is imported.
        if await rows_painted.wait(_ROWS_PAINT_WAIT_S if self.isVisible() else 0):
            logger.info("%d tasks painted", self.model.rowCount())
        if self.shutdown_requested:
            return
        self._build_stats_view()
        self._set_queue_paused_state(self.queue.queue_paused)
        self.questions.refresh()
        self.stats_refresh.now()

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
        self.counts_label.setText(counts_text(self.model.status_counts()))
        self.statusChanged.emit()
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
        from qtqueue.ui.task_list.table_setup import selected_row_count

        # Re-checking a big selection costs a walk over it: at most every few frames.
        if selected_row_count(self.table.selectionModel()) <= 1000:
            self.update_actions()
        elif not self._actions_timer.isActive():
            self._actions_timer.start()
        self.stats_refresh.request()

    # ------------------------------------------------------------------ selection

    def selected_tasks(self) -> list[Task]:
        """The snapshots of the selected rows, top to bottom (read once per change)."""
        return self.selection.tasks()

    def _current_task(self) -> Task | None:
        selection = self.table.selectionModel()
        current = selection.currentIndex()
        if current.isValid() and selection.isRowSelected(current.row(), QModelIndex()):
            return self.model.task(self.proxy.mapToSource(current).row())
        ranges = selection.selection()
        if ranges.isEmpty():
            return None
        first = self.proxy.index(ranges.at(0).top(), 0)
        return self.model.task(self.proxy.mapToSource(first).row())

    def _on_selection_changed(self, *_args: object) -> None:
        self.update_actions()
        self._show_current()

    def _show_current(self, *_args: object) -> None:
        self.detail.show_task(self._current_task())

    def update_actions(self) -> None:
        """Enable each action only if it applies to every selected task."""
        self.task_actions.update()

    def _select_task(self, task_id: str) -> None:
        row = self.model.row_of(task_id)
        if row is None:
            return
        self._select_when_shown = None
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return  # filtered out
        self.table.selectionModel().setCurrentIndex(index, _SELECT_ROWS)
        self.table.scrollTo(index)

    def select_task(self, task_id: str) -> None:
        """Select a task's row (now, or as soon as it shows up)."""
        self._select_when_shown = task_id
        self._select_task(task_id)
        self.sidebar.watch(task_id)

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
        self.table.selectionModel().select(self._selection_for(ids), _SELECT_ROWS)

    # ------------------------------------------------------------------ actions

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

    def credential_names(self) -> list[str]:
        """The names of the stored credentials (read from the keyring on first use)."""
        return self.dialogs.credentials().names()

    def show_message(self, text: str, timeout_ms: int = 6000) -> None:
        self.form.statusBar.showMessage(text, timeout_ms)

    def _show_context_menu(self, pos: QPoint) -> None:
        self.task_actions.context_menu.popup(self.table.viewport().mapToGlobal(pos))

    def _show_header_menu(self, pos: QPoint) -> None:
        self.form.menuColumns.popup(self.table.horizontalHeader().mapToGlobal(pos))

    def _show_column(self, column: Column, shown: bool) -> None:
        self.table.setColumnHidden(column, not shown)
        self._save_header()

    def _focus_search(self) -> None:
        self.form.tabs.setCurrentWidget(self.form.tasksTab)
        self.form.searchBox.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.form.searchBox.selectAll()

    # ------------------------------------------------------------------ status

    def status_counts(self) -> Counter[TaskStatus]:
        """How many tasks the table holds in each status."""
        return self.model.status_counts()

    @property
    def queue_paused(self) -> bool:
        """Whether the queue is paused."""
        return self.queue.queue_paused

    def tray_actions(self) -> list[QAction]:
        """The actions the tray menu repeats: pause or resume the queue."""
        return [self.form.actionPauseQueue]

    def _update_shown(self, *_args: object) -> None:
        total = self.model.rowCount()
        shown = self.proxy.rowCount()
        from qtqueue.ui.task_list.table_setup import selected_row_count

        selected = selected_row_count(self.table.selectionModel())
        self.form.shownLabel.setText(shown_text(total, shown, self.proxy.filtering, selected))

    def _set_queue_paused_state(self, paused: bool) -> None:
        action = self.form.actionPauseQueue
        action.setChecked(paused)
        action.setText("Resume &queue" if paused else "Pause &queue")
        action.setIcon(icon("resume" if paused else "queue-pause"))
        label = self.queue_state_label
        what = "Cluster" if getattr(self.queue, "cluster", None) else "Queue"  # every worker
        label.setText(f"{what} paused" if paused else f"{what} running")
        label.setStyleSheet(themed("color: #b45309; font-weight: bold;") if paused else "")
        label.setToolTip(f"New tasks wait until the {what.lower()} is resumed" if paused else "")
        self.statusChanged.emit()

    def _build_stats_view(self) -> None:
        from qtqueue.ui.stats.links import install as install_stats_links
        from qtqueue.ui.stats_view import StatsView

        # The charts take the Designer placeholder's place; its summary labels sit beside them.
        self.stats_view = StatsView.in_place_of(
            self.form.statsView, self.form.statsLayout, self.queue, self.bridge
        )
        self.form.statsView = self.stats_view
        install_stats_links(self, self.stats_view)

    def show_stats(self, stats: dict[str, Any]) -> None:
        """Show `TaskQueue.get_queue_stats()` figures in the statistics view."""
        from qtqueue.ui.stats_view import show_summary

        show_summary(self.form, stats)
        self.statsUpdated.emit(stats)

    # ------------------------------------------------------------------ settings

    def _splitters(self) -> list[tuple[QSplitter, str]]:
        return [
            (self.form.mainSplitter, "mainWindow/splitterBeside"),  # was above/below
            (self.detail.form.detailSplitter, "detailPane/splitterStacked"),
        ]

    def _restore_settings(self) -> None:
        restore_window_state(
            self.settings, self, self.table, self._splitters(), self._column_actions,
            geometry=False,  # the frame has: the user may have moved it since
        )

    def _save_header(self, *_args: object) -> None:
        save_header(self.settings, self.table)

    def save_settings(self) -> None:
        """Remember geometry, columns (order, visibility, widths, sort) and splitters."""
        save_window_state(self.settings, self, self.table, self._splitters())

    # ------------------------------------------------------------------ closing

    @property
    def is_shut_down(self) -> bool:
        return self._shut_down

    @property
    def shutdown_requested(self) -> bool:
        """Whether the window is closing or shutting down (or has)."""
        return self._closing or self._shutdown is not None

    async def shutdown(self) -> None:
        """Stop following the engine, then run the closers (server, queue). Idempotent."""
        if self._shutdown is None:
            self._shutdown = asyncio.ensure_future(self._do_shutdown())
        await asyncio.shield(self._shutdown)

    async def _do_shutdown(self) -> None:
        if not self.composed:  # a frame only: nothing runs behind it yet
            self._shut_down = True
            return
        self.save_settings()
        self.stats_refresh.stop()
        self._actions_timer.stop()
        self.filters.stop()
        self.model.stop()
        await self.bridge.stop()
        self.notifier.stop()
        if self.tray is not None:
            self.tray.hide()
        await self.detail.stop()
        await self.questions.stop()
        if self.stats_view is not None:
            await self.stats_view.stop()
        await self.dialogs.stop()
        await self.background.cancel_all()
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
        """The tasks whose commands quitting would stop (none where the engine is another's)."""
        from qtqueue.ui.closing import running_tasks

        if not self.composed or not self.queue.owns_engine:
            return []
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
        if not self.composed:  # closed before the engine was behind it: it is not composed
            self._closing = True
            self.hide()
            return
        if not self._closing and self.closes_to_tray():
            self.hide()
            return
        running = [] if self._quitting or self._closing else self.running_tasks()
        if running:
            self.close_guard.ask_close(running)  # keep running hidden, stop them, or cancel
            return
        if not self._closing:
            from qtqueue.ui.engine_bridge import event_loop

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
