"""The detail pane: everything about the selected task, and its log following live.

Shows params (values of secret-looking keys masked), timings, retry information, the error
code with its description and suggested fix (`error_info`), why a waiting task waits, and the
log tail in `logView`, which follows the log while the task runs (`TaskQueue.follow_log` in an
owned asyncio task, cancelled when the selection changes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import Signal
from PySide6.QtGui import QFont, QFontDatabase, QTextCursor
from PySide6.QtWidgets import QLabel, QTreeWidgetItem, QWidget

from qtqueue.core.errors import QueueError, error_info
from qtqueue.core.task import ACTIVE, RETRYABLE_TERMINAL, TERMINAL, Task, TaskStatus
from qtqueue.ui.engine_bridge import BackgroundTasks
from qtqueue.ui.forms.detail_pane_ui import Ui_DetailPane
from qtqueue.ui.icons import status_color
from qtqueue.ui.progress_delegate import progress_label
from qtqueue.ui.task_table_model import (
    MASK,
    format_duration,
    format_timestamp,
    is_secret_key,
    status_text,
)

logger = logging.getLogger(__name__)

#: The most of a log the pane loads at once; older output is left to `qtqueue log`.
LOG_TAIL_CHARS = 256 * 1024


class LogSource(Protocol):
    """What the pane needs of the engine (`TaskQueue` fits)."""

    def follow_log(self, task_id: str) -> Any: ...


def _tail(text: str, limit: int = LOG_TAIL_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    newline = cut.find("\n")
    return cut[newline + 1 :] if newline >= 0 else cut


#: Parameters that say most about a task, shown first; the rest follow by name.
_LEADING_PARAMS = ("command", "args", "script_path", "image", "image_name", "url", "monitor_type")


def _param_order(item: tuple[str, Any]) -> tuple[int, str]:
    name = item[0]
    lead = _LEADING_PARAMS.index(name) if name in _LEADING_PARAMS else len(_LEADING_PARAMS)
    return lead, name


def _param_text(name: str, value: Any) -> str:
    if is_secret_key(name):
        return MASK
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


class DetailPane(QWidget):
    """Details of one task (`show_task`), or a hint when nothing is selected.

    `logLoaded` is emitted once the log of the shown task has been read up to its current end
    (its first chunk, or the end of a finished task's log).
    """

    logLoaded = Signal(str)

    def __init__(
        self,
        source: LogSource | None = None,
        parent: QWidget | None = None,
        *,
        duration_of: Callable[[Task], float | None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(parent)
        self.form = Ui_DetailPane()
        self.form.setupUi(self)
        self.setObjectName("detailPane")
        self._source = source
        self._duration_of = duration_of or (lambda t: t.duration_s)
        self._clock = clock
        self._task: Task | None = None
        self._follower: asyncio.Task[None] | None = None
        self._following: str | None = None
        self._background = BackgroundTasks()
        f = self.form
        f.logView.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        title = QFont(f.titleLabel.font())
        title.setBold(True)
        title.setPointSizeF(title.pointSizeF() * 1.15)
        f.titleLabel.setFont(title)
        f.errorCode.setStyleSheet("font-weight: bold; color: #dc2626;")
        f.paramsView.header().setStretchLastSection(True)
        f.detailSplitter.setStretchFactor(0, 3)
        f.detailSplitter.setSizes([600, 400])
        f.detailSplitter.setStretchFactor(1, 2)
        f.pages.setCurrentWidget(f.emptyPage)

    # ------------------------------------------------------------------ public

    @property
    def task(self) -> Task | None:
        """The snapshot shown, or None."""
        return self._task

    def show_task(self, task: Task | None) -> None:
        """Show `task` (a newer snapshot of the shown task just refreshes the fields); None
        shows the hint and stops following."""
        previous = self._task
        self._task = task
        if task is None:
            self._stop_following()
            self.form.logView.clear()
            self.form.pages.setCurrentWidget(self.form.emptyPage)
            return
        self._render(task)
        self.form.pages.setCurrentWidget(self.form.detailsPage)
        if previous is None or previous.id != task.id:
            self._start_following(task.id, clear=True)
        elif self._follower is None and task.status not in TERMINAL:
            # It was retried: its log is written to again.
            self._start_following(task.id, clear=True)

    def refresh_timing(self) -> None:
        """Update the running time of a task being worked on (call it once a second)."""
        if self._task is not None:
            self._render_timing(self._task)

    async def stop(self) -> None:
        """Stop following the log (the window is closing)."""
        self._stop_following()
        await self._background.cancel_all()

    # ------------------------------------------------------------------ rendering

    def _render(self, t: Task) -> None:
        f = self.form
        f.titleLabel.setText(t.name)
        f.idValue.setText(t.id)
        f.statusValue.setText(self._status_line(t))
        f.statusValue.setStyleSheet(f"color: {status_color(t.status).name()}; font-weight: bold;")
        f.typeValue.setText(t.type_name)
        f.priorityValue.setText(t.priority.name.capitalize())
        f.categoryValue.setText(t.category)
        f.tagsValue.setText(", ".join(t.tags) or "—")
        f.progressValue.setText(progress_label(t.progress, t.current_step))
        self._set_row(f.overviewForm, f.waitReasonValue, t.wait_reason)
        self._render_timing(t)
        self._render_retries(t)
        self._render_error(t)
        self._render_params(t)

    def _status_line(self, t: Task) -> str:
        text = status_text(t.status)
        if t.status == TaskStatus.PAUSED and t.paused_from is not None:
            text += f" (was {t.paused_from.value})"
        return text

    def _render_timing(self, t: Task) -> None:
        f = self.form
        now = self._clock()
        f.createdValue.setText(format_timestamp(t.created_at))
        f.startedValue.setText(format_timestamp(t.started_at) or "not yet")
        f.finishedValue.setText(format_timestamp(t.completed_at) or "—")
        duration = self._duration_of(t)
        running = t.status in ACTIVE
        text = format_duration(duration) or "—"
        f.durationValue.setText(f"{text} (running)" if running and duration is not None else text)
        waited_until = t.started_at if t.started_at is not None else now
        f.waitedValue.setText(format_duration(max(0.0, waited_until - t.created_at)) or "—")
        f.timeoutValue.setText(format_duration(t.timeout_s) if t.timeout_s else "none")

    def _render_retries(self, t: Task) -> None:
        f = self.form
        if t.max_retries:
            text = f"{t.retry_count} of {t.max_retries} automatic retries used"
        else:
            text = f"{t.retry_count} retries" if t.retry_count else "no automatic retries"
        if t.status in RETRYABLE_TERMINAL:
            text += " · can be retried"
        f.retriesValue.setText(text)
        next_at = t.run_at if t.status == TaskStatus.PENDING and t.run_at else None
        self._set_row(f.retryForm, f.nextAttemptValue, format_timestamp(next_at))
        self._set_row(
            f.retryForm,
            f.deadLetterValue,
            "yes — failed for good after its retries" if t.dead_letter else "",
        )

    def _render_error(self, t: Task) -> None:
        f = self.form
        if not t.error_code:
            f.errorBox.setVisible(bool(t.error) and t.status in TERMINAL)
            f.errorCode.setText("")
            f.errorMessage.setText(t.error or "")
            f.errorDescription.setText("")
            f.errorSuggestion.setText("")
            return
        info = error_info(t.error_code)
        f.errorBox.setVisible(True)
        f.errorCode.setText(t.error_code)
        f.errorMessage.setText(t.error or "")
        f.errorDescription.setText(info.description)
        f.errorSuggestion.setText(info.suggestion)

    def _render_params(self, t: Task) -> None:
        view = self.form.paramsView
        view.clear()
        items = []
        for name, value in sorted(t.params.items(), key=_param_order):
            if value is None or value == "" or value == {} or value == []:
                continue  # an unset option says nothing
            item = QTreeWidgetItem([str(name), _param_text(str(name), value)])
            if isinstance(value, dict) and value and not is_secret_key(str(name)):
                item.setText(1, "")
                for k, v in value.items():
                    item.addChild(QTreeWidgetItem([str(k), _param_text(str(k), v)]))
                item.setExpanded(True)
            items.append(item)
        view.addTopLevelItems(items)
        for item in items:
            item.setExpanded(True)
        view.resizeColumnToContents(0)
        self.form.paramsBox.setVisible(bool(items))

    @staticmethod
    def _set_row(layout: Any, field: QLabel, text: str) -> None:
        field.setText(text)
        layout.setRowVisible(field, bool(text))

    # ------------------------------------------------------------------ the log

    def _start_following(self, task_id: str, *, clear: bool) -> None:
        self._stop_following()
        if clear:
            self.form.logView.clear()
        if self._source is None:
            return
        self._following = task_id
        self._follower = self._background.spawn(self._follow(task_id), f"follow log {task_id}")

    def _stop_following(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
        self._follower = None
        self._following = None

    async def _follow(self, task_id: str) -> None:
        assert self._source is not None
        first = True
        try:
            async with contextlib.aclosing(self._source.follow_log(task_id)) as chunks:
                async for chunk in chunks:
                    if self._following != task_id:
                        return
                    self._append(_tail(chunk) if first else chunk)
                    if first:
                        first = False
                        self.logLoaded.emit(task_id)
        except QueueError as exc:  # removed meanwhile
            logger.debug("stopped following the log of %s: %s", task_id, exc)
        finally:
            if self._following == task_id:
                self._follower = None
                self._following = None
        if first:
            self.logLoaded.emit(task_id)

    def _append(self, text: str) -> None:
        view = self.form.logView
        bar = view.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 2
        cursor = QTextCursor(view.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        if at_end:
            bar.setValue(bar.maximum())

    def log_text(self) -> str:
        """What `logView` shows."""
        return self.form.logView.toPlainText()

