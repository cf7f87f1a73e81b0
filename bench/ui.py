"""qtqueue's desktop-window benchmark (issue #3's targets, and issue #16's start).

    python bench/ui.py [--quick] [--runs N]

Prints figures; it is not a test. Qt runs offscreen (QT_QPA_PLATFORM=offscreen). Each
measurement runs in a fresh subprocess of this script (hidden `--worker` flag):

- U0 bare window: a QMainWindow with a table and a status bar, nothing of qtqueue imported,
  from process start to its first QEvent.Paint: the yardstick for U1, in the same run.
- U1 cold start: a store of 10,000 finished tasks, started as `qtqueue gui` starts:
  `qtqueue.launch.show_frame` shows the window's frame before the engine is imported, then
  `create_main_window(frame=…)` starts the engine, composes the window over it and loads the
  tasks. Process start to the first QEvent.Paint a top-level window receives (an event filter
  on the application), and first paint to the first paint of the task table holding all
  10,000 tasks. Process start
  is read from /proc/self/stat (clock-tick resolution, 10 ms); the worker-start figure is
  also printed.
- U2 open: a store of N finished no-op tasks (built once, through the engine, as
  bench/engine.py's W4 builds its store); time from calling `create_main_window` to the table
  (the proxy the view shows) holding all N rows and the window painted once; then
  `table.sortByColumn(Column.DURATION)` until `processEvents()` returns.
- U3 stream: with that window open, 4 running tasks report progress through the real engine
  (`queue.update_progress`) at 1,000 changes/s in all for S seconds, while a coroutine sleeps
  10 ms at a time and records how late it wakes (event-loop lag). Peak RSS is VmHWM.
- The log viewer: `bench/ui_log.py` (a 300,000-line log shown; a writer at 10,000 lines/s
  followed), run at the end in its own process, its table printed as it is.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt

import time

WORKER_T0 = time.perf_counter()  # as early as possible: the worker's start

import argparse  # noqa: E402 - after WORKER_T0 on purpose
import asyncio  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _peers  # noqa: E402 - a sibling module (shared bench helpers)
from _peers import peak_rss_mb, percentile, vm_kb  # noqa: E402

SCRIPT = str(Path(__file__).resolve())
#: Stored tasks for the cold start (issue 16: the tasks show within 1 s of the first paint).
COLD_N = 10_000
perf_counter = time.perf_counter


def since_process_start_s() -> float | None:
    """Seconds since this process started (kernel's start time; 1/CLK_TCK resolution)."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of stat; 2 fields before `)` dropped
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


# measured right away, so that the offset between process start and WORKER_T0 is known
_PROC_AGE_AT_T0 = since_process_start_s()
_PROC_AGE_T = perf_counter()


# --------------------------------------------------------------------------- worker side


def _qt_setup(settings_dir: str) -> Any:
    """A QApplication with QSettings kept in `settings_dir`, and a qasync loop over it."""
    import qasync
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, str(Path(settings_dir) / scope.name))
    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    return app, loop


def _queue_kwargs() -> dict[str, Any]:
    from qtqueue.executors import default_registry

    return {
        "registry": default_registry(entry_points=False),
        "max_concurrent": 4,
        "shutdown_policy": "cancel",
    }


class _PaintWatch:
    """Event filter: the perf_counter time of the first QEvent.Paint on the watched widget."""

    def __init__(self, widget: Any) -> None:
        from PySide6.QtCore import QEvent, QObject

        outer = self

        class Filter(QObject):
            def eventFilter(self, obj: Any, event: Any) -> bool:
                if event.type() == QEvent.Type.Paint and outer.at is None:
                    outer.at = perf_counter()
                return False

        self.at: float | None = None
        self._filter = Filter()
        widget.installEventFilter(self._filter)

    async def wait(self, timeout_s: float = 10.0) -> float:
        deadline = perf_counter() + timeout_s
        while self.at is None:
            if perf_counter() > deadline:
                raise RuntimeError("the window was never painted")
            await asyncio.sleep(0.001)
        return self.at


