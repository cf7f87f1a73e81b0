"""The settings dialog against a real engine: values applied live and persisted (the engine's in
its store, the window's preferences in QSettings), invalid input refused inline, settings an
earlier version kept in QSettings moved into the store, and the shutdown policy on quit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit, QTableWidgetItem
from pytestqt.qtbot import QtBot

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import ShutdownPolicy, TaskQueue
from qtqueue.executors import default_registry
from qtqueue.settings import EngineSettings, Settings, save_settings, saved_settings
from qtqueue.ui.app_settings import (
    MB,
    AppConfig,
    AppSettings,
    NotificationMode,
)
from qtqueue.ui.main_window import SETTINGS_APPLICATION, SETTINGS_ORGANIZATION, MainWindow
from qtqueue.ui.settings_dialog import SettingsDialog

from .conftest import Run, button, in_status, question, until, until_row


def sleeper(**kw: object) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, {"command": "sleep", "args": ["60"]}, **kw)  # type: ignore[arg-type]


def fresh_read() -> AppSettings:
    """The settings as a new QSettings reads them back (what the next start sees)."""
    return AppSettings(QSettings(SETTINGS_ORGANIZATION, SETTINGS_APPLICATION))


def stored(run: Run, dialog: SettingsDialog) -> Settings:
    """The engine settings in the store once the dialog's OK wrote them (what the next
    engine on the data directory, window or `qtqueue run`, applies)."""
    assert dialog.saving is not None
    run(dialog.saving)
    return saved_settings(dialog.queue.data_dir)


def docker_host(dialog: SettingsDialog) -> QLineEdit:
    """The Docker host field of the Docker family's generated settings page."""
    edit = dialog.familyForms["docker"].input_widget("docker_host")
    assert isinstance(edit, QLineEdit)
    return edit


def open_dialog(window: MainWindow) -> SettingsDialog:
    window.dialogs.settings_action.trigger()
    shown = [d for d in window.findChildren(SettingsDialog, "settingsDialog") if d.isVisible()]
    assert len(shown) == 1  # closed ones are deleted later
    return shown[0]


def ok_button(dialog: SettingsDialog) -> object:
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)


def set_limit_row(dialog: SettingsDialog, row: int, category: str, limit: str) -> None:
    table = dialog.categoryLimits
    if row >= table.rowCount():
        dialog.findChild(object, "addCategoryLimit").click()  # type: ignore[union-attr]
    table.setItem(row, 0, QTableWidgetItem(category))
    table.setItem(row, 1, QTableWidgetItem(limit))


def test_the_settings_action_opens_the_dialog_with_the_live_values(window: MainWindow) -> None:
    assert window.dialogs.settings_action.shortcut() == QKeySequence("Ctrl+,")
    assert window.dialogs.settings_action in window.form.menuFile.actions()
    dialog = open_dialog(window)
    assert dialog.maxConcurrent.value() == window.queue.max_concurrent == 4
    assert dialog.retentionDays.value() == 30
    assert dialog.logCapMb.value() == 10
    assert dialog.notifications.currentData() == NotificationMode.ALL.value
    # The engine's own (the fixture builds it with "cancel"), not a window preference.
    assert dialog.shutdownPolicy.currentData() == window.queue.shutdown_policy.value
    assert not dialog.closeToTray.isChecked()
    for name in ("settingMaxConcurrent", "settingCategoryLimits", "settingRetentionDays",
                 "settingNotifications", "settingLogCapMb", "settingCloseToTray",
                 "settingShutdownPolicy"):
        assert dialog.findChild(object, name) is not None, name
    dialog.reject()


def test_ok_applies_max_concurrent_live_and_persists_it(
    window: MainWindow, qtbot: QtBot, run: Run
) -> None:
    dialog = open_dialog(window)
    dialog.maxConcurrent.setValue(7)
    qtbot.mouseClick(ok_button(dialog), Qt.MouseButton.LeftButton)  # type: ignore[arg-type]
    assert window.queue.max_concurrent == 7  # live, no restart
    assert stored(run, dialog).engine.max_concurrent == 7
    assert not fresh_read().has("app/maxConcurrent")  # not in the window's QSettings


