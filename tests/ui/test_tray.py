"""The tray: which finished tasks are announced and how they are coalesced, the tooltip and
menu, close-to-tray versus quit, and (under Xvfb with a real tray host) a failure balloon."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from qtqueue.core.task import Permission, Task, TaskStatus, TaskType
from qtqueue.ui.app_settings import KEY_CLOSE_TO_TRAY, KEY_NOTIFICATIONS, NotificationMode
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.tray import (
    Notification,
    TaskNotifier,
    TrayIcon,
    install_tray,
    status_summary,
    summarize,
    summarize_notices,
    wants_notification,
)

from .conftest import Run, in_status, until, until_row
from .test_screenshot import x_display  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parents[2]


def command(line: str, **kw: object) -> Task:
    return Task(TaskType.CUSTOM_COMMAND, {"command": line, "shell": True}, **kw)  # type: ignore[arg-type]


def collect(notifier: TaskNotifier) -> list[Notification]:
    """Record every notification the notifier emits."""
    seen: list[Notification] = []
    notifier.notification.connect(lambda t, m, f: seen.append(Notification(t, m, f)))
    return seen


def completions(note: Notification) -> int:
    """How many completed tasks a notification announces."""
    if note.title.startswith("Task completed: "):
        return 1
    match = re.search(r"(\d+) completed", note.title)
    return int(match[1]) if match else 0


# --------------------------------------------------------------------------- the decision


@pytest.mark.parametrize(
    ("mode", "status", "announced"),
    [
        (NotificationMode.ALL, TaskStatus.COMPLETED, True),
        (NotificationMode.ALL, TaskStatus.FAILED, True),
        (NotificationMode.ALL, TaskStatus.TIMEOUT, True),
        (NotificationMode.ALL, TaskStatus.CANCELLED, False),
        (NotificationMode.FAILURES, TaskStatus.COMPLETED, False),
        (NotificationMode.FAILURES, TaskStatus.FAILED, True),
        (NotificationMode.FAILURES, TaskStatus.TIMEOUT, True),
        (NotificationMode.NONE, TaskStatus.FAILED, False),
        (NotificationMode.NONE, TaskStatus.COMPLETED, False),
        (NotificationMode.ALL, TaskStatus.RUNNING, False),
    ],
)
def test_which_finished_tasks_are_announced(
    mode: NotificationMode, status: TaskStatus, announced: bool
) -> None:
    assert wants_notification(mode, status) is announced


def test_one_failure_names_the_task_and_its_error() -> None:
    t = command("exit 3", name="nightly build")
    t.status, t.error_code, t.error = TaskStatus.FAILED, "PROCESS_EXIT_CODE", "exit code 3"
    note = summarize([t], [])
    assert note == Notification(
        "Task failed: nightly build", "PROCESS_EXIT_CODE: exit code 3", True
    )


def test_many_finished_tasks_make_one_summary() -> None:
    done = [command("true", name=f"job {i}") for i in range(100)]
    failed = [command("false", name="broken")]
    note = summarize(failed, done)
    assert note is not None
    assert note.title == "Tasks finished: 1 failed, 100 completed"
    assert "job 0, job 1, job 2 and 97 more" in note.message
    assert note.is_failure
    assert summarize([], []) is None


def test_the_tooltip_sums_up_the_queue() -> None:
    counts = {TaskStatus.RUNNING: 2, TaskStatus.PENDING: 5, TaskStatus.FAILED: 1,
              TaskStatus.TIMEOUT: 1}
    assert status_summary(counts, False) == "qtqueue\n2 running · 5 pending · 2 failed"
    assert status_summary({}, True).endswith("Queue paused")


# --------------------------------------------------------------------------- the real engine


def test_failures_only_announces_a_failure_and_not_a_completion(
    window: MainWindow, run: Run
) -> None:
    window.app_settings.qsettings.setValue(KEY_NOTIFICATIONS, NotificationMode.FAILURES.value)
    seen = collect(window.notifier)

    async def scenario() -> None:
        ok = await window.queue.add_task(command("echo fine", name="fine job"))
        await until_row(window, ok, in_status(TaskStatus.COMPLETED))
        window.notifier.flush()
        assert seen == []
        bad = await window.queue.add_task(command("exit 3", name="doomed job", max_retries=0))
        await until(lambda: bool(seen), window.notifier.notification)
        await until_row(window, bad, in_status(TaskStatus.FAILED))

    run(scenario())
    window.notifier.flush()
    assert len(seen) == 1
    assert seen[0].title == "Task failed: doomed job"
    assert seen[0].is_failure


def test_a_burst_of_completions_is_one_message_then_one_summary(
    window: MainWindow, run: Run
) -> None:
    window.notifier.stop()  # a notifier that gathers for a minute: the flush is ours
    notifier = TaskNotifier(window.queue, window.app_settings, window, interval_ms=60_000)
    notifier.start()
    seen = collect(notifier)

    async def scenario() -> None:
        ids = await window.queue.add_tasks(
            [command("true", name=f"quick {i}") for i in range(100)]
        )
        for task_id in ids:
            await window.queue.wait_for(task_id, 30)

    run(scenario(), 60)
    assert len(seen) == 1  # the first batch at once; the rest gather
    notifier.flush()
    notifier.stop()
    assert len(seen) == 2
    assert sum(completions(n) for n in seen) == 100
    assert re.fullmatch(r"Tasks finished: \d+ completed", seen[1].title)
    assert not any(n.is_failure for n in seen)


def test_notices_name_what_needs_attention() -> None:
    assert summarize_notices([]) is None
    one = summarize_notices(["awaiting approval: deploy prod"])
    assert one == Notification("Awaiting approval", "deploy prod", False)
    many = summarize_notices([f"awaiting approval: job {i}" for i in range(5)])
    assert many is not None and many.title == "5 tasks need attention"
    assert many.message.endswith("and 2 more")


def test_a_task_awaiting_approval_is_announced(window: MainWindow, run: Run) -> None:
    window.app_settings.qsettings.setValue(KEY_NOTIFICATIONS, NotificationMode.FAILURES.value)
    seen = collect(window.notifier)

    async def scenario() -> None:
        task = command("true", name="deploy prod", permission=Permission.HUMAN_REQUIRED)
        await window.queue.add_task(task)
        await until(lambda: bool(seen), window.notifier.notification)

    run(scenario())
    assert seen[0] == Notification("Awaiting approval", "deploy prod", False)


def test_none_announces_nothing(window: MainWindow, run: Run) -> None:
    window.app_settings.qsettings.setValue(KEY_NOTIFICATIONS, NotificationMode.NONE.value)
    seen = collect(window.notifier)

    async def scenario() -> None:
        bad = await window.queue.add_task(command("exit 1", name="quiet failure", max_retries=0))
        await until_row(window, bad, in_status(TaskStatus.FAILED))

    run(scenario())
    window.notifier.flush()
    assert seen == []


# --------------------------------------------------------------------------- tray and closing


def test_the_tray_menu_shows_hides_pauses_and_quits(
    window: MainWindow, tray: TrayIcon, run: Run
) -> None:
    names = [a.objectName() for a in tray.contextMenu().actions() if not a.isSeparator()]
    assert names == [
        "trayShowHide", "trayNewTask", "actionPauseQueue", "trayResumeAll",
        "actionNewFromTemplate", "trayQuit",
    ]
    assert "0 running · 0 pending · 0 failed" in tray.toolTip()

    tray.actionShowHide.trigger()
    assert not window.isVisible()
    tray.actionShowHide.trigger()
    assert window.isVisible()

    window.form.actionPauseQueue.trigger()
    run(until(lambda: window.queue.queue_paused and "Queue paused" in tray.toolTip(),
              window.bridge.queueStateChanged))
    window.form.actionPauseQueue.trigger()
    run(until(lambda: not window.queue.queue_paused and "Queue paused" not in tray.toolTip(),
              window.bridge.queueStateChanged))


def test_the_tray_shows_the_notifiers_messages(window: MainWindow, tray: TrayIcon) -> None:
    shown: list[tuple[str, str, bool]] = []
    tray.showMessage = lambda title, text, kind, ms: shown.append(  # type: ignore[method-assign]
        (title, text, kind == TrayIcon.MessageIcon.Critical)
    )
    tray.show_notification("Task failed: x", "boom", True)
    assert shown == [("Task failed: x", "boom", True)]


def test_close_to_tray_hides_the_window_and_quit_shuts_down(
    window: MainWindow, tray: TrayIcon, run: Run
) -> None:
    window.app_settings.qsettings.setValue(KEY_CLOSE_TO_TRAY, True)
    assert window.closes_to_tray()
    window.close()
    assert not window.isVisible()
    assert not window.is_shut_down
    assert window.queue.started  # the engine keeps running in the tray

    tray.actionQuit.trigger()
    run(until(lambda: window.is_shut_down, window.closed))
    assert not window.queue.started


def test_without_the_setting_closing_quits(window: MainWindow, tray: TrayIcon, run: Run) -> None:
    assert not window.closes_to_tray()
    window.close()
    run(until(lambda: window.is_shut_down, window.closed))


def test_without_a_tray_closing_quits_even_with_the_setting(window: MainWindow, run: Run) -> None:
    window.app_settings.qsettings.setValue(KEY_CLOSE_TO_TRAY, True)
    assert window.tray is None
    window.close()
    run(until(lambda: window.is_shut_down, window.closed))


# --------------------------------------------------------------------------- a real tray host

#: Run under the xcb platform in its own process (the test process is offscreen): the window
#: with a tray from `install_tray`, a failing task, and the balloon it brings up.
XCB_SESSION = r"""
import asyncio, json, sys
import qasync
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QSystemTrayIcon
from qtqueue.app import create_main_window, wait_for_condition
from qtqueue.core.task import Task, TaskType
from qtqueue.executors import default_registry
from qtqueue.ui.tray import install_tray

