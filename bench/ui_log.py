"""The log viewer's benchmark (issue #16): a long log shown, and a fast writer followed.

    python bench/ui_log.py [--lines 300000] [--rate 10000] [--seconds 3]

Prints a table; it is not a test. Qt runs offscreen, the widgets shown (so they lay out and
paint). Each row is qtqueue's `LogView` beside a bare `QPlainTextEdit` in the same run:

- L1 show: a log of N lines (one in ten with ANSI colours, as a test runner writes) from
  handing the text over to its first lines painted and to the whole log painted. `LogView`
  as the pop-out window has it (FULL_LOG_LINES); the bare edit gets `setPlainText` (escapes
  shown raw).
- L2 follow: a real child process writes R lines a second for S seconds into a pipe; each
  chunk read (a QSocketNotifier) is handed to the view (`LogView.append`, inserted once per
  frame; the bare edit gets `appendPlainText` per chunk, capped at the same 50,000 lines).
  A 16 ms timer records how late it fires (event-loop lag = frame time); lines/s is what the
  view had inserted by the time the writer ended, over the writing time.

`--stderr`: one line in four is marked as stderr (each its own run, as the engine writes a
stderr chunk: `qtqueue.core.log_streams`), in L1's log and L2's writer.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, QSocketNotifier, QTimer
from PySide6.QtWidgets import QApplication, QPlainTextEdit

from qtqueue.core.log_streams import MARK_END_TEXT, MARK_ERR_TEXT
from qtqueue.ui.log_view.view import DEFAULT_MAX_LINES, LogView
from qtqueue.ui.log_view.window import FULL_LOG_LINES

WRITER = r"""
import sys, time
rate, seconds, marked = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "1"
out = sys.stdout
err, end = ("\x1b]7733;e\x07", "\x1b]7733;o\x07") if marked else ("", "")
start = time.perf_counter()
n = 0
while (now := time.perf_counter() - start) < seconds:
    due = int(now * rate)
    if n < due:
        out.write("".join(
            f"\x1b[32mPASS\x1b[0m tests/test_{i % 97}.py::case_{i} ({i * 7 % 1000} ms)\n"
            if i % 10 == 0 else f"{err}warning {i}: module_{i % 311} is slow\n{end}"
            if i % 4 == 1 else f"line {i}: compiling module_{i % 311} ok\n"
            for i in range(n, due)))
        out.flush()
        n = due
    time.sleep(0.002)