def test_every_engine_setting_is_applied_live_and_saved(window: MainWindow, run: Run) -> None:
    dialog = open_dialog(window)
    set_limit_row(dialog, 0, "gpu", "1")
    set_limit_row(dialog, 1, "network", "3")
    dialog.retentionDays.setValue(2)
    dialog.logCapMb.setValue(3)
    dialog.notifications.setCurrentIndex(
        dialog.notifications.findData(NotificationMode.FAILURES.value)
    )
    dialog.closeToTray.setChecked(True)
    assert dialog.shutdownPolicy.currentData() == ShutdownPolicy.CANCEL.value  # the fixture's
    dialog.shutdownPolicy.setCurrentIndex(
        dialog.shutdownPolicy.findData(ShutdownPolicy.REQUEUE.value)
    )
    docker_host(dialog).setText(" tcp://build-box:2375 ")
    dialog.accept()
    q = window.queue
    assert q.executor_settings["docker_host"] == "tcp://build-box:2375"
    assert q.category_limits == {"gpu": 1, "network": 3}
    assert q.retention_s == 2 * 86400
    assert q.log_cap_bytes == 3 * MB
    saved = stored(run, dialog)
    assert saved.engine.category_limits == {"gpu": 1, "network": 3}
    assert saved.engine.retention_days == 2
    assert saved.engine.log_cap_mb == 3
    assert saved.engine.shutdown_policy == ShutdownPolicy.REQUEUE
    assert saved.families["docker"].model_dump() == {"docker_host": "tcp://build-box:2375"}
    prefs = fresh_read()
    assert prefs.notifications == NotificationMode.FAILURES
    assert prefs.close_to_tray

    # Removing a category limit lifts it on the engine too; an empty Docker host falls back
    # to $DOCKER_HOST.
    dialog = open_dialog(window)
    assert docker_host(dialog).text() == "tcp://build-box:2375"
    dialog.categoryLimits.selectRow(0)
    dialog.findChild(object, "removeCategoryLimit").click()  # type: ignore[union-attr]
    docker_host(dialog).clear()
    dialog.accept()
    assert q.category_limits == {"network": 3}
    assert "docker_host" not in q.executor_settings
    assert stored(run, dialog).families["docker"].model_dump() == {"docker_host": ""}


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda d: set_limit_row(d, 0, "gpu", "0"), "gpu: the limit must be at least 1"),
        (lambda d: set_limit_row(d, 0, "gpu", "two"), "gpu: the limit must be a whole number"),
        (lambda d: set_limit_row(d, 0, "", "2"), "the category needs a name"),
        (lambda d: QTest.keyClicks(docker_host(d), "build-box:2375"),
         "Docker host: must be a daemon URL"),
        (lambda d: QTest.keyClicks(d.engineForm.input_widget("http_address"), "0.0.0.0:8080"),
         "the web API on 0.0.0.0 needs TLS"),
        (lambda d: QTest.keyClicks(d.engineForm.input_widget("http_address"), "8080"),
         "is not HOST:PORT"),
    ],
)
def test_invalid_values_are_refused_inline(
    window: MainWindow, edit: Callable[[SettingsDialog], None], reason: str
) -> None:
    dialog = open_dialog(window)
    edit(dialog)
    assert not ok_button(dialog).isEnabled()  # type: ignore[attr-defined]
    assert dialog.error.isVisible()
    assert reason in dialog.error.text()
    dialog.accept()  # e.g. Enter in a field: still refused
    assert dialog.isVisible()
    assert window.queue.max_concurrent == 4
    assert window.queue.category_limits == {}
    assert not fresh_read().has("app/maxConcurrent")
    dialog.reject()


