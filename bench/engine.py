"""qtqueue's engine benchmark, with its peers side by side in the same run (issue #2).

    python bench/engine.py [--quick] [--json OUT.json] [--only W1,W2,...] [--peers P1,P2,...]

Prints figures; it is not a test. Every (workload, peer) cell runs in a fresh subprocess of this
script (hidden `--worker` flag), so peak RSS and interpreter state never leak from one peer to
another; each cell is the median of 3 runs (W3: 9; 1 with --quick), runs interleaved across
peers.
See bench/README.md for what each workload measures and the targets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _peers  # a sibling module, importable however the script is started
from _peers import W2_GAP_S, W2_WARMUP, latency_figures, peak_rss_mb, vm_kb, w1_figures

SCRIPT = str(Path(__file__).resolve())
perf_counter = time.perf_counter

# --------------------------------------------------------------------------- qtqueue workloads


async def _noop(task_id: str, params: dict[str, Any]) -> None:
    return None


async def w1_qtqueue(
    n: int, *, one_by_one: bool, synchronous: str, concurrency: int = 2
) -> dict[str, Any]:
    """N no-op tasks added (one transaction, or one durable add_task each) and drained."""
    from qtqueue import Task, TaskQueue

    with tempfile.TemporaryDirectory(prefix="bench-qtqueue-") as d:
        q = TaskQueue(d, max_concurrent=concurrency, synchronous=synchronous)
        q.register_handler("noop", _noop)
        await q.start()
        try:
            t0 = perf_counter()
            if one_by_one:
                for _ in range(n):
                    await q.add_task(Task("noop"))
            else:
                await q.add_tasks([Task("noop") for _ in range(n)])
            t1 = perf_counter()
            await q.join()
            t2 = perf_counter()
            stats = await q.get_queue_stats()
        finally:
            await q.close()
    completed = stats["status_distribution"].get("completed", 0)
    if completed != n:
        raise RuntimeError(f"only {completed} of {n} tasks completed")
    return w1_figures(n, t0, t1, t2)


async def w2_qtqueue(n: int) -> dict[str, Any]:
    """Idle queue, one task at a time: enqueue -> handler-start latency."""
    from qtqueue import Task, TaskQueue

    starts: dict[str, float] = {}

    async def probe(task_id: str, params: dict[str, Any]) -> None:
        starts[task_id] = perf_counter()

    lat: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-qtqueue-") as d:
        q = TaskQueue(d, max_concurrent=2)
        q.register_handler("probe", probe)
        await q.start()
        try:
            for i in range(n + W2_WARMUP):
                await asyncio.sleep(W2_GAP_S)
                task = Task("probe")
                t0 = perf_counter()
                await q.add_task(task)
                await q.wait_for(task.id)  # finished and durable: the queue is idle again
                if i >= W2_WARMUP:
                    lat.append(starts[task.id] - t0)
        finally:
            await q.close()
    return latency_figures(lat)


async def w3_qtqueue(n: int) -> dict[str, Any]:
    """N `true` commands (CUSTOM_COMMAND), max_concurrent=2, first enqueue -> last completion."""
    from qtqueue import Task, TaskQueue, TaskType

    with tempfile.TemporaryDirectory(prefix="bench-qtqueue-") as d:
        q = TaskQueue(d, max_concurrent=2)
        await q.start()
        try:
            t0 = perf_counter()
            await q.add_tasks(
                [Task(TaskType.CUSTOM_COMMAND, {"command": "true"}) for _ in range(n)]
            )
            await q.join()
            elapsed = perf_counter() - t0
            stats = await q.get_queue_stats()
        finally:
            await q.close()
    completed = stats["status_distribution"].get("completed", 0)
    if completed != n:
        raise RuntimeError(
            f"only {completed} of {n} commands completed: {stats['status_distribution']}"
        )
    return {"tasks_per_s": n / elapsed, "elapsed_s": elapsed, "n": n}


async def w4_qtqueue(n: int, store: str) -> dict[str, Any]:
    """Peak RSS of a process that opens a store of N finished tasks, reads stats and a page."""
    from qtqueue import TaskQueue

    base_kb = vm_kb("VmRSS") or 0
    q = TaskQueue(store, max_concurrent=2)
    q.register_handler("noop", _noop)
    t0 = perf_counter()
    await q.start()
    try:
        t1 = perf_counter()
        stats = await q.get_queue_stats()
        t2 = perf_counter()
        page = await q.list_tasks(limit=100)
        t3 = perf_counter()
    finally:
        await q.close()
    total = stats["summary"]["total_tasks"]
    if total != n or len(page) != 100:
        raise RuntimeError(f"store holds {total} tasks (expected {n}); page of {len(page)}")
    return {
        "rss_mb": peak_rss_mb(),
        "base_rss_mb": base_kb / 1024,
        "open_s": t1 - t0,
        "stats_s": t2 - t1,
        "list_s": t3 - t2,
        "n": n,
    }


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Peer:
    key: str
    label: str
    durability: str


PEERS = [
    Peer("qtqueue", "qtqueue", "WAL, synchronous=NORMAL (default)"),
    Peer("qtqueue-c4", "qtqueue, max_concurrent=4 (its default)", "WAL, synchronous=NORMAL"),
    Peer("qtqueue-add_task", "qtqueue, W1 add_task ×N", "WAL, synchronous=NORMAL (default)"),
    Peer("qtqueue-full", "qtqueue FULL", "WAL, synchronous=FULL"),
    Peer("qtqueue-add_task-full", "qtqueue FULL, W1 add_task ×N", "WAL, synchronous=FULL"),
    Peer("bare-sqlite", "bare-sqlite", "WAL, synchronous=NORMAL"),
    Peer("bare-sqlite-full", "bare-sqlite-full", "WAL, synchronous=FULL"),
    Peer("huey", "huey", "SqliteHuey defaults: WAL, synchronous=FULL"),
    Peer("bare-asyncio", "bare-asyncio", "none (in memory)"),
    Peer("bare-threads", "bare-threads", "none (in memory)"),
]
PEER_BY_KEY = {p.key: p for p in PEERS}


@dataclass(frozen=True)
class Cell:
    workload: str
    peer: str
    n: int
    n_quick: int
    note: str = ""
    #: Runs per cell when not the default 3 (--quick always runs once).
    runs: int | None = None


ADD_TASK_NOTE = (
    "N reduced to keep the run short: one transaction per add_task, so tasks/s does not depend on N"
)
#: W3 cells last well under a second, so a burst of load on the shared cores moves one run by
#: up to 2x: 9 runs, so the median holds.
W3_RUNS = 9
PLAN = [
    Cell("W1", "qtqueue", 10_000, 1_000),
    Cell("W1", "qtqueue-c4", 10_000, 1_000),
    Cell("W1", "qtqueue-add_task", 5_000, 1_000, ADD_TASK_NOTE),
    Cell("W1", "qtqueue-full", 10_000, 1_000),
    Cell("W1", "qtqueue-add_task-full", 5_000, 1_000, ADD_TASK_NOTE),
    Cell("W1", "bare-sqlite", 10_000, 1_000),
    Cell("W1", "bare-sqlite-full", 10_000, 1_000),
    Cell("W1", "huey", 10_000, 1_000),
    Cell("W2", "qtqueue", 300, 30),
    Cell("W2", "bare-sqlite", 300, 30),
    Cell("W2", "huey", 100, 10, "N reduced: polling consumer, random 5-125 ms gap per task"),
    Cell("W3", "qtqueue", 300, 60, runs=W3_RUNS),
    Cell("W3", "bare-asyncio", 300, 60, runs=W3_RUNS),
    Cell("W3", "bare-threads", 300, 60, runs=W3_RUNS),
    Cell("W4", "qtqueue", 100_000, 10_000),
]
WORKLOADS = ["W1", "W2", "W3", "W4"]


def run_worker(workload: str, peer: str, n: int, store: str | None) -> dict[str, Any]:
    """Run one cell once, in this process (the `--worker` side)."""
    runners: dict[tuple[str, str], Callable[[], Any]] = {
        ("W1", "qtqueue"): lambda: asyncio.run(
            w1_qtqueue(n, one_by_one=False, synchronous="NORMAL")
        ),
        ("W1", "qtqueue-c4"): lambda: asyncio.run(
            w1_qtqueue(n, one_by_one=False, synchronous="NORMAL", concurrency=4)
        ),
        ("W1", "qtqueue-add_task"): lambda: asyncio.run(
            w1_qtqueue(n, one_by_one=True, synchronous="NORMAL")
        ),
        ("W1", "qtqueue-full"): lambda: asyncio.run(
            w1_qtqueue(n, one_by_one=False, synchronous="FULL")
        ),
        ("W1", "qtqueue-add_task-full"): lambda: asyncio.run(
            w1_qtqueue(n, one_by_one=True, synchronous="FULL")
        ),
        ("W1", "bare-sqlite"): lambda: _peers.w1_bare_sqlite(n, "NORMAL"),
        ("W1", "bare-sqlite-full"): lambda: _peers.w1_bare_sqlite(n, "FULL"),
        ("W1", "huey"): lambda: _peers.w1_huey(n, SCRIPT),
        ("W2", "qtqueue"): lambda: asyncio.run(w2_qtqueue(n)),
        ("W2", "bare-sqlite"): lambda: _peers.w2_bare_sqlite(n),
        ("W2", "huey"): lambda: _peers.w2_huey(n, SCRIPT),
        ("W3", "qtqueue"): lambda: asyncio.run(w3_qtqueue(n)),
        ("W3", "bare-asyncio"): lambda: _peers.w3_bare_asyncio(n),
        ("W3", "bare-threads"): lambda: _peers.w3_bare_threads(n),
        ("W4-build", "qtqueue"): lambda: asyncio.run(_peers.build_finished_store(n, store or "")),
        ("W4", "qtqueue"): lambda: asyncio.run(w4_qtqueue(n, store or "")),
    }
    return dict(runners[(workload, peer)]())


def spawn_cell(
    workload: str, peer: str, n: int, store: str | None, timeout_s: float
) -> dict[str, Any]:
    """Run one cell once in a fresh subprocess; a failure comes back as {"error": ...}."""
    cmd = [sys.executable, SCRIPT, "--worker", workload, peer, "--n", str(n)]
    if store:
        cmd += ["--store", store]
    return _peers.spawn_worker(cmd, timeout_s)


# --------------------------------------------------------------------------- figures


@dataclass
class CellResult:
    cell: Cell
    n: int
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok_runs(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if "error" not in r]

    @property
    def error(self) -> str | None:
        if self.ok_runs:
            return None
        return str(self.runs[-1]["error"]) if self.runs else "not run"

    def median(self, key: str) -> float | None:
        values = [r[key] for r in self.ok_runs if isinstance(r.get(key), (int, float))]
        return statistics.median(values) if values else None

    def spread(self, key: str) -> tuple[float, float] | None:
        values = [r[key] for r in self.ok_runs if isinstance(r.get(key), (int, float))]
        return (min(values), max(values)) if values else None


def fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "n/a"
    if kind == "rate":
        return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
    if kind == "s":
        return f"{value:.3f}"
    if kind == "ms":
        return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"
    if kind == "mb":
        return f"{value:.1f}"
    if kind == "x":
        return f"{value:.2f}x"
    if kind == "%":
        return f"{value * 100:.0f} %"
    return str(value)


@dataclass
class Target:
    name: str
    workload: str
    measured: float | None
    goal: str
    ok: bool | None
    unit: str = ""


def evaluate_targets(res: dict[tuple[str, str], CellResult]) -> list[Target]:
    def med(w: str, p: str, k: str) -> float | None:
        r = res.get((w, p))
        return r.median(k) if r else None

    out: list[Target] = []
    w1 = med("W1", "qtqueue", "tasks_per_s")
    if ("W1", "qtqueue") in res:
        out.append(
            Target(
                "W1 qtqueue tasks/s at max_concurrent=2 (as the peers)",
                "W1",
                w1,
                ">= 5,000",
                None if w1 is None else w1 >= 5000,
                "rate",
            )
        )
        w1c4 = med("W1", "qtqueue-c4", "tasks_per_s")
        if ("W1", "qtqueue-c4") in res:
            out.append(
                Target(
                    "W1 qtqueue tasks/s at its default max_concurrent=4",
                    "W1",
                    w1c4,
                    ">= 5,000",
                    None if w1c4 is None else w1c4 >= 5000,
                    "rate",
                )
            )
        huey = med("W1", "huey", "tasks_per_s")
        ratio = w1 / huey if w1 and huey else None
        out.append(
            Target(
                "W1 qtqueue / huey",
                "W1",
                ratio,
                ">= 2x",
                None if ratio is None else ratio >= 2,
                "x",
            )
        )
    out += _one_by_one_targets(med, res)
    if ("W2", "qtqueue") in res:
        p50, p99 = med("W2", "qtqueue", "p50_ms"), med("W2", "qtqueue", "p99_ms")
        out.append(
            Target("W2 qtqueue p50 ms", "W2", p50, "< 1 ms", None if p50 is None else p50 < 1, "ms")
        )
        out.append(
            Target("W2 qtqueue p99 ms", "W2", p99, "< 5 ms", None if p99 is None else p99 < 5, "ms")
        )
    if ("W3", "qtqueue") in res:
        q3, a3 = med("W3", "qtqueue", "tasks_per_s"), med("W3", "bare-asyncio", "tasks_per_s")
        ratio = q3 / a3 if q3 and a3 else None
        out.append(
            Target(
                "W3 qtqueue / bare-asyncio",
                "W3",
                ratio,
                ">= 90 %",
                None if ratio is None else ratio >= 0.9,
                "%",
            )
        )
    if ("W4", "qtqueue") in res:
        rss = med("W4", "qtqueue", "rss_mb")
        out.append(
            Target(
                "W4 qtqueue peak RSS MB",
                "W4",
                rss,
                "< 200 MB",
                None if rss is None else rss < 200,
                "mb",
            )
        )
    return out


def _one_by_one_targets(
    med: Callable[[str, str, str], float | None], res: dict[tuple[str, str], CellResult]
) -> list[Target]:
    """Issue #11's targets: batched W1 at concurrency 2, and one durable add_task per task."""
    out: list[Target] = []
    w1 = med("W1", "qtqueue", "tasks_per_s")
    if ("W1", "qtqueue") in res:
        ok = None if w1 is None else w1 >= 8000
        out.append(Target("W1 qtqueue tasks/s (issue #11)", "W1", w1, ">= 8,000", ok, "rate"))
    one = med("W1", "qtqueue-add_task", "tasks_per_s")
    if ("W1", "qtqueue-add_task") in res:
        ok = None if one is None else one >= 3000
        out.append(Target("W1 add_task ×N tasks/s", "W1", one, ">= 3,000", ok, "rate"))
    full = med("W1", "qtqueue-add_task-full", "tasks_per_s")
    huey = med("W1", "huey", "tasks_per_s")
    if ("W1", "qtqueue-add_task-full") in res and ("W1", "huey") in res:
        ratio = full / huey if full and huey else None
        ok = None if ratio is None else ratio >= 1.5
        out.append(Target("W1 add_task ×N FULL / huey", "W1", ratio, ">= 1.5x", ok, "x"))
    return out


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "PASS" if ok else "FAIL"


