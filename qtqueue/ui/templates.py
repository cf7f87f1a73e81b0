"""Task templates in the window: the "From template ›" chooser of the New task dialog, the
"Manage templates" dialog (rename, delete) and the "Save as template" question.

The templates live in the data directory (`qtqueue.api.templates.TemplateStore`), not in the
window's settings. This module never opens the New task dialog itself (that dialog hosts the
chooser); `template_actions.py` wires the menus and the tray.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qtqueue.api.templates import Template, TemplateStore
from qtqueue.core.errors import QueueError
from qtqueue.core.task import Task
from qtqueue.core.type_titles import type_title
from qtqueue.ui.backups_dialog import show_coded_error

logger = logging.getLogger(__name__)

_NAME_ROLE = Qt.ItemDataRole.UserRole + 1


def coded(exc: QueueError) -> str:
    """A QueueError in one line: its code, message and what to do."""
    return f"{exc.code.value}: {exc.message} {exc.suggestion}".strip()


def _type_of(template: Template) -> str:
    """The template's task type in words ("Custom command")."""
    return type_title(str(template.task.get("task_type", "?")))


def fill_template_menu(
    menu: QMenu,
    store: TemplateStore,
    chosen: Callable[[Template], object],
    manage: Callable[[], object],
) -> None:
    """(Re)fill `menu` with one action per template (objectName `template:<name>`), then
    "Manage templates…"; a file that cannot be read is shown as a disabled line saying so."""
    menu.clear()
    try:
        templates = store.all()
    except QueueError as exc:
        broken = menu.addAction(f"Templates unreadable — {exc.code.value}")
        broken.setToolTip(coded(exc))
        broken.setEnabled(False)
        templates = []
    if not templates:
        empty = menu.addAction("No templates yet: a task's “Save as template…” adds one")
        empty.setObjectName("templatesNone")
        empty.setEnabled(False)
    for template in templates:
        action = menu.addAction(template.name)
        action.setObjectName(f"template:{template.name}")
        action.setToolTip(f"{_type_of(template)}: {template.task.get('name', '')}")
        action.triggered.connect(lambda _checked=False, t=template: chosen(t))
    menu.addSeparator()
    managing = menu.addAction("&Manage templates…")
    managing.setObjectName("templatesManage")
    managing.triggered.connect(lambda _checked=False: manage())


def template_task(store: TemplateStore, template: Template, parent: QWidget) -> Task | None:
    """A new task from `template` (`TemplateStore.new_task`), or None after showing why not
    (a templates file edited by hand: DATA_FILE_CORRUPTED, its path and the fix) in an error
    box (objectName `templateUnusable`) over `parent`."""
    try:
        return store.new_task(template)
    except QueueError as exc:
        logger.warning("template %r cannot make a task: %s", template.name, exc.message)
        show_coded_error(parent, "templateUnusable", "Template not usable", exc)
        return None