def _process_offset() -> float | None:
    """Seconds between the process start and WORKER_T0 (None where /proc cannot tell)."""
    return (_PROC_AGE_AT_T0 - (_PROC_AGE_T - WORKER_T0)) if _PROC_AGE_AT_T0 else None


def worker_bare(settings_dir: str) -> dict[str, Any]:
    """The yardstick: a bare PySide6 window (a QMainWindow with a table and a status bar,
    nothing of qtqueue imported), from process start to its first paint."""
    from PySide6.QtWidgets import QMainWindow, QTableView

    _app, loop = _qt_setup(settings_dir)

    async def go() -> float:
        window = QMainWindow()
        window.setCentralWidget(QTableView())
        window.statusBar().showMessage("ready")
        watch = _PaintWatch(window)
        window.resize(1200, 800)
        window.show()
        painted = await watch.wait()
        window.close()
        return painted

    with loop:
        painted = loop.run_until_complete(go())
    offset = _process_offset()
    return {
        "worker_to_paint_s": painted - WORKER_T0,
        "process_to_paint_s": None if offset is None else offset + painted - WORKER_T0,
    }


def worker_cold(data_dir: str, settings_dir: str, n: int) -> dict[str, Any]:
    """The desktop application's start on a store of `n` finished tasks, as `qtqueue gui`
    runs it: `qtqueue.launch.show_frame` (the window's frame, before the engine is imported),
    then `create_main_window(frame=…)` (the engine, the window composed over it, the tasks
    loaded). Process start to the first paint of a top-level window, and to the table
    holding every stored task."""
    from PySide6.QtCore import QEvent, QObject, QSettings

    from qtqueue.launch import show_frame  # what `qtqueue gui` imports before the frame shows

    app, loop = _qt_setup(settings_dir)
    t_imported = perf_counter()
    painted: list[float] = []  # the first paint of a top-level window
    rows_painted: list[float] = []  # the first paint of the task table holding every task

    class FirstPaints(QObject):  # the frame is built inside show_frame: watch every widget
        def eventFilter(self, obj: Any, event: Any) -> bool:
            if event.type() != QEvent.Type.Paint or not obj.isWidgetType():
                return False
            if not painted and obj.isWindow():
                painted.append(perf_counter())
            table = obj.parent()
            if (
                not rows_painted
                and table is not None
                and table.objectName() == "taskTable"
                and table.model() is not None
                and table.model().rowCount() >= n
            ):
                rows_painted.append(perf_counter())
            return False

    watch = FirstPaints()
    app.installEventFilter(watch)

    async def go() -> dict[str, Any]:
        frame = await show_frame(QSettings())
        from qtqueue.app import create_main_window  # as qtqueue.launch does, once painted

        window = await create_main_window(data_dir, frame=frame, **_queue_kwargs())
        rows = window.proxy.rowCount()
        if not painted or not rows_painted:
            raise RuntimeError("the window or its rows were never painted")
        t_rows = rows_painted[0]  # the table, holding the stored tasks, painted
        await window.shutdown()
        window.close()
        return {"t_rows": t_rows, "t_painted": painted[0], "rows": rows}

    with loop:
        out = loop.run_until_complete(go())
    if out["rows"] != n:
        raise RuntimeError(f"the table showed {out['rows']} of {n} tasks")
    offset = _process_offset()
    since_start = (lambda t: None) if offset is None else (lambda t: offset + t - WORKER_T0)
    return {
        "imports_s": t_imported - WORKER_T0,
        "worker_to_paint_s": out["t_painted"] - WORKER_T0,
        "interp_before_worker_s": offset,
        "process_to_paint_s": since_start(out["t_painted"]),
        "process_to_rows_s": since_start(out["t_rows"]),
        "paint_to_rows_s": out["t_rows"] - out["t_painted"],
        "rows": out["rows"],
    }


def worker_build(n: int, store: str) -> dict[str, Any]:
    return asyncio.run(_peers.build_finished_store(n, store))


