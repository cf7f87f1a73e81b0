"""The Help menu, added to the window's menu bar from code: Keyboard shortcuts (every action
of the window that has one, read from the actions themselves), Documentation (the README,
rendered), and About qtqueue (version, data directory, Qt and Python versions).

`HelpMenu.install(window)` adds it; the dialogs are built on demand.
"""

from __future__ import annotations

import logging
import platform
import sys
from importlib import metadata
from pathlib import Path

from PySide6 import __version__ as PYSIDE_VERSION
from PySide6.QtCore import QObject, Qt, QUrl, qVersion
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

import qtqueue

logger = logging.getLogger(__name__)

#: The columns of the keyboard shortcuts dialog.
SHORTCUT_HEADERS = ("Action", "Shortcut", "Menu")


def plain(text: str) -> str:
    """An action's text as read: no mnemonic ampersands, no trailing ellipsis."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").removesuffix("…")


def _menu_paths(window: QMainWindow) -> dict[QAction, str]:
    """Each action of the menu bar and the menu path it sits in ("View › Columns")."""
    paths: dict[QAction, str] = {}

    def walk(menu: QMenu, path: str) -> None:
        for action in menu.actions():
            sub = action.menu()
            if isinstance(sub, QMenu):
                walk(sub, f"{path} › {plain(sub.title())}")
            elif not action.isSeparator():
                paths.setdefault(action, path)

    for top in window.menuBar().actions():
        if isinstance(menu := top.menu(), QMenu):
            walk(menu, plain(menu.title()))
    return paths


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(action, shortcuts, menu) for every action of `window` with a shortcut, in menu order,
    then those that are in no menu (a toolbar's, a list's)."""
    paths = _menu_paths(window)
    rows: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    ordered = list(paths) + [a for a in window.findChildren(QAction) if a not in paths]
    for action in ordered:
        keys = [k for k in action.shortcuts() if not k.isEmpty()]
        if not keys:
            continue
        name = plain(action.text()) or action.toolTip() or action.objectName()
        text = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys)
        if (name, text) in seen:
            continue
        seen.add((name, text))
        rows.append((name, text, paths.get(action, "—")))
    return rows


class ShortcutsDialog(QDialog):
    """Every keyboard shortcut of the window, with what it does and where its menu item is."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.table = QTreeWidget(self)
        self.table.setObjectName("shortcutsList")
        self.table.setHeaderLabels(list(SHORTCUT_HEADERS))
        self.table.setRootIsDecorated(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        for row in shortcut_rows(window):
            QTreeWidgetItem(self.table, list(row))
        header = self.table.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(560, 520)

    def rows(self) -> list[tuple[str, str, str]]:
        """What the dialog lists, top to bottom."""
        items = (self.table.topLevelItem(i) for i in range(self.table.topLevelItemCount()))
        return [(i.text(0), i.text(1), i.text(2)) for i in items if i is not None]


def readme_text() -> tuple[str, Path | None]:
    """The README's Markdown and its file: the source tree's, else the installed package's
    description (no file)."""
    source = Path(qtqueue.__file__).resolve().parent.parent / "README.md"
    if source.is_file():
        return source.read_text(encoding="utf-8"), source
    try:
        description = metadata.metadata("qtqueue").json.get("description")
    except metadata.PackageNotFoundError:
        description = None
    text = str(description or "").strip()
    return text or "No documentation was installed with this copy of qtqueue.", None


class DocumentationDialog(QDialog):
    """The README, rendered; its links open in the browser."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("documentationDialog")
        self.setWindowTitle("qtqueue documentation")
        text, self.path = readme_text()
        self.browser = QTextBrowser(self)
        self.browser.setObjectName("documentationText")
        self.browser.setOpenExternalLinks(True)
        self.browser.setMarkdown(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        if self.path is not None:
            open_file = buttons.addButton("Open the file", QDialogButtonBox.ButtonRole.ActionRole)
            open_file.setObjectName("openReadme")
            open_file.setToolTip(str(self.path))
            path = self.path
            open_file.clicked.connect(
                lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
            )
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(820, 640)


def about_text(data_dir: Path | str) -> str:
    """The About box's text: version, data directory, Qt, PySide6 and Python versions."""
    return (
        f"<p><b>qtqueue {qtqueue.__version__}</b><br>"
        "A desktop task manager on an embedded, persistent asyncio queue engine.</p>"
        f"<p>Data directory: <code>{data_dir}</code></p>"
        f"<p>Qt {qVersion()} · PySide6 {PYSIDE_VERSION} · "
        f"Python {platform.python_version()} ({sys.platform})</p>"
    )


class HelpMenu(QObject):
    """The Help menu of `window` (see the module docstring); `data_dir` is shown in About."""

    def __init__(self, window: QMainWindow, data_dir: Path | str) -> None:
        super().__init__(window)
        self.window = window
        self.data_dir = data_dir
        self.menu = window.menuBar().addMenu("&Help")
        self.menu.setObjectName("menuHelp")
        self.shortcuts_action = self._action(
            "actionShortcuts", "&Keyboard shortcuts…", "Every keyboard shortcut", "Ctrl+/"
        )
        self.docs_action = self._action(
            "actionDocumentation",
            "&Documentation…",
            "The README: what qtqueue does and how",
            QKeySequence.StandardKey.HelpContents,
        )
        self.menu.addSeparator()
        self.about_action = self._action("actionAbout", "&About qtqueue", "Version and paths")
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.shortcuts_action.triggered.connect(self.show_shortcuts)
        self.docs_action.triggered.connect(self.show_documentation)
        self.about_action.triggered.connect(self.show_about)

    @classmethod
    def install(cls, window: QMainWindow, data_dir: Path | str) -> HelpMenu:
        """Add the Help menu to `window`'s menu bar."""
        return cls(window, data_dir)

    def _action(
        self, name: str, text: str, tip: str, keys: str | QKeySequence.StandardKey | None = None
    ) -> QAction:
        action = QAction(text, self.window)
        action.setObjectName(name)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        if keys is not None:
            action.setShortcut(QKeySequence(keys))
        self.menu.addAction(action)
        return action

    def show_shortcuts(self) -> ShortcutsDialog:
        """Open the keyboard shortcuts dialog (returned)."""
        dialog = ShortcutsDialog(self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def show_documentation(self) -> DocumentationDialog:
        """Open the documentation (returned)."""
        dialog = DocumentationDialog(self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def show_about(self) -> QMessageBox:
        """Open the About box (returned)."""
        box = QMessageBox(self.window)
        box.setObjectName("aboutBox")
        box.setWindowTitle("About qtqueue")
        box.setIconPixmap(self.window.windowIcon().pixmap(64, 64))
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(about_text(self.data_dir))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box
