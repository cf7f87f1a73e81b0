"""`qtqueue` / `qtqueue gui`: the window's frame on screen first, then the engine behind it.

What the user waits for is a window. So this module imports only Qt, the Designer frame
and what that needs (no engine, no API, no pyqtgraph): it shows the main window's frame —
menus, toolbar, an empty table and "Opening the queue…", at the saved size and place — and
only once Qt has painted it imports the composition root (`qtqueue.app`), which starts the
engine (or attaches to the one already running on the data directory), composes the window
over it and loads the stored tasks. One window per data directory: a second launch asks the
first to come to the front and exits. `--screenshot` renders the window to a PNG.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import sys
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import TypeVar

import qasync
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from qtqueue.config import resolve_data_dir
from qtqueue.core.errors import QueueError
from qtqueue.ui.display import display_problem, process_age_s
from qtqueue.ui.icons import icon
from qtqueue.ui.main_window import SETTINGS_APPLICATION, SETTINGS_ORGANIZATION, MainWindow
from qtqueue.ui.paint_watch import PaintWatch
from qtqueue.ui.single_instance import SingleInstance
from qtqueue.ui.theme import ThemeMode, apply_appearance, saved_font_size, saved_theme

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_SIZE = (1400, 900)
#: Seconds the closing loop waits for its cancelled tasks to end.
PENDING_WAIT_S = 5.0
#: Seconds the start waits for the frame's first paint before going on without it (a
#: window manager may keep a new window unmapped: the engine should not wait for it).
FIRST_PAINT_WAIT_S = 1.0


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not match or not all(0 < int(g) <= 16384 for g in match.groups()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 1400x900")
    return int(match[1]), int(match[2])


def build_parser() -> argparse.ArgumentParser:
    """`qtqueue gui`'s own options (the command line hands them on)."""
    parser = argparse.ArgumentParser(prog="qtqueue gui", description="The qtqueue window.")
    parser.add_argument("--data-dir", metavar="DIR", help="the queue's data directory")
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="open a cluster's Redis (redis://HOST:PORT/DB) instead of a local engine",
    )
    parser.add_argument(
        "--screenshot",
        metavar="PNG",
        help="render the main window to PNG once it shows the stored tasks, then exit",
    )
    parser.add_argument(
        "--size",
        type=_size,
        default=DEFAULT_SIZE,
        metavar="WxH",
        help="the window's size (default 1400x900)",
    )
    parser.add_argument(
        "--theme",
        choices=[m.value for m in ThemeMode],
        help="with --screenshot: the colours to render in (default: the system's)",
    )
    return parser


def application() -> QApplication:
    """The QApplication, named for settings, the desktop file and the window icon."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication([sys.argv[0] if sys.argv else "qtqueue"])
    app.setOrganizationName(SETTINGS_ORGANIZATION)
    app.setApplicationName(SETTINGS_APPLICATION)
    app.setApplicationDisplayName("qtqueue")
    app.setDesktopFileName("qtqueue")
    app.setWindowIcon(icon("app"))
    app.setQuitOnLastWindowClosed(False)  # the loop ends when the window has shut down
    return app


async def show_frame(settings: QSettings) -> MainWindow:
    """Show the main window's frame in the saved colours, size and place, and return once
    Qt has painted it (or `FIRST_PAINT_WAIT_S` passed)."""
    apply_appearance(saved_theme(settings), saved_font_size(settings))
    frame = MainWindow(settings)
    watch = PaintWatch(frame)
    frame.show()
    if await watch.wait(FIRST_PAINT_WAIT_S):
        logger.info("window painted %.2f s after the process started", process_age_s())
    else:
        logger.info("the window was not painted within %.1f s; going on", FIRST_PAINT_WAIT_S)
    return frame


def main(argv: Sequence[str] | None = None) -> int:
    """Run the desktop application (`qtqueue`, `qtqueue gui`); returns the exit status."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    data_dir = resolve_data_dir(args.data_dir)
    has_display = any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY"))
    if args.screenshot and not has_display and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    problem = None if args.screenshot else display_problem(os.environ)
    if problem is not None:
        sys.stderr.write(f"error: {problem.code.value}: {problem}\nhint: {problem.suggestion}\n")
        return 1
    app = application()
    instance: SingleInstance | None = None
    if not args.screenshot and not args.redis:  # a cluster's window is one client of many
        instance = SingleInstance(data_dir)
        if not instance.listen():
            sys.stdout.write(f"qtqueue is already open on {data_dir}; brought it to the front\n")
            return 0
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        code: int = run_in_loop(loop, _start(args, data_dir, instance))
        return code
    except QueueError as exc:
        sys.stderr.write(f"error: {exc.code.value}: {exc}\nhint: {exc.suggestion}\n")
        return 1
    finally:
        if instance is not None:
            instance.close()
        finish_pending(loop)
        loop.close()
        asyncio.set_event_loop(None)


def finish_pending(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel the tasks still pending on a stopped loop and let them end, as `asyncio.run`
    does before closing its loop: a request still in flight (a log being followed, a read
    started by the closing window) then ends cleanly instead of being dropped half-written
    when the loop closes."""
    if loop.is_closed() or loop.is_running():
        return
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:  # a task that ignores its cancellation is left after a few seconds
        run_in_loop(loop, asyncio.wait(pending, timeout=PENDING_WAIT_S))
    run_in_loop(loop, loop.shutdown_asyncgens())


def run_in_loop(loop: asyncio.AbstractEventLoop, work: Awaitable[T]) -> T:
    """`loop.run_until_complete(work)`, less qasync's last pass over Qt's events after the
    loop has stopped: asyncio callbacks still queued as Qt timers would run there with no
    running loop (a request then fails with 'no running event loop', half-sent). Here they
    stay queued until the loop runs again, or are cancelled by `finish_pending`."""
    future = asyncio.ensure_future(work, loop=loop)
    future.add_done_callback(lambda _: loop.stop())
    loop.run_forever()
    if not future.done():
        future.cancel()
        raise RuntimeError("the event loop stopped before its work was done")
    return future.result()


async def _start(args: argparse.Namespace, data_dir: Path, instance: SingleInstance | None) -> int:
    frame = None
    if not args.screenshot:  # a screenshot takes the default layout, not the user's
        frame = await show_frame(QSettings(SETTINGS_ORGANIZATION, SETTINGS_APPLICATION))
    from qtqueue import app as composition  # the engine, the API, the rest of the window

    return await composition.run(args, data_dir, instance, frame)