def worker_open(n: int, store: str, settings_dir: str, stream_s: float) -> dict[str, Any]:
    from PySide6.QtCore import Qt

    from qtqueue import Task
    from qtqueue.app import create_main_window
    from qtqueue.ui.task_list.columns import Column

    _app, loop = _qt_setup(settings_dir)
    rate = 1000.0
    workers = 4

    async def go() -> dict[str, Any]:
        res: dict[str, Any] = {}
        rss_before = vm_kb("VmRSS") or 0
        t0 = perf_counter()
        window = await create_main_window(store, **_queue_kwargs())
        t_created = perf_counter()
        watch = _PaintWatch(window)
        window.resize(1200, 800)
        window.show()
        proxy = window.table.model()
        while proxy.rowCount() < n:
            await asyncio.sleep(0.001)
        t_rows = perf_counter()
        painted = await watch.wait()
        res["create_s"] = t_created - t0
        res["rows_s"] = t_rows - t0
        res["open_s"] = max(t_rows, painted) - t0
        res["rows"] = proxy.rowCount()
        res["rss_open_mb"] = (vm_kb("VmRSS") or 0) / 1024
        res["rss_before_mb"] = rss_before / 1024

        # sort by duration
        # synchronous: sortByColumn -> proxy.sort -> model.sort, then a synchronous repaint of
        # the table's viewport (processEvents() cannot run inside a qasync task)
        await asyncio.sleep(0.05)
        t0 = perf_counter()
        window.table.sortByColumn(Column.DURATION, Qt.SortOrder.DescendingOrder)
        window.table.viewport().repaint()
        res["sort_s"] = perf_counter() - t0
        if window.model.sort_column != Column.DURATION:
            raise RuntimeError("the model did not sort by duration")
        t0 = perf_counter()
        window.table.sortByColumn(Column.DURATION, Qt.SortOrder.AscendingOrder)
        window.table.viewport().repaint()
        res["sort_flip_s"] = perf_counter() - t0

        # stream: `workers` running tasks report progress at `rate` changes/s in all
        queue = window.queue
        sent = 0
        batches = 0
        stop_at = 0.0

        def on_batch() -> None:
            nonlocal batches
            batches += 1

        window.model.batchApplied.connect(on_batch)

        async def ticker(task_id: str, params: dict[str, Any]) -> None:
            nonlocal sent
            per_s = rate / workers
            start = perf_counter()
            i = 0
            while perf_counter() < stop_at:
                i += 1
                await queue.update_progress(task_id, (i % 1000) / 10, f"step {i}")
                sent += 1
                delay = start + i / per_s - perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)

        queue.register_handler("ticker", ticker)

        async def idle_lag(seconds: float) -> list[float]:
            lags: list[float] = []
            end = perf_counter() + seconds
            while perf_counter() < end:
                expected = perf_counter() + 0.010
                await asyncio.sleep(0.010)
                lags.append(max(0.0, perf_counter() - expected))
            return lags

        base = await idle_lag(min(2.0, stream_s))
        res["idle_lag_p99_ms"] = percentile(base, 99) * 1000

        stop_at = perf_counter() + stream_s + 0.5  # the handlers start a little later
        ids = await queue.add_tasks([Task("ticker") for _ in range(workers)])
        await asyncio.sleep(0.5)
        sent0, batches0 = sent, batches
        t_s = perf_counter()
        lags = await idle_lag(stream_s)
        elapsed = perf_counter() - t_s
        res["changes_per_s"] = (sent - sent0) / elapsed
        res["batches_per_s"] = (batches - batches0) / elapsed
        res["lag_p50_ms"] = percentile(lags, 50) * 1000
        res["lag_p99_ms"] = percentile(lags, 99) * 1000
        res["lag_max_ms"] = max(lags) * 1000
        res["lag_samples"] = len(lags)
        for task_id in ids:
            await queue.wait_for(task_id)
        res["rows_after"] = proxy.rowCount()
        res["peak_rss_mb"] = peak_rss_mb()
        await window.shutdown()
        window.close()
        return res

    with loop:
        return loop.run_until_complete(go())


