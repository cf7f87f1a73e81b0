"""The data family's DATA_PROCESS next to pandas, in the same run: one group-and-aggregate of a
generated CSV (count, sum, mean, min, max of `val` per `cat`), written to a CSV file.

    .venv/bin/python bench/data.py                 # a 100 MB CSV
    .venv/bin/python bench/data.py --size 1G       # the issue's 1 GB measurement
    .venv/bin/python bench/data.py --peers qtqueue,pandas-chunked --json /tmp/data.json

Every peer runs in a fresh subprocess of this script (hidden `--worker`), so peak RSS never
leaks from one to another: it is the child's own `VmHWM`, and `resource.getrusage(
RUSAGE_CHILDREN)` read after each child as a cross-check. The peers' answers are compared: a
peer that computes something else is marked WRONG. Prints a table; asserts nothing.

Peers: `qtqueue` (a TaskQueue running DATA_PROCESS with a spec, the family's default settings:
256 MB memory limit, 2 threads), `duckdb` (the same query on a bare connection, no limits),
`pandas` (read_csv whole, groupby), `pandas-chunked` (read_csv in chunks of 1M rows, partial
aggregates combined). pandas comes with `pip install -e '.[bench]'`.

Two more qtqueue jobs on the same CSV, each in its own subprocess too (`--jobs`, none with
`--jobs ''`): `analyze` (DATA_ANALYZE: every column profiled, top values included) and
`export` (DATA_EXPORT of the CSV to Parquet). Their time and peak RSS are printed below the
table, each against the same < 500 MB target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULT_MARK = "@@bench-result "
PEERS = ("qtqueue", "duckdb", "pandas-chunked", "pandas")
#: Bytes per generated row, near enough to size the file.
ROW_BYTES = 31
SQL = (
    "SELECT cat, count(*) AS n, sum(val) AS total, avg(val) AS mean, min(val) AS lo, "
    "max(val) AS hi FROM {src} GROUP BY cat ORDER BY cat"
)


def _bytes(size: str) -> int:
    units = {"K": 10**3, "M": 10**6, "G": 10**9}
    size = size.strip().upper().rstrip("B")
    return int(float(size[:-1]) * units[size[-1]]) if size[-1] in units else int(size)


def generate(path: Path, size: int) -> None:
    """A CSV of about `size` bytes: id, cat (500 values), val, txt."""
    import duckdb

    rows = size // ROW_BYTES
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT i AS id, 'cat' || (i * 7 % 500) AS cat, (i * 7919) % 100000 / 100.0 AS val,"
        f" 'text ' || (i % 100000) AS txt FROM range({rows}) t(i)) TO '{path}' (FORMAT csv)"
    )
    con.close()


def _hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _answer(path: Path) -> list[list[Any]]:
    import csv

    with path.open() as f:
        rows = list(csv.reader(f))
    return [[r[0], int(r[1]), float(f"{float(r[2]):.6g}")] for r in rows[1:]]


def _run_task(task_type: str, params: dict[str, Any]) -> dict[str, Any]:
    """One data task through a TaskQueue with the data family's default settings: its time and
    how many progress updates by bytes read it gave."""
    from qtqueue.core.task import Task, TaskStatus
    from qtqueue.engine.queue import TaskQueue
    from qtqueue.executors import ExecutorRegistry
    from qtqueue.families.data import family

    async def main() -> dict[str, Any]:
        registry = ExecutorRegistry()
        registry.add_family(family)
        with tempfile.TemporaryDirectory() as tmp:
            async with TaskQueue(tmp, registry=registry) as queue:
                steps: list[str] = []
                queue.subscribe(
                    lambda events: steps.extend(
                        e.task.current_step for e in events if e.task and e.task.current_step
                    )
                )
                task = Task(task_type, params, max_retries=0)
                t0 = time.perf_counter()
                done = await queue.wait_for(await queue.add_task(task), timeout_s=3600)
                elapsed = time.perf_counter() - t0
                if done.status is not TaskStatus.COMPLETED:
                    raise RuntimeError(f"{done.error_code}: {done.error}")
                progress = [s for s in steps if "MB read" in s]
                return {"time_s": elapsed, "progress_updates": len(progress)}

    return asyncio.run(main())


def run_qtqueue(src: Path, out: Path) -> dict[str, Any]:

    spec = {
        "group_by": ["cat"],
        "aggregates": [
            {"function": "count", "alias": "n"},
            {"function": "sum", "column": "val", "alias": "total"},
            {"function": "avg", "column": "val", "alias": "mean"},
            {"function": "min", "column": "val", "alias": "lo"},
            {"function": "max", "column": "val", "alias": "hi"},
        ],
        "order_by": [{"column": "cat"}],
    }

    params = {"inputs": {"src": str(src)}, "spec": spec, "output": str(out)}
    return _run_task("DATA_PROCESS", params)


def run_analyze(src: Path, out: Path) -> dict[str, Any]:
    """DATA_ANALYZE"""
    return _run_task("DATA_ANALYZE", {"source": str(src)})


def run_export(src: Path, out: Path) -> dict[str, Any]:
    """DATA_EXPORT csv to parquet"""
    return _run_task(
        "DATA_EXPORT", {"source": str(src), "output": str(out.with_suffix(".parquet"))}
    )


def run_duckdb(src: Path, out: Path) -> dict[str, Any]:
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect()
    query = SQL.format(src=f"read_csv('{src}')")
    con.execute(f"COPY ({query}) TO '{out}' (FORMAT csv)")
    con.close()
    return {"time_s": time.perf_counter() - t0}


def run_pandas(src: Path, out: Path) -> dict[str, Any]:
    import pandas as pd

    t0 = time.perf_counter()
    df = pd.read_csv(src)
    g = df.groupby("cat")["val"].agg(["count", "sum", "mean", "min", "max"])
    g.columns = ["n", "total", "mean", "lo", "hi"]
    g.sort_index().to_csv(out)
    return {"time_s": time.perf_counter() - t0}


def run_pandas_chunked(src: Path, out: Path) -> dict[str, Any]:
    import pandas as pd

    t0 = time.perf_counter()
    parts = []
    for chunk in pd.read_csv(src, usecols=["cat", "val"], chunksize=1_000_000):
        parts.append(chunk.groupby("cat")["val"].agg(["count", "sum", "min", "max"]))
    acc = (
        pd.concat(parts)
        .groupby(level=0)
        .agg({"count": "sum", "sum": "sum", "min": "min", "max": "max"})
    )
    acc["mean"] = acc["sum"] / acc["count"]
    acc = acc[["count", "sum", "mean", "min", "max"]]
    acc.columns = ["n", "total", "mean", "lo", "hi"]
    acc.sort_index().to_csv(out)
    return {"time_s": time.perf_counter() - t0}


RUNNERS = {
    "qtqueue": run_qtqueue,
    "duckdb": run_duckdb,
    "pandas": run_pandas,
    "pandas-chunked": run_pandas_chunked,
}
#: qtqueue's other data jobs measured on the same CSV (no answer compared).
JOBS = {"analyze": run_analyze, "export": run_export}


def worker(peer: str, src: Path, out: Path) -> None:
    """Run one peer once in this process; print its figures as one JSON line."""
    try:
        figures = {**RUNNERS, **JOBS}[peer](src, out)
        figures["peak_rss_mb"] = _hwm_mb()
        if peer in RUNNERS:
            figures["answer"] = _answer(out)
    except Exception as exc:  # a failing peer is reported, the run goes on
        figures = {"error": f"{type(exc).__name__}: {exc}"}
    print(RESULT_MARK + json.dumps(figures), flush=True)


def measure(peer: str, src: Path, folder: Path) -> dict[str, Any]:
    """One peer in a fresh subprocess: its figures, and RUSAGE_CHILDREN's view of its RSS."""
    out = folder / f"out-{peer}.csv"
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", peer, str(src), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_MARK)]
    if not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["no result"])[-1]}
    figures: dict[str, Any] = json.loads(lines[-1][len(RESULT_MARK) :])
    figures["children_maxrss_mb"] = children
    out.unlink(missing_ok=True)
    out.with_suffix(".parquet").unlink(missing_ok=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="100M", help="CSV size: 100M, 1G…")
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--dir", help="where the CSV is generated (default: a temp folder)")
    parser.add_argument("--jobs", default=",".join(JOBS), help="qtqueue's other jobs measured")
    parser.add_argument("--json", help="write every figure here")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]), Path(args.worker[2]))
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        src = folder / "data.csv"
        t0 = time.perf_counter()
        generate(src, _bytes(args.size))
        size_mb = src.stat().st_size / 1e6
        print(f"generated {src.name}: {size_mb:.0f} MB in {time.perf_counter() - t0:.1f} s")
        results = {peer: measure(peer, src, folder) for peer in args.peers.split(",")}
        jobs = {job: measure(job, src, folder) for job in args.jobs.split(",") if job}
    reference = next((r["answer"] for r in results.values() if "answer" in r), None)
    print("\n| peer | time (s) | MB/s | peak RSS (MiB) | answer |\n|---|---|---|---|---|")
    for peer, r in results.items():
        if "error" in r:
            print(f"| {peer} | error: {r['error']} | | | |")
            continue
        same = "same" if r["answer"] == reference else "WRONG"
        print(
            f"| {peer} | {r['time_s']:.2f} | {size_mb / r['time_s']:.0f} | "
            f"{r['peak_rss_mb']:.0f} | {same} |"
        )
    q = results.get("qtqueue", {})
    if "peak_rss_mb" in q:
        verdict = "PASS" if q["peak_rss_mb"] < 500 else "FAIL"
        print(
            f"\ntarget: qtqueue peak RSS < 500 MB on {size_mb:.0f} MB: {verdict}; "
            f"{q.get('progress_updates', 0)} progress updates by bytes read"
        )
    for job, r in jobs.items():
        if "error" in r:
            print(f"qtqueue {job}: error: {r['error']}")
            continue
        verdict = "PASS" if r["peak_rss_mb"] < 500 else "FAIL"
        print(
            f"qtqueue {job} ({JOBS[job].__doc__ or job}): {r['time_s']:.2f} s, "
            f"peak RSS {r['peak_rss_mb']:.0f} MiB (< 500 MB: {verdict})"
        )
    load = os.getloadavg()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load {load[0]:.2f}"
    )
    if args.json:
        for r in results.values():
            r.pop("answer", None)
        doc = {"size_mb": size_mb, "results": results, "jobs": jobs}
        Path(args.json).write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
