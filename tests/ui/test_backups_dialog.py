"""File › Back up now and File › Restore a backup…: the real menu actions, the real dialog
and question clicked, a real engine closed, a real store file replaced and a new window
opened on it by the application's own loop (`run_windows`)."""

from __future__ import annotations

import asyncio
import functools
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from qtqueue.app import SingleInstance, open_main_window, run_windows
from qtqueue.config import resolve_data_dir
from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.executors import default_registry
from qtqueue.storage.backups import BACKUPS_DIR, list_backups
from qtqueue.ui.backups_dialog import BackupsDialog
from qtqueue.ui.main_window import MainWindow

from .conftest import button, in_status, question, until, until_row

Run = Callable[..., Any]
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("app_as_main_runs_it")


class Session:
    """The application's window loop on one data directory, as `qtqueue gui` runs it."""

    def __init__(
        self, data_dir: Path, open_windows: list[MainWindow], instance: SingleInstance | None
    ) -> None:
        self._opened: asyncio.Queue[MainWindow] = asyncio.Queue()
        self._open_windows = open_windows
        open_window = functools.partial(
            open_main_window,
            data_dir,
            registry=default_registry(entry_points=False),
            max_concurrent=4,
            shutdown_policy="cancel",
        )
        self.task = asyncio.get_event_loop().create_task(
            run_windows(open_window, instance=instance, opened=self._opened.put_nowait)
        )

    async def next_window(self) -> MainWindow:
        """The next window the loop shows (the first, or the one after a restore)."""
        window = await asyncio.wait_for(self._opened.get(), 30)
        # Shut down at the end even if the test fails; the loop deleted those it replaced.
        self._open_windows[:] = [w for w in self._open_windows if not w.is_shut_down]
        self._open_windows.append(window)
        return window


@pytest.fixture
def session(
    run: Run, data_dir: Path, open_windows: list[MainWindow]
) -> Iterator[Callable[..., Session]]:
    """`session(instance=None)`: start the window loop (at most once per test)."""
    started: list[Session] = []

    def start(instance: SingleInstance | None = None) -> Session:
        started.append(Session(data_dir, open_windows, instance))
        return started[0]

    yield start
    for s in started:
        if not s.task.done():
            s.task.cancel()
            run(asyncio.gather(s.task, return_exceptions=True))


async def add_and_finish(window: MainWindow, n: int) -> list[str]:
    """`n` quick commands added through the window's engine, each waited until completed."""
    ids = [
        await window.queue.add_task(
            Task(TaskType.CUSTOM_COMMAND, {"command": "echo", "args": [str(i)]})
        )
        for i in range(n)
    ]
    for i in ids:
        await until_row(window, i, in_status(TaskStatus.COMPLETED))
    return ids


async def back_up_through_the_menu(window: MainWindow) -> Path:
    """File › Back up now; returns the path the box says the backup went to."""
    assert window.dialogs.back_up_action in window.form.menuFile.actions()
    window.dialogs.back_up_action.trigger()
    await until(
        lambda: question(window, "backupTaken") is not None, window.form.statusBar.messageChanged
    )
    box = question(window, "backupTaken")
    assert box is not None
    path = Path(box.text().splitlines()[-1])
    box.accept()
    return path


async def open_backups_through_the_menu(window: MainWindow) -> BackupsDialog:
    """File › Restore a backup…, once it lists the backups."""
    assert window.dialogs.restore_action in window.form.menuFile.actions()
    window.dialogs.restore_action.trigger()
    (dialog,) = [d for d in window.findChildren(BackupsDialog) if d.isVisible()]
    await until(lambda: bool(dialog.rows), dialog.loaded)
    return dialog


def ask_to_restore(dialog: BackupsDialog, row: int) -> QMessageBox:
    """Pick the backup on `row` and click Restore…; the question it asks."""
    dialog.list.setCurrentItem(dialog.list.topLevelItem(row))
    dialog.restore_button.click()
    box = dialog.question
    assert box is not None and box.isVisible()
    assert box.defaultButton() is button(box, "confirmKeep")
    return box


