"""The settings dialog's "Cluster" page, for real: the URL saved in QSettings, the password in
the real OS keyring (gnome-keyring on a private D-Bus bus) and never in QSettings, a URL with a
password refused, "Test connection" against a real redis-server with requirepass, and File ›
Open cluster."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit, QScrollArea
from pytestqt.qtbot import QtBot
from rq import Queue, Worker

from qtqueue.engine.credentials import KeyringVault
from qtqueue.ui import cluster_settings
from qtqueue.ui.app_settings import AppSettings
from qtqueue.ui.cluster_settings import TESTING, ClusterPage
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.theme import ThemeMode, apply_appearance

from .cluster_settings_env import redis_server

PASSWORD = "Redis-pw-7f3a9c"
needs_keyring = pytest.mark.usefixtures("secret_service")
PNG_DIR = Path("/work/briefs/png17")


def ini(tmp_path: Path) -> AppSettings:
    return AppSettings(QSettings(str(tmp_path / "qtqueue.ini"), QSettings.Format.IniFormat))


def page_of(qtbot: QtBot, settings: AppSettings) -> ClusterPage:
    page = ClusterPage(settings)
    qtbot.addWidget(page)
    return page


@needs_keyring
def test_the_page_saves_the_url_in_qsettings_and_the_password_in_the_keyring_only(
    qtbot: QtBot, tmp_path: Path
) -> None:
    settings = ini(tmp_path)
    page = page_of(qtbot, settings)
    page.url.setText("redis://10.1.2.3:6380/0")
    page.password.setText(PASSWORD)

    page.save()

    saved = (tmp_path / "qtqueue.ini").read_text()
    assert "redis://10.1.2.3:6380/0" in saved
    assert PASSWORD not in saved
    assert KeyringVault().get("redis:10.1.2.3:6380") == PASSWORD
    again = page_of(qtbot, ini(tmp_path))
    assert again.url.text() == "redis://10.1.2.3:6380/0"
    assert again.password.text() == PASSWORD  # read back from the keyring …
    assert again.password.echoMode() == QLineEdit.EchoMode.Password  # … shown as dots
    again.url.setText("redis://10.9.9.9:6379/0")  # another server, the same password
    again.save()
    assert KeyringVault().get("redis:10.9.9.9:6379") == PASSWORD
    again.password.clear()
    again.save()
    assert KeyringVault().get("redis:10.9.9.9:6379") is None


def test_a_url_with_a_password_is_refused_with_its_codes_text_never_repeating_it(
    qtbot: QtBot, tmp_path: Path
) -> None:
    page = page_of(qtbot, ini(tmp_path))
    page.url.setText("redis://:hunter2@10.1.2.3:6379/0")

    why = page.problem()

    assert why is not None and "holds a password" in why and "hunter2" not in why
    with pytest.raises(ValueError, match="holds a password"):
        page.save()
    assert not (tmp_path / "qtqueue.ini").exists()  # nothing saved
    page.url.setText("redis://10.1.2.3:6379/0")
    page.caFile.setText(str(tmp_path / "ca.pem"))
    assert page.problem() == "a CA file is for a rediss:// (TLS) URL"


@needs_keyring
def test_test_connection_against_a_redis_server_that_wants_a_password(
    qtbot: QtBot, tmp_path: Path, run: Callable[..., Any]
) -> None:
    with redis_server(tmp_path / "redis", password=PASSWORD) as server:
        Worker([Queue("default", connection=server.client)], connection=server.client,
               name="w1").register_birth()  # fmt: skip
        page = page_of(qtbot, ini(tmp_path))
        page.url.setText(server.url)

        def tested(password: str) -> str:
            page.password.setText(password)
            page.testButton.click()
            assert page.result.text() == TESTING
            assert page.testing is not None
            run(page.testing)
            return page.result.text()

        assert tested(PASSWORD) == "connected — 1 worker"
        if PNG_DIR.is_dir():
            page.resize(620, page.sizeHint().height())
            assert page.grab().save(str(PNG_DIR / "cmisc_cluster_page_connected.png"))
        wrong = tested("not-it")
        assert wrong.startswith("CLUSTER_REDIS_AUTH_FAILED: ")
        assert "refused the password typed here" in wrong and "not-it" not in wrong
        assert tested("").startswith("CLUSTER_REDIS_AUTH_FAILED: ")  # the keyring has none yet
        page.password.setText(PASSWORD)
        page.save()
        assert tested("") == "connected — 1 worker"  # the keyring's, as the CLI reads it


def test_open_cluster_opens_a_window_on_the_saved_url_and_waits_for_one(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Sequence[str]] = []
    monkeypatch.setattr(cluster_settings, "_start", started.append)
    action = window.findChild(QAction, "actionOpenCluster")
    assert action is not None
    assert not action.isEnabled()
    window.app_settings.save_cluster("redis://10.1.2.3:6379/0", "")
    window.form.menuFile.aboutToShow.emit()
    assert action.isEnabled()

    action.trigger()

    assert [list(a[-4:]) for a in started] == [
        ["qtqueue", "--redis", "redis://10.1.2.3:6379/0", "gui"]
    ]


@needs_keyring
@pytest.mark.parametrize("theme", [ThemeMode.LIGHT, ThemeMode.DARK])
def test_the_cluster_page_in_the_settings_dialog_light_and_dark(
    window: MainWindow, theme: ThemeMode, run: Callable[..., Any]
) -> None:
    apply_appearance(theme)
    try:
        dialog = window.dialogs.open_settings()
        page = dialog.clusterPage
        page.url.setText("redis://:secret@10.1.2.3:6379/0")
        ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert not ok.isEnabled()
        assert "Cluster: the Redis URL for 10.1.2.3:6379 holds a password" in dialog.error.text()
        page.url.setText("redis://127.0.0.1:1/0")  # nothing listens there
        page.password.setText(PASSWORD)
        page.testButton.click()
        assert page.testing is not None
        run(page.testing)
        assert page.result.text().startswith("CLUSTER_REDIS_UNAVAILABLE: ")
        assert ok.isEnabled()
        dialog.resize(640, 720)
        scroll = dialog.findChild(QScrollArea, "settingsScroll")
        assert scroll is not None
        scroll.ensureWidgetVisible(page)
        if PNG_DIR.is_dir():
            assert dialog.grab().save(str(PNG_DIR / f"cmisc_settings_cluster_{theme.value}.png"))
        dialog.reject()
    finally:
        apply_appearance(ThemeMode.SYSTEM)
