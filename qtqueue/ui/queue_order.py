"""The waiting order from the window: move waiting tasks to the top, up, down or to the bottom
of their queue (qBittorrent's keys: Ctrl+Shift+Up, Ctrl+Up, Ctrl+Down, Ctrl+Shift+Down), give
them another priority (Priority ›), edit one (Edit…, its form prefilled), or drag rows and drop
them on another waiting task to put them just before it.

`QueueOrderActions.install(window)` adds the actions to the Tasks menu and the table's context
menu (before Pause) and makes the table's rows draggable; they are enabled only while every
selected task is waiting (PENDING), the rule the engine applies (QUEUE_TASK_NOT_WAITING). Each
slot awaits the engine port's `move_task`, `set_priority` or `update_task` and says in the
status bar how it went; the rows change through the engine's events, as for every window.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from PySide6.QtCore import (
    QByteArray,
    QEvent,
    QMimeData,
    QObject,
    QPoint,
    QSortFilterProxyModel,
    Qt,
    Slot,
)
from PySide6.QtGui import QAction, QActionGroup, QDrag, QDragMoveEvent, QDropEvent, QMouseEvent
from PySide6.QtWidgets import QApplication, QMenu, QTableView, QWidget

from qtqueue.api.port import EnginePort
from qtqueue.core.errors import QueueError
from qtqueue.core.queue_moves import MovePlace
from qtqueue.core.task import Priority, Task, TaskStatus
from qtqueue.ui.edit_task_dialog import EditTaskDialog
from qtqueue.ui.engine_bridge import BackgroundTasks
from qtqueue.ui.forms.main_window_ui import Ui_MainWindow
from qtqueue.ui.paramform.editors import EditorRegistry
from qtqueue.ui.task_actions import TaskActions, new_action, owned_slot
from qtqueue.ui.task_list.columns import Column
from qtqueue.ui.task_list.model import TaskTableModel

logger = logging.getLogger(__name__)

#: The drag's MIME type: the dragged tasks' ids, one a line.
TASK_IDS_MIME = "application/x-qtqueue-task-ids"

#: Each move: its object name, menu text, tooltip and shortcut.
MOVES: dict[MovePlace, tuple[str, str, str, str]] = {
    MovePlace.TOP: ("actionMoveTop", "Move to &top", "Start first in its queue", "Ctrl+Shift+Up"),
    MovePlace.UP: ("actionMoveUp", "Move &up", "Start one place earlier", "Ctrl+Up"),
    MovePlace.DOWN: ("actionMoveDown", "Move do&wn", "Start one place later", "Ctrl+Down"),
    MovePlace.BOTTOM: (
        "actionMoveBottom", "Move to &bottom", "Start last in its queue", "Ctrl+Shift+Down",
    ),
}  # fmt: skip


class QueueOrderHost(Protocol):
    """What the queue order actions need from the window (`MainWindow` is one)."""

    queue: EnginePort
    editors: EditorRegistry
    form: Ui_MainWindow
    table: QTableView
    background: BackgroundTasks
    task_actions: TaskActions
    model: TaskTableModel

    @property
    def proxy(self) -> QSortFilterProxyModel:
        """The table's sorting and filtering model over `model`."""
        ...

    def selected_tasks(self) -> list[Task]:
        """The selected rows' snapshots, top to bottom."""
        ...

    def show_message(self, text: str, timeout_ms: int = 6000) -> None:
        """One line in the status bar."""
        ...

    def credential_names(self) -> list[str]:
        """The names of the stored credentials."""
        ...


def waiting(tasks: Sequence[Task]) -> bool:
    """Whether there are tasks and every one waits (what a move or an edit needs)."""
    return bool(tasks) and all(t.status == TaskStatus.PENDING for t in tasks)


def start_order(tasks: Sequence[Task]) -> list[Task]:
    """`tasks` in the order their queue starts them (higher priority, then earlier seq)."""
    return sorted(tasks, key=lambda t: (-int(t.priority), t.seq))


