"""The log viewer: colours instead of raw escapes, find with a match count, follow that stops
when the user scrolls up, wrap, arrival times, a capped document, and the whole log saved or
opened in its own window when the pane shows only the tail."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QTextCursor
from PySide6.QtWidgets import QFileDialog, QPlainTextEdit
from pytestqt.qtbot import QtBot

from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.ui.detail_pane import LOG_TAIL_CHARS
from qtqueue.ui.log_view.ansi import PALETTE
from qtqueue.ui.log_view.view import LogView
from qtqueue.ui.log_view.window import LogWindow
from qtqueue.ui.main_window import MainWindow

from .conftest import Run, in_status, until, until_row


def python_task(code: str, name: str) -> Task:
    return Task(
        TaskType.CUSTOM_COMMAND, {"command": sys.executable, "args": ["-c", code]}, name=name
    )


def colour_at(edit: QPlainTextEdit, text: str) -> QColor:
    """The foreground colour the first character of `text` is drawn in."""
    at = edit.toPlainText().index(text)
    cursor = QTextCursor(edit.document())
    cursor.setPosition(at + 1)  # the format of the character before the cursor
    return cursor.charFormat().foreground().color()


def view_with(qtbot: QtBot, lines: list[str], **kw: object) -> LogView:
    view = LogView(None, None, **kw)  # type: ignore[arg-type]
    qtbot.addWidget(view)
    view.resize(700, 300)
    view.show()
    view.append("".join(line + "\n" for line in lines), live=False)
    view.flush()
    return view


# --------------------------------------------------------------------------- in the pane


def test_a_commands_colours_show_as_colours_not_escape_codes(window: MainWindow, run: Run) -> None:
    code = r"print('\x1b[1;31mFAILED\x1b[0m 2 tests \x1b[32mok\x1b[0m \x1b]0;title\x07\x1b[2Kend')"

    async def scenario() -> None:
        task_id = await window.queue.add_task(python_task(code, "coloured"))
        await until_row(window, task_id, in_status(TaskStatus.COMPLETED))
        window.select_tasks([task_id])
        await until(lambda: "end" in window.detail.log_text(), window.detail.logLoaded)

    run(scenario())
    edit = window.detail.form.logView
    assert edit.lineWrapMode() == QPlainTextEdit.LineWrapMode.WidgetWidth  # Wrap is on
    assert edit.toPlainText().strip() == "FAILED 2 tests ok end"
    assert "\x1b" not in edit.toPlainText() and "[0m" not in edit.toPlainText()
    assert colour_at(edit, "FAILED") == QColor(PALETTE[1])
    assert colour_at(edit, "ok") == QColor(PALETTE[2])


def test_a_long_log_shows_its_tail_says_so_and_opens_whole_in_its_own_window(
    window: MainWindow, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = "for i in range(60000): print(f'line {i}')"  # about 650 KB, over the pane's tail
    pane = window.detail

    async def scenario() -> LogWindow:
        task_id = await window.queue.add_task(python_task(code, "long"))
        await until_row(window, task_id, in_status(TaskStatus.COMPLETED))
        window.select_tasks([task_id])
        await until(lambda: "line 59999" in pane.log_text(), pane.logLoaded)
        assert pane.log.notice.isVisible()
        assert "Earlier output not shown" in pane.log.notice.text()
        pane.log.notice.linkActivated.emit("full")  # the notice's "Open full log"
        opened = pane.log_links.windows[-1]
        assert opened.isVisible()
        pane.log.popout_button.click()  # Pop out on the same task raises that window
        assert pane.log_links.windows == [opened]
        await until(lambda: "line 59999" in opened.view.text(), opened.loaded)
        return opened

    popped = run(scenario())
    assert len(window.detail.log_text()) <= LOG_TAIL_CHARS
    assert "line 0\n" not in pane.log_text()  # the pane has the tail only
    whole = popped.view.text()
    assert whole.startswith("line 0\nline 1\n") and whole.count("\n") == 60000
    assert not popped.view.is_truncated()
    assert popped.windowTitle() == "Log — long"

    saved_to = tmp_path / "saved.log"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(saved_to), ""))
    pane.log.save_button.click()
    run(until(saved_to.exists, pane.log_links.saved))
    assert saved_to.read_text().startswith("line 0\n") and "line 59999\n" in saved_to.read_text()
    assert pane.log.status.text() == f"Saved to {saved_to}"
    run(popped.stop())
    popped.close()


def test_save_into_a_missing_folder_says_what_to_do(
    window: MainWindow, run: Run, tmp_path: Path
) -> None:
    async def scenario() -> None:
        task_id = await window.queue.add_task(python_task("print('x')", "small"))
        await until_row(window, task_id, in_status(TaskStatus.COMPLETED))
        window.select_tasks([task_id])
        await until(lambda: "x" in window.detail.log_text(), window.detail.logLoaded)
        window.detail.log_links.save(str(tmp_path / "missing" / "x.log"))
        await until(
            lambda: window.detail.log.status.isVisible(), window.detail.log_links.saveFailed
        )

    run(scenario())
    assert "Could not save the log" in window.detail.log.status.text()
    assert "Choose another folder" in window.detail.log.status.text()


# --------------------------------------------------------------------------- the widget


def test_find_counts_matches_steps_through_them_and_wraps(qtbot: QtBot) -> None:
    view = view_with(qtbot, [f"{'ERROR' if i % 30 == 0 else 'info'} line {i}" for i in range(510)])
    view.edit.setFocus()
    qtbot.keyClick(view.edit, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    bar = view.find_bar
    assert bar.isVisible()
    qtbot.keyClicks(bar.query, "error")
    assert bar.count_text() == "1 of 17"
    assert view.edit.textCursor().selectedText() == "ERROR"
    qtbot.keyClick(bar.query, Qt.Key.Key_Return)
    assert bar.count_text() == "2 of 17"
    assert view.edit.textCursor().block().text() == "ERROR line 30"
    bar.previous_button.click()
    bar.previous_button.click()
    assert bar.count_text() == "17 of 17"
    assert view.edit.textCursor().block().text() == "ERROR line 480"
    assert len(view.edit.extraSelections()) == 18  # every match, and the current one
    qtbot.keyClicks(bar.query, "zzz")
    assert bar.count_text() == "No matches"
    qtbot.keyClick(bar.query, Qt.Key.Key_Escape)
    assert not bar.isVisible() and view.edit.extraSelections() == []


def test_find_counts_lines_that_arrive_while_it_is_open(qtbot: QtBot) -> None:
    view = view_with(qtbot, ["warning one"])
    view.find_bar.open()
    qtbot.keyClicks(view.find_bar.query, "warning")
    assert view.find_bar.count_text() == "1 of 1"
    view.append("warning two\nwarning three\n")
    qtbot.waitUntil(lambda: view.find_bar.count_text() == "1 of 3", timeout=2000)


def test_follow_stops_when_the_user_scrolls_up_and_resumes_at_the_bottom(qtbot: QtBot) -> None:
    view = view_with(qtbot, [f"line {i}" for i in range(300)])
    bar = view.edit.verticalScrollBar()
    assert view.following and view.follow_button.isChecked() and bar.value() == bar.maximum()
    with qtbot.waitSignal(view.followChanged):
        bar.setValue(10)  # the user scrolls up to read
    assert not view.following and not view.follow_button.isChecked()
    view.append("".join(f"more {i}\n" for i in range(200)))
    view.flush()
    assert bar.value() == 10  # what the user reads stays put
    bar.setValue(bar.maximum())  # back at the bottom: following again
    assert view.following and view.follow_button.isChecked()
    view.append("newest\n")
    view.flush()
    assert bar.value() == bar.maximum()
    bar.setValue(0)
    view.follow_button.click()  # the toggle: follow, and go to the newest line
    assert view.following and bar.value() == bar.maximum()


def test_wrap_toggle(qtbot: QtBot) -> None:
    view = view_with(qtbot, ["x" * 2000])
    assert view.edit.lineWrapMode() == QPlainTextEdit.LineWrapMode.WidgetWidth
    view.wrap_button.click()
    assert view.edit.lineWrapMode() == QPlainTextEdit.LineWrapMode.NoWrap
    assert view.edit.horizontalScrollBar().maximum() > 0


def test_times_show_when_live_lines_arrived_and_nothing_for_lines_read_from_the_file(
    qtbot: QtBot,
) -> None:
    now = [time.mktime((2026, 12, 7, 9, 15, 0, 0, 0, -1))]
    view = LogView(clock=lambda: now[0])
    qtbot.addWidget(view)
    view.resize(700, 300)
    view.show()
    view.append("from the file\n", live=False)
    view.flush()
    view.append("first live\n")
    view.flush()
    now[0] += 65
    view.append("second ")
    view.append("live\n")
    view.flush()
    view.times_button.click()
    assert view.gutter.isVisible() and view.edit.viewportMargins().left() > 0
    assert view.gutter.visible_times() == [(1, "09:15:00"), (2, "09:16:05")]
    view.times_button.click()
    assert not view.gutter.isVisible() and view.edit.viewportMargins().left() == 0


def test_output_is_inserted_once_per_frame_and_the_document_is_capped(qtbot: QtBot) -> None:
    view = view_with(qtbot, [], max_lines=1000)
    edits: list[int] = []
    view.edit.document().contentsChange.connect(lambda *a: edits.append(1))
    for i in range(5000):
        view.append(f"burst line {i}\n")
    qtbot.waitUntil(lambda: "burst line 4999" in view.edit.toPlainText(), timeout=2000)
    assert len(edits) <= 2  # 5,000 writes: one insert (and one trim of the oldest lines)
    assert view.edit.document().blockCount() <= 1000
    assert view.edit.toPlainText().startswith("burst line 4")
    assert view.is_truncated()  # earlier output is not shown, and it says so
    assert view.edit.verticalScrollBar().value() == view.edit.verticalScrollBar().maximum()


def test_a_whole_log_handed_over_at_once_is_shown_over_several_frames(qtbot: QtBot) -> None:
    view = view_with(qtbot, [], max_lines=100_000)
    view.append("".join(f"line {i:06d} of a long build log\n" for i in range(40_000)))  # 1.3 MB
    qtbot.waitUntil(lambda: view.edit.document().blockCount() > 1, timeout=2000)
    assert "line 039999" not in view.edit.toPlainText()  # the window got its events between
    qtbot.waitUntil(lambda: "line 039999" in view.edit.toPlainText(), timeout=5000)
    assert view.edit.document().blockCount() == 40_001
    assert not view.is_truncated()
