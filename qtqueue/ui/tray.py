"""The tray icon and the notifier that feeds its messages.

`TaskNotifier` listens to the engine's events, keeps only terminal transitions that the
notifications setting asks for, the engine's notices and the questions tasks ask
(`question_asked`), and coalesces them: the first one is announced at once, the
rest gather for a second and come as one summary (100 completions are one message, not 100).
It emits `notification(title, message, is_failure)` (`last_task_id`: the task it is about);
it needs no tray, so it is tested offscreen. `TrayIcon` (only where the desktop has a tray)
shows those messages (clicking one selects its task in the window), a tooltip with the queue's
status, an icon that shows the state (`TrayState`: idle, running, or attention: a failure not
seen yet, a question, a task awaiting approval) and a menu: show/hide the window, New task…,
pause/resume the queue, Resume all (the queue and every paused task), quit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from PySide6.QtCore import QObject, QRectF, Qt, QTimer, Signal, SignalInstance
from PySide6.QtGui import QAction, QColor, QGuiApplication, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from qtqueue.api.port import EnginePort
from qtqueue.core.actions import awaits_approval
from qtqueue.core.errors import QueueError
from qtqueue.core.task import ACTIVE, Task, TaskStatus
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.ui.app_settings import AppSettings, NotificationMode
from qtqueue.ui.engine_bridge import BackgroundTasks, EventSource
from qtqueue.ui.forms.main_window_ui import Ui_MainWindow
from qtqueue.ui.icons import icon

logger = logging.getLogger(__name__)

#: Statuses that count as a failure in a message.
FAILED: frozenset[TaskStatus] = frozenset({TaskStatus.FAILED, TaskStatus.TIMEOUT})
#: How long further finished tasks gather into one summary message.
COALESCE_MS = 1000
#: How many task names a summary lists.
NAMES_SHOWN = 3


def wants_notification(mode: NotificationMode, status: TaskStatus) -> bool:
    """Whether a task that just reached `status` is announced under `mode` (cancelled tasks
    never are: the user did that)."""
    if mode == NotificationMode.NONE:
        return False
    if status in FAILED:
        return True
    return mode == NotificationMode.ALL and status == TaskStatus.COMPLETED


@dataclass(frozen=True, slots=True)
class Notification:
    """One tray message."""

    title: str
    message: str
    #: At least one of the tasks failed (the message gets the critical icon).
    is_failure: bool


def _label(task: Task) -> str:
    return task.name or task.type_name


def _names(tasks: list[Task]) -> str:
    shown = ", ".join(_label(t) for t in tasks[:NAMES_SHOWN])
    more = len(tasks) - NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def summarize(failed: list[Task], completed: list[Task]) -> Notification | None:
    """The message for tasks that finished together; None for none."""
    if not failed and not completed:
        return None
    if len(failed) == 1 and not completed:
        t = failed[0]
        reason = f"{t.error_code}: {t.error}" if t.error_code else (t.error or "no reason given")
        what = "timed out" if t.status == TaskStatus.TIMEOUT else "failed"
        return Notification(f"Task {what}: {_label(t)}", reason, True)
    if len(completed) == 1 and not failed:
        return Notification(
            f"Task completed: {_label(completed[0])}", "Finished successfully.", False
        )
    parts = []
    if failed:
        parts.append(f"{len(failed)} failed")
    if completed:
        parts.append(f"{len(completed)} completed")
    lines = []
    if failed:
        lines.append(f"Failed: {_names(failed)}")
    if completed:
        lines.append(f"Completed: {_names(completed)}")
    return Notification(f"Tasks finished: {', '.join(parts)}", "\n".join(lines), bool(failed))


def summarize_notices(notices: list[str]) -> Notification | None:
    """The message for engine notices ("awaiting approval: deploy", ...); None for none."""
    if not notices:
        return None
    if len(notices) == 1:
        what, _, name = notices[0].partition(": ")
        return Notification(f"{what[:1].upper()}{what[1:]}", name or notices[0], False)
    shown = "\n".join(notices[:NAMES_SHOWN])
    more = len(notices) - NAMES_SHOWN
    return Notification(
        f"{len(notices)} tasks need attention",
        shown + (f"\nand {more} more" if more > 0 else ""),
        False,
    )


def status_summary(counts: Mapping[TaskStatus, int], queue_paused: bool) -> str:
    """The tray tooltip: running, pending and failed counts, and whether the queue is paused."""
    running = sum(counts.get(s, 0) for s in ACTIVE)
    failed = sum(counts.get(s, 0) for s in FAILED)
    lines = [
        "qtqueue",
        f"{running} running · {counts.get(TaskStatus.PENDING, 0)} pending · {failed} failed",
    ]
    if queue_paused:
        lines.append("Queue paused")
    return "\n".join(lines)


class TaskNotifier(QObject):
    """Turns the engine's terminal transitions into coalesced `notification`s.

    `start()` subscribes to `source` (the `TaskQueue`); `stop()` unsubscribes and drops what
    gathered. `flush()` emits what gathered now (the timer calls it).
    """

    notification = Signal(str, str, bool)

    def __init__(
        self,
        source: EventSource,
        settings: AppSettings,
        parent: QObject | None = None,
        *,
        interval_ms: int = COALESCE_MS,
    ) -> None:
        super().__init__(parent)
        self._source = source
        self._settings = settings
        self._unsubscribe: Callable[[], None] | None = None
        self._failed: list[Task] = []
        self._completed: list[Task] = []
        self._notices: list[str] = []
        self._notice_ids: list[str] = []
        #: The task the last notification is about (its first task; None: none named).
        self.last_task_id: str | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.flush)
        #: How many notifications were emitted.
        self.sent = 0

    def start(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self._source.subscribe(self._on_events)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._timer.stop()
        self._failed.clear()
        self._completed.clear()
        self._notices.clear()
        self._notice_ids.clear()

    def _on_events(self, events: list[TaskEvent]) -> None:
        mode = self._settings.notifications
        gathered = False
        for e in events:
            if e.kind == EventKind.NOTICE and mode != NotificationMode.NONE and e.detail:
                # A person is needed (a task awaits approval) or wanted to know (a supervised
                # task started): announced unless notifications are off.
                self._notices.append(e.detail)
                if e.task_id:
                    self._notice_ids.append(e.task_id)
                gathered = True
                continue
            if e.kind != EventKind.CHANGED or e.status is None or e.task is None:
                continue
            if not wants_notification(mode, e.status):
                continue
            (self._failed if e.status in FAILED else self._completed).append(e.task)
            gathered = True
        if gathered:
            self._gathered()

    def question_asked(self, notices: list[str]) -> None:
        """Announce questions tasks just asked (a person is needed: unless notifications are
        off), in the words of `question_words.question_notice`, with the engine's notices."""
        if self._settings.notifications == NotificationMode.NONE or not notices:
            return
        self._notices.extend(notices)
        self._gathered()

    def _gathered(self) -> None:
        if self._timer.isActive():
            return  # the summary at the end of this second carries it
        # Quiet until now: announce at once, then gather for a second.
        self.flush()
        self._timer.start()

    def flush(self) -> None:
        """Emit one notification for what gathered, if anything did."""
        failed, self._failed = self._failed, []
        completed, self._completed = self._completed, []
        notices, self._notices = self._notices, []
        notice_ids, self._notice_ids = self._notice_ids, []
        for note, about in (
            (summarize_notices(notices), notice_ids),
            (summarize(failed, completed), [t.id for t in failed + completed]),
        ):
            if note is not None:
                self.sent += 1
                self.last_task_id = about[0] if about else None
                self.notification.emit(note.title, note.message, note.is_failure)