COLUMNS: list[tuple[str, str, str, str]] = [
    # header, workload, key, format
    ("W1 tasks/s", "W1", "tasks_per_s", "rate"),
    ("W1 enqueue s", "W1", "enqueue_s", "s"),
    ("W1 drain s", "W1", "drain_s", "s"),
    ("W1 peak RSS MB", "W1", "rss_mb", "mb"),
    ("W2 p50 ms", "W2", "p50_ms", "ms"),
    ("W2 p99 ms", "W2", "p99_ms", "ms"),
    ("W3 tasks/s", "W3", "tasks_per_s", "rate"),
    ("W4 peak RSS MB", "W4", "rss_mb", "mb"),
]
#: Which target(s) a qtqueue cell carries, by (peer, workload, key); names exactly as in
#: evaluate_targets (a cell's verdict covers those of its targets that were evaluated).
CELL_TARGETS = {
    ("qtqueue", "W1", "tasks_per_s"): (
        "W1 qtqueue tasks/s at max_concurrent=2 (as the peers)",
        "W1 qtqueue / huey",
        "W1 qtqueue tasks/s (issue #11)",
    ),
    ("qtqueue-add_task", "W1", "tasks_per_s"): ("W1 add_task ×N tasks/s",),
    ("qtqueue-add_task-full", "W1", "tasks_per_s"): ("W1 add_task ×N FULL / huey",),
    ("qtqueue-c4", "W1", "tasks_per_s"): ("W1 qtqueue tasks/s at its default max_concurrent=4",),
    ("qtqueue", "W2", "p50_ms"): ("W2 qtqueue p50 ms",),
    ("qtqueue", "W2", "p99_ms"): ("W2 qtqueue p99 ms",),
    ("qtqueue", "W3", "tasks_per_s"): ("W3 qtqueue / bare-asyncio",),
    ("qtqueue", "W4", "rss_mb"): ("W4 qtqueue peak RSS MB",),
}


