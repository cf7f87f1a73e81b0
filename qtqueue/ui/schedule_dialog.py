"""The schedule manager: recurring tasks listed live, added, edited, paused, run now, deleted.

`ScheduleDialog` (layout: `ui/schedule_dialog.ui`) lists `queue.schedules` through
`ScheduleTableModel` and follows `EngineBridge.schedulesChanged`. `ScheduleEditor` is the
new-task form (`NewTaskDialog`) with a "Recurs" group added: every/cron, time zone, what to do
with missed runs. Every change goes through the public `ScheduleManager` API; its QueueError
(a bad cron expression, a too short interval) is shown inline and nothing is saved.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHeaderView,
    QLineEdit,
    QMessageBox,
    QWidget,
)

from qtqueue.api.port import SchedulesPort
from qtqueue.core.errors import QueueError
from qtqueue.core.task import Task
from qtqueue.engine.schedules import MissedPolicy, Schedule, ScheduleKind
from qtqueue.executors import ExecutorRegistry
from qtqueue.ui.confirm import ask_yes
from qtqueue.ui.engine_bridge import BackgroundTasks, EngineBridge
from qtqueue.ui.forms.schedule_dialog_ui import Ui_ScheduleDialog
from qtqueue.ui.new_task_dialog import NewTaskDialog, error_text
from qtqueue.ui.paramform.editors import EditorRegistry
from qtqueue.ui.task_list.columns import format_time, format_timestamp
from qtqueue.ui.theme import themed

logger = logging.getLogger(__name__)

_AnyIndex = QModelIndex | QPersistentModelIndex
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
#: The role giving a row's schedule id.
SCHEDULE_ID_ROLE = int(Qt.ItemDataRole.UserRole) + 1

HEADERS = ("Name", "Recurs", "Next run", "Last run", "Last error", "Runs", "State")
_ERROR_COLUMN = 4
_MISSED_TEXT = {MissedPolicy.RUN_ONCE: "Run once at start", MissedPolicy.SKIP: "Skip"}


def _cells(s: Schedule) -> tuple[str, ...]:
    return (
        s.name,
        s.summary,
        "—" if s.paused else format_time(s.next_run_at),
        format_time(s.last_run_at),
        s.last_error or "",
        str(s.occurrences),
        "Paused" if s.paused else "Active",
    )


class ScheduleTableModel(QAbstractTableModel):
    """One row per schedule (a handful: the whole list is replaced on every change)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[Schedule] = []

    def rowCount(self, parent: _AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's API
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's API
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == _DISPLAY:
            return HEADERS[section] if 0 <= section < len(HEADERS) else None
        return None

    def data(self, index: _AnyIndex, role: int = _DISPLAY) -> Any:
        if not index.isValid():
            return None
        s = self._rows[index.row()]
        if role == _DISPLAY:
            return _cells(s)[index.column()]
        if role == SCHEDULE_ID_ROLE:
            return s.id
        if role == _TOOLTIP:
            if index.column() == _ERROR_COLUMN and s.last_error:
                return s.last_error
            if index.column() in (2, 3):
                at = s.next_run_at if index.column() == 2 else s.last_run_at
                return format_timestamp(at) or None
            if index.column() == 0:
                return f"{s.name}\n{s.id}"
        if role == _FOREGROUND and index.column() == _ERROR_COLUMN and s.last_error:
            return Qt.GlobalColor.darkRed
        return None

    def set_schedules(self, schedules: Sequence[Schedule]) -> None:
        """Show these schedules: changed cells only if the same ones, else a reset."""
        if [s.id for s in schedules] == [s.id for s in self._rows]:
            self._rows = list(schedules)
            if self._rows:
                self.dataChanged.emit(
                    self.index(0, 0), self.index(len(self._rows) - 1, len(HEADERS) - 1)
                )
            return
        self.beginResetModel()
        self._rows = list(schedules)
        self.endResetModel()

    def schedule(self, row: int) -> Schedule:
        return self._rows[row]

    def row_of(self, schedule_id: str) -> int | None:
        return next((i for i, s in enumerate(self._rows) if s.id == schedule_id), None)


class ScheduleEditor(NewTaskDialog):
    """The new-task form plus when it recurs. With `schedule` it edits that schedule (its
    template fills the form); otherwise it adds one, from `task` if given. OK saves through
    the `ScheduleManager` and closes only once that succeeded; `saved` is the result.
    `saveFailed(str)` carries the error shown when the manager refused it."""

    def __init__(
        self,
        registry: ExecutorRegistry,
        schedules: SchedulesPort,
        *,
        schedule: Schedule | None = None,
        task: Task | None = None,
        credential_names: Iterable[str] | None = None,
        parent: QWidget | None = None,
        editors: EditorRegistry | None = None,
    ) -> None:
        if schedule is not None:
            task = Task.from_dict(schedule.template)
        super().__init__(
            registry, parent=parent, task=task, credential_names=credential_names, editors=editors
        )
        self.setObjectName("scheduleEditor")
        self.schedules = schedules
        self.editing = schedule
        self.saved: Schedule | None = None
        if schedule is not None:
            self.setWindowTitle(f"Edit schedule — {schedule.name}")
        else:
            self.setWindowTitle("New schedule")
        self.ok_button.setText("&Save schedule" if schedule else "&Add schedule")

        self.schedule_name = QLineEdit()
        self.schedule_name.setObjectName("scheduleName")
        self.schedule_name.setPlaceholderText("default: the task's name")
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("scheduleKind")
        self.kind_combo.addItem("Every (interval)", ScheduleKind.INTERVAL)
        self.kind_combo.addItem("Cron expression", ScheduleKind.CRON)
        self.when_edit = QLineEdit()
        self.when_edit.setObjectName("scheduleWhen")
        self.timezone_edit = QLineEdit()
        self.timezone_edit.setObjectName("scheduleTimezone")
        self.timezone_edit.setPlaceholderText("this machine's local time (or e.g. Europe/Paris)")
        self.missed_combo = QComboBox()
        self.missed_combo.setObjectName("scheduleMissed")
        for policy, text in _MISSED_TEXT.items():
            self.missed_combo.addItem(text, policy)
        self.missed_combo.setToolTip("What happens to runs that fell due while qtqueue was closed")
        box = QGroupBox("Recurs")
        box.setObjectName("scheduleTimingBox")
        grid = QFormLayout(box)
        grid.addRow("Sc&hedule name", self.schedule_name)
        grid.addRow("&When", self.kind_combo)
        grid.addRow("", self.when_edit)
        grid.addRow("Time &zone", self.timezone_edit)
        grid.addRow("Missed r&uns", self.missed_combo)
        layout = self.layout()
        assert isinstance(layout, QBoxLayout)  # the Designer form's top-level box
        layout.insertWidget(layout.indexOf(self.message), box)
        self.resize(620, 860)
        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        if schedule is not None:
            self._fill_timing(schedule)
        self._kind_changed()

    def _fill_timing(self, s: Schedule) -> None:
        self.schedule_name.setText(s.name)
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(s.kind))
        self.when_edit.setText(self._when_of(s))
        self.timezone_edit.setText(s.timezone or "")
        self.missed_combo.setCurrentIndex(self.missed_combo.findData(s.missed))

    @staticmethod
    def _when_of(s: Schedule) -> str:
        return s.cron or "" if s.kind == ScheduleKind.CRON else s.summary.removeprefix("every ")

    def kind(self) -> ScheduleKind:
        return ScheduleKind(self.kind_combo.currentData())

    @Slot()
    def _kind_changed(self) -> None:
        cron = self.kind() == ScheduleKind.CRON
        self.when_edit.setPlaceholderText(
            "e.g. 0 3 * * *  (minute hour day month weekday) or @daily"
            if cron
            else "e.g. 30s, 10m, 1h30m, 2d"
        )
        self.timezone_edit.setEnabled(cron)

    def timing(self) -> dict[str, Any]:
        """The recurrence typed: every= or cron= (with timezone=), for the manager."""
        when = self.when_edit.text().strip()
        if self.kind() == ScheduleKind.CRON:
            return {"cron": when, "timezone": self.timezone_edit.text().strip() or None}
        return {"every": when}

    def submits(self) -> bool:
        return True  # OK saves the schedule; the dialog stays open showing a refusal

    async def _submit(self, task: Task) -> None:
        name = self.schedule_name.text().strip()
        missed = MissedPolicy(self.missed_combo.currentData())
        timing = self.timing()
        if self.editing is None:
            self.saved = await self.schedules.add_schedule(
                task, name=name, missed=missed, **timing
            )
        else:
            self.saved = await self.schedules.update_schedule(
                self.editing.id, name=name, template=task, missed=missed,
                **self._changed_timing(timing),
            )

    def _changed_timing(self, timing: dict[str, Any]) -> dict[str, Any]:
        """Only what changed: a change of timing restarts the schedule from now."""
        s = self.editing
        assert s is not None
        same = (
            self.kind() == s.kind
            and self.when_edit.text().strip() == self._when_of(s)
            and timing.get("timezone", s.timezone) == s.timezone
        )
        return {} if same else timing