def run_worker(args: argparse.Namespace) -> dict[str, Any]:
    kind = args.worker
    if kind == "build":
        return worker_build(args.n, args.store)
    with tempfile.TemporaryDirectory(prefix="bench-ui-settings-") as sd:
        if kind == "bare":
            return worker_bare(sd)
        if kind == "cold":
            return worker_cold(args.store, sd, args.n)
        if kind == "open":
            return worker_open(args.n, args.store, sd, args.stream_s)
    raise ValueError(kind)


# --------------------------------------------------------------------------- orchestration


def spawn(extra: list[str], timeout_s: float) -> dict[str, Any]:
    return _peers.spawn_worker([sys.executable, SCRIPT, *extra], timeout_s)


def build_store(n: int, store: str) -> dict[str, Any]:
    """A data directory of `n` finished tasks (a build error is printed and returned)."""
    built = spawn(["--worker", "build", "--n", str(n), "--store", store], 900)
    if "error" in built:
        print(f"store build error: {built['error']}")
    return built


def machine() -> dict[str, Any]:
    cpu = _peers.cpu_model()
    from importlib.metadata import version

    vers = {}
    import PySide6

    vers["PySide6"] = PySide6.__version__
    for mod in ("qasync", "qtqueue"):
        try:
            vers[mod] = version(mod)
        except Exception:
            vers[mod] = "?"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "kernel": platform.release(),
        **vers,
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "n/a"
    return "PASS" if value < limit else "FAIL"