def markdown(res: dict[tuple[str, str], CellResult], targets: list[Target], quick: bool) -> str:
    by_name = {t.name: t for t in targets}
    workloads = {w for w, _ in res}
    cols = [c for c in COLUMNS if c[1] in workloads]
    lines = ["| peer | " + " | ".join(c[0] for c in cols) + " |", "|---|" + "---:|" * len(cols)]
    for peer in PEERS:
        if not any(p == peer.key for _, p in res):
            continue
        cells = []
        for _, w, key, kind in cols:
            r = res.get((w, peer.key))
            if r is None:
                cells.append("n/a")
                continue
            if r.error is not None:
                first = next(c for c in cols if c[1] == w) == (_, w, key, kind)
                cells.append("error: " + r.error[:70].replace("|", "/") if first else "-")
                continue
            text = fmt(r.median(key), kind)
            if r.n != _base_n(w, quick) and key in ("tasks_per_s", "p50_ms", "rss_mb"):
                text += f" (N={r.n:,})"
            oks = [by_name[t].ok for t in CELL_TARGETS.get((peer.key, w, key), ()) if t in by_name]
            if oks:
                text += " " + verdict(None if None in oks else all(oks))
            cells.append(text)
        lines.append(f"| {peer.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _base_n(workload: str, quick: bool) -> int:
    first = next(c for c in PLAN if c.workload == workload)
    return first.n_quick if quick else first.n


def spread_table(res: dict[tuple[str, str], CellResult]) -> str:
    lines = ["| workload | peer | figure | runs | min .. max |", "|---|---|---|---:|---|"]
    primary = {
        "W1": ("tasks_per_s", "rate"),
        "W2": ("p50_ms", "ms"),
        "W3": ("tasks_per_s", "rate"),
        "W4": ("rss_mb", "mb"),
    }
    for (w, p), r in res.items():
        key, kind = primary[w]
        s = r.spread(key)
        if s is None:
            continue
        extra = ""
        if w == "W2":
            s99 = r.spread("p99_ms")
            extra = f"; p99 {fmt(s99[0], 'ms')} .. {fmt(s99[1], 'ms')}" if s99 else ""
        lines.append(
            f"| {w} | {PEER_BY_KEY[p].label} | {key} | {len(r.ok_runs)} | "
            f"{fmt(s[0], kind)} .. {fmt(s[1], kind)}{extra} |"
        )
    return "\n".join(lines)


def fsync_ms() -> float:
    with tempfile.NamedTemporaryFile(dir=tempfile.gettempdir()) as f:
        t0 = perf_counter()
        for _ in range(50):
            f.write(b"x" * 64)
            f.flush()
            os.fsync(f.fileno())
        return (perf_counter() - t0) / 50 * 1e3


def git_state() -> str:
    """The commit measured, and whether the working tree differs from it (read-only git)."""
    root = Path(SCRIPT).parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "qtqueue"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    if not head:
        return "unknown"
    return f"{head} + uncommitted changes in qtqueue/" if dirty else head


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def machine() -> dict[str, Any]:
    cpu = _peers.cpu_model()
    versions = {}
    for mod in ("huey", "aiosqlite", "qtqueue"):
        try:
            from importlib.metadata import version

            versions[mod] = version(mod)
        except Exception:
            versions[mod] = "not installed"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "kernel": platform.release(),
        "fsync_ms": round(fsync_ms(), 3),
        **{f"{k}_version": v for k, v in versions.items()},
        "qtqueue_tree": git_state(),
        "loadavg_start": loadavg(),
    }