class TemplateChooser(QToolButton):
    """The New task dialog's "From template ›" button: its menu lists the templates;
    `chosen(Task, str)` gives a new task built from the one picked, and its name."""

    chosen = Signal(Task, str)

    def __init__(self, store: TemplateStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("templateChooser")
        self.store = store
        self.setText("From template ›")
        self.setToolTip("Fill the form from a saved template")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.templates_menu = QMenu(self)
        self.templates_menu.setObjectName("templateChooserMenu")
        self.templates_menu.aboutToShow.connect(self.refresh)
        self.setMenu(self.templates_menu)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Re-read the templates into the menu."""
        fill_template_menu(self.templates_menu, self.store, self.choose, self.manage)

    def choose(self, template: Template) -> None:
        """Emit `chosen` with a new task from `template`; a template that cannot make one is
        a coded error box (`template_task`), and the form is left as it was."""
        task = template_task(self.store, template, self.window())
        if task is not None:
            self.chosen.emit(task, template.name)

    def manage(self) -> ManageTemplatesDialog:
        """Open the manage dialog over the chooser's window."""
        return open_manager(self.store, self.window())


class ManageTemplatesDialog(QDialog):
    """The templates by name, with Rename… and Delete (each applied to the file at once)."""

    def __init__(self, store: TemplateStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("manageTemplatesDialog")
        self.setWindowTitle("Task templates")
        self.store = store
        self.list = QListWidget()
        self.list.setObjectName("templatesList")
        self.rename_button = QPushButton("&Rename…")
        self.rename_button.setObjectName("templatesRename")
        self.delete_button = QPushButton("&Delete")
        self.delete_button.setObjectName("templatesDelete")
        self.message = QLabel()
        self.message.setObjectName("templatesMessage")
        self.message.setWordWrap(True)
        hint = QLabel(f"Kept in {store.path} — any qtqueue window on this queue sees them.")
        hint.setWordWrap(True)
        hint.setEnabled(False)
        buttons = QVBoxLayout()
        buttons.addWidget(self.rename_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.list, 1)
        row.addLayout(buttons)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(row, 1)
        layout.addWidget(self.message)
        layout.addWidget(hint)
        layout.addWidget(close)
        self.rename_button.clicked.connect(self.ask_rename)
        self.delete_button.clicked.connect(self.delete_selected)
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.resize(460, 320)
        self.refresh()

    def refresh(self, select: str | None = None) -> None:
        """Re-read the templates; select `select` (else the first)."""
        self.list.clear()
        try:
            templates = self.store.all()
        except QueueError as exc:
            templates = []
            self._say(coded(exc))
        for template in templates:
            item = QListWidgetItem(f"{template.name}   ({_type_of(template)})")
            item.setData(_NAME_ROLE, template.name)
            self.list.addItem(item)
            if template.name == select or self.list.currentItem() is None:
                self.list.setCurrentItem(item)
        self._update_buttons()

    def names(self) -> list[str]:
        """The names listed, top to bottom."""
        return [str(self.list.item(i).data(_NAME_ROLE)) for i in range(self.list.count())]

    def selected(self) -> str | None:
        """The selected template's name."""
        item = self.list.currentItem()
        return None if item is None else str(item.data(_NAME_ROLE))

    def _update_buttons(self) -> None:
        chosen = self.selected() is not None
        self.rename_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #c62828;" if text else "")

    @Slot()
    def ask_rename(self) -> QInputDialog | None:
        """Ask for the selected template's new name (non-blocking)."""
        old = self.selected()
        if old is None:
            return None
        ask = QInputDialog(self)
        ask.setObjectName("renameTemplate")
        ask.setWindowTitle("Rename template")
        ask.setLabelText(f"New name for “{old}”:")
        ask.setTextValue(old)
        ask.textValueSelected.connect(lambda new: self.rename_selected(new))
        ask.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        ask.open()
        return ask

    def rename_selected(self, new: str) -> bool:
        """Rename the selected template; False (the reason shown) if refused."""
        old = self.selected()
        if old is None:
            return False
        try:
            renamed = self.store.rename(old, new)
        except QueueError as exc:
            self._say(coded(exc))
            return False
        self._say("")
        self.refresh(select=renamed.name)
        return True

    @Slot()
    def delete_selected(self) -> bool:
        """Delete the selected template (a template only: no task changes)."""
        name = self.selected()
        if name is None:
            return False
        try:
            self.store.delete(name)
        except QueueError as exc:
            self._say(coded(exc))
            return False
        self._say(f"Template “{name}” deleted.")
        self.message.setStyleSheet("")
        self.refresh()
        return True


def open_manager(store: TemplateStore, parent: QWidget | None) -> ManageTemplatesDialog:
    """Show the manage dialog (non-modal, deleted on close)."""
    dialog = ManageTemplatesDialog(store, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog


class SaveTemplateDialog(QInputDialog):
    """Ask a name for `task`'s template; OK saves it (a name in use: saying so, the dialog
    stays open). `saved(str)` gives the name once stored."""

    saved = Signal(str)

    def __init__(self, store: TemplateStore, task: Task, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("saveTemplateDialog")
        self.store = store
        self.task = task
        self.setWindowTitle("Save as template")
        self.setLabelText(
            f"Save “{task.name or task.type_name}” as a template named:\n"
            "(type, parameters and settings; no id, history or secret values)"
        )
        self.setTextValue(task.name)
        self.setTextEchoMode(QLineEdit.EchoMode.Normal)
        for label in self.findChildren(QLabel):  # a refusal's reason wraps, not widens
            label.setWordWrap(True)
        self.setMinimumWidth(420)

    def done(self, result: int) -> None:
        """OK: save under the name typed; refused (shown in the label), stay open."""
        if result == QDialog.DialogCode.Accepted and not self.save(self.textValue()):
            return
        super().done(result)

    def save(self, name: str) -> bool:
        """Store the template `name`; False (the reason in the label) if refused."""
        try:
            template = self.store.save(name, self.task)
        except QueueError as exc:
            self.setLabelText(f"Not saved — {exc.code.value}: {exc.message}")
            return False
        self.saved.emit(template.name)
        return True
