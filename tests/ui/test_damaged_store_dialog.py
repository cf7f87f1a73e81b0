"""The window's question when the queue's database is damaged: a real store file, the real
dialog clicked with pytest-qt, the real engine behind the window that opens."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from qtqueue.app import let_qt_settle, open_main_window
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.engine.restore import backup_now
from qtqueue.executors import default_registry
from qtqueue.ui.damaged_store_dialog import StoreChoice, ask_about_damaged_store
from qtqueue.ui.main_window import MainWindow

Run = Callable[..., Any]
QUEUE_KWARGS: dict[str, Any] = {"shutdown_policy": "cancel"}

pytestmark = pytest.mark.usefixtures("app_as_main_runs_it")


@pytest.fixture
def damaged(run: Run, data_dir: Path) -> list[str]:
    """A store with two tasks, backed up, then emptied (0 bytes); the tasks' ids."""

    async def fill() -> list[str]:
        async with TaskQueue(data_dir, dispatch=False) as queue:
            return [
                await queue.add_task(Task(TaskType.CUSTOM_COMMAND, {"command": f"echo {n}"}))
                for n in range(2)
            ]

    ids: list[str] = run(fill())
    backup_now(data_dir, time.time())
    (data_dir / "queue.db").write_bytes(b"")
    return ids


def answering(
    qapp: QApplication, qtbot: Any, label: str, seen: list[tuple[str, set[str]]]
) -> Any:
    """The real question, answered by clicking the button labelled `label`; what it said
    and offered goes to `seen`."""

    async def ask(error: QueueError) -> StoreChoice:
        question = asyncio.get_running_loop().create_task(ask_about_damaged_store(error))
        await let_qt_settle()
        (box,) = [
            w
            for w in qapp.topLevelWidgets()
            if w.objectName() == "damagedStoreQuestion" and w.isVisible()
        ]
        assert isinstance(box, QMessageBox)
        seen.append((box.text(), {b.text() for b in box.buttons()}))
        (button,) = [b for b in box.buttons() if b.text() == label]
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        return await question

    return ask


def test_starting_empty_is_the_users_choice_and_keeps_the_damaged_file(
    qapp: QApplication, qtbot: Any, run: Run, open_windows: list[MainWindow],
    data_dir: Path, damaged: list[str],
) -> None:  # fmt: skip
    seen: list[tuple[str, set[str]]] = []
    ask = answering(qapp, qtbot, "Start an empty queue", seen)
    window = run(open_main_window(data_dir, ask=ask, **QUEUE_KWARGS))
    open_windows.append(window)

    ((said, offered),) = seen
    assert "queue.db is empty (0 bytes)" in said
    assert offered == {"Bring back the newest backup", "Start an empty queue", "Close"}
    assert window.model.rowCount() == 0
    (kept,) = data_dir.glob("queue.db.damaged-*")
    assert kept.stat().st_size == 0


def test_bringing_back_the_newest_backup_opens_the_window_on_its_tasks(
    qapp: QApplication, qtbot: Any, run: Run, open_windows: list[MainWindow],
    data_dir: Path, damaged: list[str],
) -> None:  # fmt: skip
    ask = answering(qapp, qtbot, "Bring back the newest backup", [])
    window = run(open_main_window(data_dir, ask=ask, **QUEUE_KWARGS))
    open_windows.append(window)

    assert {window.model.task_by_id(i) is not None for i in damaged} == {True}
    assert list(data_dir.glob("queue.db.replaced-*"))


def test_closing_the_question_opens_nothing_and_changes_nothing(
    qapp: QApplication, qtbot: Any, run: Run, data_dir: Path, damaged: list[str]
) -> None:
    ask = answering(qapp, qtbot, "Close", [])
    with pytest.raises(QueueError) as raised:
        run(open_main_window(data_dir, ask=ask, registry=default_registry(entry_points=False)))
    assert raised.value.code is TaskErrorCode.QUEUE_STORE_CORRUPT
    assert (data_dir / "queue.db").read_bytes() == b""
    assert not list(data_dir.glob("queue.db.*-*"))
