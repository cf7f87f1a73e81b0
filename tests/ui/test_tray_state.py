"""The tray icon shows the state (idle, running, attention), its menu has New task and Resume
all, and clicking a notification selects its task in the window."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QDialog

from qtqueue.core.task import Permission, TaskStatus
from qtqueue.ui.main_window import MainWindow
from qtqueue.ui.tray import TRAY_ICON_PX, TrayIcon, TrayState, state_icon, tray_state

from .conftest import Run, in_status, until, until_row
from .test_tray import command


@pytest.mark.parametrize(
    ("running", "failures", "questions", "approvals", "state"),
    [
        (0, 0, 0, 0, TrayState.IDLE),
        (3, 0, 0, 0, TrayState.RUNNING),
        (3, 1, 0, 0, TrayState.ATTENTION),
        (0, 0, 1, 0, TrayState.ATTENTION),
        (0, 0, 0, 2, TrayState.ATTENTION),
    ],
)
def test_the_state_a_person_needs_comes_first(
    running: int, failures: int, questions: int, approvals: int, state: TrayState
) -> None:
    assert tray_state(running, failures, questions, approvals) == state


def badge(state: TrayState) -> QColor:
    """The colour at the badge's centre of the icon for `state`."""
    image = state_icon(state).pixmap(TRAY_ICON_PX, TRAY_ICON_PX).toImage()
    return image.pixelColor(int(TRAY_ICON_PX * 0.74), int(TRAY_ICON_PX * 0.9))


def test_each_state_has_an_icon_a_user_tells_apart(qapp: object) -> None:
    idle, running, attention = (badge(s) for s in TrayState)
    assert running.green() > 140 and running.red() < 100  # a green dot
    assert attention.red() > 180 and attention.blue() < 100  # a red dot
    assert idle != running and idle != attention


def test_a_failure_not_seen_asks_for_attention_until_the_window_is_looked_at(
    window: MainWindow, tray: TrayIcon, run: Run
) -> None:
    assert tray.update_state() == TrayState.IDLE
    window.isActiveWindow = lambda: False  # type: ignore[method-assign]  # the user is away

    async def scenario() -> str:
        bad = await window.queue.add_task(command("exit 1", name="broken", max_retries=0))
        await until_row(window, bad, in_status(TaskStatus.FAILED))
        return bad

    run(scenario())
    assert tray.update_state() == TrayState.ATTENTION
    assert badge(TrayState.ATTENTION) == tray.icon().pixmap(TRAY_ICON_PX).toImage().pixelColor(
        int(TRAY_ICON_PX * 0.74), int(TRAY_ICON_PX * 0.9)
    )
    tray.mark_seen()  # the window got the focus
    assert tray.state == TrayState.IDLE


def test_running_and_awaiting_approval_show_in_the_icon(
    window: MainWindow, tray: TrayIcon, run: Run
) -> None:
    async def scenario() -> None:
        long = await window.queue.add_task(command("sleep 30", name="long"))
        await until_row(window, long, in_status(TaskStatus.RUNNING))
        await until(lambda: tray.state == TrayState.RUNNING, tray.stateChanged)
        await window.queue.add_task(
            command("true", name="deploy", permission=Permission.HUMAN_REQUIRED)
        )
        await until(lambda: tray.state == TrayState.ATTENTION, tray.stateChanged)

    run(scenario())


def test_resume_all_resumes_the_queue_and_the_paused_tasks(
    window: MainWindow, tray: TrayIcon, run: Run
) -> None:
    async def scenario() -> str:
        await window.queue.pause_queue()
        tid = await window.queue.add_task(command("true", name="held"))
        await window.queue.pause_task(tid)
        await until_row(window, tid, in_status(TaskStatus.PAUSED))
        tray.actionResumeAll.trigger()
        await until_row(window, tid, in_status(TaskStatus.COMPLETED))
        return tid

    run(scenario())
    assert not window.queue.queue_paused
    assert "1 paused task resumed" in window.statusBar().currentMessage()


def test_clicking_a_notification_selects_its_task(
    window: MainWindow, tray: TrayIcon, run: Run
) -> None:
    tray.showMessage = lambda *args: None  # type: ignore[method-assign]  # offscreen

    async def scenario() -> str:
        await window.queue.add_task(command("true", name="other"))
        bad = await window.queue.add_task(command("exit 2", name="broken", max_retries=0))
        await until_row(window, bad, in_status(TaskStatus.FAILED))
        await until(lambda: tray.notified_task_id == bad, window.notifier.notification)
        return bad

    bad = run(scenario())
    window.table.clearSelection()
    tray.messageClicked.emit()
    assert [t.id for t in window.selected_tasks()] == [bad]
    assert window.detail.task is not None and window.detail.task.id == bad


def test_new_task_in_the_tray_opens_the_form_over_the_window(
    window: MainWindow, tray: TrayIcon
) -> None:
    window.hide()
    tray.actionNewTask.trigger()
    assert window.isVisible()
    shown = [d for d in window.findChildren(QDialog) if d.isVisible()]
    assert [d.objectName() for d in shown] == ["newTaskDialog"]
    shown[0].reject()
