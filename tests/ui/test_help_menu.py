"""The Help menu: every keyboard shortcut (read from the actions), the documentation, and
About qtqueue with the versions and the data directory."""

from __future__ import annotations

import platform

from PySide6.QtCore import qVersion
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

import qtqueue
from qtqueue.ui.help_menu import HelpMenu, plain
from qtqueue.ui.main_window import MainWindow


def help_menu(window: MainWindow) -> QMenu:
    menus = [a.menu() for a in window.menuBar().actions() if plain(a.text()) == "Help"]
    assert len(menus) == 1 and isinstance(menus[0], QMenu)
    return menus[0]


def native(keys: str) -> str:
    return QKeySequence(keys).toString(QKeySequence.SequenceFormat.NativeText)


def test_the_help_menu_is_last_with_shortcuts_documentation_and_about(window: MainWindow) -> None:
    assert plain(window.menuBar().actions()[-1].text()) == "Help"
    items = [plain(a.text()) for a in help_menu(window).actions() if not a.isSeparator()]
    assert items == ["Keyboard shortcuts", "Documentation", "About qtqueue"]


def test_the_shortcuts_dialog_lists_every_action_with_a_shortcut(window: MainWindow) -> None:
    # One added now: the list is read from the actions, not kept by hand.
    extra = QAction("Frobnicate", window)
    extra.setShortcut(QKeySequence("Ctrl+Shift+F12"))
    window.form.menuView.addAction(extra)
    menu = window.findChild(HelpMenu)
    assert menu is not None
    dialog = menu.show_shortcuts()
    rows = dialog.rows()
    assert ("Frobnicate", native("Ctrl+Shift+F12"), "View") in rows
    assert ("Settings", native("Ctrl+,"), "File") in rows
    assert ("Quit", native("Ctrl+Q"), "File") in rows
    assert ("Keyboard shortcuts", native("Ctrl+/"), "Help") in rows
    expected = {
        plain(a.text())
        for a in window.findChildren(QAction)
        if not a.shortcut().isEmpty() and a.text()
    }
    assert expected <= {name for name, _keys, _menu in rows}
    dialog.close()


def test_documentation_shows_the_readme(window: MainWindow) -> None:
    menu = window.findChild(HelpMenu)
    assert menu is not None
    dialog = menu.show_documentation()
    assert dialog.path is not None and dialog.path.name == "README.md"
    first_heading = next(
        line.lstrip("# ").strip()
        for line in dialog.path.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    )
    assert first_heading in dialog.browser.toPlainText()
    dialog.close()


def test_about_names_the_version_the_data_directory_and_qt_and_python(
    window: MainWindow,
) -> None:
    menu = window.findChild(HelpMenu)
    assert menu is not None
    box = menu.show_about()
    text = box.text()
    assert f"qtqueue {qtqueue.__version__}" in text
    assert str(window.queue.data_dir) in text
    assert f"Qt {qVersion()}" in text and f"Python {platform.python_version()}" in text
    box.close()