# --------------------------------------------------------------------------- main


def orchestrate(args: argparse.Namespace) -> int:
    only = [w.strip().upper() for w in args.only.split(",")] if args.only else WORKLOADS
    unknown = set(only) - set(WORKLOADS)
    if unknown:
        sys.exit(f"unknown workload(s): {', '.join(sorted(unknown))}")
    peers = [p.strip() for p in args.peers.split(",")] if args.peers else None
    plan = [c for c in PLAN if c.workload in only and (peers is None or c.peer in peers)]
    runs = 1 if args.quick else args.runs
    timeout_s = 120.0 if args.quick else 300.0
    started = perf_counter()
    info = machine()
    print(
        f"# qtqueue engine bench ({'quick' if args.quick else 'full'}, "
        f"median of {runs_text(args.quick, runs)} per cell)",
        flush=True,
    )
    print(
        f"machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, "
        f"SQLite {info['sqlite']}, huey {info['huey_version']}, "
        f"aiosqlite {info['aiosqlite_version']}, fsync {info['fsync_ms']} ms",
        flush=True,
    )

    res: dict[tuple[str, str], CellResult] = {}
    extra: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-w4-store-") as store_root:
        store: str | None = None
        for workload in WORKLOADS:
            cells = [c for c in plan if c.workload == workload]
            if not cells:
                continue
            print(f"\n## {workload}", flush=True)
            if workload == "W4":
                n4 = cells[0].n_quick if args.quick else cells[0].n
                store = str(Path(store_root) / "data")
                print(f"building a store of {n4:,} finished tasks ...", flush=True)
                built = spawn_cell("W4-build", "qtqueue", n4, store, 900)
                extra["w4_build"] = built
                if "error" in built:
                    print(f"  store build failed: {built['error']}", flush=True)
                else:
                    print(
                        f"  built in {built['build_s']:.1f} s "
                        f"({built['tasks_per_s']:,.0f} tasks/s through the engine, "
                        f"{built['db_mb']:.1f} MB)",
                        flush=True,
                    )
            for c in cells:
                res[(c.workload, c.peer)] = CellResult(c, c.n_quick if args.quick else c.n)
            cell_runs = 1 if args.quick else max(max(c.runs or 0, runs) for c in cells)
            for i in range(cell_runs):
                for c in cells:
                    if i >= (1 if args.quick else max(c.runs or 0, runs)):
                        continue
                    r = res[(c.workload, c.peer)]
                    if workload == "W4" and "error" in extra.get("w4_build", {}):
                        out: dict[str, Any] = {"error": "store build failed"}
                    else:
                        out = spawn_cell(c.workload, c.peer, r.n, store, timeout_s)
                    r.runs.append(out)
                    print(
                        f"  {c.peer:<22} run {i + 1}/{cell_runs}: {summarize(workload, out)}",
                        flush=True,
                    )
        shutil.rmtree(store_root, ignore_errors=True)

    targets = evaluate_targets(res)
    elapsed = perf_counter() - started
    info["loadavg_end"] = loadavg()
    table = markdown(res, targets, args.quick)
    print("\n## Results\n")
    print(
        f"{info['date']}; {'quick run' if args.quick else 'full run'}, median of "
        f"{runs_text(args.quick, runs)} per cell, {elapsed:.0f} s in all.\n"
    )
    print(table)
    print("\nTargets (qtqueue with its defaults: synchronous=NORMAL, add_tasks; unless named):\n")
    for t in targets:
        measured = "n/a" if t.measured is None else fmt(t.measured, t.unit)
        print(f"- {t.name}: {measured} (target {t.goal}) {verdict(t.ok)}")
    notes = [
        f"- {c.workload} {PEER_BY_KEY[c.peer].label}: {c.note}"
        for c in plan
        if c.note and (c.n_quick if args.quick else c.n) != _base_n(c.workload, args.quick)
    ]
    if "w4_build" in extra and "error" not in extra["w4_build"]:
        b = extra["w4_build"]
        notes.append(
            f"- W4 store: {b['n']:,} no-op tasks added in chunks of 10,000 with "
            f"add_tasks and drained by the engine, {b['build_s']:.1f} s, "
            f"{b['db_mb']:.1f} MB."
        )
    paired = paired_ratios(res, "W3", "qtqueue", "bare-asyncio", "tasks_per_s")
    if paired:
        notes.append(
            "- W3 qtqueue / bare-asyncio run by run (adjacent runs, less exposed to drifting "
            "load): " + ", ".join(f"{x * 100:.0f} %" for x in paired)
        )
    # Only the load before the run says something about other work: later, it includes ours.
    if info["loadavg_start"] != "unknown" and float(info["loadavg_start"].split()[0]) > 0.5:
        notes.append(
            f"- The machine was not idle when the run started (load average "
            f"{info['loadavg_start']}): expect more spread than usual."
        )
    if notes:
        print("\nNotes:\n" + "\n".join(notes))
    print(
        "\nDurability:\n"
        + "\n".join(
            f"- {p.label}: {p.durability}" for p in PEERS if any(k == p.key for _, k in res)
        )
    )
    print("\nSpread across runs:\n\n" + spread_table(res))
    print("\nMachine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    if args.json:
        payload = {
            "machine": info,
            "quick": args.quick,
            "runs_per_cell": runs,
            "elapsed_s": elapsed,
            "cells": [
                {
                    "workload": w,
                    "peer": p,
                    "label": PEER_BY_KEY[p].label,
                    "n": r.n,
                    "runs": r.runs,
                    "median": {k: r.median(k) for k in r.ok_runs[0]} if r.ok_runs else None,
                    "error": r.error,
                }
                for (w, p), r in res.items()
            ],
            "targets": [t.__dict__ for t in targets],
            "extra": extra,
            "markdown": table,
        }
        Path(args.json).write_text(json.dumps(payload, indent=2, default=str))
        print(f"\nraw figures: {args.json}")
    return 0


def paired_ratios(
    res: dict[tuple[str, str], CellResult], workload: str, a: str, b: str, key: str
) -> list[float]:
    """a/b for each run index where both ran (the runs of a workload are interleaved)."""
    ra, rb = res.get((workload, a)), res.get((workload, b))
    if ra is None or rb is None:
        return []
    return [
        x[key] / y[key]
        for x, y in zip(ra.runs, rb.runs, strict=False)
        if "error" not in x and "error" not in y and y[key]
    ]


def runs_text(quick: bool, runs: int) -> str:
    if quick:
        return "1 run"
    return f"{runs} runs (W3: {max(runs, W3_RUNS)})"


def summarize(workload: str, out: dict[str, Any]) -> str:
    if "error" in out:
        return f"error: {out['error']}"
    if workload == "W1":
        return (
            f"{out['tasks_per_s']:,.0f} tasks/s (enqueue {out['enqueue_s']:.3f} s, "
            f"drain {out['drain_s']:.3f} s, peak RSS {out['rss_mb']:.1f} MB)"
        )
    if workload == "W2":
        return f"p50 {out['p50_ms']:.3f} ms, p99 {out['p99_ms']:.3f} ms (N={out['n']})"
    if workload == "W3":
        return f"{out['tasks_per_s']:,.0f} tasks/s ({out['elapsed_s']:.3f} s)"
    return (
        f"peak RSS {out['rss_mb']:.1f} MB (after imports {out['base_rss_mb']:.1f} MB; "
        f"open {out['open_s']:.3f} s, stats {out['stats_s']:.3f} s, "
        f"list {out['list_s']:.3f} s)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small N, 1 run per cell")
    parser.add_argument("--json", metavar="OUT.json", help="write raw figures here")
    parser.add_argument("--only", metavar="W1,W2,...", help="run only these workloads")
    parser.add_argument(
        "--peers",
        metavar="P1,P2,...",
        help="run only these peers: " + ", ".join(p.key for p in PEERS),
    )
    parser.add_argument("--runs", type=int, default=3, help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=2, metavar=("WORKLOAD", "PEER"), help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--cprofile", metavar="OUT.prof", help=argparse.SUPPRESS)
    parser.add_argument("--huey-consumer", nargs=2, metavar=("DB", "FIFO"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.huey_consumer:
        _peers.huey_consumer_main(*args.huey_consumer)
        return 0
    if args.worker:
        workload, peer = args.worker

        def work() -> dict[str, Any]:
            if not args.cprofile:
                return run_worker(workload, peer, args.n, args.store)
            import cProfile

            prof = cProfile.Profile()
            out: dict[str, Any] = prof.runcall(run_worker, workload, peer, args.n, args.store)
            prof.dump_stats(args.cprofile)
            return out

        return _peers.report_result(work)
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
