"""The detail pane: everything about the selected task, and its log following live.

Shows params (values of secret-looking keys masked), timings, retry information, the error
code with its description and suggested fix (`error_info`), and the log tail in `logView`
(inside `log_view.LogView`: colours, find, follow, save, pop out), which follows the log
while the task runs (`TaskQueue.follow_log` in an owned asyncio task, cancelled when the
selection changes).

A task that asks a person shows its question with an answer box and its answered questions
(`AnswerBox`, `answer_box.py`, over `TaskQueue.questions`).
Scheduling facts: why a pending task waits (`waitBanner`; with its failed start checks from
`TaskQueue.overview`, `start_checks.py`), its queue, permission, declared
resources, run/expiry times, the schedule it came from, and its dependencies with their live
statuses (`DependencyList`, `dependency_list.py`).
A family may bring its own widget (`Family.qt_module`, e.g. the docker family's image layers):
the pane loads it through the family descriptor, shows it for the tasks it `shows`, and feeds
it the log as the log grows. A command started with params `interactive: true` takes input
from `stdinInput` while it runs (`send_input`); `awaitingInput` says so while its output ends
with a prompt.

Each task shown opens at the top of the pane, under its name and the command that runs first
(`commandLine`). A cancelled task says who cancelled it; an error whose fix is a stored
credential offers `openCredentialsButton` (`credentialsRequested`); a dependency is a link
(`taskLinkActivated(task id)`) that selects it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QLabel, QTreeWidgetItem, QWidget

from qtqueue.core.errors import QueueError, error_info
from qtqueue.core.task import (
    ACTIVE,
    RETRYABLE_TERMINAL,
    TERMINAL,
    Task,
    TaskStatus,
)
from qtqueue.executors.family import Family
from qtqueue.ui.answer_box import AnswerBox, stack_below
from qtqueue.ui.dependency_list import DependencyList, DependencySource
from qtqueue.ui.detail_layout import SideBySide
from qtqueue.ui.engine_bridge import BackgroundTasks
from qtqueue.ui.family_widgets import find_family_widget, fit_rows, host_family_widgets
from qtqueue.ui.forms.detail_pane_ui import Ui_DetailPane
from qtqueue.ui.icons import status_color
from qtqueue.ui.log_view.view import LogView
from qtqueue.ui.log_view.window import LogLinks
from qtqueue.ui.process_graph import ProcessGraph
from qtqueue.ui.question_words import QuestionDesk
from qtqueue.ui.start_checks import StartCheckSource, WaitBanner
from qtqueue.ui.task_in_words import (
    awaits_input,
    cancelled_in_words,
    command_line,
    fix_needs_credential,
    input_hint,
    leading_params,
    log_tail,
    param_order,
    param_text,
    permission_in_words,
    resources_in_words,
    schedule_of,
    waiting_in_words,
)
from qtqueue.ui.task_list.columns import (
    format_duration,
    format_timestamp,
    is_secret_key,
    status_text,
)
from qtqueue.ui.task_list.delegate import progress_label

logger = logging.getLogger(__name__)

__all__ = ["DetailPane", "TaskSource", "fit_rows", "resources_in_words", "waiting_in_words"]

#: The most of a log the pane loads at once; older output is left to `qtqueue log`.
LOG_TAIL_CHARS = 256 * 1024


class TaskSource(DependencySource, Protocol):
    """What the pane needs of the engine (`TaskQueue` fits)."""

    def follow_log(self, task_id: str) -> Any: ...

    async def read_log(self, task_id: str, tail_bytes: int | None = None) -> str: ...

    async def send_input(self, task_id: str, text: str | bytes, *, eof: bool = False) -> None: ...


class DetailPane(QWidget):
    """Details of one task (`show_task`), or a hint when nothing is selected.

    Signals, for whoever waits on the pane (tests, the window): `logLoaded(task id)` once the
    log of the shown task has been read up to its current end (its first chunk, or the end of
    a finished task's log); `familyViewUpdated(task id)` when a family's widget changed;
    `dependenciesUpdated(task id)` when `dependencyView` shows newer statuses;
    `inputSent(task id)` once input reached the command, `inputFailed(message)` when the
    engine refused it (the message is shown in `inputError`); `taskLinkActivated(task id)`
    when a dependency's link is clicked; `credentialsRequested()` from "Open credentials".
    """

    logLoaded = Signal(str)
    familyViewUpdated = Signal(str)
    dependenciesUpdated = Signal(str)
    inputSent = Signal(str)
    inputFailed = Signal(str)
    taskLinkActivated = Signal(str)
    credentialsRequested = Signal()

    def __init__(
        self,
        source: TaskSource | None = None,
        parent: QWidget | None = None,
        *,
        duration_of: Callable[[Task], float | None] | None = None,
        clock: Callable[[], float] = time.time,
        families: Sequence[Family] = (),
        questions: QuestionDesk | None = None,
        overview: StartCheckSource | None = None,
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
        self.dependencies = DependencyList(source, self.form, self._background, self)
        self.dependencies.updated.connect(self.dependenciesUpdated)
        self.dependencies.linkActivated.connect(self.taskLinkActivated)
        f = self.form
        self._input_placeholder = f.stdinInput.placeholderText()
        self.log = LogView.install(f.logView)  # colours, find, follow, save, pop out
        self.log_links = LogLinks(self.log, source, self._shown_id, lambda: f.titleLabel.text())
        title = QFont(f.titleLabel.font())
        title.setBold(True)
        title.setPointSizeF(title.pointSizeF() * 1.15)
        f.titleLabel.setFont(title)
        f.commandLine.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        f.awaitingInput.setStyleSheet(
            "background: #dbeafe; color: #1e3a8a; border: 1px solid #3b82f6;"
            " border-radius: 4px; padding: 4px; font-weight: bold;"
        )
        f.awaitingInput.hide()
        f.openCredentialsButton.hide()
        f.openCredentialsButton.clicked.connect(self.credentialsRequested)
        f.errorCode.setStyleSheet("font-weight: bold; color: #dc2626;")
        f.culpritValue.setStyleSheet("font-weight: bold; color: #dc2626;")
        f.inputError.setStyleSheet("color: #dc2626;")
        f.waitBanner.setStyleSheet(
            "background: #fef3c7; color: #78350f; border: 1px solid #f59e0b;"
            " border-radius: 4px; padding: 6px; font-weight: bold;"
        )
        self.wait_banner = WaitBanner(f.waitBanner, overview, clock, self)
        self.answers = AnswerBox(questions, f.infoWidget, clock=clock)
        stack_below(f.infoLayout, f.waitBanner, self.answers)
        self.process_graph = ProcessGraph(f.infoWidget)  # owns_engine: stats.links.install
        stack_below(f.infoLayout, f.errorBox, self.process_graph)
        for view in (f.paramsView, f.dependencyView):
            view.header().setStretchLastSection(True)
            # As tall as their rows (fit_rows): a sideways scroll bar in a narrow pane would
            # take that height and hide them; long values are elided (tooltips say them whole).
            view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # The form's own layer box predates families (TODO(ui): drop it from detail_pane.ui);
        # the docker family's widget takes its row.
        placeholder = getattr(f, "layersBox", None)
        if placeholder is not None:
            f.infoLayout.removeWidget(placeholder)
            placeholder.hide()
        self._family_widgets = host_family_widgets(families, f.infoLayout, 4, f.infoWidget)
        self._leading = leading_params(families)
        # Types that run a process, which takes input when started with `interactive: true`.
        self._process_types = {
            e.name for family in families for e in family.executors() if e.runs_commands
        }
        self._titles = {e.name: e.display_title for fam in families for e in fam.executors()}
        self._name_keys = {e.name: fam.name_keys for fam in families for e in fam.executors()}
        for widget in self._family_widgets:
            getattr(widget, "updated").connect(self.familyViewUpdated)  # noqa: B009
        f.detailSplitter.setStretchFactor(0, 3)
        f.detailSplitter.setSizes([360, 240])  # the facts above, the log below
        f.detailSplitter.setStretchFactor(1, 2)
        self.boxes = SideBySide(
            f.infoLayout, f.infoScroll, [(f.overviewBox, f.timingBox), (f.paramsBox, f.retryBox)]
        )
        f.stdinInput.returnPressed.connect(self._send_input)
        f.sendInputButton.clicked.connect(self._send_input)
        f.inputError.hide()
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
        self.process_graph.show_task(task)
        self.answers.show_task(task.id if task is not None else None)
        if task is None:
            self.wait_banner.stop()
            self._stop_following()
            self.dependencies.forget()
            self.log.clear()
            self.form.pages.setCurrentWidget(self.form.emptyPage)
            return
        another = previous is None or previous.id != task.id
        if another:
            self.form.stdinInput.clear()
            self.form.inputError.hide()
        self._render(task)
        self.dependencies.show(task)
        self.form.pages.setCurrentWidget(self.form.detailsPage)
        if another:  # each task opens at the top: its error box first, not the last one's spot
            self.form.infoScroll.verticalScrollBar().setValue(0)
        if another:
            self._start_following(task.id, clear=True)
        elif self._follower is None and task.status not in TERMINAL:
            # It was retried: its log is written to again.
            self._start_following(task.id, clear=True)

    def refresh_timing(self) -> None:
        """Update the running time of a task being worked on (call it once a second)."""
        self.answers.refresh_times()
        if self._task is not None:
            self._render_awaiting(self._task)
            self._render_timing(self._task)
            self._set_row(
                self.form.schedulingForm, self.form.expiresValue, self._expiry_text(self._task)
            )

    async def stop(self) -> None:
        """Stop following the log and the dependencies (the window is closing)."""
        self._stop_following()
        self.dependencies.forget()
        self.wait_banner.stop()
        await self.answers.stop()
        await self.log_links.stop()
        await self._background.cancel_all()

    def log_text(self) -> str:
        """What `logView` shows."""
        return self.log.text()

    def _shown_id(self) -> str | None:
        return self._task.id if self._task is not None else None

    # ------------------------------------------------------------------ rendering

    def _render(self, t: Task) -> None:
        f = self.form
        f.titleLabel.setText(t.name)
        f.commandLine.setText(
            command_line(t, self._titles.get(t.type_name, ""), self._name_keys.get(t.type_name, ()))
        )
        f.idValue.setText(t.id)
        f.statusValue.setText(self._status_line(t))
        f.statusValue.setStyleSheet(f"color: {status_color(t.status).name()}; font-weight: bold;")
        title = self._titles.get(t.type_name, "")
        f.typeValue.setText(f"{title} ({t.type_name})" if title else t.type_name)
        f.priorityValue.setText(t.priority.name.capitalize())
        f.categoryValue.setText(t.category)
        f.tagsValue.setText(", ".join(t.tags) or "—")
        f.progressValue.setText(progress_label(t.progress, t.current_step))
        self.wait_banner.show(t)
        for widget in self._family_widgets:
            cast(QWidget, widget).setVisible(widget.shows(t))
        self._render_timing(t)
        self._render_retries(t)
        self._render_error(t)
        self._render_scheduling(t)
        self._render_params(t)
        self._render_input(t)
        self.boxes.reflow()

    def _status_line(self, t: Task) -> str:
        text = status_text(t.status)
        if t.status == TaskStatus.PAUSED and t.paused_from in ACTIVE:
            # Suspended mid-run, it keeps its slot (pueue does the same): say so, since
            # the queue then starts nothing in its place.
            text += f" — suspended; it still holds its slot in queue '{t.queue}'"
        elif t.status == TaskStatus.PAUSED and t.paused_from is not None:
            text += f" — held before it started; it holds no slot (was {t.paused_from.value})"
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
        f.openCredentialsButton.setVisible(fix_needs_credential(t.error_code))
        if not t.error_code:
            cancelled = t.status == TaskStatus.CANCELLED
            f.errorBox.setTitle("Cancelled" if cancelled else "Error")
            f.errorBox.setVisible(cancelled or (bool(t.error) and t.status in TERMINAL))
            self._error_rows("", cancelled_in_words(t) if cancelled else t.error or "", "", "")
            return
        info = error_info(t.error_code)
        f.errorBox.setTitle("Cancelled" if t.status == TaskStatus.CANCELLED else "Error")
        f.errorBox.setVisible(True)
        self._error_rows(t.error_code, t.error or "", info.description, info.suggestion)

    def _error_rows(self, code: str, message: str, description: str, suggestion: str) -> None:
        """Fill the error box; a row with nothing to say is hidden, not left empty."""
        f = self.form
        for field, text in (
            (f.errorCode, code),
            (f.errorMessage, message),
            (f.errorDescription, description),
            (f.errorSuggestion, suggestion),
        ):
            self._set_row(f.errorForm, field, text)

    def _render_scheduling(self, t: Task) -> None:
        f = self.form
        form = f.schedulingForm
        f.queueValue.setText(t.queue or "")
        f.permissionValue.setText(permission_in_words(t))
        self._set_row(form, f.resourcesValue, resources_in_words(t.resources))
        self._set_row(form, f.runAtValue, format_timestamp(t.run_at))
        self._set_row(form, f.expiresValue, self._expiry_text(t))
        self._set_row(form, f.scheduleValue, schedule_of(t))
        policy = ""
        if t.depends_on:
            policy = (
                "it runs anyway, once every dependency has finished"
                if t.allow_dependency_failure
                else "this task fails too"
            )
        self._set_row(form, f.dependencyPolicyValue, policy)
        self._set_row(form, f.culpritValue, self.dependencies.culprit_text(t))
        form.setRowVisible(f.dependencyView, bool(t.depends_on))

    def _expiry_text(self, t: Task) -> str:
        if t.expires_at is None:
            return ""
        text = format_timestamp(t.expires_at)
        left = t.expires_at - self._clock()
        if t.status == TaskStatus.PENDING and left > 0:
            text += f" (in {format_duration(left)})"
        return text

    def _render_params(self, t: Task) -> None:
        view = self.form.paramsView
        view.clear()
        items = []
        for name, value in sorted(t.params.items(), key=lambda i: param_order(i, self._leading)):
            if value is None or value == "" or value == {} or value == []:
                continue  # an unset option says nothing
            item = QTreeWidgetItem([str(name), param_text(str(name), value)])
            if isinstance(value, dict) and value and not is_secret_key(str(name)):
                item.setText(1, "")
                for k, v in value.items():
                    item.addChild(QTreeWidgetItem([str(k), param_text(str(k), v)]))
                item.setExpanded(True)
            items.append(item)
        view.addTopLevelItems(items)
        for item in items:
            item.setExpanded(True)
        view.resizeColumnToContents(0)
        fit_rows(view)
        self.form.paramsBox.setVisible(bool(items))

    @staticmethod
    def _set_row(layout: Any, field: QLabel, text: str) -> None:
        field.setText(text)
        layout.setRowVisible(field, bool(text))

    def family_widget(self, name: str) -> QWidget | None:
        """The widget a family's `qt.py` gave (by its object name or class name), or None."""
        return find_family_widget(self._family_widgets, name)

    # ------------------------------------------------------------------ input

    def _render_awaiting(self, t: Task) -> None:
        """The "awaiting input" sign: an interactive command that runs and prompts."""
        waits = t.params.get("interactive") and t.status == TaskStatus.RUNNING
        self.form.awaitingInput.setVisible(bool(waits) and awaits_input(t, self.log_text()[-1:]))

    def _render_input(self, t: Task) -> None:
        self._render_awaiting(t)
        f = self.form
        shown = t.type_name in self._process_types or "interactive" in t.params
        hint = input_hint(t)
        for widget in (f.stdinInput, f.sendInputButton):
            widget.setVisible(shown)
            widget.setEnabled(not hint)
        f.stdinInput.setPlaceholderText(hint or self._input_placeholder)
        if not shown:
            f.inputError.hide()

    @Slot()
    def _send_input(self) -> None:
        """Enter or Send: the line goes to the command's stdin, with a newline."""
        f = self.form
        t = self._task
        if t is None or self._source is None or not f.sendInputButton.isEnabled():
            return
        text = f.stdinInput.text()
        f.stdinInput.clear()
        self._background.spawn(self._deliver(t.id, text), f"send input to {t.id}")

    async def _deliver(self, task_id: str, text: str) -> None:
        assert self._source is not None
        f = self.form
        try:
            await self._source.send_input(task_id, text + "\n")
        except QueueError as exc:
            message = f"{exc.message}\n{exc.info.suggestion}"
            if self._task is not None and self._task.id == task_id:
                f.inputError.setText(message)
                f.inputError.show()
                if not f.stdinInput.text():
                    f.stdinInput.setText(text)
            self.inputFailed.emit(message)
            return
        if self._task is not None and self._task.id == task_id:
            f.inputError.hide()
            # The engine logs only how many bytes were sent (input may be a secret); the
            # view shows the line itself, until the log is loaded again.
            self._append(f"> {text}\n")
        self.inputSent.emit(task_id)

    # ------------------------------------------------------------------ the log

    def _start_following(self, task_id: str, *, clear: bool) -> None:
        self._stop_following()
        if clear:
            self.log.clear()
            for widget in self._family_widgets:
                widget.reset()
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
        task = self._task
        fed = [w for w in self._family_widgets if task is not None and w.shows(task)]
        first = True
        try:
            async with contextlib.aclosing(self._source.follow_log(task_id)) as chunks:
                async for chunk in chunks:
                    if self._following != task_id:
                        return
                    if first:  # the retained log: its tail, without arrival times
                        self.log.append(log_tail(chunk, LOG_TAIL_CHARS), live=False)
                        self.log.set_truncated(len(chunk) > LOG_TAIL_CHARS)
                        self.log.flush()
                    else:
                        self._append(chunk)
                    for widget in fed:
                        widget.feed(task_id, chunk)
                    if first:
                        first = False
                        self.logLoaded.emit(task_id)
            if self._following == task_id:
                for widget in fed:
                    widget.finish(task_id)
        except QueueError as exc:  # removed meanwhile
            logger.debug("stopped following the log of %s: %s", task_id, exc)
        finally:
            if self._following == task_id:
                self._follower = None
                self._following = None
        if first:
            self.logLoaded.emit(task_id)

    def _append(self, text: str) -> None:
        self.log.append(text)