class ScheduleDialog(QDialog):
    """The schedules of `queue` (its `ScheduleManager`), live. Non-modal; one per window."""

    #: A schedule was added or changed from this dialog (its id).
    scheduleSaved = Signal(str)

    def __init__(
        self,
        schedules: SchedulesPort,
        registry: ExecutorRegistry,
        bridge: EngineBridge,
        *,
        credential_names: Iterable[str] = (),
        parent: QWidget | None = None,
        editors: EditorRegistry | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("scheduleDialog")
        #: The window's form editors, for the schedule editor's task form.
        self.editors = editors
        self.form = Ui_ScheduleDialog()
        self.form.setupUi(self)
        self.schedules = schedules
        self.registry = registry
        self.credential_names = list(credential_names)
        self.editor: ScheduleEditor | None = None
        self._jobs = BackgroundTasks()
        self.model = ScheduleTableModel(self)
        table = self.table = self.form.scheduleTable
        table.setModel(self.model)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for column, width in enumerate((190, 230, 130, 110, 170, 50)):
            table.setColumnWidth(column, width)
        f = self.form
        f.buttonBox.rejected.connect(self.reject)
        f.addScheduleButton.clicked.connect(self.add_schedule)
        f.editScheduleButton.clicked.connect(self.edit_schedule)
        f.pauseScheduleButton.clicked.connect(self.toggle_paused)
        f.runScheduleNowButton.clicked.connect(self.run_now)
        f.deleteScheduleButton.clicked.connect(self.ask_delete)
        table.doubleClicked.connect(lambda _index: self.edit_schedule())
        table.selectionModel().selectionChanged.connect(self._update_buttons)
        bridge.schedulesChanged.connect(self.refresh)
        self.refresh()

    # ------------------------------------------------------------------ reading

    @Slot()
    @Slot(str)
    def refresh(self, _schedule_id: str = "") -> None:
        """Show the manager's schedules now, keeping the selection."""
        selected = self.selected()
        try:
            schedules = self.schedules.list_schedules()
        except QueueError as exc:
            self._show(error_text(exc), error=True)
            schedules = []
        self.model.set_schedules(schedules)
        if selected is not None:
            self.select(selected.id)
        self._update_buttons()

    def selected(self) -> Schedule | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.schedule(rows[0].row()) if rows else None

    def select(self, schedule_id: str) -> None:
        row = self.model.row_of(schedule_id)
        if row is not None:
            self.table.selectionModel().setCurrentIndex(
                self.model.index(row, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )

    def _update_buttons(self, *_args: object) -> None:
        s = self.selected()
        f = self.form
        for button in (
            f.editScheduleButton, f.pauseScheduleButton, f.runScheduleNowButton,
            f.deleteScheduleButton,
        ):
            button.setEnabled(s is not None)
        f.pauseScheduleButton.setText("Res&ume" if s is not None and s.paused else "&Pause")

    def _show(self, text: str, *, error: bool = False) -> None:
        label = self.form.scheduleMessage
        label.setText(text)
        label.setStyleSheet(themed("color: #c62828;") if error else "")

    # ------------------------------------------------------------------ actions

    @Slot()
    def add_schedule(self) -> ScheduleEditor:
        """Open the editor for a new schedule. No parameter: the Add button's `clicked(bool)`
        is connected here, and PySide passes a signal's arguments to any parameter it finds."""
        return self._open_editor(None)

    @Slot()
    def edit_schedule(self) -> ScheduleEditor | None:
        s = self.selected()
        return None if s is None else self._open_editor(s)

    def _open_editor(self, schedule: Schedule | None) -> ScheduleEditor:
        editor = ScheduleEditor(
            self.registry,
            self.schedules,
            schedule=schedule,
            credential_names=self.credential_names,
            parent=self,
            editors=self.editors,
        )
        editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        editor.accepted.connect(lambda: self._saved(editor.saved))
        self.editor = editor
        editor.open()
        return editor

    def _saved(self, s: Schedule | None) -> None:
        self.editor = None
        if s is not None:
            self.refresh()
            self.select(s.id)
            self._show(f"Schedule “{s.name}” saved: {s.summary}")
            self.scheduleSaved.emit(s.id)

    @Slot()
    def toggle_paused(self) -> None:
        s = self.selected()
        if s is not None:
            change = self.schedules.resume_schedule if s.paused else self.schedules.pause_schedule
            verb = "resumed" if s.paused else "paused"
            self._act(change(s.id), f"Schedule “{s.name}” {verb}")

    @Slot()
    def run_now(self) -> None:
        s = self.selected()
        if s is not None:
            self._act(self.schedules.run_now(s.id), f"Schedule “{s.name}” added a task now")

    @Slot()
    def ask_delete(self) -> QMessageBox | None:
        """Ask before deleting the selected schedule (a non-blocking box)."""
        s = self.selected()
        if s is None:
            return None
        return ask_yes(
            self,
            name="confirmDeleteSchedule",
            title="Delete schedule",
            text=f"Delete the schedule “{s.name}” ({s.summary})?\n"
            "Tasks it already added stay in the queue.",
            on_yes=lambda: self._act(
                self.schedules.delete_schedule(s.id), f"Schedule “{s.name}” deleted"
            ),
        )

    def _act(self, call: Coroutine[Any, Any, object], done: str) -> None:
        self._jobs.spawn(self._run(call, done), done)

    async def _run(self, call: Coroutine[Any, Any, object], done: str) -> None:
        try:
            await call
        except QueueError as exc:
            self._show(error_text(exc), error=True)
            return
        self._show(done)
        self.refresh()

    async def stop(self) -> None:
        """End what this dialog started (the window is closing)."""
        await self._jobs.cancel_all()