def test_a_count_below_one_cannot_be_typed_into_the_generated_page(
    window: MainWindow, qtbot: QtBot
) -> None:
    """The engine page is generated from `EngineSettings`: its spin boxes take the model's
    range, so 0 tasks at once or a 0 MiB log cap cannot even be entered."""
    dialog = open_dialog(window)
    for spin in (dialog.maxConcurrent, dialog.logCapMb):
        assert spin.minimum() == 1
        spin.selectAll()
        QTest.keyClicks(spin, "0")
        spin.interpretText()
        assert spin.value() >= 1
    qtbot.mouseClick(ok_button(dialog), Qt.MouseButton.LeftButton)  # type: ignore[arg-type]
    assert window.queue.max_concurrent >= 1
    assert window.queue.log_cap_bytes >= MB


def test_saving_invalid_settings_directly_is_refused() -> None:
    with pytest.raises(ValueError, match="max_concurrent"):
        fresh_read().save(AppConfig(max_concurrent=0))


def test_unreadable_saved_values_fall_back_to_the_defaults() -> None:
    raw = QSettings(SETTINGS_ORGANIZATION, SETTINGS_APPLICATION)
    for key, value in (("app/maxConcurrent", "many"), ("app/categoryLimits", "[1, 2"),
                       ("app/notifications", "loud"), ("app/shutdownPolicy", "explode"),
                       ("app/logCapMb", "-3")):
        raw.setValue(key, value)
    raw.sync()
    s = fresh_read()
    assert s.max_concurrent == 4
    assert s.category_limits == {}
    assert s.notifications == NotificationMode.ALL
    assert s.shutdown_policy == ShutdownPolicy.REQUEUE
    assert s.log_cap_mb == 1


def test_settings_an_earlier_version_kept_in_qsettings_move_into_the_store_at_start(
    make_window: Callable[..., MainWindow], tmp_path: Path
) -> None:
    raw = QSettings(SETTINGS_ORGANIZATION, SETTINGS_APPLICATION)
    for key, value in (("app/maxConcurrent", 2), ("app/categoryLimits", '{"gpu": 1}'),
                       ("app/retentionDays", 0), ("app/logCapMb", 5),
                       ("app/dockerHost", "unix:///d.sock"), ("app/closeToTray", True)):
        raw.setValue(key, value)
    raw.sync()
    window = make_window(tmp_path / "other")
    q = window.queue
    assert q.executor_settings == {"docker_host": "unix:///d.sock"}
    assert q.max_concurrent == 2
    assert q.category_limits == {"gpu": 1}
    assert q.retention_s is None  # 0 days: keep for ever
    assert q.log_cap_bytes == 5 * MB
    # Moved: in the store for every engine on this data directory, gone from QSettings;
    # the window's own preference stays where it was.
    saved = saved_settings(q.data_dir)
    assert saved.engine == EngineSettings(
        max_concurrent=2, category_limits={"gpu": 1}, retention_days=0, log_cap_mb=5
    )
    assert saved.families["docker"].model_dump() == {"docker_host": "unix:///d.sock"}
    after = fresh_read()
    assert not any(after.has(k) for k in ("app/maxConcurrent", "app/categoryLimits",
                                          "app/retentionDays", "app/logCapMb", "app/dockerHost"))
    assert after.close_to_tray


def test_a_value_the_store_holds_wins_over_the_one_an_earlier_version_kept(
    make_window: Callable[..., MainWindow], tmp_path: Path, run: Run
) -> None:
    data_dir = tmp_path / "other"

    async def set_in_store() -> None:  # e.g. `qtqueue config set` while no window ran
        async with TaskQueue(data_dir, dispatch=False) as offline:
            await save_settings(offline.store, Settings(EngineSettings(max_concurrent=5)))

    run(set_in_store())
    raw = QSettings(SETTINGS_ORGANIZATION, SETTINGS_APPLICATION)
    raw.setValue("app/maxConcurrent", 2)
    raw.setValue("app/logCapMb", 7)
    raw.sync()
    window = make_window(data_dir)
    assert window.queue.max_concurrent == 5
    assert window.queue.log_cap_bytes == 7 * MB  # not in the store: moved there
    assert saved_settings(data_dir).engine == EngineSettings(max_concurrent=5, log_cap_mb=7)
    assert not fresh_read().has("app/maxConcurrent")


