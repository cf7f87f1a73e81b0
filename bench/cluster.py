"""What qtqueue's job wrapper costs on RQ (issue 17: the cluster backend).

    python bench/cluster.py [--n 2000] [--workers 1,2] [--runs 1] [--lean] [--json OUT.json]
    python bench/cluster.py --profile DIR [--n 300]

Prints figures; it is not a test. One `redis-server` (no persistence, a free 127.0.0.1 port)
is started for the run and stopped by its pid. Each cell enqueues N jobs, then starts W burst
workers (each a fresh process of this script, hidden `--worker` flag) and waits for them:

- `qtqueue`: N qtqueue tasks of a no-op async handler, enqueued with `qtqueue.cluster.jobs
  .enqueue` (each prepared and validated as the local engine does) and run by
  `qtqueue.cluster.worker.QtqueueWorker` through `qtqueue.cluster.job.run_task`: the
  WorkerRunContext, job.meta (saved once, in RQ's own end-of-job transaction).
- `plain-rq`: N jobs of a no-op function (`builtins.dict`) with RQ's own `Queue.enqueue_call`
  and run by RQ's own `Worker` on the same three queues, with the same JSON serializer.
- `plain-rq-lean` (`--lean`): the same, but its client's connections skip CLIENT SETINFO as
  qtqueue's worker's do (each work horse opens one: two round trips and a read of redis-py's
  package metadata, ~1.5 ms a job), so that the wrapper's own cost shows like for like.

Both use RQ's forking worker (a fork per job). Throughput is N over the drain time: from the
first job's start to the last job's end as RQ recorded them (worker start-up not counted;
printed apart). Cells are interleaved, each pair in the other order than the one before
(qtqueue, plain, plain, qtqueue, …), so load on a shared machine, rising or falling, hits
both. The wrapper's cost is 1 - qtqueue/plain; the issue's target is < 20 %.
Latency: one idle worker of each kind, 50 jobs one at a time, from `enqueued_at` to
`started_at` (p50, p99). In process: both kinds run by RQ's `SimpleWorker` in this process
(no fork), milliseconds per job: the wrapper's own cost apart from the fork's.

CPU time per job: the user + system time of a cell's workers and their work horses (a worker's
start and exit, measured apart on an empty queue, taken off), which a loaded machine's wall
time hides; the wrapper's cost by CPU is 1 - plain/qtqueue. Redis per job: used memory once
queued and once finished, its CPU and commands (INFO), keys; a dashboard's page (the newest 100
finished jobs); memory per queued job with `hash-max-listpack-value` 64 and 1024. From these,
the paragraph on what 100 workers would need.

`--profile DIR` measures nothing else: one qtqueue worker runs N no-op tasks, each work horse
under cProfile from its first call to its last (RQ's bookkeeping in it too), one
`DIR/PID.prof` per job, and the functions that took the most time over all of them are
printed (pstats), with each horse's CPU time and page faults (`getrusage`): a fresh horse pays
for every page of its worker it writes to (copy on write), which a profile does not show.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402
from rq import Queue  # noqa: E402
from rq.job import Job  # noqa: E402
from rq.serializers import JSONSerializer  # noqa: E402

if TYPE_CHECKING:
    from qtqueue.executors import ExecutorRegistry

TARGET_WRAPPER_COST = 0.20
#: Plain RQ drains the same three queues in the same order (RQ's dequeue does more work for
#: several queues than for one: like for like).
PLAIN_QUEUES = ("high_priority", "default", "low_priority")
PLAIN_QUEUE = "default"
#: `--lean`: plain RQ whose work horses' connections skip CLIENT SETINFO, as qtqueue's do
#: (`qtqueue.cluster.job.ready_to_fork`): like for like, the wrapper's own cost.
LEAN = "plain-rq-lean"


def _no_client_setinfo() -> dict[str, Any]:
    """redis-py's keywords for a client whose connections do not name themselves."""
    import importlib.util

    if importlib.util.find_spec("redis.driver_info") is not None:
        return {"driver_info": None}
    return {"lib_name": None, "lib_version": None}


