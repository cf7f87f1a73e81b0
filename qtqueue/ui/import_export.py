"""File › Import tasks…, Export tasks… (JSON) and Export list as CSV…, added from code.

Export writes the selected tasks' definitions, or every task shown when none is selected
(`qtqueue.api.task_files`: type, name, params, category, tags, priority, queue, timeout,
retries, resources, approval…; no ids, history or secret values). Import checks every entry
before adding any, then adds them all at once through the engine's own validation (all or
none); a window attached to an engine has the engine read the file itself (`import_tasks`: no
request-size limit). A bad file or entry is a coded error naming it and the fix. The CSV is
the list as it is shown: the visible columns in their order, the rows the filters let
through, sorted as seen; a cell a spreadsheet would run as a formula starts with '.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QFileDialog, QTableView, QWidget

from qtqueue.api.port import EnginePort
from qtqueue.api.task_files import csv_text, export_json, write_private
from qtqueue.api.task_import import import_file
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task
from qtqueue.ui.backups_dialog import show_coded_error
from qtqueue.ui.engine_bridge import BackgroundTasks
from qtqueue.ui.forms.main_window_ui import Ui_MainWindow
from qtqueue.ui.task_actions import new_action, owned_slot
from qtqueue.ui.task_list.model import TaskTableModel
from qtqueue.ui.task_list.proxy import TaskFilterProxy
from qtqueue.ui.template_actions import TemplatesHost, WindowTemplates

logger = logging.getLogger(__name__)

_JSON_FILTER = "qtqueue tasks (*.json);;All files (*)"
_CSV_FILTER = "CSV table (*.csv);;All files (*)"


class DataHost(Protocol):
    """What import and export need from the window (`MainWindow` is one)."""

    queue: EnginePort
    form: Ui_MainWindow
    model: TaskTableModel
    proxy: TaskFilterProxy
    table: QTableView
    background: BackgroundTasks

    def selected_tasks(self) -> list[Task]:
        """The selected rows' snapshots, top to bottom."""
        ...

    def select_tasks(self, ids: list[str]) -> None:
        """Select exactly these tasks' rows."""
        ...

    def show_message(self, text: str, timeout_ms: int = 6000) -> None:
        """One line in the status bar."""
        ...