def balloons(app):
    return [w for w in app.topLevelWidgets()
            if w.metaObject().className() == "QBalloonTip" and w.isVisible()]

async def session(app, data_dir, ini):
    settings = QSettings(ini, QSettings.Format.IniFormat)
    settings.setValue("app/notifications", "failures")
    tick = QTimer()
    tick.start(50)
    # The tray host claims the tray selection on its own time: re-check on each tick.
    await wait_for_condition(QSystemTrayIcon.isSystemTrayAvailable, tick.timeout, timeout_s=20)
    window = await create_main_window(
        data_dir, settings=settings, registry=default_registry(entry_points=False))
    try:
        window.show()
        tray = install_tray(window, window)
        assert tray is not None
        await window.queue.add_task(Task(
            TaskType.CUSTOM_COMMAND, {"command": "exit 3", "shell": True},
            name="doomed on X", max_retries=0))
        await wait_for_condition(lambda: bool(balloons(app)), tick.timeout, timeout_s=30)
        tip = balloons(app)[0]
        texts = [label.text() for label in tip.findChildren(QLabel)]
        return {"available": QSystemTrayIcon.isSystemTrayAvailable(),
                "balloon": tip.metaObject().className(),
                "texts": texts, "tooltip": tray.toolTip()}
    finally:
        window.quit()
        await window.shutdown()