class TaskSource(Protocol):
    """The window's tasks (its table's model)."""

    def tasks(self) -> list[Task]:
        """Every task shown."""
        ...


class QuestionCount(Protocol):
    """The questions waiting for an answer (the window's questions view)."""

    @property
    def count(self) -> int:
        """How many wait."""
        ...


class TrayWindow(Protocol):
    """What the tray needs from the window it stands for (`MainWindow` is one): the status
    its tooltip and icon sum up, the actions its menu repeats, and showing, hiding, selecting
    a task and quitting."""

    queue: EnginePort
    background: BackgroundTasks
    form: Ui_MainWindow

    @property
    def model(self) -> TaskSource:
        """The tasks."""
        ...

    @property
    def questions(self) -> QuestionCount:
        """The open questions."""
        ...

    def select_task(self, task_id: str) -> None:
        """Select `task_id` in the list (showing it)."""
        ...

    def isActiveWindow(self) -> bool:
        """Whether the window has the focus."""
        ...

    @property
    def notifier(self) -> TaskNotifier:
        """Whose messages the tray (or, without one, the status bar) shows."""
        ...

    @property
    def statusChanged(self) -> SignalInstance:
        """Emitted whenever the status counts or the queue's paused state may have changed."""
        ...

    @property
    def queue_paused(self) -> bool:
        """Whether the queue is paused."""
        ...

    def status_counts(self) -> Mapping[TaskStatus, int]:
        """How many tasks are in each status."""
        ...

    def tray_actions(self) -> Sequence[QAction]:
        """The window's actions the tray menu offers too (pause/resume the queue)."""
        ...

    def isVisible(self) -> bool:
        """Whether the window is shown."""
        ...

    def isMinimized(self) -> bool:
        """Whether the window is minimized."""
        ...

    def hide(self) -> None:
        """Hide the window (tasks go on)."""
        ...

    def bring_to_front(self) -> None:
        """Show the window on top."""
        ...

    def request_quit(self) -> object:
        """Quit, asking first while tasks run."""
        ...

    def show_message(self, text: str, timeout_ms: int = 6000) -> None:
        """One line in the status bar."""
        ...

    def set_tray(self, tray: TrayIcon | None) -> None:
        """The tray icon the window may close to."""
        ...