def orchestrate(args: argparse.Namespace) -> int:
    n = 10_000 if args.quick else 100_000
    stream_s = 3.0 if args.quick else 10.0
    runs = args.runs or (1 if args.quick else 3)
    info = machine()
    print("## machine")
    for k, v in info.items():
        print(f"- {k}: {v}")
    print()

    # The cold start: a bare PySide6 window and qtqueue's on a store of COLD_N tasks,
    # alternated so that a change in the machine's load hits both alike.
    bares: list[dict[str, Any]] = []
    colds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-ui-cold-") as d:
        cold_store = str(Path(d) / "q")
        build_store(COLD_N, cold_store)
        for _ in range(runs):
            bares.append(spawn(["--worker", "bare"], 120))
            colds.append(
                spawn(["--worker", "cold", "--n", str(COLD_N), "--store", cold_store], 120)
            )
    cold_ok = [c for c in colds if "error" not in c]
    bare_ok = [b for b in bares if "error" not in b]
    for c in colds + bares:
        if "error" in c:
            print(f"cold start error: {c['error']}")

    def cold_med(key: str, of: list[dict[str, Any]] | None = None) -> float | None:
        vals = [c[key] for c in (cold_ok if of is None else of) if c.get(key) is not None]
        return statistics.median(vals) if vals else None

    opens: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-ui-store-") as d:
        store = str(Path(d) / "q")
        built = build_store(n, store)
        if "error" not in built:
            print(
                f"store: {n:,} no-op tasks added in chunks of 10,000 and drained by the engine "
                f"in {built['build_s']:.1f} s"
            )
            for _ in range(runs):
                o = spawn(
                    [
                        "--worker",
                        "open",
                        "--n",
                        str(n),
                        "--store",
                        store,
                        "--stream-s",
                        str(stream_s),
                    ],
                    120 if args.quick else 300,
                )
                if "error" in o:
                    print(f"open/stream error: {o['error']}")
                else:
                    opens.append(o)

    def open_med(key: str) -> float | None:
        vals = [o[key] for o in opens if o.get(key) is not None]
        return statistics.median(vals) if vals else None

    def f_s(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.3f} s"

    def f_ms(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.1f} ms"

    def f_mb(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.0f} MB"

    start = cold_med("process_to_paint_s")
    bare = cold_med("process_to_paint_s", bare_ok)
    ratio = None if start is None or not bare else start / bare
    shown = cold_med("paint_to_rows_s")
    lag = open_med("lag_p99_ms")
    rss = open_med("peak_rss_mb")
    rows = [
        ("bare PySide6 window: process start to first paint", f_s(bare), "(yardstick)", ""),
        (
            f"qtqueue window ({COLD_N:,} stored tasks): process start to first paint",
            f_s(start) + ("" if ratio is None else f" ({ratio:.2f}× bare)"),
            "≤ 2× bare",
            "n/a" if ratio is None else ("PASS" if ratio <= 2.0 else "FAIL"),
        ),
        (
            f"… first paint to its {COLD_N:,} stored tasks shown",
            f_s(shown) + f" (process start to shown {f_s(cold_med('process_to_rows_s'))})",
            "≤ 1.0 s",
            verdict(shown, 1.0 + 1e-9),
        ),
        (
            f"open {n:,}-task store to all rows shown",
            f_s(open_med("open_s")),
            "< 2 s",
            verdict(open_med("open_s"), 2.0),
        ),
        (
            f"sort {n:,} rows by duration",
            f_ms(_ms(open_med("sort_s"))),
            "< 300 ms",
            verdict(_ms(open_med("sort_s")), 300),
        ),
        (
            f"loop lag p99, 1,000 changes/s for {stream_s:.0f} s",
            f_ms(lag),
            "< 50 ms",
            verdict(lag, 50),
        ),
        ("peak RSS (VmHWM), store open + stream", f_mb(rss), "< 500 MB", verdict(rss, 500)),
    ]
    mode = "--quick" if args.quick else "full"
    print(f"\n## results ({mode}: {n:,} tasks, {stream_s:.0f} s stream, median of {runs})\n")
    print("| figure | value | target | verdict |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} |")
    print("\n## detail\n")
    print(
        f"- cold start: imports + QApplication {f_s(cold_med('imports_s'))}, first paint "
        f"{f_s(cold_med('worker_to_paint_s'))} (from worker start); interpreter start "
        f"before worker start {f_s(cold_med('interp_before_worker_s'))}; runs (qtqueue / "
        "bare): "
        + ", ".join(
            f"{f_s(c.get('process_to_paint_s'))} / {f_s(b.get('process_to_paint_s'))}"
            for c, b in zip(colds, bares, strict=True)
        )
    )
    if opens:
        print(
            f"- open: create_main_window {f_s(open_med('create_s'))}, all rows in proxy "
            f"{f_s(open_med('rows_s'))}, painted {f_s(open_med('open_s'))}; rows "
            f"{opens[0]['rows']:,}; RSS after open {f_mb(open_med('rss_open_mb'))}"
        )
        print(
            f"- sort by duration: descending {f_ms(_ms(open_med('sort_s')))}, "
            f"then ascending {f_ms(_ms(open_med('sort_flip_s')))}"
        )
        print(
            f"- stream: {open_med('changes_per_s'):.0f} progress changes/s achieved, "
            f"{open_med('batches_per_s'):.0f} model batches/s; lag p50 "
            f"{f_ms(open_med('lag_p50_ms'))}, p99 {f_ms(lag)}, max "
            f"{f_ms(open_med('lag_max_ms'))} ({opens[0]['lag_samples']} samples of a 10 ms "
            f"sleep); idle lag p99 before the stream {f_ms(open_med('idle_lag_p99_ms'))}"
        )
    print("\n## the log viewer (bench/ui_log.py, in its own process)\n")
    log_bench = subprocess.run(
        [sys.executable, str(Path(SCRIPT).with_name("ui_log.py"))],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    print(log_bench.stdout.strip() or f"error: {log_bench.stderr.strip()[-2000:]}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"machine": info, "bare": bares, "cold": colds, "open": opens}, indent=2)
        )
    return 0


def _ms(v: float | None) -> float | None:
    return None if v is None else v * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k tasks, 3 s stream, 1 run")
    parser.add_argument("--runs", type=int, default=0, help="runs per figure (median)")
    parser.add_argument("--json", help="also write raw results to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--stream-s", type=float, default=10.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _peers.report_result(lambda: run_worker(args))
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
