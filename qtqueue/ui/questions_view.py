"""The window's Questions view: every open question the running tasks ask, with a count badge.

`QuestionsView` lists the open questions (task, type, message, age, time left) from
`TaskQueue.questions`, re-read whenever the engine bridge says questions changed (coalesced
per frame, like the task events). Its count shows as a badge on its tab and on a toolbar button
("Questions (2)"); questions it had not seen before go to the notifier (a tray message).
Activating a row (double-click, Enter) opens the task in the Tasks tab, whose detail pane has
the answer box.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from qtqueue.core.errors import QueueError
from qtqueue.core.question import Question
from qtqueue.core.task import Task
from qtqueue.ui.answer_box import AnswerBox
from qtqueue.ui.engine_bridge import BackgroundTasks, EngineBridge
from qtqueue.ui.forms.main_window_ui import Ui_MainWindow
from qtqueue.ui.question_words import (
    QuestionDesk,
    age_in_words,
    question_notice,
    request_in_words,
    time_left_in_words,
)
from qtqueue.ui.theme import adapt
from qtqueue.ui.tray import TaskNotifier

logger = logging.getLogger(__name__)

#: The list's columns, in order.
HEADERS = ("Task", "Type", "Question", "Asked", "Time left")
#: The badge's colour while questions wait.
BADGE_COLOR = "#b45309"
#: How often the ages and times left are redrawn while questions wait (display only).
TICK_MS = 1000


def badge_text(count: int) -> str:
    """'Questions (2)', or 'Questions' when none waits."""
    return f"Questions ({count})" if count else "Questions"


class QuestionsView(QWidget):
    """The open questions, oldest first. `refresh()` re-reads them (at most one read at a time;
    a refresh asked meanwhile reads again once it is done).

    Signals: `refreshed(count)` after each read is shown; `asked(notices)` with the tray's words
    for questions not seen before (not on the first read: the badge tells of those);
    `openTask(task id)` when the user activates a row.
    """

    refreshed = Signal(int)
    asked = Signal(list)
    openTask = Signal(str)

    def __init__(
        self,
        desk: QuestionDesk,
        task_by_id: Callable[[str], Task | None],
        parent: QWidget | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("questionsView")
        self._desk = desk
        self._task_by_id = task_by_id
        self._clock = clock
        self._questions: list[Question] = []
        self._seen: set[str] | None = None  # None until the first read
        self._loading = False
        self._again = False
        self._background = BackgroundTasks()
        self.tab_index = -1
        self._tabs: Callable[[int, str], None] | None = None
        self.hint = QLabel(self)
        self.hint.setObjectName("questionsHint")
        self.hint.setWordWrap(True)
        self.list = QTreeWidget(self)
        self.list.setObjectName("questionsList")
        self.list.setHeaderLabels(list(HEADERS))
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for column, width in ((0, 180), (1, 100), (3, 90), (4, 90)):
            self.list.setColumnWidth(column, width)
        self.list.itemActivated.connect(self._activated)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addWidget(self.list)
        self.action = QAction(badge_text(0), self)
        self.action.setObjectName("actionQuestions")
        self.action.setToolTip("Questions the running tasks ask you")
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self._render_times)
        self._render()

    @property
    def questions(self) -> list[Question]:
        """The open questions shown, oldest first."""
        return list(self._questions)

    @property
    def count(self) -> int:
        """How many questions wait for an answer."""
        return len(self._questions)

    def attach(
        self,
        form: Ui_MainWindow,
        bridge: EngineBridge,
        notifier: TaskNotifier,
        answers: AnswerBox,
        open_task: Callable[[str], None],
    ) -> None:
        """Take a tab after the Tasks tab and a toolbar button (both with the badge), follow
        the bridge's question events (the detail pane's `answers` box hears them too), hand
        new questions to `notifier`, and open activated rows with `open_task`, the keyboard
        in the answer box."""
        tabs = form.tabs
        self.tab_index = tabs.insertTab(tabs.indexOf(form.tasksTab) + 1, self, badge_text(0))

        def set_tab(count: int, text: str) -> None:
            tabs.setTabText(self.tab_index, text)
            color = QColor(adapt(BADGE_COLOR)) if count else QColor()
            tabs.tabBar().setTabTextColor(self.tab_index, color)

        self._tabs = set_tab
        self.action.triggered.connect(lambda: tabs.setCurrentWidget(self))
        form.mainToolBar.addSeparator()
        form.mainToolBar.addAction(self.action)
        form.menuView.addAction(self.action)
        bridge.questionsChanged.connect(lambda ids: self.refresh())
        bridge.questionsChanged.connect(answers.questions_changed)
        self.asked.connect(notifier.question_asked)
        self.openTask.connect(lambda task_id: tabs.setCurrentWidget(form.tasksTab))
        self.openTask.connect(lambda task_id: answers.focus_when_shown())
        self.openTask.connect(open_task)
        self._render()

    # ------------------------------------------------------------------ reading

    @Slot()
    def refresh(self) -> None:
        """Read the open questions again (soon)."""
        if self._loading:
            self._again = True
            return
        self._loading = True
        self._background.spawn(self._read(), "read the open questions")

    async def _read(self) -> None:
        try:
            questions = await self._desk.list(open_only=True)
        except QueueError as exc:
            logger.debug("no questions: %s", exc)
            questions = self._questions
        finally:
            self._loading = False
        self._show(sorted(questions, key=lambda q: q.created_at))
        if self._again:
            self._again = False
            self.refresh()

    def _show(self, questions: list[Question]) -> None:
        ids = {q.id for q in questions}
        if self._seen is not None:
            new = [q for q in questions if q.id not in self._seen]
            if new:
                self.asked.emit([question_notice(self._task_name(q.task_id), q) for q in new])
            self._seen |= ids
        else:
            self._seen = set(ids)
        self._questions = questions
        self._render()
        self.refreshed.emit(len(questions))

    def _task_name(self, task_id: str) -> str:
        task = self._task_by_id(task_id)
        return task.name if task is not None else task_id[:8]

    async def stop(self) -> None:
        """Stop reading (the window is closing)."""
        self._tick.stop()
        await self._background.cancel_all()

    # ------------------------------------------------------------------ showing

    def _render(self) -> None:
        count = len(self._questions)
        text = badge_text(count)
        self.action.setText(text)
        font = self.action.font()
        font.setBold(bool(count))
        self.action.setFont(font)
        self.action.setToolTip(
            f"{count} question{'' if count == 1 else 's'} wait for your answer"
            if count
            else "No task is asking anything"
        )
        if self._tabs is not None:
            self._tabs(count, text)
        self.hint.setText(
            "Tasks wait for these answers. Double-click one to answer it in the task's details."
            if count
            else "No task is asking anything. Questions that running tasks ask you show here."
        )
        selected = self._selected_id()
        self.list.clear()
        items = []
        for q in self._questions:
            item = QTreeWidgetItem(
                [self._task_name(q.task_id), request_in_words(q), q.message, "", ""]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, q.task_id)
            item.setData(2, Qt.ItemDataRole.UserRole, q.id)
            item.setToolTip(2, q.message)
            items.append(item)
        self.list.addTopLevelItems(items)
        for item in items:
            if item.data(2, Qt.ItemDataRole.UserRole) == selected:
                item.setSelected(True)
        self._render_times()
        if count and not self._tick.isActive():
            self._tick.start()
        elif not count:
            self._tick.stop()

    @Slot()
    def _render_times(self) -> None:
        now = self._clock()
        for i, q in enumerate(self._questions):
            item = self.list.topLevelItem(i)
            if item is None:
                break
            item.setText(3, age_in_words(q, now))
            item.setText(4, time_left_in_words(q, now))

    def _selected_id(self) -> str | None:
        items = self.list.selectedItems()
        return str(items[0].data(2, Qt.ItemDataRole.UserRole)) if items else None

    def _activated(self, item: QTreeWidgetItem, _column: int) -> None:
        self.openTask.emit(str(item.data(0, Qt.ItemDataRole.UserRole)))

    def open_question(self, row: int) -> None:
        """Open the task of the `row`th question (as a double-click does)."""
        item = self.list.topLevelItem(row)
        if item is not None:
            self._activated(item, 0)