class TrayState(StrEnum):
    """What the tray icon shows."""

    IDLE = "idle"
    RUNNING = "running"
    ATTENTION = "attention"


#: The badge drawn on the application icon for each state (None: the plain icon).
STATE_BADGES: dict[TrayState, str | None] = {
    TrayState.IDLE: None,
    TrayState.RUNNING: "#16a34a",
    TrayState.ATTENTION: "#dc2626",
}
#: How long status changes gather before the icon is re-evaluated (ms).
STATE_DELAY_MS = 250
TRAY_ICON_PX = 64


def tray_state(running: int, unseen_failures: int, questions: int, approvals: int) -> TrayState:
    """ATTENTION while a person is needed (a failure not seen yet, a question, an approval),
    else RUNNING while tasks run, else IDLE."""
    if unseen_failures or questions or approvals:
        return TrayState.ATTENTION
    return TrayState.RUNNING if running else TrayState.IDLE


def state_icon(state: TrayState) -> QIcon:
    """The application icon with `state`'s badge (a dot at its lower right; "!" for
    attention)."""
    badge = STATE_BADGES[state]
    if badge is None:
        return icon("app")
    pixmap = icon("app").pixmap(TRAY_ICON_PX, TRAY_ICON_PX)
    if pixmap.isNull():
        pixmap = QPixmap(TRAY_ICON_PX, TRAY_ICON_PX)
        pixmap.fill(Qt.GlobalColor.transparent)
    size = pixmap.width()
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    dot = QRectF(size * 0.5, size * 0.5, size * 0.48, size * 0.48)
    painter.setPen(QColor("#ffffff"))
    painter.setBrush(QColor(badge))
    painter.drawEllipse(dot)
    if state == TrayState.ATTENTION:
        font = painter.font()
        font.setBold(True)
        font.setPixelSize(int(size * 0.38))
        painter.setFont(font)
        painter.drawText(dot, Qt.AlignmentFlag.AlignCenter, "!")
    painter.end()
    return QIcon(pixmap)