app = QApplication(sys.argv[:1])
loop = qasync.QEventLoop(app)
asyncio.set_event_loop(loop)
try:
    result = loop.run_until_complete(session(app, sys.argv[1], sys.argv[2]))
finally:
    loop.close()
    asyncio.set_event_loop(None)
print("RESULT " + json.dumps(result), flush=True)
"""


@pytest.fixture
def tray_host(x_display: str) -> Iterator[str]:  # noqa: F811
    """`wmdocker`, a system tray host, on the private Xvfb display; stopped by pid."""
    wmdocker = shutil.which("wmdocker")
    if wmdocker is None:
        pytest.skip("no tray host: wmdocker is not installed (`make test` installs it)")
    proc = subprocess.Popen(
        [wmdocker, "-display", x_display], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield x_display
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_failure_shows_a_balloon_from_a_real_tray(tray_host: str, tmp_path: Path) -> None:
    """Under Xvfb with wmdocker as the tray: the tray is available, the app installs its
    icon, and a failing task brings up a QBalloonTip naming it."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")}  # the XEmbed tray
    env.update(QT_QPA_PLATFORM="xcb", DISPLAY=tray_host,
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    script = tmp_path / "xcb_session.py"
    script.write_text(XCB_SESSION)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "q"), str(tmp_path / "settings.ini")],
        env=env, capture_output=True, text=True, timeout=90, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    assert result["available"]
    assert result["balloon"] == "QBalloonTip"
    assert any("doomed on X" in t for t in result["texts"]), result["texts"]
    assert result["tooltip"].startswith("qtqueue")


def test_without_a_tray_the_app_installs_no_icon(window: MainWindow) -> None:
    assert install_tray(window, window) is None  # offscreen has no tray
    assert window.tray is None


def test_without_a_tray_a_failure_is_announced_in_the_status_bar(
    window: MainWindow, run: Run
) -> None:
    assert install_tray(window, window) is None  # offscreen has no tray

    async def scenario() -> None:
        bad = await window.queue.add_task(command("exit 3", name="doomed job", max_retries=0))
        await until_row(window, bad, in_status(TaskStatus.FAILED))
        await until(
            lambda: "doomed job" in window.form.statusBar.currentMessage(),
            window.notifier.notification,
        )

    run(scenario())
    text = window.form.statusBar.currentMessage()
    assert text.startswith("Task failed: doomed job — SYSTEM_COMMAND_FAILED"), text

