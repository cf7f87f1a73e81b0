"""The peers qtqueue is measured against in `bench/engine.py`: bare baselines and Huey.

Each `wN_<peer>` function runs one workload once, in the calling process, and returns a dict of
figures (the same keys as the qtqueue side). `engine.py` runs each one in a fresh subprocess.
Nothing here imports qtqueue.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import random
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

perf_counter = time.perf_counter

#: Seconds the producer pauses between W2 tasks for peers that wake in-process.
W2_GAP_S = 0.002
#: W2 gap range for polling consumers: arrivals land at a random phase of the poll cycle.
W2_POLL_GAP_S = (0.005, 0.125)
W2_WARMUP = 5


#: Prefix of the one stdout line in which a worker process sends back its result as JSON.
RESULT_MARK = "@@bench-result "


def spawn_worker(cmd: list[str], timeout_s: float) -> dict[str, Any]:
    """Run a worker process to completion and return the result it reported; a failure (no
    result, a timeout, or an "error" result) comes back as {"error": ...}, its stderr shown."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARK) :])
            if "error" in result:
                sys.stderr.write(proc.stderr)
            return result
    sys.stderr.write(proc.stderr)
    tail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
    return {"error": tail}


def report_result(work: Callable[[], dict[str, Any]]) -> int:
    """In a worker process: run `work` and print its result (or its error) for spawn_worker."""
    try:
        result = work()
    except Exception as exc:  # reported to the orchestrator, which keeps going
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(RESULT_MARK + json.dumps(result), flush=True)
    return 0


def vm_kb(field: str, pid: int | str = "self") -> int | None:
    """A `Vm*` line of /proc/PID/status in kB (VmHWM: peak RSS), or None if unreadable."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


async def build_finished_store(n: int, store: str) -> dict[str, Any]:
    """Fill a data directory with N finished no-op tasks, through qtqueue's engine itself
    (added in chunks of 10,000 with add_tasks, drained at max_concurrent=2)."""
    from qtqueue import Task, TaskQueue

    async def noop(task_id: str, params: dict[str, Any]) -> None:
        return None

    chunk = 10_000
    q = TaskQueue(store, max_concurrent=2)
    q.register_handler("noop", noop)
    await q.start()
    try:
        t0 = time.perf_counter()
        for start in range(0, n, chunk):
            await q.add_tasks([Task("noop") for _ in range(min(chunk, n - start))])
        await q.join()
        elapsed = time.perf_counter() - t0
        stats = await q.get_queue_stats()
    finally:
        await q.close()
    done = stats["status_distribution"].get("completed", 0)
    if done != n:
        raise RuntimeError(f"only {done} of {n} tasks completed")
    return {
        "build_s": elapsed,
        "tasks_per_s": n / elapsed,
        "db_mb": (Path(store) / "queue.db").stat().st_size / 2**20,
        "n": n,
    }


def w1_figures(n: int, t0: float, t1: float, t2: float) -> dict[str, Any]:
    """W1's figures from its clock readings: start, all enqueued, all drained."""
    return {
        "tasks_per_s": n / (t2 - t0),
        "enqueue_s": t1 - t0,
        "drain_s": t2 - t1,
        "rss_mb": peak_rss_mb(),
        "n": n,
    }


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("unknown" where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
                "unknown",
            )
    except OSError:
        return "unknown"


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """Peak resident set size (VmHWM) of a process in MiB."""
    kb = vm_kb("VmHWM", pid)
    return None if kb is None else kb / 1024


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


def latency_figures(lat_s: list[float]) -> dict[str, Any]:
    return {
        "p50_ms": percentile(lat_s, 50) * 1e3,
        "p99_ms": percentile(lat_s, 99) * 1e3,
        "max_ms": max(lat_s) * 1e3,
        "n": len(lat_s),
    }


# --------------------------------------------------------------------------- bare sqlite