async def noop(task_id: str, params: dict[str, Any]) -> None:
    """The qtqueue side's no-op handler."""


def _worker(kind: str, url: str, name: str, burst: bool, profile: Path | None = None) -> None:
    """One worker process of `kind` (hidden `--worker`); with `profile`, each horse profiled."""
    conn = Redis.from_url(url)
    if kind == "qtqueue":
        from qtqueue.cluster import job
        from qtqueue.cluster.jobs import SERIALIZER, rq_queue
        from qtqueue.cluster.queues import DRAIN_ORDER
        from qtqueue.cluster.worker import QtqueueWorker

        job.configure(_bench_registry(), Path(tempfile.mkdtemp(prefix="qtq-bench-")))
        queues = [rq_queue(conn, q) for q in DRAIN_ORDER]
        cls = _profiled(QtqueueWorker, profile) if profile else QtqueueWorker
        cls(queues, name=name, connection=conn, serializer=SERIALIZER).work(
            burst=burst, logging_level="WARNING"
        )
    else:
        from rq import Worker

        if kind == LEAN:
            conn = Redis.from_url(url, **_no_client_setinfo())
        queues = [Queue(q, connection=conn, serializer=JSONSerializer) for q in PLAIN_QUEUES]
        Worker(queues, name=name, connection=conn, serializer=JSONSerializer).work(
            burst=burst, logging_level="WARNING"
        )


def _profiled(base: type[Any], where: Path) -> type[Any]:
    """`base` whose work horses run under cProfile, each written to `where`/PID.prof, with
    the horse's CPU ms and page faults from its fork to its exit in `where`/PID.txt."""
    import cProfile

    class Profiled(base):  # type: ignore[misc]
        def main_work_horse(self, job: Job, queue: Queue) -> None:
            profile = cProfile.Profile()
            start = resource.getrusage(resource.RUSAGE_SELF)
            real_exit = os._exit

            def exit_after_saving(code: int) -> None:
                profile.disable()
                end = resource.getrusage(resource.RUSAGE_SELF)
                cpu = end.ru_utime + end.ru_stime - start.ru_utime - start.ru_stime
                pid = os.getpid()
                profile.dump_stats(where / f"{pid}.prof")
                (where / f"{pid}.txt").write_text(f"{cpu * 1000} {end.ru_minflt - start.ru_minflt}")
                real_exit(code)

            os._exit = exit_after_saving  # type: ignore[assignment]  # the horse's last call
            profile.enable()
            super().main_work_horse(job, queue)

    return Profiled