class DataFiles(QObject):
    """Import and export of one window (see the module docstring)."""

    def __init__(self, host: DataHost, parent: QWidget) -> None:
        super().__init__(parent)
        self.host = host
        self.background = host.background
        self._parent = parent
        self.import_action = new_action(
            self, "actionImportTasks", "&Import tasks…",
            "Add the tasks of a JSON file exported by qtqueue, as new tasks",
        )  # fmt: skip
        self.export_action = new_action(
            self, "actionExportTasks", "&Export tasks…",
            "Save the selected tasks (none selected: all shown) as JSON, to import later",
        )  # fmt: skip
        self.csv_action = new_action(
            self, "actionExportCsv", "Export list as &CSV…",
            "Save the list as shown (visible columns, filtered rows) as a CSV table",
        )  # fmt: skip
        f = host.form
        first = f.menuFile.actions()[0]
        f.menuFile.insertActions(first, [self.import_action, self.export_action, self.csv_action])
        f.menuFile.insertSeparator(first)
        self.import_action.triggered.connect(self.ask_import)
        self.export_action.triggered.connect(self.ask_export)
        self.csv_action.triggered.connect(self.ask_export_csv)

    @classmethod
    def install(cls, window: DataHost) -> DataFiles:
        """Import and export, added to `window`'s File menu."""
        assert isinstance(window, QWidget)
        return cls(window, window)

    # ------------------------------------------------------------------ what is exported

    def tasks_to_export(self) -> list[Task]:
        """The selected tasks, or (none selected) every task shown, in view order."""
        selected = self.host.selected_tasks()
        if selected:
            return selected
        proxy, model = self.host.proxy, self.host.model
        rows = (proxy.mapToSource(proxy.index(r, 0)).row() for r in range(proxy.rowCount()))
        return [model.task(r) for r in rows if r >= 0]

    def shown_table(self) -> tuple[list[str], list[list[str]]]:
        """The list as shown: the visible columns' headers in view order, and each shown
        row's cells as displayed."""
        proxy = self.host.proxy
        header = self.host.table.horizontalHeader()
        columns = [header.logicalIndex(v) for v in range(header.count())]
        columns = [c for c in columns if not header.isSectionHidden(c)]
        display = Qt.ItemDataRole.DisplayRole
        heads = [
            str(proxy.headerData(c, Qt.Orientation.Horizontal, display) or "") for c in columns
        ]
        rows = []
        for r in range(proxy.rowCount()):
            cells = (proxy.index(r, c).data(display) for c in columns)
            rows.append(["" if v is None else str(v) for v in cells])
        return heads, rows

    # ------------------------------------------------------------------ writing

    def export_to(self, path: Path) -> int:
        """Write `tasks_to_export()` to `path` as JSON; how many were written."""
        tasks = self.tasks_to_export()
        write_private(path, export_json(tasks))
        logger.info("%d task(s) exported to %s", len(tasks), path)
        self.host.show_message(f"Exported {len(tasks):,} task(s) to {path}")
        return len(tasks)

    def export_csv_to(self, path: Path) -> int:
        """Write the list as shown to `path` as CSV; how many rows were written."""
        heads, rows = self.shown_table()
        write_private(path, csv_text(heads, rows))
        self.host.show_message(f"Exported {len(rows):,} row(s) to {path}")
        return len(rows)

    async def import_from(self, path: Path) -> list[str]:
        """Add the tasks of `path` as new tasks, all or none; their ids (the reason shown in
        a box and the status bar, and [] if refused)."""
        try:
            ids = await import_file(self.host.queue, path)
        except QueueError as exc:
            show_coded_error(self._parent, "importFailed", "Nothing imported", exc)
            self.host.show_message(f"Nothing imported — {exc.code.value}: {exc.message}")
            return []
        self._select_when_shown(ids)
        self.host.show_message(f"Imported {len(ids):,} task(s) from {path}")
        return ids

    def _select_when_shown(self, ids: list[str]) -> None:
        """Select the imported tasks once their rows are in the table (events follow the
        commit)."""
        model = self.host.model

        def select() -> None:
            if all(model.row_of(i) is not None for i in ids):
                model.batchApplied.disconnect(select)
                self.host.select_tasks(ids)

        model.batchApplied.connect(select)
        select()

    # ------------------------------------------------------------------ file choosers

    def _chooser(self, name: str, title: str, filters: str, save: bool) -> QFileDialog:
        dialog = QFileDialog(self._parent, title, str(Path.home()), filters)
        dialog.setObjectName(name)
        if save:
            dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
            dialog.setDefaultSuffix("csv" if "csv" in filters else "json")
        else:
            dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        return dialog

    @Slot()
    def ask_export(self) -> QFileDialog:
        """Choose where the JSON goes (non-blocking), then write it."""
        dialog = self._chooser("exportTasksFile", "Export tasks", _JSON_FILTER, save=True)
        dialog.fileSelected.connect(lambda p: self._write(self.export_to, p))
        dialog.open()
        return dialog

    @Slot()
    def ask_export_csv(self) -> QFileDialog:
        """Choose where the CSV goes (non-blocking), then write it."""
        dialog = self._chooser("exportCsvFile", "Export list as CSV", _CSV_FILTER, save=True)
        dialog.fileSelected.connect(lambda p: self._write(self.export_csv_to, p))
        dialog.open()
        return dialog

    @Slot()
    def ask_import(self) -> QFileDialog:
        """Choose a file (non-blocking), then import it."""
        dialog = self._chooser("importTasksFile", "Import tasks", _JSON_FILTER, save=False)
        dialog.fileSelected.connect(lambda p: self._import(p))
        dialog.open()
        return dialog

    @owned_slot(str)
    async def _import(self, path: str) -> None:
        await self.import_from(Path(path))

    def _write(self, write: Callable[[Path], int], path: str) -> None:
        try:
            write(Path(path))
        except OSError as exc:
            error = QueueError(
                TaskErrorCode.SYSTEM_PERMISSION_DENIED
                if isinstance(exc, PermissionError)
                else TaskErrorCode.DATA_FILE_NOT_FOUND,
                f"{path} cannot be written ({exc.strerror}): choose another place.",
            )
            show_coded_error(self._parent, "exportFailed", "Not exported", error)


class DataWindow(DataHost, TemplatesHost, Protocol):
    """A window with both import/export and templates (`MainWindow` is one)."""


def install_data(window: DataWindow) -> tuple[DataFiles, WindowTemplates]:
    """File › Import/Export and the task templates, added to `window` (MainWindow's one call)."""
    return DataFiles.install(window), WindowTemplates.install(window)
