"""The theme and the font size: chosen in Settings › Appearance, applied live to the whole
window (the colours hard-coded for light backgrounds swapped for readable ones), remembered,
and "Follow the system" following the platform's colour scheme."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from qtqueue.core.task import TaskStatus
from qtqueue.ui import theme
from qtqueue.ui.app_settings import AppConfig, AppSettings
from qtqueue.ui.icons import status_color
from qtqueue.ui.main_window import SETTINGS_APPLICATION, SETTINGS_ORGANIZATION, MainWindow
from qtqueue.ui.settings_dialog import SettingsDialog
from qtqueue.ui.theme import (
    DARK_COLORS,
    KEY_FONT_SIZE,
    KEY_THEME,
    Appearance,
    ThemeMode,
    is_dark,
    themed,
)

from .look_env import contrast, plain_look  # noqa: F401  (a fixture)

pytestmark = pytest.mark.usefixtures("plain_look")


def open_settings(window: MainWindow) -> SettingsDialog:
    dialog = window.dialogs.open_settings()
    assert isinstance(dialog, SettingsDialog)
    return dialog


def choose(dialog: SettingsDialog, mode: ThemeMode, font_pt: int | None = None) -> None:
    """Pick `mode` (and `font_pt`) in the dialog, OK, and let the change reach the widgets
    (and the engine's settings be written)."""
    dialog.theme.setCurrentIndex(dialog.theme.findData(mode.value))
    if font_pt is not None:
        dialog.fontSize.setValue(font_pt)
    dialog.accept()
    assert dialog.saving is not None
    asyncio.get_event_loop().run_until_complete(dialog.saving)
    QApplication.processEvents()


def window_colour() -> int:
    return QApplication.palette().color(QPalette.ColorRole.Window).lightness()


def test_dark_from_settings_darkens_the_window_live_and_keeps_its_colours_readable(
    window: MainWindow,
) -> None:
    banner = window.detail.form.waitBanner
    assert "#fef3c7" in banner.styleSheet()  # the light amber banner
    choose(open_settings(window), ThemeMode.DARK)
    assert is_dark() and window_colour() < 80
    # The table's background as drawn is dark, and every status colour reads on it.
    base = window.table.palette().color(QPalette.ColorRole.Base)
    assert base.lightness() < 60
    assert window.table.viewport().grab().toImage().pixelColor(5, 5).lightness() < 80
    for status in TaskStatus:
        assert contrast(status_color(status), base) >= 4.5, status
    # The banners' style sheets were recoloured in place: dark amber, light text.
    assert "#fef3c7" not in banner.styleSheet()
    assert DARK_COLORS["#fef3c7"] in banner.styleSheet()
    # The paused label, set after the switch, is light amber on dark.
    window._set_queue_paused_state(True)
    assert DARK_COLORS["#b45309"] in window.queue_state_label.styleSheet()
    window._set_queue_paused_state(False)

    choose(open_settings(window), ThemeMode.LIGHT)
    assert not is_dark() and window_colour() > 180
    assert "#fef3c7" in banner.styleSheet()
    assert status_color(TaskStatus.FAILED).name() == "#dc2626"


def test_the_theme_and_font_size_are_remembered(window: MainWindow) -> None:
    dialog = open_settings(window)
    assert dialog.theme.currentData() == ThemeMode.SYSTEM.value
    assert dialog.fontSize.text() == "System default"
    choose(dialog, ThemeMode.DARK, 15)
    saved = AppSettings(
        QSettings(SETTINGS_ORGANIZATION, SETTINGS_APPLICATION)
    )  # a fresh read, as the next start does
    assert (saved.theme, saved.font_size) == (ThemeMode.DARK, 15)
    again = open_settings(window)
    assert again.theme.currentData() == ThemeMode.DARK.value
    assert again.fontSize.value() == 15
    again.reject()


def test_a_saved_dark_theme_is_applied_when_the_window_opens(
    make_window: Callable[..., MainWindow], tmp_path: Path
) -> None:
    QSettings(SETTINGS_ORGANIZATION, SETTINGS_APPLICATION).setValue(KEY_THEME, ThemeMode.DARK.value)
    w = make_window(tmp_path / "q")
    assert is_dark() and window_colour() < 80
    # Set while the window was built with light colours, swapped as it opened.
    assert DARK_COLORS["#fef3c7"] in w.detail.form.waitBanner.styleSheet()


def test_the_font_size_is_applied_live_and_the_rows_grow_with_it(
    window: MainWindow, qtbot: QtBot
) -> None:
    before_pt = QApplication.font().pointSize()
    rows_before = window.table.verticalHeader().defaultSectionSize()
    choose(open_settings(window), ThemeMode.SYSTEM, 20)
    assert QApplication.font().pointSize() == 20
    assert window.table.font().pointSize() == 20
    rows = window.table.verticalHeader()
    qtbot.waitUntil(lambda: rows.defaultSectionSize() > rows_before * 1.5)
    choose(open_settings(window), ThemeMode.SYSTEM, 5)  # one below the smallest: the system's
    assert QApplication.font().pointSize() == before_pt
    qtbot.waitUntil(lambda: abs(rows.defaultSectionSize() - rows_before) <= 1)


def test_follow_the_system_switches_when_the_platform_does(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    choose(open_settings(window), ThemeMode.SYSTEM)
    assert not is_dark()
    monkeypatch.setattr(theme, "system_is_dark", lambda: True)
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert is_dark() and window_colour() < 80
    # A fixed choice does not follow.
    choose(open_settings(window), ThemeMode.LIGHT)
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert not is_dark()
    assert Appearance.of().mode == ThemeMode.LIGHT


def test_every_dark_colour_maps_back_to_its_light_one() -> None:
    css = " ".join(f"color: {light};" for light in DARK_COLORS)
    dark = themed(css, dark=True)
    assert not any(light in dark.split() for light in DARK_COLORS if len(light) == 7)
    assert themed(dark, dark=False) == css


def test_unreadable_saved_appearance_values_fall_back_to_the_defaults() -> None:
    s = QSettings(SETTINGS_ORGANIZATION, SETTINGS_APPLICATION)
    s.setValue(KEY_THEME, "purple")
    s.setValue(KEY_FONT_SIZE, 99)
    saved = AppSettings(s)
    assert (saved.theme, saved.font_size) == (ThemeMode.SYSTEM, 0)
    assert "font_size" in AppConfig(font_size=3).validate()
