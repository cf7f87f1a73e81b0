"""The log viewer marks what a command wrote to stderr: a red tint under the text (its own
ANSI colours kept), a red bar beside its lines and the tooltip "stderr…", in the detail pane
and the pop-out window; stdout stays unmarked; a tail that begins inside stderr output shows it
marked; Save writes plain text."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QEvent, QPoint
from PySide6.QtGui import QColor, QHelpEvent, QTextCursor
from PySide6.QtWidgets import QApplication, QPlainTextEdit, QToolTip
from pytestqt.qtbot import QtBot

from qtqueue.core.log_streams import MARK_END_TEXT, MARK_ERR_TEXT
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.ui.log_view.ansi import PALETTE
from qtqueue.ui.log_view.view import STDERR_TINT, STDERR_TIP, LogView
from qtqueue.ui.main_window import MainWindow

from .conftest import Run, in_status, until, until_row

TINT = QColor(*STDERR_TINT)
# Lines to stdout and stderr in turn; one stderr line is coloured by the command itself.
CODE = r"""
import sys
for i in range(3):
    print(f"out line {i}", flush=True)
    print(f"err line {i}", file=sys.stderr, flush=True)
print("\x1b[33mcoloured warning\x1b[0m on stderr", file=sys.stderr, flush=True)
"""


def fmt_at(edit: QPlainTextEdit, text: str) -> tuple[QColor, QColor, str]:
    """(background, foreground, tooltip) of the first character of `text` in `edit`."""
    at = edit.toPlainText().index(text)
    cursor = QTextCursor(edit.document())
    cursor.setPosition(at + 1)  # the format of the character before the cursor
    fmt = cursor.charFormat()
    return fmt.background().color(), fmt.foreground().color(), fmt.toolTip()


def assert_marked(edit: QPlainTextEdit) -> None:
    for i in range(3):
        assert fmt_at(edit, f"err line {i}")[0] == TINT
        assert fmt_at(edit, f"err line {i}")[2] == STDERR_TIP
        assert fmt_at(edit, f"out line {i}")[0] != TINT
        assert fmt_at(edit, f"out line {i}")[2] == ""
    background, foreground, tip = fmt_at(edit, "coloured warning")
    assert (background, foreground, tip) == (TINT, QColor(PALETTE[3]), STDERR_TIP)


def test_stderr_lines_are_tinted_in_the_pane_and_the_pop_out_and_saved_plain(
    window: MainWindow, run: Run, tmp_path: Path
) -> None:
    pane = window.detail
    task = Task(TaskType.CUSTOM_COMMAND, {"command": sys.executable, "args": ["-c", CODE]})

    async def scenario() -> None:
        task_id = await window.queue.add_task(task)
        await until_row(window, task_id, in_status(TaskStatus.COMPLETED))
        window.select_tasks([task_id])
        await until(lambda: "on stderr" in pane.log_text(), pane.logLoaded)

    run(scenario())
    assert "\x1b" not in pane.log_text()
    assert_marked(pane.form.logView)

    popped = pane.log_links.open_window()
    assert popped is not None
    run(until(lambda: "on stderr" in popped.view.text(), popped.loaded))
    assert_marked(popped.view.edit)
    run(popped.stop())
    popped.close()

    saved = tmp_path / "saved.log"
    pane.log_links.save(str(saved))
    run(until(saved.exists, pane.log_links.saved))
    text = saved.read_text()
    assert "err line 2\n" in text and "out line 2\n" in text
    assert "\x1b" not in text and "7733" not in text


def view(qtbot: QtBot) -> LogView:
    shown = LogView(None, None)
    qtbot.addWidget(shown)
    shown.resize(700, 300)
    shown.show()
    return shown


def test_a_tail_that_begins_inside_stderr_output_shows_it_as_stderr(qtbot: QtBot) -> None:
    log = view(qtbot)
    # The pane's tail was cut inside a mark, inside a stderr run.
    log.append(f"733;e\x07tail of an error\n{MARK_END_TEXT}stdout after\n", live=False)
    log.flush()
    assert log.text() == "tail of an error\nstdout after\n"
    assert fmt_at(log.edit, "tail of an error")[0] == TINT
    assert fmt_at(log.edit, "stdout after")[0] != TINT


def test_a_bar_beside_stderr_lines_takes_room_only_once_there_are_some(qtbot: QtBot) -> None:
    log = view(qtbot)
    log.append("plain one\nplain two\n")
    log.flush()
    assert log.edit.viewportMargins().left() == 0 and not log.gutter.bar.isVisible()
    log.append(f"{MARK_ERR_TEXT}bad one\n{MARK_END_TEXT}plain three\n{MARK_ERR_TEXT}bad two\n")
    log.flush()
    assert log.gutter.bar.isVisible() and log.edit.viewportMargins().left() > 0
    assert log.gutter.bar.marked_lines() == [2, 4]
    log.times_button.click()  # times and the bar side by side
    assert log.gutter.isVisible() and log.gutter.bar.isVisible()
    assert log.edit.viewportMargins().left() > log.gutter.width_needed()
    log.clear()  # another task's log
    assert not log.gutter.bar.isVisible()
    assert log.edit.viewportMargins().left() == log.gutter.width_needed()


def test_a_mark_cut_between_two_chunks_still_marks_the_text_after_it(qtbot: QtBot) -> None:
    log = view(qtbot)
    log.append("out\n" + MARK_ERR_TEXT[:5])
    log.flush()
    log.append(MARK_ERR_TEXT[5:] + "err\n" + MARK_END_TEXT + "out again\n")
    log.flush()
    assert log.text() == "out\nerr\nout again\n"
    assert fmt_at(log.edit, "err")[0] == TINT
    assert fmt_at(log.edit, "out again")[0] != TINT


def test_hovering_stderr_text_says_stderr(qtbot: QtBot) -> None:
    log = view(qtbot)
    log.append(f"plain words\n{MARK_ERR_TEXT}error words\n{MARK_END_TEXT}", live=False)
    log.flush()
    edit = log.edit
    cursor = QTextCursor(edit.document().findBlockByNumber(1))
    cursor.movePosition(QTextCursor.MoveOperation.Right, n=3)
    over_error = edit.cursorRect(cursor).center()
    viewport = edit.viewport()
    event = QHelpEvent(QEvent.Type.ToolTip, over_error, viewport.mapToGlobal(over_error))
    QApplication.sendEvent(viewport, event)
    qtbot.waitUntil(lambda: QToolTip.text() == STDERR_TIP)
    cursor = QTextCursor(edit.document().findBlockByNumber(0))
    cursor.movePosition(QTextCursor.MoveOperation.Right, n=3)
    assert log.stream_tip(edit.cursorRect(cursor).center()) == ""
    assert log.stream_tip(over_error + QPoint(0, 0)) == STDERR_TIP
