"""`qtqueue gui` as a real program: `--screenshot` offscreen, and a whole session on a real X
server (Xvfb, the xcb platform) that the command line talks to."""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QFontDatabase, QImage
from PySide6.QtWidgets import QApplication

from qtqueue.core.task import Task, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry

QTQUEUE = str(Path(sys.executable).with_name("qtqueue"))


def seed(data_dir: Path) -> int:
    """A store with finished and failed tasks; returns how many."""

    async def fill() -> int:
        async with TaskQueue(data_dir, registry=default_registry(entry_points=False)) as q:
            ids = await q.add_tasks(
                [
                    Task(TaskType.CUSTOM_COMMAND, {"command": f"echo {i}; exit {i % 3}",
                                                   "shell": True}, name=f"job {i}",
                         tags=["seeded"], category="demo" if i % 2 else "general",
                         max_retries=0)
                    for i in range(12)
                ]
            )
            for i in ids:
                await q.wait_for(i, 30)
            return len(ids)

    return asyncio.run(fill())


def distinct_colours(image: QImage, step: int = 7) -> int:
    return len(
        {image.pixel(x, y) for x in range(0, image.width(), step)
         for y in range(0, image.height(), step)}
    )


def qtqueue(*args: str, env: dict[str, str] | None = None, timeout: float = 60
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QTQUEUE, *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


def test_screenshot_renders_the_window_with_the_stored_tasks(
    qapp: QApplication, tmp_path: Path
) -> None:
    assert QFontDatabase.families(), "no fonts: text would render as boxes (fonts-dejavu-core)"
    data_dir = tmp_path / "q"
    seed(data_dir)
    png = tmp_path / "shots" / "main.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = qtqueue("gui", "--data-dir", str(data_dir), "--screenshot", str(png),
                   "--size", "1000x640", env=env)
    assert done.returncode == 0, done.stderr
    image = QImage(str(png))
    assert (image.width(), image.height()) == (1000, 640)
    assert distinct_colours(image) > 20  # text, icons, progress bars: not a blank frame
    assert not (data_dir / "engine.json").exists()  # the engine and its API stopped


def test_a_bad_size_is_refused(tmp_path: Path) -> None:
    done = qtqueue("gui", "--data-dir", str(tmp_path / "q"), "--screenshot",
                   str(tmp_path / "x.png"), "--size", "huge",
                   env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 2
    assert "not a size" in done.stderr


# --------------------------------------------------------------------------- a real X server


@pytest.fixture
def x_display() -> Iterator[str]:
    """A private Xvfb server; its display name (":N"), picked by Xvfb itself."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (`make test` installs it: .ci/system-deps xvfb)")
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_end), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=[write_end],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(read_end, selectors.EVENT_READ)
            assert sel.select(timeout=20), "Xvfb did not start"
        number = os.read(read_end, 64).decode().strip()
        assert number.isdigit(), f"Xvfb did not report a display ({number!r})"
        yield f":{number}"
    finally:
        os.close(read_end)
        proc.terminate()
        proc.wait(timeout=20)


class Lines:
    """Reads a process's stderr line by line, waiting for a line without sleeping. It reads
    the pipe itself (os.read): a text stream's readline() may take several lines into its own
    buffer, where select() cannot see them, and the wait would miss a line already read."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        self.fd = proc.stderr.fileno()
        self.seen: list[str] = []
        self.partial = ""
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.fd, selectors.EVENT_READ)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            for line in self.seen:
                if text in line:
                    return line
            left = deadline - time.monotonic()
            if left <= 0 or not self.sel.select(timeout=left):
                raise AssertionError(f"no {text!r} in:\n" + "".join(self.seen))
            chunk = os.read(self.fd, 65536).decode(errors="replace")
            if not chunk:
                raise AssertionError(f"ended before {text!r}:\n" + "".join(self.seen))
            *whole, self.partial = (self.partial + chunk).split("\n")
            self.seen.extend(f"{line}\n" for line in whole)


def run_session(gui: subprocess.Popen[str], data_dir: Path, env: dict[str, str]) -> None:
    """The steps of the session (the window runs in `gui`)."""
    lines = Lines(gui)
    try:
        _session_steps(gui, lines, data_dir, env)
    finally:
        lines.sel.close()


def _session_steps(
    gui: subprocess.Popen[str], lines: Lines, data_dir: Path, env: dict[str, str]
) -> None:
    opened = lines.wait_for("window open on")
    painted = lines.wait_for("window painted")  # its frame, shown before the engine started
    assert lines.seen.index(painted) < lines.seen.index(opened)
    assert (data_dir / "engine.json").exists()

    added = qtqueue("add", "--json", "command", "--", "echo", "hello-from-the-cli", env=env)
    assert added.returncode == 0, added.stderr
    reply = json.loads(added.stdout)
    assert reply["engine_running"] is True  # it went to the window's engine
    followed = qtqueue("log", "-f", reply["id"], env=env)  # returns when the task ends
    assert "hello-from-the-cli" in followed.stdout
    shown = json.loads(qtqueue("show", "--json", reply["id"], env=env).stdout)
    assert shown["status"] == "completed"

    second = qtqueue("gui", env=env)
    assert second.returncode == 0, second.stderr
    assert "already open" in second.stdout
    lines.wait_for("come to the front")

    gui.send_signal(signal.SIGTERM)
    assert gui.wait(timeout=30) == 0, "".join(lines.seen)
    assert not (data_dir / "engine.json").exists()


def test_a_session_on_a_real_x_server(x_display: str, tmp_path: Path) -> None:
    """Under Xvfb with the xcb platform: the window opens on the store, the CLI adds a task
    through the window's engine and follows it to the end, a second launch raises the first
    window instead of starting an engine, SIGTERM closes cleanly, and --screenshot works."""
    data_dir = tmp_path / "q"
    total = seed(data_dir)
    env = {k: v for k, v in os.environ.items() if k != "WAYLAND_DISPLAY"}
    env.update(QT_QPA_PLATFORM="xcb", DISPLAY=x_display, QTQUEUE_DATA_DIR=str(data_dir))
    with subprocess.Popen(
        [QTQUEUE, "-v", "gui"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    ) as gui:
        try:
            run_session(gui, data_dir, env)
        finally:
            if gui.poll() is None:
                gui.kill()

    png = tmp_path / "xcb.png"
    done = qtqueue("gui", "--screenshot", str(png), "--size", "1100x700", env=env)
    assert done.returncode == 0, done.stderr
    image = QImage(str(png))
    assert (image.width(), image.height()) == (1100, 700)
    assert distinct_colours(image) > 20
    listed = json.loads(qtqueue("ls", "--json", env=env).stdout)
    assert len(listed) == total + 1