class QueueOrderActions(QObject):
    """The move, priority and edit actions of one window, and its rows' drag and drop."""

    def __init__(self, host: QueueOrderHost, parent: QWidget) -> None:
        super().__init__(parent)
        self.host = host
        self.background = host.background
        self._parent = parent
        self.moves = {
            place: new_action(self, *spec, enabled=False) for place, spec in MOVES.items()
        }
        self.priority_menu = QMenu("&Priority", parent)
        self.priority_menu.setObjectName("menuPriority")
        self.priority_group = QActionGroup(self)
        self.priorities: dict[Priority, QAction] = {}
        for p in sorted(set(Priority), reverse=True):
            action = self.priority_menu.addAction(p.name.capitalize())
            action.setObjectName(f"actionPriority{p.name.capitalize()}")
            action.setCheckable(True)
            self.priority_group.addAction(action)
            action.triggered.connect(lambda _=False, p=p: self.set_priority_of_selected(p))
            self.priorities[p] = action
        self.edit = new_action(
            self, "actionEditTask", "&Edit…", "Change the waiting task's form", "Ctrl+E",
            enabled=False,
        )  # fmt: skip
        for place, action in self.moves.items():
            action.triggered.connect(lambda _=False, place=place: self.move_selected(place))
        self.edit.triggered.connect(self.edit_selected)
        self.sort_start_order = new_action(
            self, "actionSortStartOrder", "&Show in start order",
            "Sort the list by priority, then queue position: the order waiting tasks start in",
        )  # fmt: skip
        self.sort_start_order.triggered.connect(self.show_start_order)
        self.drops = RowDrops(self, host.table)

    @classmethod
    def install(cls, window: QueueOrderHost) -> QueueOrderActions:
        """Add the actions to `window`'s Tasks menu and context menu (before Pause)."""
        assert isinstance(window, QWidget)
        actions = cls(window, window)
        f = window.form
        context = window.task_actions.context_menu
        for menu in (f.menuTasks, context):
            menu.insertAction(f.actionPause, actions.edit)
            for action in actions.moves.values():
                menu.insertAction(f.actionPause, action)
            menu.insertMenu(f.actionPause, actions.priority_menu)
            menu.insertSeparator(f.actionPause)
        f.menuTasks.insertAction(actions.moves[MovePlace.TOP], actions.sort_start_order)
        window.addActions([actions.edit, *actions.moves.values()])
        window.task_actions.updated.connect(actions.update)
        actions.update()
        return actions

    def update(self) -> None:
        """Enable the actions only while every selected task waits; check the priority they
        share, if they do."""
        tasks = self.host.selected_tasks()
        ok = waiting(tasks)
        for action in self.moves.values():
            action.setEnabled(ok)
        self.priority_menu.setEnabled(ok)
        self.edit.setEnabled(ok and len(tasks) == 1)
        shared = {t.priority for t in tasks}
        self.priority_group.setExclusive(False)
        for p, action in self.priorities.items():
            action.setChecked(shared == {p})
        self.priority_group.setExclusive(True)

    @Slot()
    def show_start_order(self) -> None:
        """Sort the table as the queue starts tasks: by priority, highest first, then by
        queue position (the Priority column's sort key), so that moves show where they go."""
        self.host.table.sortByColumn(Column.PRIORITY, Qt.SortOrder.DescendingOrder)

    # ------------------------------------------------------------------ moves and priority

    @owned_slot(MovePlace)
    async def move_selected(self, place: MovePlace) -> None:
        """Move the selected waiting tasks, keeping their order among themselves."""
        tasks = start_order(
            [t for t in self.host.selected_tasks() if t.status == TaskStatus.PENDING]
        )
        if place in (MovePlace.TOP, MovePlace.DOWN):
            tasks.reverse()  # the last one first, so that they stay in order
        await self._each(
            tasks, lambda t: self.host.queue.move_task(t.id, place), f"moved {place.value}"
        )

    async def move_before(self, ids: Sequence[str], before: str) -> None:
        """Put the tasks `ids` just before waiting task `before` (a drop), in that order."""
        tasks = [t for i in ids if (t := self._task(i)) is not None and i != before]
        await self._each(
            tasks,
            lambda t: self.host.queue.move_task(t.id, MovePlace.BEFORE, before),
            "moved",
        )

    @owned_slot(Priority)
    async def set_priority_of_selected(self, priority: Priority) -> None:
        """Give the selected waiting tasks `priority`."""
        tasks = [t for t in self.host.selected_tasks() if t.status == TaskStatus.PENDING]
        await self._each(
            tasks,
            lambda t: self.host.queue.set_priority(t.id, priority),
            f"set to {priority.name.lower()} priority",
        )

    async def _each(
        self, tasks: Sequence[Task], op: Callable[[Task], Awaitable[Task]], done: str
    ) -> None:
        """`op` on each task in turn (the order matters); the first refusal in the status
        bar, with its code and fix."""
        failures: list[QueueError] = []
        for t in tasks:
            try:
                await op(t)
            except QueueError as exc:
                failures.append(exc)
        if failures:
            first = failures[0]
            self.host.show_message(
                f"Could not move {len(failures)} of {len(tasks)} tasks — "
                f"{first.code.value}: {first} — {first.suggestion}"
            )
        elif tasks:
            self.host.show_message(f"{len(tasks)} task{'s' if len(tasks) != 1 else ''} {done}")

    def _task(self, task_id: str) -> Task | None:
        return self.host.model.task_by_id(task_id)

    # ------------------------------------------------------------------ edit

    @Slot()
    def edit_selected(self) -> EditTaskDialog | None:
        """The form of the one selected waiting task, prefilled; Save updates the task."""
        tasks = self.host.selected_tasks()
        if len(tasks) != 1 or not waiting(tasks):
            return None
        host = self.host
        dialog = EditTaskDialog(
            host.queue.registry,
            tasks[0],
            host.queue.update_task,
            parent=self._parent,
            credential_names=host.credential_names(),
            queues=host.queue.list_queues(),
            editors=host.editors,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(
            lambda: host.show_message(f"Task “{dialog.name_edit.text() or tasks[0].name}” saved")
        )
        dialog.open()
        return dialog


class RowDrops(QObject):
    """Drag waiting rows of the table and drop them on another waiting task: they move just
    before it in its queue. The view's own drag machinery is left alone (the model is not
    this module's): a press and a drag past the start distance on the viewport starts a
    `QDrag` of the selected waiting tasks' ids; the viewport accepts that drop."""

    def __init__(self, actions: QueueOrderActions, table: QTableView) -> None:
        super().__init__(actions)
        self.actions = actions
        self.table = table
        self._press: QPoint | None = None
        table.viewport().setAcceptDrops(True)
        table.viewport().installEventFilter(self)

    def target(self, pos: QPoint) -> Task | None:
        """The waiting task under viewport position `pos`, if any."""
        index = self.table.indexAt(pos)
        if not index.isValid():
            return None
        host = self.actions.host
        task = host.model.task(host.proxy.mapToSource(index).row())
        return task if task.status == TaskStatus.PENDING else None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and isinstance(event, QMouseEvent):
            self._press = (
                event.position().toPoint() if event.button() == Qt.MouseButton.LeftButton else None
            )
        elif kind == QEvent.Type.MouseMove and isinstance(event, QMouseEvent):
            if self._press is not None and event.buttons() & Qt.MouseButton.LeftButton:
                distance = (event.position().toPoint() - self._press).manhattanLength()
                if distance >= QApplication.startDragDistance() and self._start_drag():
                    self._press = None
                    return True
        elif kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove) and isinstance(
            event, QDragMoveEvent
        ):
            accept = (
                event.mimeData().hasFormat(TASK_IDS_MIME)
                and self.target(event.position().toPoint()) is not None
            )
            if accept:
                event.acceptProposedAction()
            else:
                event.ignore()
            return True
        elif kind == QEvent.Type.Drop and isinstance(event, QDropEvent):
            return self.drop(event)
        return False

    def _start_drag(self) -> bool:
        tasks = self.actions.host.selected_tasks()
        if not waiting(tasks):
            return False
        drag = QDrag(self.table)
        drag.setMimeData(task_ids_mime([t.id for t in start_order(tasks)]))
        drag.exec(Qt.DropAction.MoveAction)
        return True

    def drop(self, event: QDropEvent) -> bool:
        """Move the dropped tasks before the waiting task under the drop."""
        data = event.mimeData()
        target = self.target(event.position().toPoint())
        if not data.hasFormat(TASK_IDS_MIME) or target is None:
            event.ignore()
            return True
        ids = bytes(data.data(TASK_IDS_MIME).data()).decode().split()
        event.acceptProposedAction()
        self.actions.background.spawn(self.actions.move_before(ids, target.id), "move tasks")
        return True


def task_ids_mime(ids: Sequence[str]) -> QMimeData:
    """The MIME data of a drag of tasks `ids`."""
    data = QMimeData()
    data.setData(TASK_IDS_MIME, QByteArray("\n".join(ids).encode()))
    return data