def test_ok_changes_only_what_was_edited_and_shows_retention_as_saved(
    make_window: Callable[..., MainWindow], tmp_path: Path, run: Run
) -> None:
    """A retention of 0.04 days (about an hour) must not read "Keep for ever", and OK after
    changing only the notifications must leave it, and every other engine field, as it was."""
    data_dir = tmp_path / "other"

    async def set_in_store() -> None:  # e.g. `qtqueue config set retention_days 0.04`
        async with TaskQueue(data_dir, dispatch=False) as offline:
            await save_settings(offline.store, Settings(EngineSettings(retention_days=0.04)))

    run(set_in_store())
    window = make_window(data_dir)
    dialog = open_dialog(window)
    assert dialog.retentionDays.text() == "0.04"
    dialog.notifications.setCurrentIndex(dialog.notifications.findData(NotificationMode.NONE.value))
    dialog.accept()
    assert window.queue.retention_s == pytest.approx(0.04 * 86400)
    saved = stored(run, dialog)
    assert saved.engine.retention_days == 0.04
    assert saved.engine.model_fields_set == {"retention_days"}  # nothing else written
    assert fresh_read().notifications == NotificationMode.NONE


def test_ok_logs_the_names_of_the_changed_settings_not_their_values(
    window: MainWindow, caplog: pytest.LogCaptureFixture
) -> None:
    dialog = open_dialog(window)
    docker_host(dialog).setText("tcp://build-box.internal:2375")
    with caplog.at_level(logging.INFO, logger="qtqueue.ui.settings_dialog"):
        dialog.accept()
    (applied,) = [r.getMessage() for r in caplog.records if "settings applied" in r.getMessage()]
    assert "docker.docker_host" in applied
    assert "build-box" not in caplog.text


def test_a_refused_setting_an_earlier_version_kept_is_logged_without_its_value(
    make_window: Callable[..., MainWindow], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    raw = QSettings(SETTINGS_ORGANIZATION, SETTINGS_APPLICATION)
    raw.setValue("app/dockerHost", "tcp://ci:hunter2@build-box:2376")
    raw.sync()
    with caplog.at_level(logging.WARNING, logger="qtqueue.ui.app_settings"):
        window = make_window(tmp_path / "other")
    assert "docker_host" not in window.queue.executor_settings
    assert "not moving the setting app/dockerHost into the store: docker_host" in caplog.text
    assert "hunter2" not in caplog.text


def test_unsaved_settings_leave_the_queue_as_built(make_window: Callable[..., MainWindow],
                                                   tmp_path: Path) -> None:
    window = make_window(tmp_path / "other", max_concurrent=3)
    assert window.queue.max_concurrent == 3


# --------------------------------------------------------------------------- quitting


async def stored_status(data_dir: Path, task_id: str) -> TaskStatus:
    async with TaskQueue(
        data_dir, dispatch=False, registry=default_registry(entry_points=False)
    ) as q:
        return (await q.get_task(task_id)).status


@pytest.mark.parametrize(
    ("policy", "after"),
    [(ShutdownPolicy.CANCEL, TaskStatus.CANCELLED), (ShutdownPolicy.REQUEUE, TaskStatus.PENDING)],
)
def test_quit_passes_the_shutdown_policy_to_the_engine(
    window: MainWindow, data_dir: Path, run: Run, policy: ShutdownPolicy, after: TaskStatus
) -> None:
    dialog = open_dialog(window)
    dialog.shutdownPolicy.setCurrentIndex(dialog.shutdownPolicy.findData(policy.value))
    dialog.accept()
    assert window.queue.shutdown_policy == policy

    async def scenario() -> TaskStatus:
        task_id = await window.queue.add_task(sleeper(name="long"))
        await until_row(window, task_id, in_status(TaskStatus.RUNNING))
        window.form.actionQuit.trigger()
        box = question(window, "quitWhileRunning")  # one task runs: Quit asks
        assert box is not None
        button(box, "stopAndQuit").click()
        await until(lambda: window.is_shut_down, window.closed, timeout_s=30)
        assert not window.queue.started
        return await stored_status(data_dir, task_id)

    assert run(scenario(), 60) == after