class BareSqliteQueue:
    """The smallest honest durable queue: one table, WAL, stdlib sqlite3, in-process wake-up.

    Every step is its own committed statement: INSERT (enqueue), claim
    (UPDATE … RETURNING), complete (UPDATE). Consumer threads have their own connection and
    wait on a Condition the producer notifies after each commit; one in-process lock
    serialises writers so SQLite's sleeping busy handler never runs.
    """

    def __init__(
        self, path: Path, synchronous: str, consumers: int, handler: Callable[[int, str], None]
    ) -> None:
        self.path = path
        self.synchronous = synchronous
        self.handler = handler
        self.write_lock = threading.Lock()
        self.cond = threading.Condition()
        self.available = 0
        self.stopping = False
        self.done = 0
        self.all_done = threading.Event()
        self.target = 0
        self.conn = self._connect()
        self.conn.executescript(
            "CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "payload TEXT NOT NULL, status TEXT NOT NULL, created_at REAL, started_at REAL, "
            "finished_at REAL);"
            "CREATE INDEX IF NOT EXISTS jobs_status_id ON jobs (status, id);"
        )
        self.threads = [
            threading.Thread(target=self._consume, daemon=True) for _ in range(consumers)
        ]
        for t in self.threads:
            t.start()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        return conn

    def put(self, name: str, payload: str = "{}") -> int:
        with self.write_lock:
            cur = self.conn.execute(
                "INSERT INTO jobs (name, payload, status, created_at) VALUES (?, ?, 'pending', ?)",
                (name, payload, time.time()),
            )
        with self.cond:
            self.available += 1
            self.cond.notify()
        return int(cur.lastrowid or 0)

    def _consume(self) -> None:
        conn = self._connect()
        while True:
            with self.cond:
                while not self.available and not self.stopping:
                    self.cond.wait()
                if self.stopping:
                    break
                self.available -= 1
            with self.write_lock:
                row = conn.execute(
                    "UPDATE jobs SET status = 'running', started_at = ? WHERE id = "
                    "(SELECT id FROM jobs WHERE status = 'pending' ORDER BY id LIMIT 1) "
                    "RETURNING id, name, payload",
                    (time.time(),),
                ).fetchall()
            if not row:
                continue
            job_id, name, _payload = row[0]
            self.handler(job_id, name)
            with self.write_lock:
                conn.execute(
                    "UPDATE jobs SET status = 'completed', finished_at = ? WHERE id = ?",
                    (time.time(), job_id),
                )
            with self.cond:
                self.done += 1
                if self.done >= self.target:
                    self.all_done.set()
        conn.close()

    def expect(self, total: int) -> None:
        """Set `all_done` once `total` jobs (counted since creation) have completed."""
        with self.cond:
            self.target = total
            self.all_done.clear()
            if self.done >= total:
                self.all_done.set()

    def close(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        for t in self.threads:
            t.join()
        self.conn.close()


def w1_bare_sqlite(n: int, synchronous: str = "NORMAL") -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-bare-") as d:
        q = BareSqliteQueue(Path(d) / "q.db", synchronous, 2, lambda _i, _n: None)
        q.expect(n)
        t0 = perf_counter()
        for _ in range(n):
            q.put("noop")
        t1 = perf_counter()
        q.all_done.wait()
        t2 = perf_counter()
        q.close()
        completed = (
            sqlite3.connect(Path(d) / "q.db")
            .execute("SELECT count(*) FROM jobs WHERE status = 'completed'")
            .fetchone()[0]
        )
    if completed != n:
        raise RuntimeError(f"only {completed} of {n} jobs completed")
    return w1_figures(n, t0, t1, t2)


def w2_bare_sqlite(n: int) -> dict[str, Any]:
    starts: dict[int, float] = {}

    def handler(job_id: int, _name: str) -> None:
        starts[job_id] = perf_counter()

    lat: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-bare-") as d:
        q = BareSqliteQueue(Path(d) / "q.db", "NORMAL", 2, handler)
        for i in range(n + W2_WARMUP):
            q.expect(i + 1)
            time.sleep(W2_GAP_S)
            t0 = perf_counter()
            job_id = q.put("probe")
            q.all_done.wait()
            if i >= W2_WARMUP:
                lat.append(starts[job_id] - t0)
        q.close()
    return latency_figures(lat)


# --------------------------------------------------------------------------- bare asyncio / threads


def w3_bare_asyncio(n: int) -> dict[str, Any]:
    async def main() -> float:
        jobs: asyncio.Queue[int | None] = asyncio.Queue()

        async def worker() -> None:
            while (item := await jobs.get()) is not None:
                proc = await asyncio.create_subprocess_exec("true")
                if await proc.wait() != 0:
                    raise RuntimeError(f"job {item} failed")

        workers = [asyncio.create_task(worker()) for _ in range(2)]
        t0 = perf_counter()
        for i in range(n):
            jobs.put_nowait(i)
        for _ in workers:
            jobs.put_nowait(None)
        await asyncio.gather(*workers)
        return perf_counter() - t0

    elapsed = asyncio.run(main())
    return {"tasks_per_s": n / elapsed, "elapsed_s": elapsed, "n": n}


def w3_bare_threads(n: int) -> dict[str, Any]:
    jobs: queue.Queue[int | None] = queue.Queue()
    failures: list[int] = []

    def worker() -> None:
        while (item := jobs.get()) is not None:
            if subprocess.run(["true"]).returncode != 0:
                failures.append(item)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    t0 = perf_counter()
    for i in range(n):
        jobs.put(i)
    for _ in threads:
        jobs.put(None)
    for t in threads:
        t.join()
    elapsed = perf_counter() - t0
    if failures:
        raise RuntimeError(f"{len(failures)} jobs failed")
    return {"tasks_per_s": n / elapsed, "elapsed_s": elapsed, "n": n}


# --------------------------------------------------------------------------- huey

#: A completion record on the FIFO: (task index, perf_counter at handler start).
_RECORD = struct.Struct("<dd")
_FIFO_ENV = "BENCH_HUEY_FIFO"
_fifo_fd: int | None = None


def _report(index: float, stamp: float) -> None:
    """Write one record to the harness FIFO (one write(2) of 16 bytes: atomic on a pipe)."""
    global _fifo_fd
    if _fifo_fd is None:
        _fifo_fd = os.open(os.environ[_FIFO_ENV], os.O_WRONLY)
    os.write(_fifo_fd, _RECORD.pack(index, stamp))


def make_huey(db_path: str) -> Any:
    """SqliteHuey with its defaults (WAL, SQLite's default synchronous=FULL) and two tasks."""
    from huey import SqliteHuey  # type: ignore[import-untyped]

    huey = SqliteHuey("bench", filename=db_path)

    @huey.task()  # type: ignore[untyped-decorator]
    def noop(i: int) -> None:
        _report(i, 0.0)

    @huey.task()  # type: ignore[untyped-decorator]
    def probe(i: int) -> None:
        _report(i, perf_counter())

    huey.bench_tasks = {"noop": noop, "probe": probe}
    return huey


def huey_consumer_main(db_path: str, fifo: str) -> None:
    """Entry point of the consumer child: 2 thread workers, every other setting default."""
    from huey.consumer import Consumer  # type: ignore[import-untyped]

    os.environ[_FIFO_ENV] = fifo
    huey = make_huey(db_path)
    Consumer(huey, workers=2, worker_type="thread").run()


class HueyRun:
    """A huey consumer process on a fresh database, and a FIFO reader counting records."""

    def __init__(self, engine_script: str) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-huey-")
        d = Path(self.tmp.name)
        self.db_path = str(d / "huey.db")
        fifo = str(d / "done.fifo")
        os.mkfifo(fifo)
        # Our own write end keeps reads from seeing EOF before the consumer opens the FIFO.
        self.rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        self.keep_wfd = os.open(fifo, os.O_WRONLY)
        os.set_blocking(self.rfd, True)
        self.records: queue.SimpleQueue[tuple[float, float, float]] = queue.SimpleQueue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.huey = make_huey(self.db_path)
        self.consumer = subprocess.Popen(
            [sys.executable, engine_script, "--huey-consumer", self.db_path, fifo],
            stdout=subprocess.DEVNULL,
        )

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self.rfd, 65536)
            except OSError:
                return
            if not chunk:
                return
            now = perf_counter()
            buf += chunk
            whole = len(buf) - len(buf) % _RECORD.size
            for off in range(0, whole, _RECORD.size):
                i, stamp = _RECORD.unpack_from(buf, off)
                self.records.put((i, stamp, now))
            buf = buf[whole:]

    def wait(self, count: int, timeout_s: float = 120.0) -> list[tuple[float, float, float]]:
        out: list[tuple[float, float, float]] = []
        deadline = time.monotonic() + timeout_s
        while len(out) < count:
            left = deadline - time.monotonic()
            if left <= 0 or self.consumer.poll() is not None:
                raise RuntimeError(
                    f"huey: {len(out)} of {count} results (consumer exit {self.consumer.poll()})"
                )
            try:
                out.append(self.records.get(timeout=min(left, 1.0)))
            except queue.Empty:
                continue
        return out

    def warm_up(self) -> None:
        """One task through the consumer: it is up, and its poll delay is at its minimum."""
        self.huey.bench_tasks["noop"](-1)
        self.wait(1, timeout_s=60)

    def consumer_rss_mb(self) -> float | None:
        return peak_rss_mb(self.consumer.pid)

    def close(self) -> None:
        if self.consumer.poll() is None:
            self.consumer.send_signal(signal.SIGTERM)
            try:
                self.consumer.wait(10)
            except subprocess.TimeoutExpired:
                self.consumer.kill()
                self.consumer.wait()
        os.close(self.keep_wfd)
        os.close(self.rfd)
        self.tmp.cleanup()


def w1_huey(n: int, engine_script: str) -> dict[str, Any]:
    run = HueyRun(engine_script)
    try:
        run.warm_up()
        noop = run.huey.bench_tasks["noop"]
        t0 = perf_counter()
        for i in range(n):
            noop(i)
        t1 = perf_counter()
        run.wait(n)
        t2 = perf_counter()
        rss = run.consumer_rss_mb()
    finally:
        run.close()
    return {
        "tasks_per_s": n / (t2 - t0),
        "enqueue_s": t1 - t0,
        "drain_s": t2 - t1,
        "rss_mb": rss,
        "producer_rss_mb": peak_rss_mb(),
        "n": n,
    }


def w2_huey(n: int, engine_script: str) -> dict[str, Any]:
    run = HueyRun(engine_script)
    lat: list[float] = []
    rng = random.Random(2)
    try:
        run.warm_up()
        probe = run.huey.bench_tasks["probe"]
        for i in range(n + W2_WARMUP):
            time.sleep(rng.uniform(*W2_POLL_GAP_S))
            t0 = perf_counter()
            probe(i)
            ((_, started, _),) = run.wait(1)
            if i >= W2_WARMUP:
                lat.append(started - t0)
    finally:
        run.close()
    return latency_figures(lat)
