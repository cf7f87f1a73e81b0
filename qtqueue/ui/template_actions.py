"""The window's template actions: "Save as template…" on one task (Tasks menu and context
menu), and the "New from template ›" menu (Tasks menu and tray) that opens the New task form
filled from a template. The widgets are `templates.py`'s; the store is the data directory's.
"""

from __future__ import annotations

import logging
from typing import Protocol

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QMenu, QTableView, QWidget

from qtqueue.api.port import EnginePort
from qtqueue.api.templates import Template, TemplateStore
from qtqueue.core.task import Task
from qtqueue.ui.forms.main_window_ui import Ui_MainWindow
from qtqueue.ui.new_task_dialog import NewTaskDialog
from qtqueue.ui.paramform.editors import EditorRegistry
from qtqueue.ui.task_actions import TaskActions, new_action
from qtqueue.ui.task_list.model import TaskTableModel
from qtqueue.ui.templates import (
    ManageTemplatesDialog,
    SaveTemplateDialog,
    fill_template_menu,
    open_manager,
    template_task,
)

logger = logging.getLogger(__name__)


class TemplatesHost(Protocol):
    """What the template actions need from the window (`MainWindow` is one)."""

    queue: EnginePort
    editors: EditorRegistry
    model: TaskTableModel
    form: Ui_MainWindow
    table: QTableView
    task_actions: TaskActions

    def selected_tasks(self) -> list[Task]:
        """The selected rows' snapshots, top to bottom."""
        ...

    def select_task(self, task_id: str) -> None:
        """Select a task's row (now, or as soon as it shows up)."""
        ...

    def show_message(self, text: str, timeout_ms: int = 6000) -> None:
        """One line in the status bar."""
        ...

    def credential_names(self) -> list[str]:
        """The names of the stored credentials."""
        ...


class WindowTemplates(QObject):
    """Template actions of one window (see the module docstring). `menu` is the
    "New from template" submenu, shared by the Tasks menu and the tray."""

    def __init__(self, host: TemplatesHost, parent: QWidget) -> None:
        super().__init__(parent)
        self.host = host
        self._parent = parent
        self.store = TemplateStore(host.queue.data_dir, host.queue.registry)
        actions = host.task_actions
        self.save_action = new_action(
            self, "actionSaveAsTemplate", "Save as &template…",
            "Keep the selected task's type, parameters and settings under a name, "
            "to start new tasks from it", enabled=False,
        )  # fmt: skip
        self.menu = QMenu("New from te&mplate", parent)
        self.menu.setObjectName("newFromTemplateMenu")
        self.menu.menuAction().setObjectName("actionNewFromTemplate")
        self.menu.aboutToShow.connect(self.refresh_menu)
        f = host.form
        f.menuTasks.insertAction(actions.new_after, self.save_action)
        f.menuTasks.insertMenu(actions.duplicate, self.menu)
        context = actions.context_menu
        after = actions.new_after
        context.insertAction(after, self.save_action)
        self.save_action.triggered.connect(self.ask_save)
        actions.updated.connect(self._update)
        self.refresh_menu()

    @classmethod
    def install(cls, window: TemplatesHost) -> WindowTemplates:
        """The template actions, added to `window`'s menus."""
        assert isinstance(window, QWidget)
        return cls(window, window)

    def _update(self) -> None:
        self.save_action.setEnabled(len(self.host.selected_tasks()) == 1)

    @Slot()
    def refresh_menu(self) -> None:
        """Re-read the templates into the "New from template" menu."""
        fill_template_menu(self.menu, self.store, self.open_from, self.manage)

    def manage(self) -> ManageTemplatesDialog:
        """The rename/delete dialog."""
        return open_manager(self.store, self._parent)

    @Slot()
    def ask_save(self) -> SaveTemplateDialog | None:
        """Ask a name for the selected task's template (non-blocking)."""
        tasks = self.host.selected_tasks()
        if len(tasks) != 1:
            return None
        dialog = SaveTemplateDialog(self.store, tasks[0], self._parent)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(
            lambda name: self.host.show_message(
                f"Template “{name}” saved: Tasks › New from template, or the New task form"
            )
        )
        dialog.open()
        return dialog

    def open_from(self, template: Template) -> NewTaskDialog | None:
        """The New task form filled from `template`; OK queues a new task. None (and a coded
        error box) when the template cannot make a task."""
        host = self.host
        task = template_task(self.store, template, self._parent)
        if task is None:
            return None
        dialog = NewTaskDialog(
            host.queue.registry,
            parent=self._parent,
            credential_names=host.credential_names(),
            editors=host.editors,
            queues=host.queue.list_queues(),
            known_tasks=host.model,
            submit=host.queue.add_task,
            templates=self.store,
        )
        dialog.apply_template(task, template.name)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def queued() -> None:
            if dialog.queued_id is not None:
                host.select_task(dialog.queued_id)

        dialog.accepted.connect(queued)
        dialog.open()
        return dialog