async def resume_all(queue: EnginePort, tasks: Iterable[Task]) -> tuple[int, list[str]]:
    """Resume the queue (if paused) and every paused task of `tasks`; returns how many tasks
    resumed and, for each that would not, "name: CODE: reason"."""
    if queue.queue_paused:
        await queue.resume_queue()
    resumed, problems = 0, []
    for task in tasks:
        if task.status != TaskStatus.PAUSED:
            continue
        try:
            await queue.resume_task(task.id)
            resumed += 1
        except QueueError as exc:
            problems.append(f"{_label(task)}: {exc.code.value}: {exc}")
    return resumed, problems


class TrayIcon(QSystemTrayIcon):
    """The window's tray icon: status tooltip and icon, menu, and the notifier's messages.
    `stateChanged(state)` is emitted when the icon's `TrayState` changes."""

    stateChanged = Signal(str)

    def __init__(self, window: TrayWindow, parent: QWidget) -> None:
        super().__init__(icon("app"), parent)
        self.setObjectName("trayIcon")
        self.window = window
        #: What the icon shows now.
        self.state = TrayState.IDLE
        #: The task the last message shown is about (a click on it selects that task).
        self.notified_task_id: str | None = None
        self._failures_seen: int | None = None  # failed tasks when the window last had focus
        self.menu = QMenu(parent)
        self.menu.setObjectName("trayMenu")
        self.actionShowHide = QAction("&Hide window", self)
        self.actionShowHide.setObjectName("trayShowHide")
        self.actionShowHide.triggered.connect(self.toggle_window)
        self.actionNewTask = QAction(icon("new"), "&New task…", self)
        self.actionNewTask.setObjectName("trayNewTask")
        self.actionNewTask.triggered.connect(self.new_task)
        self.actionResumeAll = QAction(icon("resume"), "&Resume all", self)
        self.actionResumeAll.setObjectName("trayResumeAll")
        self.actionResumeAll.setToolTip("Resume the queue and every paused task")
        self.actionResumeAll.triggered.connect(self.resume_all)
        self.actionQuit = QAction("&Quit", self)
        self.actionQuit.setObjectName("trayQuit")
        self.actionQuit.triggered.connect(window.request_quit)
        self.menu.addAction(self.actionShowHide)
        self.menu.addAction(self.actionNewTask)
        self.menu.addSeparator()
        for action in window.tray_actions():  # their texts follow the queue
            self.menu.addAction(action)
        self.menu.addAction(self.actionResumeAll)
        templates = getattr(window, "templates", None)  # "New from template ›" (template_actions)
        if templates is not None:
            self.menu.addMenu(templates.menu)
        self.menu.addSeparator()
        self.menu.addAction(self.actionQuit)
        self.menu.aboutToShow.connect(self._update_show_hide)
        self.setContextMenu(self.menu)
        self.activated.connect(self._on_activated)
        self.messageClicked.connect(self.open_notified_task)
        window.notifier.notification.connect(self.show_notification)
        window.statusChanged.connect(self.update_tooltip)
        self._state_timer = QTimer(self)
        self._state_timer.setSingleShot(True)
        self._state_timer.setInterval(STATE_DELAY_MS)
        self._state_timer.timeout.connect(self.update_state)
        window.statusChanged.connect(self._state_timer.start)
        refreshed = getattr(window.questions, "refreshed", None)
        if refreshed is not None:
            refreshed.connect(self._state_timer.start)
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            app.focusWindowChanged.connect(self._focus_changed)
        self.update_tooltip()
        self.update_state()

    def update_tooltip(self, *_args: object) -> None:
        """Sum the queue's status up in the tooltip."""
        self.setToolTip(status_summary(self.window.status_counts(), self.window.queue_paused))

    def unseen_failures(self) -> int:
        """Failed tasks that came since the window last had the focus."""
        counts = self.window.status_counts()
        failed = sum(counts.get(s, 0) for s in FAILED)
        if self._failures_seen is None or self.window.isActiveWindow():
            self._failures_seen = failed
        self._failures_seen = min(self._failures_seen, failed)  # some were removed
        return failed - self._failures_seen

    def mark_seen(self) -> None:
        """The user has looked at the window: its failures are no longer news."""
        self._failures_seen = None
        self.update_state()

    def update_state(self) -> TrayState:
        """Show the state in the icon (and return it)."""
        counts = self.window.status_counts()
        running = sum(counts.get(s, 0) for s in ACTIVE)
        approvals = sum(1 for t in self.window.model.tasks() if awaits_approval(t))
        state = tray_state(running, self.unseen_failures(), self.window.questions.count, approvals)
        if state != self.state or self.icon().isNull():
            changed, self.state = state != self.state, state
            self.setIcon(state_icon(state))
            if changed:
                self.stateChanged.emit(state.value)
        return state

    def _focus_changed(self, *_args: object) -> None:
        if self.window.isActiveWindow():
            self.mark_seen()

    def show_notification(self, title: str, message: str, is_failure: bool) -> None:
        kind = (
            QSystemTrayIcon.MessageIcon.Critical
            if is_failure
            else QSystemTrayIcon.MessageIcon.Information
        )
        self.notified_task_id = self.window.notifier.last_task_id
        self.showMessage(title, message, kind, 8000)

    def open_notified_task(self) -> None:
        """The user clicked the message: show the window with its task selected."""
        self.window.bring_to_front()
        if self.notified_task_id is not None:
            self.window.select_task(self.notified_task_id)
        self.mark_seen()

    def new_task(self) -> None:
        """Show the window and its New task dialog."""
        self.window.bring_to_front()
        self.window.form.actionNewTask.trigger()

    def resume_all(self) -> None:
        """Resume the queue and every paused task (in the background; the status bar says
        how it went)."""
        self.window.background.spawn(self._resume_all(), "resume all")

    async def _resume_all(self) -> None:
        was_paused = self.window.queue_paused
        try:
            resumed, problems = await resume_all(self.window.queue, self.window.model.tasks())
        except QueueError as exc:
            self.window.show_message(f"Not resumed — {exc.code.value}: {exc}")
            return
        tasks = f"{resumed} paused task{'s' if resumed != 1 else ''} resumed"
        text = f"Queue resumed; {tasks}" if was_paused else tasks.capitalize()
        if problems:
            text += f"; {len(problems)} would not: {problems[0]}"
        self.window.show_message(text)

    def toggle_window(self) -> None:
        if self.window.isVisible() and not self.window.isMinimized():
            self.window.hide()
        else:
            self.window.bring_to_front()
        self._update_show_hide()

    def _update_show_hide(self) -> None:
        shown = self.window.isVisible() and not self.window.isMinimized()
        self.actionShowHide.setText("&Hide window" if shown else "&Show window")

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.toggle_window()


#: How long a notification stays in the status bar when there is no tray.
STATUS_BAR_MS = 15_000


def show_in_status_bar(window: TrayWindow, title: str, message: str) -> None:
    """Where no tray can show a notification, the window's status bar does (one line)."""
    first = message.splitlines()[0] if message else ""
    window.show_message(f"{title} — {first}" if first else title, STATUS_BAR_MS)


def install_tray(window: TrayWindow, parent: QWidget) -> TrayIcon | None:
    """Give `window` a tray icon (owned by `parent`, the window as a widget) if the desktop
    has a tray; None (and no icon) if not, and then the notifications show in the window's
    status bar."""
    if not QSystemTrayIcon.isSystemTrayAvailable():
        logger.info("no system tray here: notifications go to the window's status bar")
        window.notifier.notification.connect(lambda t, m, f: show_in_status_bar(window, t, m))
        return None
    tray = TrayIcon(window, parent)
    window.set_tray(tray)
    tray.show()
    return tray