def _print_profile(where: Path, top: int = 25) -> None:
    """The horses' profiles summed (the `top` functions by own time), CPU and page faults."""
    import pstats

    files = sorted(where.glob("*.prof"))
    stats = pstats.Stats(*map(str, files))
    figures = [tuple(map(float, p.read_text().split())) for p in where.glob("*.txt")]
    cpu, faults = (statistics.median(f[i] for f in figures) for i in (0, 1))
    print(f"{len(files)} work horses, each profiled (cProfile's own cost included): median "
          f"{cpu:.2f} ms CPU and {faults:.0f} page faults a horse from its first to its last "
          "call (the kernel's fork and exit not included)")  # fmt: skip
    stats.files = []  # type: ignore[attr-defined]  # not a line per file
    stats.sort_stats("tottime").print_stats(top)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start_redis(where: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
         "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(where)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)  # polling a server that is starting
    return proc, f"redis://127.0.0.1:{port}/0"


@functools.cache
def _bench_registry() -> ExecutorRegistry:
    from qtqueue.executors import default_registry

    registry = default_registry(entry_points=False)
    registry.register_handler("noop", noop)
    return registry


def _enqueue(kind: str, conn: Redis, n: int) -> tuple[list[str], float]:
    ids = []
    if kind == "qtqueue":
        from qtqueue.cluster.jobs import enqueue
        from qtqueue.core.task import Task

        registry = _bench_registry()
        start = time.perf_counter()
        for _ in range(n):
            ids.append(enqueue(conn, Task("noop", max_retries=0), registry).id)
    else:
        queue = Queue(PLAIN_QUEUE, connection=conn, serializer=JSONSerializer)
        start = time.perf_counter()
        for _ in range(n):
            ids.append(queue.enqueue_call("builtins.dict", result_ttl=86400).id)
    return ids, time.perf_counter() - start


def _spawn(kind: str, url: str, name: str, burst: bool = True) -> subprocess.Popen[bytes]:
    args = [sys.executable, __file__, "--worker", kind, "--redis", url, "--name", name]
    return subprocess.Popen([*args, *(["--burst"] if burst else [])])


def _info(conn: Redis) -> dict[str, Any]:
    return cast(dict[str, Any], conn.info())


def _redis_figures(conn: Redis) -> tuple[int, float, int]:
    """Redis's used memory (bytes), CPU seconds (user + system) and commands processed."""
    info = _info(conn)
    return (
        int(info["used_memory"]),
        float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
        int(info["total_commands_processed"]),
    )


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _page_ms(conn: Redis, kind: str, size: int = 100) -> float:
    """Milliseconds to read the newest page of `size` finished jobs as a dashboard would: the
    ids from the finished registry (a sorted set: ZREVRANGE), the jobs in one pipeline."""
    from rq.registry import FinishedJobRegistry

    queue = "default"
    registry = FinishedJobRegistry(queue, connection=conn, serializer=JSONSerializer)
    start = time.perf_counter()
    ids = registry.get_job_ids(0, size - 1, desc=True)
    jobs = Job.fetch_many(ids, connection=conn, serializer=JSONSerializer)
    elapsed = (time.perf_counter() - start) * 1000
    assert kind and len([j for j in jobs if j]) == min(size, registry.count), "a page came short"
    return elapsed


@functools.cache
def _startup_cpu_s(kind: str, url: str) -> float:
    """CPU seconds of a burst worker of `kind` that finds no job (its start and exit): taken off
    a cell's CPU time, so that it counts the jobs alone (median of 3, on an empty db 1)."""
    empty = url.rsplit("/", 1)[0] + "/1"
    spent = []
    for _ in range(3):
        before = _children_cpu_s()
        _spawn(kind, empty, f"{kind}-start").wait()
        spent.append(_children_cpu_s() - before)
    return statistics.median(spent)


def _cell(kind: str, url: str, n: int, workers: int) -> dict[str, Any]:
    conn = Redis.from_url(url)
    conn.flushdb()
    mem0, _, _ = _redis_figures(conn)
    ids, enqueue_s = _enqueue(kind, conn, n)
    mem_queued, redis_cpu0, commands0 = _redis_figures(conn)
    cpu0 = _children_cpu_s()
    wall = time.perf_counter()
    procs = [_spawn(kind, url, f"{kind}-{i}") for i in range(workers)]
    for p in procs:
        p.wait()
    wall_s = time.perf_counter() - wall
    cpu_s = _children_cpu_s() - cpu0 - workers * _startup_cpu_s(kind, url)
    mem_done, redis_cpu1, commands1 = _redis_figures(conn)
    keys_per_job = cast(int, conn.dbsize()) / n
    page_ms = _page_ms(conn, kind)
    jobs = [j for j in Job.fetch_many(ids, connection=conn, serializer=JSONSerializer) if j]
    done = [j for j in jobs if j.get_status() == "finished"]
    first = min(j.started_at for j in done if j.started_at)
    last = max(j.ended_at for j in done if j.ended_at)
    drain_s = (last - first).total_seconds()
    return {
        "kind": kind, "n": n, "workers": workers, "finished": len(done),
        "enqueue_per_s": n / enqueue_s, "tasks_per_s": len(done) / drain_s,
        "drain_s": drain_s, "wall_s": wall_s,
        "cpu_ms_per_job": cpu_s / n * 1000, "keys_per_job": keys_per_job, "page_ms": page_ms,
        "redis_cpu_ms_per_job": (redis_cpu1 - redis_cpu0) / n * 1000,
        "redis_commands_per_job": (commands1 - commands0) / n,
        "redis_bytes_per_queued_job": (mem_queued - mem0) / n,
        "redis_bytes_per_finished_job": (mem_done - mem0) / n,
    }  # fmt: skip


def _latency(kind: str, url: str, count: int = 50) -> dict[str, float]:
    conn = Redis.from_url(url)
    conn.flushdb()
    worker = _spawn(kind, url, f"{kind}-idle", burst=False)
    try:
        waits = []
        for _ in range(count + 3):
            (job_id,), _ = _enqueue(kind, conn, 1)
            deadline = time.monotonic() + 30
            while True:
                job = Job.fetch(job_id, connection=conn, serializer=JSONSerializer)
                if job.get_status() == "finished":
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{kind}: job {job_id} did not finish")
                time.sleep(0.002)  # polling the job's status between checks
            if job.started_at is None or job.enqueued_at is None:
                continue  # read between RQ's writes: not a sample
            waits.append((job.started_at - job.enqueued_at).total_seconds() * 1000)
        waits = waits[3:]  # the first ones wait for the worker's start
        waits.sort()
        return {"p50_ms": statistics.median(waits), "p99_ms": waits[int(len(waits) * 0.99) - 1]}
    finally:
        worker.terminate()
        worker.wait()


def _in_process(kind: str, url: str, n: int) -> float:
    """Milliseconds per job with RQ's `SimpleWorker` in this process (no fork): the wrapper's
    own cost without the fork's, which grows with the worker's memory."""
    from rq import SimpleWorker

    conn = Redis.from_url(url)
    conn.flushdb()
    if kind == "qtqueue":
        from qtqueue.cluster import job

        job.configure(_bench_registry(), Path(tempfile.mkdtemp(prefix="qtq-bench-")))
    _enqueue(kind, conn, n)
    queues = [Queue(q, connection=conn, serializer=JSONSerializer) for q in PLAIN_QUEUES]
    worker = SimpleWorker(queues, connection=conn, serializer=JSONSerializer)
    start = time.perf_counter()
    worker.work(burst=True, logging_level="WARNING")
    return (time.perf_counter() - start) / n * 1000


def _queued_bytes(kind: str, url: str, n: int = 2000) -> dict[str, float]:
    """Redis memory per queued job with `hash-max-listpack-value` at Redis's default (64) and
    at 1024: a qtqueue job's data and meta are longer than 64 bytes."""
    conn = Redis.from_url(url)
    out = {}
    for limit in ("64", "1024"):
        conn.flushdb()
        conn.config_set("hash-max-listpack-value", limit)
        before = int(_info(conn)["used_memory"])
        _enqueue(kind, conn, n)
        out[limit] = (int(_info(conn)["used_memory"]) - before) / n
    conn.config_set("hash-max-listpack-value", "64")
    conn.flushdb()
    return out


def _print_lean(
    cells: dict[tuple[str, int], list[dict[str, Any]]], counts: list[int], rows: list[Any]
) -> None:
    """qtqueue against plain RQ whose horses skip CLIENT SETINFO as qtqueue's do."""
    print(f"\nLike for like: plain RQ whose horses' connections skip CLIENT SETINFO ({LEAN}):")
    print("| workers | plain RQ lean tasks/s | wrapper cost | CPU ms/job | wrapper cost (CPU) |")
    print("|---|---|---|---|---|")
    for w in counts:
        lean, cpu = (statistics.median(c[k] for c in cells[(LEAN, w)])
                     for k in ("tasks_per_s", "cpu_ms_per_job"))  # fmt: skip
        q, qc = (statistics.median(c[k] for c in cells[("qtqueue", w)])
                 for k in ("tasks_per_s", "cpu_ms_per_job"))  # fmt: skip
        print(f"| {w} | {lean:.0f} | {1 - q / lean:.1%} | {cpu:.2f} | {1 - cpu / qc:.1%} |")
        rows[counts.index(w)].update(lean=lean, lean_cost=1 - q / lean, cpu_lean=cpu)


def _hundred_workers(cells: dict[tuple[str, int], list[dict[str, Any]]], counts: list[int]) -> None:
    """The paragraph on 100 workers, from this run's figures."""
    med: dict[str, dict[str, float]] = {}
    for kind in ("qtqueue", "plain-rq"):
        cs = [c for w in counts for c in cells[(kind, w)]]
        med[kind] = {key: statistics.median(c[key] for c in cs) for key in (
            "redis_bytes_per_queued_job", "redis_bytes_per_finished_job", "redis_cpu_ms_per_job",
            "redis_commands_per_job", "keys_per_job", "page_ms")}  # fmt: skip
        med[kind]["per_worker"] = statistics.median(c["tasks_per_s"] / c["workers"] for c in cs)
    q, p = med["qtqueue"], med["plain-rq"]
    rate = 100 * q["per_worker"]
    day_gb = rate * 86_400 * q["redis_bytes_per_finished_job"] / 1e9
    redis_max = 1000 / q["redis_cpu_ms_per_job"] if q["redis_cpu_ms_per_job"] else 0.0
    print(f"""
100 workers, from this run (qtqueue; plain RQ in brackets). Redis memory per job:
{q["redis_bytes_per_queued_job"]:.0f} B queued ({p["redis_bytes_per_queued_job"]:.0f}), \
{q["redis_bytes_per_finished_job"]:.0f} B finished ({p["redis_bytes_per_finished_job"]:.0f}): \
{q["keys_per_job"]:.1f} keys a job ({p["keys_per_job"]:.1f}),
the job's hash and RQ's result stream, kept 24 h (result_ttl). 100 workers at this run's
{q["per_worker"]:.0f} no-op tasks/s each ({rate:,.0f}/s) would keep {day_gb:.0f} GB a day: short
tasks at that rate need a short result_ttl and a Redis sized for rate x result_ttl x bytes.
Redis CPU: {q["redis_cpu_ms_per_job"]:.2f} ms of its one thread per job \
({p["redis_cpu_ms_per_job"]:.2f}), {q["redis_commands_per_job"]:.0f} commands \
({p["redis_commands_per_job"]:.0f}): one Redis
tops out near {redis_max:,.0f} jobs/s, so 100 workers of sub-second tasks are bound by Redis;
tasks of seconds and more are not. Registry scans: RQ's maintenance reads only the expired
part of each registry's sorted set (ZRANGEBYSCORE), once every 10 minutes under a lock, so
workers add no scans; heartbeats are one write per worker per 30 s-ish. A dashboard must page:
the newest 100 finished jobs (ZREVRANGE, then one pipeline of HGETALLs) took
{q["page_ms"]:.1f} ms here ({p["page_ms"]:.1f}); never list a whole registry or SCAN the keys.""")


def _profile_run(where: Path, n: int) -> None:
    """`--profile`: one qtqueue worker, N no-op tasks, each horse profiled (see the notes)."""
    where.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        redis, url = _start_redis(Path(tmp))
        try:
            _enqueue("qtqueue", Redis.from_url(url), n)
            args = [sys.executable, __file__, "--worker", "qtqueue", "--redis", url]
            subprocess.run([*args, "--name", "profiled", "--burst", "--profile", str(where)],
                           check=True)  # fmt: skip
        finally:
            redis.terminate()
            redis.wait()
    _print_profile(where)


def main() -> None:
    """Run the cells and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="jobs per cell (default 2000)")
    parser.add_argument("--workers", default="1,2", help="worker counts (default 1,2)")
    parser.add_argument("--runs", type=int, default=1, help="runs per cell (median)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--profile", type=Path, help="profile each work horse into this folder")
    parser.add_argument("--lean", action="store_true", help=f"cells of {LEAN} too")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    parser.add_argument("--burst", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.redis, args.name, args.burst, args.profile)
        return
    if args.profile:
        _profile_run(args.profile, args.n)
        return
    counts = [int(c) for c in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        redis, url = _start_redis(Path(tmp))
        try:
            cells: dict[tuple[str, int], list[dict[str, Any]]] = {}
            turn = 0
            kinds = ("qtqueue", "plain-rq", *((LEAN,) if args.lean else ()))
            for w in counts:
                for _ in range(args.runs):
                    for kind in kinds if turn % 2 == 0 else kinds[::-1]:
                        cells.setdefault((kind, w), []).append(_cell(kind, url, args.n, w))
                    turn += 1
            latency = {kind: _latency(kind, url) for kind in ("qtqueue", "plain-rq")}
            listpack = {kind: _queued_bytes(kind, url) for kind in ("qtqueue", "plain-rq")}
            inproc: dict[str, list[float]] = {"qtqueue": [], "plain-rq": []}
            for _ in range(3):
                for kind in inproc:
                    inproc[kind].append(_in_process(kind, url, min(args.n, 500)))
        finally:
            redis.terminate()
            redis.wait()
    rows = []
    print(f"\n{args.n} no-op jobs, RQ forking workers, one redis-server; median of {args.runs}")
    print("| workers | qtqueue tasks/s | plain RQ tasks/s | wrapper cost | target |")
    print("|---|---|---|---|---|")
    for w in counts:
        q = statistics.median(c["tasks_per_s"] for c in cells[("qtqueue", w)])
        p = statistics.median(c["tasks_per_s"] for c in cells[("plain-rq", w)])
        cost = 1 - q / p
        verdict = "PASS" if cost < TARGET_WRAPPER_COST else "FAIL"
        print(f"| {w} | {q:.0f} | {p:.0f} | {cost:.1%} | < 20 % {verdict} |")
        rows.append({"workers": w, "qtqueue": q, "plain": p, "cost": cost})
    print("\nCPU time per job (workers and their work horses, user + system; what a loaded")
    print("machine's wall time hides), and Redis's share:")
    print(
        "| workers | qtqueue ms/job | plain RQ ms/job | wrapper cost (CPU) | Redis ms/job q / p |"
    )
    print("|---|---|---|---|---|")
    for w in counts:
        qc, pc, qr, pr = (
            statistics.median(c[key] for c in cells[(kind, w)])
            for kind, key in (("qtqueue", "cpu_ms_per_job"), ("plain-rq", "cpu_ms_per_job"),
                              ("qtqueue", "redis_cpu_ms_per_job"),
                              ("plain-rq", "redis_cpu_ms_per_job"))
        )  # fmt: skip
        print(f"| {w} | {qc:.2f} | {pc:.2f} | {1 - pc / qc:.1%} | {qr:.2f} / {pr:.2f} |")
        rows[counts.index(w)].update(cpu_q=qc, cpu_p=pc, cpu_cost=1 - pc / qc)
    if args.lean:
        _print_lean(cells, counts, rows)
    _hundred_workers(cells, counts)
    print("Redis bytes per queued job by hash-max-listpack-value (64 is Redis's default; a value "
          "longer turns a job's hash into a hashtable):")  # fmt: skip
    for kind, sizes in listpack.items():
        print(f"  {kind}: " + ", ".join(f"{k}: {v:.0f} B" for k, v in sizes.items()))
    for kind in ("qtqueue", "plain-rq"):
        enq = statistics.median(c["enqueue_per_s"] for cs in cells.values() for c in cs
                                if c["kind"] == kind)  # fmt: skip
        lat = latency[kind]
        print(f"{kind}: enqueue {enq:.0f}/s; enqueue->start p50 {lat['p50_ms']:.1f} ms, "
              f"p99 {lat['p99_ms']:.1f} ms (idle worker)")  # fmt: skip
    q_ms, p_ms = (statistics.median(inproc[k]) for k in ("qtqueue", "plain-rq"))
    print(f"in process (SimpleWorker, no fork), median of 3: qtqueue {q_ms:.2f} ms/job, "
          f"plain RQ {p_ms:.2f} ms/job: the wrapper adds {q_ms - p_ms:.2f} ms")  # fmt: skip
    print(f"load average: {os.getloadavg()}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "cells": [c for cs in cells.values() for c in cs],
                    "rows": rows,
                    "latency": latency,
                    "in_process_ms": inproc,
                    "queued_bytes_by_listpack_value": listpack,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