"""


def make_log(lines: int, marked: bool = False) -> str:
    err, end = (MARK_ERR_TEXT, MARK_END_TEXT) if marked else ("", "")
    return "".join(
        f"\x1b[1;31mFAIL\x1b[0m step {i}: something went wrong\n"
        if i % 10 == 0
        else f"{err}{i:07d} warning: lib{i % 113}.so has unused symbols\n{end}"
        if i % 4 == 1
        else f"{i:07d} building target lib{i % 113}.so from src/module_{i % 997}.c\n"
        for i in range(lines)
    )


def painted(widget: QPlainTextEdit) -> None:
    """Process events until everything pending is laid out and painted."""
    widget.viewport().repaint()
    QApplication.processEvents()


def show_long(app: QApplication, text: str) -> tuple[float, float, float]:
    """L1: seconds to the first lines shown and to the whole `text` shown in a LogView
    (inserted a frame's share at a time), and to the whole text in a bare QPlainTextEdit."""
    view = LogView(max_lines=FULL_LOG_LINES)
    view.resize(1000, 700)
    view.show()
    QApplication.processEvents()
    t0 = time.perf_counter()
    view.append(text, live=False)
    first = None
    while view.backlog:
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if first is None and view.edit.document().blockCount() > 1:
            painted(view.edit)
            first = time.perf_counter() - t0
    painted(view.edit)
    ours = time.perf_counter() - t0
    view.close()
    bare = QPlainTextEdit()
    bare.setReadOnly(True)
    bare.resize(1000, 700)
    bare.show()
    QApplication.processEvents()
    t0 = time.perf_counter()
    bare.setPlainText(text)
    painted(bare)
    theirs = time.perf_counter() - t0
    bare.close()
    return first or ours, ours, theirs


def follow(
    app: QApplication,
    rate: int,
    seconds: float,
    feed: Callable[[str], None],
    count: Callable[[], int],
    edit: QPlainTextEdit,
    marked: bool = False,
) -> dict[str, float]:
    """L2: a writer at `rate` lines/s for `seconds`; frame lag and lines shown per second."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(rate), str(seconds), "1" if marked else "0"],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    loop = QEventLoop()
    notifier = QSocketNotifier(fd, QSocketNotifier.Type.Read)
    decoder_rest = b""

    def readable() -> None:
        nonlocal decoder_rest
        try:
            data = os.read(fd, 1 << 20)
        except BlockingIOError:
            return
        if not data:
            notifier.setEnabled(False)
            loop.quit()
            return
        data = decoder_rest + data
        cut = data.rfind(b"\n") + 1
        decoder_rest = data[cut:]
        feed(data[:cut].decode("utf-8", "replace"))

    notifier.activated.connect(readable)
    lags: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]
    ticker = QTimer()
    ticker.setInterval(16)

    def tick() -> None:
        now = clock.nsecsElapsed()
        lags.append((now - last[0]) / 1e6)
        last[0] = now

    ticker.timeout.connect(tick)
    ticker.start()
    t0 = time.perf_counter()
    loop.exec()
    writing = time.perf_counter() - t0
    shown = count()
    ticker.stop()
    proc.wait()
    painted(edit)
    lags.sort()
    return {
        "lines_per_s": shown / writing,
        "frame_p50_ms": statistics.median(lags) if lags else 0.0,
        "frame_p99_ms": lags[int(len(lags) * 0.99) - 1] if lags else 0.0,
        "frame_max_ms": lags[-1] if lags else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--stderr", action="store_true", help="a quarter of the lines stderr")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    text = make_log(args.lines, args.stderr)
    first_s, ours_s, bare_s = show_long(app, text)

    view = LogView(max_lines=DEFAULT_MAX_LINES)
    view.resize(1000, 500)
    view.show()
    ours = follow(
        app,
        args.rate,
        args.seconds,
        view.append,
        lambda: view.edit.document().blockCount() - 1,
        view.edit,
        args.stderr,
    )
    view.close()
    bare = QPlainTextEdit()
    bare.setReadOnly(True)
    bare.setMaximumBlockCount(DEFAULT_MAX_LINES)
    bare.resize(1000, 500)
    bare.show()
    theirs = follow(
        app,
        args.rate,
        args.seconds,
        lambda t: bare.appendPlainText(t.rstrip("\n")),
        lambda: bare.document().blockCount(),
        bare,
        args.stderr,
    )
    bare.close()
    QObject()  # keep the app alive to here

    print(
        f"log viewer benchmark — {args.lines:,} lines; writer {args.rate:,} lines/s for "
        f"{args.seconds:g} s{'; a quarter of them stderr' if args.stderr else ''}; "
        f"Qt {os.environ['QT_QPA_PLATFORM']}; {os.cpu_count()} CPUs"
    )
    print(f"{'measure':<38}{'LogView':>14}{'bare QPlainTextEdit':>22}")
    print(f"{'L1 first lines shown (s)':<38}{first_s:>14.2f}{'—':>22}")
    print(f"{f'L1 all {args.lines:,} lines shown (s)':<38}{ours_s:>14.2f}{bare_s:>22.2f}")
    for key, label in (
        ("lines_per_s", "L2 lines shown per second"),
        ("frame_p50_ms", "L2 frame time p50 (ms, 16 ms timer)"),
        ("frame_p99_ms", "L2 frame time p99 (ms)"),
        ("frame_max_ms", "L2 frame time max (ms)"),
    ):
        print(f"{label:<38}{ours[key]:>14,.1f}{theirs[key]:>22,.1f}")


if __name__ == "__main__":
    main()