def tasks_in(db: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM tasks")}
    finally:
        conn.close()


def test_a_backup_taken_from_the_menu_comes_back_in_a_new_window(
    run: Run, data_dir: Path, tmp_path: Path, session: Callable[..., Session]
) -> None:
    instance = SingleInstance(resolve_data_dir(str(data_dir)))
    assert instance.listen()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(tmp_path / "config")}

    async def scenario() -> None:
        s = session(instance)
        window = await s.next_window()
        backed_up = await add_and_finish(window, 2)
        backup = await back_up_through_the_menu(window)
        assert backup.parent == data_dir / BACKUPS_DIR and backup.is_file()
        later = await add_and_finish(window, 1)
        running = await window.queue.add_task(
            Task(TaskType.CUSTOM_COMMAND, {"command": "sleep", "args": ["600"]}, name="long job")
        )
        await until_row(window, running, in_status(TaskStatus.RUNNING))

        dialog = await open_backups_through_the_menu(window)
        (row,) = dialog.rows  # the store had no task worth a daily backup before
        assert row.backup.path == backup and row.tasks == 2
        item = dialog.list.topLevelItem(0)
        assert [item.text(c) for c in (1, 3)] == ["By hand", "2"]
        box = ask_to_restore(dialog, 0)
        assert "(by hand, 2 tasks)" in box.text()
        said = box.informativeText()
        assert "1 task is running: it is stopped and cancelled" in said
        assert f"queue.db.replaced-<time> in\n{data_dir}\n" in said
        button(box, "confirmAct").click()

        restored = await s.next_window()
        assert restored is not window and window.is_shut_down
        assert {t.id for t in restored.model.tasks()} == set(backed_up)
        (replaced,) = data_dir.glob("queue.db.replaced-*")
        assert tasks_in(replaced) == {*backed_up, *later, running}  # kept, not deleted
        assert str(replaced) in restored.form.statusBar.currentMessage()

        # A second launch on the data directory brings the new window to the front.
        restored.hide()
        second = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "qtqueue", "gui", "--data-dir", str(data_dir)],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )
        assert "already open" in second.stdout, second.stderr[-2000:]
        await until(restored.isVisible, instance.raiseRequested)

        restored.quit()
        await s.task  # the application's loop ends with its last window

    try:
        run(scenario(), 90)
    finally:
        instance.close()


def test_a_backup_that_cannot_be_restored_reopens_the_queue_as_it_was_and_says_why(
    run: Run, data_dir: Path, session: Callable[..., Session]
) -> None:
    async def scenario() -> None:
        s = session()
        window = await s.next_window()
        before = await add_and_finish(window, 2)
        backup = await back_up_through_the_menu(window)
        backup.write_bytes(b"this is not a database" * 200)  # the backup is damaged
        before += await add_and_finish(window, 1)

        dialog = await open_backups_through_the_menu(window)
        assert dialog.list.topLevelItem(0).text(3) == "cannot be read"
        button(ask_to_restore(dialog, 0), "confirmAct").click()

        reopened = await s.next_window()
        assert window.is_shut_down
        error = question(reopened, "restoreFailed")
        assert error is not None
        assert error.text().startswith("DATA_FILE_CORRUPTED: ")
        assert backup.name in error.text()
        assert {t.id for t in reopened.model.tasks()} == set(before)
        assert not list(data_dir.glob("queue.db.replaced-*"))
        error.accept()
        # The queue was reopened, not just shown: its engine runs new work.
        await add_and_finish(reopened, 1)

        reopened.quit()
        await s.task

    run(scenario(), 90)


def test_not_confirming_leaves_the_queue_open_and_the_dialog_up(
    run: Run, data_dir: Path, window: MainWindow
) -> None:
    async def scenario() -> None:
        await add_and_finish(window, 1)
        await back_up_through_the_menu(window)
        asked: list[str] = []
        window.restoreRequested.connect(asked.append)

        dialog = await open_backups_through_the_menu(window)
        box = ask_to_restore(dialog, 0)
        button(box, "confirmKeep").click()

        assert asked == [] and dialog.isVisible() and dialog.question is None
        assert not window.is_shut_down
        assert len(list_backups(data_dir / BACKUPS_DIR)) == 1
        assert not list(data_dir.glob("queue.db.replaced-*"))
        dialog.reject()

    run(scenario())


def test_a_backup_that_cannot_be_taken_says_why_and_the_queue_goes_on(
    run: Run, data_dir: Path, window: MainWindow
) -> None:
    async def scenario() -> None:
        (data_dir / BACKUPS_DIR).write_bytes(b"")  # a file where the backups folder goes
        window.dialogs.back_up_action.trigger()
        await until(
            lambda: question(window, "backupFailed") is not None,
            window.form.statusBar.messageChanged,
        )
        box = question(window, "backupFailed")
        assert box is not None
        code, _, message = box.text().partition(": ")
        assert code in TaskErrorCode.__members__ and str(data_dir / BACKUPS_DIR) in message
        assert box.informativeText()  # the code's suggestion
        assert message in window.form.statusBar.currentMessage()
        box.accept()
        await add_and_finish(window, 1)

    run(scenario())
