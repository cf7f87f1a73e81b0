"""The detail pane's question box: the shown task's open question, answered from here.

A running task may ask a person (`ctx.ask(...)`, `qtqueue ask "…"`) and wait. For the shown
task the box reads its questions (`TaskQueue.questions.list(task_id=…)`): the oldest open one
is shown with its type, age, time left and context, a text field and the buttons its request
type calls for (Answer for a question or clarification; Approve and Reject for an approval),
which call `questions.answer(...)`. The questions that ended are listed below it with what came
of each and who answered (a person, or an automated rule). The box is read again when the
engine says the task's questions changed (`questions_changed`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import cast

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from qtqueue.core.errors import QueueError
from qtqueue.core.question import Question, RequestType, ResponseType
from qtqueue.ui.engine_bridge import BackgroundTasks
from qtqueue.ui.family_widgets import fit_rows
from qtqueue.ui.question_words import (
    QuestionDesk,
    age_in_words,
    answer_in_words,
    request_in_words,
    time_left_in_words,
)
from qtqueue.ui.theme import themed

logger = logging.getLogger(__name__)

#: The box's frame while a question waits.
_OPEN_STYLE = (
    "QGroupBox#answerBox { border: 2px solid #f59e0b; border-radius: 4px; margin-top: 1.2em;"
    " background: #fffbeb; } QGroupBox#answerBox::title { subcontrol-origin: margin; left: 8px;"
    " color: #78350f; font-weight: bold; }"
)

#: The answer a bare Approve or Reject gives.
_DECISION = {ResponseType.APPROVAL: "approved", ResponseType.REJECTION: "rejected"}


def stack_below(grid: QGridLayout, anchor: QWidget, widget: QWidget) -> None:
    """Put `widget` right under `anchor`, in the grid cell `anchor` had."""
    position = cast(tuple[int, int, int, int], grid.getItemPosition(grid.indexOf(anchor)))
    row, column, rows, columns = position
    grid.removeWidget(anchor)
    stack = QVBoxLayout()
    stack.setContentsMargins(0, 0, 0, 0)
    stack.addWidget(anchor)
    stack.addWidget(widget)
    grid.addLayout(stack, row, column, rows, columns)


class AnswerBox(QGroupBox):
    """The questions of the task given to `show_task` (hidden when it has none).

    Signals: `loaded(task id)` once the box shows what the engine said of that task's
    questions; `answered(question id)` once an answer was taken; `answerFailed(message)`
    when the engine refused it (the message shows in `answerError`).
    """

    loaded = Signal(str)
    answered = Signal(str)
    answerFailed = Signal(str)

    def __init__(
        self,
        desk: QuestionDesk | None,
        parent: QWidget | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("answerBox")
        self._desk = desk
        self._clock = clock
        self._task_id: str | None = None
        self._questions: list[Question] = []
        self._focus = False
        self._background = BackgroundTasks()
        self.question = self._label("questionMessage", bold=True)
        self.meta = self._label("questionMeta")
        self.context = self._label("questionContext")
        self.input = QLineEdit(self)
        self.input.setObjectName("answerInput")
        self.input.returnPressed.connect(self._enter)
        self.answer_button = self._button("answerButton", "&Answer", ResponseType.ANSWER)
        self.approve_button = self._button("approveButton", "A&pprove", ResponseType.APPROVAL)
        self.reject_button = self._button("rejectButton", "Re&ject", ResponseType.REJECTION)
        self.error = self._label("answerError")
        self.error.setStyleSheet(themed("color: #dc2626;"))
        self.history = QTreeWidget(self)
        self.history.setObjectName("answeredView")
        self.history.setHeaderLabels(["Asked", "What came of it", "By", "When"])
        self.history.setRootIsDecorated(False)
        self.history.setWordWrap(True)
        header = self.history.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # the question
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        for b in (self.answer_button, self.approve_button, self.reject_button):
            row.addWidget(b)
        self.open_part = QWidget(self)
        open_layout = QVBoxLayout(self.open_part)
        open_layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.question, self.meta, self.context):
            open_layout.addWidget(w)
        open_layout.addLayout(row)
        open_layout.addWidget(self.error)
        layout = QVBoxLayout(self)
        layout.addWidget(self.open_part)
        layout.addWidget(self.history)
        self.hide()

    def _label(self, name: str, *, bold: bool = False) -> QLabel:
        label = QLabel(self)
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if bold:
            font = QFont(label.font())
            font.setBold(True)
            label.setFont(font)
        return label

    def _button(self, name: str, text: str, response: ResponseType) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.clicked.connect(lambda: self.send(response))
        return button

    # ------------------------------------------------------------------ public

    @property
    def open_question(self) -> Question | None:
        """The question the box answers, or None."""
        return next((q for q in self._questions if q.is_open), None)

    def show_task(self, task_id: str | None) -> None:
        """Show the questions of another task (None: nothing)."""
        if task_id == self._task_id:
            return
        self._task_id = task_id
        self._questions = []
        self.input.clear()
        self.error.hide()
        self.hide()
        if task_id is not None:
            self._read(task_id)

    def focus_when_shown(self) -> None:
        """Put the keyboard in the text field once the next task's open question shows."""
        self._focus = True

    def questions_changed(self, task_ids: Sequence[str]) -> None:
        """The engine says these tasks' questions changed: read the shown one's again."""
        if self._task_id is not None and self._task_id in task_ids:
            self._read(self._task_id)

    def refresh_times(self) -> None:
        """Redraw the open question's age and time left (call it once a second)."""
        q = self.open_question
        if q is not None:
            self.meta.setText(self._meta_text(q))

    def send(self, response: ResponseType) -> None:
        """Answer the open question with the text typed and `response` (a button's)."""
        q = self.open_question
        if q is None or self._desk is None:
            return
        text = self.input.text().strip()
        if not text and response in (ResponseType.ANSWER, ResponseType.INSTRUCTION):
            self._fail("Type an answer first.")
            return
        # An approval needs no words; the engine takes none empty: the decision is the answer.
        text = text or _DECISION.get(response, "")
        self._set_enabled(False)
        self._background.spawn(self._answer(q, text, response), f"answer question {q.id}")

    async def stop(self) -> None:
        """Stop reading and answering (the window is closing)."""
        self._task_id = None
        await self._background.cancel_all()

    # ------------------------------------------------------------------ the engine

    def _read(self, task_id: str) -> None:
        if self._desk is not None:
            self._background.spawn(self._load(task_id), f"read the questions of {task_id}")

    async def _load(self, task_id: str) -> None:
        assert self._desk is not None
        try:
            questions = await self._desk.list(open_only=False, task_id=task_id)
        except QueueError as exc:  # removed meanwhile
            logger.debug("no questions of %s: %s", task_id, exc)
            questions = []
        if task_id != self._task_id:
            return
        self._questions = sorted(questions, key=lambda q: q.created_at)
        self._render()
        self.loaded.emit(task_id)

    async def _answer(self, q: Question, text: str, response: ResponseType) -> None:
        assert self._desk is not None
        try:
            await self._desk.answer(q.id, text, response_type=response.value)
        except QueueError as exc:
            self._set_enabled(True)
            self._fail(f"{exc.message}\n{exc.info.suggestion}")
            return
        if q.task_id == self._task_id:
            self.input.clear()
            self._read(q.task_id)
        self.answered.emit(q.id)

    def _fail(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()
        self.answerFailed.emit(message)

    # ------------------------------------------------------------------ showing

    def _render(self) -> None:
        q = self.open_question
        ended = [x for x in self._questions if not x.is_open]
        self.setVisible(bool(self._questions))
        self.open_part.setVisible(q is not None)
        self.setStyleSheet(themed(_OPEN_STYLE) if q is not None else "")
        if q is not None:
            waiting = sum(1 for x in self._questions if x.is_open) - 1
            more = f" (and {waiting} more)" if waiting > 0 else ""
            self.setTitle(f"{request_in_words(q)} — the task waits for your answer{more}")
            self.question.setText(q.message)
            self.meta.setText(self._meta_text(q))
            context = "\n".join(
                f"{k}: {v if isinstance(v, str) else json.dumps(v, default=str)}"
                for k, v in q.context.items()
            )
            self.context.setText(context)
            self.context.setVisible(bool(context))
            approval = q.request_type == RequestType.APPROVAL
            self.answer_button.setVisible(not approval)
            self.approve_button.setVisible(approval)
            self.reject_button.setVisible(approval)
            self.input.setPlaceholderText(
                "A reason or a note (optional)" if approval else "Your answer"
            )
            self._set_enabled(True)
            if self._focus:
                self._focus = False
                self.input.setFocus()
        else:
            self.setTitle("Questions")
        self.history.clear()
        items = [QTreeWidgetItem([x.message, *answer_in_words(x)]) for x in ended]
        self.history.addTopLevelItems(items)
        fit_rows(self.history)
        self.history.setVisible(bool(items))

    def _meta_text(self, q: Question) -> str:
        now = self._clock()
        return f"Asked {age_in_words(q, now)} · time left: {time_left_in_words(q, now)}"

    def _set_enabled(self, enabled: bool) -> None:
        for w in (self.input, self.answer_button, self.approve_button, self.reject_button):
            w.setEnabled(enabled)

    @Slot()
    def _enter(self) -> None:
        """Enter answers a question; an approval takes a click on Approve or Reject."""
        q = self.open_question
        if q is not None and q.request_type != RequestType.APPROVAL:
            self.send(ResponseType.ANSWER)
