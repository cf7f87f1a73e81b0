"""`LogView`: a task's output, coloured, searchable, followed while it grows.

Output is parsed as it arrives (`ansi.AnsiParser`) and inserted once per frame (`FRAME_MS`),
so a command writing 10,000 lines a second costs one document edit per frame, not one per
chunk; the document keeps at most `max_lines` lines (`maximumBlockCount`: the oldest fall
out, and the notice says earlier output is not shown). The toolbar: Follow (on while the view
sits at the bottom; scrolling up turns it off, scrolling back down or clicking turns it on),
Wrap, Times (when each line arrived, for lines seen live), Find (Ctrl+F), Save… and Pop out.
Saving and the pop-out window read the whole retained log through `LogSource`.

What the command wrote to stderr (marked in the log, `qtqueue.core.log_streams`) shows on a
red tint (`STDERR_TINT`, translucent so it reads on a light and a dark background, under the
text's own ANSI colours) with a tooltip, and a red bar in the margin beside its lines.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QHelpEvent,
    QKeyEvent,
    QKeySequence,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QBoxLayout,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from qtqueue.ui.log_view.ansi import AnsiParser, Span, Style
from qtqueue.ui.log_view.find_bar import FindBar
from qtqueue.ui.log_view.gutter import NO_TIME, STDERR_PROPERTY, TimeGutter, encode_time

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_MAX_LINES", "FRAME_MS", "STDERR_TINT", "STDERR_TIP", "LogSource", "LogView"]

#: How often buffered output is inserted (about one screen frame).
FRAME_MS = 16
#: The most characters inserted in one frame (a larger backlog takes several frames).
FRAME_CHARS = 256 * 1024
#: Lines the pane keeps; the pop-out window keeps more (it shows the whole retained log).
DEFAULT_MAX_LINES = 50_000
#: The background of stderr text (red, about a fifth opaque): (r, g, b, alpha).
STDERR_TINT = (239, 68, 68, 56)
#: The tooltip over stderr text.
STDERR_TIP = "stderr: the command wrote this to its error output"


class LogSource(Protocol):
    """What saving and the pop-out window need of the engine (`EnginePort` fits)."""

    async def read_log(self, task_id: str, tail_bytes: int | None = None) -> str: ...

    def follow_log(self, task_id: str) -> AsyncIterator[str]: ...


class LogView(QWidget):
    """The log widget around a `QPlainTextEdit` (`edit`, kept read-only).

    `append(text)` adds output (escapes applied), `flush()` inserts what is buffered now,
    `clear()` starts a new log. Signals: `followChanged(bool)`; `fullLogRequested()` when the
    user asks for the whole log (the notice's link or Pop out); `saveRequested(path)` when a
    file was chosen in Save….
    """

    followChanged = Signal(bool)
    fullLogRequested = Signal()
    saveRequested = Signal(str)

    def __init__(
        self,
        edit: QPlainTextEdit | None = None,
        parent: QWidget | None = None,
        *,
        max_lines: int = DEFAULT_MAX_LINES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("logViewer")
        self.edit = edit if edit is not None else QPlainTextEdit()
        self.edit.setParent(self)
        self.edit.setReadOnly(True)
        self.edit.setUndoRedoEnabled(False)
        self.edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.edit.setMaximumBlockCount(max_lines)
        self.edit.installEventFilter(self)
        self.edit.viewport().installEventFilter(self)
        self._clock = clock
        self._parser = AnsiParser()
        self._pending: list[str] = []
        self._pending_since: float | None = None
        self._pending_live = False
        self._formats: dict[Style, QTextCharFormat] = {}
        self._following = True
        self._adjusting = False
        self.gutter = TimeGutter(self.edit, clock())
        self.find_bar = FindBar(self.edit, self)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._frame)
        self._build()
        self.edit.verticalScrollBar().valueChanged.connect(self._scrolled)
        self._wrap_changed(self.wrap_button.isChecked())

    @classmethod
    def install(cls, edit: QPlainTextEdit, *, max_lines: int = DEFAULT_MAX_LINES) -> LogView:
        """A view around `edit` (from a Designer form), put where `edit` was in its layout."""
        parent = edit.parentWidget()
        layout = parent.layout() if parent is not None else None
        index = layout.indexOf(edit) if isinstance(layout, QBoxLayout) else -1
        view = cls(edit, parent, max_lines=max_lines)  # takes `edit` out of `layout`
        if isinstance(layout, QBoxLayout) and index >= 0:
            layout.insertWidget(index, view, 1)
        return view

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        bar = QHBoxLayout()
        bar.setSpacing(2)
        self.follow_button = self._tool("logFollow", "Follow", "Keep the newest output in view")
        self.follow_button.setChecked(True)
        self.follow_button.toggled.connect(self._follow_clicked)
        self.wrap_button = self._tool("logWrap", "Wrap", "Wrap long lines")
        self.wrap_button.setChecked(True)
        self.wrap_button.toggled.connect(self._wrap_changed)
        self.times_button = self._tool(
            "logTimes", "Times", "When each line arrived (lines read from the file show none)"
        )
        self.times_button.toggled.connect(self.gutter_shown)
        self._find_button = self._tool("logFind", "Find", "Find in the log (Ctrl+F)", False)
        self._find_button.clicked.connect(self.find_bar.open)
        self.save_button = self._tool("logSave", "Save…", "Save the whole log as text", False)
        self.save_button.clicked.connect(self._choose_file)
        self.popout_button = self._tool(
            "logPopOut", "Pop out", "Open the whole log in its own window", False
        )
        self.popout_button.clicked.connect(self.fullLogRequested)
        self.notice = QLabel('Earlier output not shown — <a href="full">Open full log</a>', self)
        self.notice.setObjectName("logTruncated")
        self.notice.linkActivated.connect(lambda _link: self.fullLogRequested.emit())
        self.notice.hide()
        self.status = QLabel(self)
        self.status.setObjectName("logStatus")
        self.status.hide()
        for button in (self.follow_button, self.wrap_button, self.times_button):
            bar.addWidget(button)
        bar.addSpacing(8)
        bar.addWidget(self.notice)
        bar.addWidget(self.status)
        bar.addStretch(1)
        for button in (self._find_button, self.save_button, self.popout_button):
            bar.addWidget(button)
        layout.addLayout(bar)
        self._text_layout = QVBoxLayout()
        self._text_layout.setSpacing(0)
        self._text_layout.addWidget(self.edit, 1)
        layout.addLayout(self._text_layout, 1)
        layout.addWidget(self.find_bar)

    def _tool(self, name: str, text: str, tip: str, checkable: bool = True) -> QToolButton:
        button = QToolButton(self)
        button.setObjectName(name)
        button.setText(text)
        button.setToolTip(tip)
        button.setCheckable(checkable)
        button.setAutoRaise(True)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        return button

    # ------------------------------------------------------------------ output

    def append(self, text: str, *, live: bool = True) -> None:
        """Add output; it shows within a frame. `live`: it arrives now (it gets a time);
        else it was read from the file (a log shown from its start)."""
        if not text:
            return
        if self._pending and self._pending_live != live:
            self.flush()
        if not self._pending:
            self._pending_since = self._clock()
            self._pending_live = live
        self._pending.append(text)
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Insert all the buffered output now, in one edit (tests and the pane call it when
        they need the text at once)."""
        self._timer.stop()
        pending, self._pending = self._pending, []
        self._insert(self._parser.feed("".join(pending)))

    @property
    def backlog(self) -> int:
        """How many characters wait to be inserted (0: everything handed over is shown)."""
        return sum(len(t) for t in self._pending)

    def _frame(self) -> None:
        """A frame's share of the buffered output (parsed and inserted); the rest in the
        next frames, so a whole log handed over at once (the pop-out's) does not freeze the
        window."""
        self._insert(self._parser.feed(self._take(FRAME_CHARS)))
        if self._pending:
            self._timer.start()

    def _take(self, limit: int) -> str:
        """Up to about `limit` characters of the buffered output, cut after a newline."""
        text = "".join(self._pending)
        if len(text) <= limit:
            self._pending = []
            return text
        cut = text.rfind("\n", 0, limit) + 1 or limit  # a longer line: cut inside it
        self._pending = [text[cut:]]
        return text[:cut]

    def _insert(self, spans: list[Span]) -> None:
        if not spans:
            return
        edit = self.edit
        doc = edit.document()
        before = doc.blockCount()
        newlines = sum(s.text.count("\n") for s in spans)
        continued_empty = doc.lastBlock().length() <= 1
        cursor = QTextCursor(doc)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.beginEditBlock()
        marked = False
        for span in spans:
            cursor.insertText(span.text, self._format(span.style))
            marked = marked or span.style.stderr
        cursor.endEditBlock()
        if marked:
            self.gutter.set_streams(True)
        self._mark_times(newlines, continued_empty)
        if before + newlines > edit.maximumBlockCount():
            self.set_truncated(True)
        if self._following:
            self._to_bottom()
        self.find_bar.log_changed()

    def _mark_times(self, newlines: int, continued_empty: bool) -> None:
        """Give the lines this batch began its time: the new ones, and the line it continued
        if that was still empty. A line's time is when its first character arrived; the
        empty line after the last newline has none yet."""
        if not self._pending_live or self._pending_since is None:
            return  # read from the file: the lines keep Qt's default state, NO_TIME
        state = encode_time(self._pending_since, self.gutter.base)
        block = self.edit.document().lastBlock()
        for i in range(newlines, -1, -1):  # from the last block back to the continued one
            if not block.isValid():
                break
            if block.length() <= 1:
                block.setUserState(NO_TIME)
            elif i > 0 or continued_empty:
                block.setUserState(state)
            block = block.previous()

    def _format(self, style: Style) -> QTextCharFormat:
        fmt = self._formats.get(style)
        if fmt is None:
            fmt = QTextCharFormat()
            if style.fg is not None:
                fmt.setForeground(QColor(style.fg))
            if style.bg is not None:
                fmt.setBackground(QColor(style.bg))
            elif style.stderr:
                fmt.setBackground(QColor(*STDERR_TINT))
            if style.stderr:
                fmt.setToolTip(STDERR_TIP)
                fmt.setProperty(STDERR_PROPERTY, True)
            if style.bold:
                fmt.setFontWeight(QFont.Weight.Bold)
            fmt.setFontItalic(style.italic)
            fmt.setFontUnderline(style.underline)
            self._formats[style] = fmt
        return fmt

    def clear(self) -> None:
        """Start over (another task's log): no text, no pending output, follow on."""
        self._timer.stop()
        self._pending = []
        self._parser.reset()
        self.edit.clear()
        self.gutter.set_streams(False)
        self.set_truncated(False)
        self.set_following(True)

    def text(self) -> str:
        """The text shown, with what is buffered (escapes removed)."""
        self.flush()
        return self.edit.toPlainText()

    def set_truncated(self, truncated: bool) -> None:
        """Say (or stop saying) that earlier output is not shown."""
        self.notice.setVisible(truncated)

    def is_truncated(self) -> bool:
        """Whether the notice that earlier output is not shown is up."""
        return not self.notice.isHidden()

    # ------------------------------------------------------------------ follow, wrap, times

    @property
    def following(self) -> bool:
        """Whether the newest output is kept in view."""
        return self._following

    def set_following(self, on: bool) -> None:
        """Follow (and go to the bottom) or stop following."""
        changed = on != self._following
        self._following = on
        self.follow_button.blockSignals(True)
        self.follow_button.setChecked(on)
        self.follow_button.blockSignals(False)
        if on:
            self._to_bottom()
        if changed:
            self.followChanged.emit(on)

    def _follow_clicked(self, on: bool) -> None:
        self.set_following(on)

    def _to_bottom(self) -> None:
        bar = self.edit.verticalScrollBar()
        self._adjusting = True
        try:
            bar.setValue(bar.maximum())
        finally:
            self._adjusting = False

    def _scrolled(self, value: int) -> None:
        if self._adjusting:
            return
        at_bottom = value >= self.edit.verticalScrollBar().maximum()
        if at_bottom != self._following:
            self.set_following(at_bottom)

    def _wrap_changed(self, on: bool) -> None:
        self.edit.setLineWrapMode(
            QPlainTextEdit.LineWrapMode.WidgetWidth if on else QPlainTextEdit.LineWrapMode.NoWrap
        )

    def gutter_shown(self, on: bool) -> None:
        """Show or hide when each line arrived."""
        self.times_button.blockSignals(True)
        self.times_button.setChecked(on)
        self.times_button.blockSignals(False)
        self.gutter.set_shown(on)

    def stream_tip(self, pos: QPoint) -> str:
        """The tooltip at `pos` in the viewport: STDERR_TIP over stderr text, else empty."""
        return self.edit.cursorForPosition(pos).charFormat().toolTip()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.edit.viewport() and event.type() == QEvent.Type.ToolTip:
            assert isinstance(event, QHelpEvent)
            tip = self.stream_tip(event.pos())
            if tip:
                QToolTip.showText(event.globalPos(), tip, self.edit.viewport())
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        if watched is self.edit:
            kind = event.type()
            if kind == QEvent.Type.Resize:
                self.gutter.place()
            elif (
                kind in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress)
                and isinstance(event, QKeyEvent)
                and event.matches(QKeySequence.StandardKey.Find)
            ):
                # Ctrl+F in the log searches the log, even where the window has its own
                # Ctrl+F (the list's search): the override claims the key for the log.
                event.accept()
                if kind == QEvent.Type.KeyPress:
                    self.find_bar.open()
                return True
        return super().eventFilter(watched, event)

    # ------------------------------------------------------------------ saving

    def show_status(self, message: str, *, error: bool = False) -> None:
        """Say how saving went, beside the toolbar (in red when it failed)."""
        self.status.setText(message)
        self.status.setToolTip(message)
        self.status.setStyleSheet("color: #dc2626;" if error else "")
        self.status.show()

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save log", str(Path.home() / "task.log"), "Log files (*.log *.txt);;All (*)"
        )
        if path:
            self.saveRequested.emit(path)
