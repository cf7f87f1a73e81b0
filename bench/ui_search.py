"""The task list's search over many tasks (issue #16): the first search, the next ones, and a
bare `QSortFilterProxyModel` beside them in the same run.

    python bench/ui_search.py [--tasks 100000] [--runs 3] [--before /path/to/other/checkout]

Prints a table; it is not a test. Qt runs offscreen. Each column is measured in a fresh
subprocess (hidden `--worker` flag), the median of R runs:

- after: this checkout's `TaskTableModel` + `TaskFilterProxy` over N task snapshots (shell
  commands with arguments and an environment, categories, tags, one in eight failed with an
  error code and message), as the window holds them.
- before (`--before PATH`): the same worker run against another checkout's `qtqueue` (say
  the main branch before the change), in the same run.
- bare Qt: a `QStandardItemModel` of one column holding each task's name, id and command
  (text built beforehand, outside the timing) and a `QSortFilterProxyModel` with
  `setFilterFixedString` (case-insensitive), the yardstick for a string filter Qt does in C++.

Rows:
- S0 load: `model.reset(tasks)` until the proxy has every row (bare: `appendRow` of N items).
- S1 first search at once: the search text typed right after the load, before the window
  had an idle moment (the worst case).
- S2 first search after idle: the load, then the event loop runs until the search texts are
  built ahead (`model.search.ahead == 0`; code without it: 1 s of events) and the time that
  took, then the first search.
- S3/S4 next searches: other words (one in the error messages, one matching one task).
- P1: the first waiting task starts (one batch applied, events processed): every other
  waiting task's "#" changes. P2: sort by "#" (code without it: by Priority).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
#: The words searched: first (S1/S2), then S3 and S4.
FIRST, SECOND, THIRD = "set-97", "quota", "job-099999"


def _tasks(n: int) -> list[Any]:
    from qtqueue.core.task import Task, TaskStatus, TaskType

    statuses = [TaskStatus.COMPLETED] * 6 + [TaskStatus.PENDING, TaskStatus.FAILED]
    out = []
    for i in range(n):
        status = statuses[i % len(statuses)]
        t = Task(
            TaskType.CUSTOM_COMMAND,
            {
                "command": "rsync",
                "args": ["-a", f"/data/set-{i % 977}/", f"mirror-{i % 13}.example:/backup/"],
                "env": {"RSYNC_RSH": "ssh -p 2222", "API_TOKEN": "hunter2"},
                "cwd": "/srv",
            },
            name=f"job-{i:06d}",
            category=("backups", "builds", "media")[i % 3],
            tags=["nightly"] if i % 2 else [],
            status=status,
            created_at=1_000.0 + i,
        )
        if status == TaskStatus.FAILED:
            t.error_code = "SYSTEM_DISK_FULL"
            t.error = f"no space left on device (quota of volume {i % 7} reached)"
        out.append(t)
    return out


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def worker_qtqueue(n: int) -> dict[str, Any]:
    from PySide6.QtWidgets import QApplication

    from qtqueue.ui.task_list.model import TaskTableModel
    from qtqueue.ui.task_list.proxy import TaskFilterProxy

    app = QApplication.instance() or QApplication([])
    tasks = _tasks(n)

    def fresh() -> tuple[Any, Any, float]:
        model = TaskTableModel()
        proxy = TaskFilterProxy()
        proxy.setSourceModel(model)
        load = _timed(lambda: (model.reset(tasks), proxy.rowCount()))
        return model, proxy, load

    def search(proxy: Any, text: str) -> tuple[float, int]:
        took = _timed(lambda: (proxy.set_search_text(text), proxy.rowCount()))
        return took, proxy.rowCount()

    model, proxy, load = fresh()
    s1, hits1 = search(proxy, FIRST)
    del model, proxy

    model, proxy, _ = fresh()
    start = time.perf_counter()
    ahead = getattr(model, "search", None)
    while True:  # the window's idle moments
        app.processEvents()
        if ahead is not None and ahead.ahead == 0:
            break
        if ahead is None and time.perf_counter() - start > 1.0:
            break
    idle = time.perf_counter() - start
    s2, _ = search(proxy, FIRST)
    s3, hits3 = search(proxy, SECOND)
    s4, hits4 = search(proxy, THIRD)
    proxy.set_search_text("")
    # P1: the first waiting task starts (one batch); P2: sort by "#" (or Priority, the start
    # order, where there is no "#" column).
    from qtqueue.core.task import TaskStatus
    from qtqueue.ui.task_list.columns import Column

    first = next(t for t in tasks if t.status == TaskStatus.PENDING).copy()
    first.status = TaskStatus.RUNNING
    p1 = _timed(lambda: (model.apply(changed=[first]), app.processEvents()))
    column = getattr(Column, "POSITION", Column.PRIORITY)
    p2 = _timed(lambda: (proxy.sort(column), proxy.rowCount()))
    return {
        "load": load, "s1": s1, "idle": idle, "s2": s2, "s3": s3, "s4": s4, "p1": p1, "p2": p2,
        "hits": [hits1, hits3, hits4],
    }  # fmt: skip


def worker_bare(n: int) -> dict[str, Any]:
    from PySide6.QtCore import QSortFilterProxyModel, Qt
    from PySide6.QtGui import QStandardItem, QStandardItemModel
    from PySide6.QtWidgets import QApplication

    _app = QApplication.instance() or QApplication([])
    texts = [f"{t.name}\n{t.id}\n{' '.join(t.params['args'])}" for t in _tasks(n)]
    model = QStandardItemModel()
    proxy = QSortFilterProxyModel()
    proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    proxy.setSourceModel(model)

    def load() -> None:
        for text in texts:
            model.appendRow(QStandardItem(text))
        proxy.rowCount()

    def search(text: str) -> float:
        return _timed(lambda: (proxy.setFilterFixedString(text), proxy.rowCount()))

    took = _timed(load)
    s1 = search(FIRST)
    search("")  # cleared, then the same word again: S2
    return {"load": took, "s1": s1, "s2": search(FIRST), "s3": search(SECOND),
            "s4": search(THIRD), "idle": 0.0, "p1": 0.0, "p2": 0.0, "hits": []}  # fmt: skip


def run_worker(kind: str, n: int, pythonpath: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, str(HERE), "--worker", kind, "--tasks", str(n)],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"worker {kind} ({pythonpath}) failed:\n{out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", type=Path, help="another checkout to compare with")
    parser.add_argument("--worker", choices=("qtqueue", "bare"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        work = worker_qtqueue if args.worker == "qtqueue" else worker_bare
        print(json.dumps(work(args.tasks)))
        return 0

    here = HERE.parent.parent
    columns: list[tuple[str, str, Path]] = []
    if args.before is not None:
        columns.append(("before", "qtqueue", args.before.resolve()))
    columns += [("after", "qtqueue", here), ("bare Qt", "bare", here)]
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in columns}
    for _ in range(args.runs):  # interleaved, so that a busy moment hits every column
        for name, kind, path in columns:
            results[name].append(run_worker(kind, args.tasks, path))

    def med(name: str, key: str) -> str:
        return f"{statistics.median(r[key] for r in results[name]):.3f} s"

    rows = [
        ("S0 load", "load"),
        (f"S1 first search at once ({FIRST!r})", "s1"),
        ("S2 idle until texts are built", "idle"),
        (f"S2 first search after idle ({FIRST!r})", "s2"),
        (f"S3 next search ({SECOND!r})", "s3"),
        (f"S4 next search ({THIRD!r})", "s4"),
        ("P1 a waiting task starts (one batch)", "p1"),
        ('P2 sort by "#" (before: by Priority)', "p2"),
    ]
    print(f"# task list search, {args.tasks:,} tasks, median of {args.runs} runs\n")
    print("| | " + " | ".join(name for name, _, _ in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for label, key in rows:
        cells = []
        for name, kind, _ in columns:
            bare_blank = kind == "bare" and key in ("idle", "p1", "p2")
            cells.append("—" if bare_blank else med(name, key))
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("\nbare Qt: one column of name, id and arguments; its S2 is the same word again.")
    for name, kind, _ in columns:
        if kind == "qtqueue":
            print(f"{name}: rows found {results[name][0]['hits']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
