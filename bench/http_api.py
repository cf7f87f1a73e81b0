"""The engine's HTTP faces under load (issue 15, "Speed"), with bare peers in the same run.

    python bench/http_api.py [--quick] [--json OUT.json] [--only adds,list,events]
                             [--clients 8] [--per-client 2500] [--profile DIR]

Prints figures; it is not a test. The engine runs in a process of its own (this script's hidden
`--serve` mode: `TaskQueue` + the local API's `ApiServer` on its Unix socket + `HttpServer` on
127.0.0.1:0), and the clients here talk to it over real sockets:

- **adds**: `--clients` aiohttp clients, one keep-alive connection each, every client adding
  `--per-client` tasks one request at a time (`CUSTOM_COMMAND {"command": "true"}`, dispatch
  paused so that only the adds are measured). Through the local socket (`POST /api`
  `add_task`) and, where the REST routes exist, `POST /tasks/` (201). Peers on the same
  client: a bare aiohttp server that answers without storing (the HTTP floor), and one that
  commits each add with stdlib sqlite3 (WAL, NORMAL) in its handler.
- **list**: a store of 100,000 tasks (90,000 completed, 10,000 pending; built with the
  engine's batch add), then `GET /tasks/?status=completed&limit=100` and `?status=pending`
  (with their totals), or the local `list_tasks` action where REST is absent; p50/p99.
- **events**: a subscriber on `/events` while clients add no-op tasks that the engine runs
  (each task: added, running, completed), counting the changes received against those the
  engine published, and the lag from an add's request to its ADDED event.

`--profile DIR` runs the serving process under cProfile and leaves one `.prof` per workload.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _peers  # a sibling module, importable however the script is started
from _peers import percentile

SCRIPT = str(Path(__file__).resolve())
perf_counter = time.perf_counter
ADD_BODY = {"task_type": "CUSTOM_COMMAND", "params": {"command": "true"}}
#: What the peer runs ask and answer for context: enqueue rates from bench/peers (W1 enqueue
#: of 10,000 tasks, one call each, in-process client): not this run, not over HTTP.
#: Adds each client makes before the measured ones (connections opened, code paths warm).
WARMUP_ADDS = 50
PEER_ENQUEUE = "rq 2,470/s, arq 2,110/s, huey 4,970/s (PEER_FIGURES.md W1 enqueue, not HTTP)"


# --------------------------------------------------------------------------- the serving process


async def _noop(task_id: str, params: dict[str, Any]) -> None:
    return None


def _bench_keyring() -> Any:
    """An in-memory keyring for the serving process: the server reads its key once at start
    (then checks each request against it in memory), so per request nothing differs from the
    OS keyring, which a bench run may not have (no Secret Service session)."""
    from keyring.backend import KeyringBackend

    class BenchKeyring(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def __init__(self) -> None:
            super().__init__()
            self.kept: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.kept.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self.kept[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            self.kept.pop((service, username), None)

    return BenchKeyring()


async def serve_engine(data_dir: str, paused: bool) -> None:
    """The engine, its local API and its HTTP server (the API key checked on every request),
    until SIGTERM; one JSON line out first (the addresses and the key, on the pipe to the
    parent only), one last (events published)."""
    from qtqueue.api.http.server import HttpServer
    from qtqueue.api.server import ApiServer
    from qtqueue.engine.events import EventKind, TaskEvent
    from qtqueue.engine.queue import TaskQueue

    queue = TaskQueue(data_dir)
    queue.register_handler("noop", _noop)
    await queue.start()
    if paused:
        await queue.pause_queue()
    elif queue.queue_paused:
        await queue.resume_queue()
    published = {"n": 0}

    def count(events: list[TaskEvent]) -> None:
        published["n"] += sum(e.kind in (EventKind.ADDED, EventKind.CHANGED) for e in events)

    unsubscribe = queue.subscribe(count)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:  # a tree from before the API key (a before/after run) serves without one
        from qtqueue.api.keys import ApiKeys

        keys: Any = ApiKeys(Path(data_dir), backend=_bench_keyring())
        http_server = HttpServer(queue, "127.0.0.1", 0, keys=keys)  # type: ignore[call-arg]
    except ImportError:
        keys, http_server = None, HttpServer(queue, "127.0.0.1", 0)
    try:
        async with ApiServer(queue) as api, http_server as http:
            key = (await asyncio.to_thread(keys.current)).secret if keys is not None else None
            print(
                json.dumps({"unix": str(api.socket_path), "http": http.url, "key": key}),
                flush=True,
            )
            await stop.wait()
            unsubscribe()
            print(json.dumps({"published": published["n"]}), flush=True)
    finally:
        await queue.close()


async def serve_bare(data_dir: str, store: bool) -> None:
    """A peer: aiohttp alone on 127.0.0.1, answering `POST /tasks/` with 201 and an id; with
    `store`, after inserting and committing a row with stdlib sqlite3 (WAL, NORMAL)."""
    from aiohttp import web

    db = None
    if store:
        db = sqlite3.connect(Path(data_dir) / "bare.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE tasks (id TEXT PRIMARY KEY, task_type TEXT, params TEXT)")

    async def add(request: web.Request) -> web.Response:
        body = await request.json()
        task_id = str(uuid.uuid4())
        if db is not None:
            db.execute(
                "INSERT INTO tasks VALUES (?, ?, ?)",
                (task_id, body["task_type"], json.dumps(body.get("params", {}))),
            )
        return web.json_response({"task": {"id": task_id, **body}}, status=201)

    app = web.Application()
    app.router.add_post("/tasks/", add)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(json.dumps({"http": f"http://127.0.0.1:{port}"}), flush=True)
    await stop.wait()
    print(json.dumps({"published": 0}), flush=True)
    await runner.cleanup()


def serve(args: argparse.Namespace) -> int:
    """`--serve`: run one server until SIGTERM, under cProfile with `--profile-out`."""
    if args.serve == "engine":
        coro: Awaitable[None] = serve_engine(args.data_dir, args.paused)
    else:
        coro = serve_bare(args.data_dir, store=args.serve == "bare-sqlite")
    if args.uvloop:  # an experiment: the same server on uvloop's event loop (not a dependency)
        import uvloop

        uvloop.install()
    prof = cProfile.Profile() if args.profile_out else None
    if prof is not None:
        prof.enable()
    asyncio.run(coro)  # type: ignore[arg-type]
    if prof is not None:
        prof.disable()
        prof.dump_stats(args.profile_out)
    return 0


class Server:
    """A `--serve` process: its addresses, its CPU time, its last line."""

    #: Serve on uvloop (`--uvloop`).
    uvloop = False

    def __init__(self, kind: str, data_dir: str, *, paused: bool, profile: str | None) -> None:
        cmd = [sys.executable, SCRIPT, "--serve", kind, "--data-dir", data_dir]
        if self.uvloop:
            cmd.append("--uvloop")
        if paused:
            cmd.append("--paused")
        if profile:
            cmd += ["--profile-out", profile]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {kind} server did not start (exit {self.proc.wait()})")
        self.address: dict[str, str] = json.loads(line)

    def cpu_s(self) -> float:
        """User + system CPU seconds the server has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> dict[str, Any]:
        """SIGTERM, then its last JSON line."""
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        self.proc.wait(timeout=60)
        lines = [ln for ln in out.splitlines() if ln.startswith("{")]
        return json.loads(lines[-1]) if lines else {}


# --------------------------------------------------------------------------- clients


def _session(server: Server, face: str) -> Any:
    import aiohttp

    connector: aiohttp.BaseConnector
    if face == "unix":
        connector = aiohttp.UnixConnector(path=server.address["unix"], limit=1)
    else:
        connector = aiohttp.TCPConnector(limit=1)
    key = server.address.get("key")
    headers = {"Authorization": f"Bearer {key}"} if key and face != "unix" else None
    return aiohttp.ClientSession(
        connector=connector, headers=headers, timeout=aiohttp.ClientTimeout(total=60)
    )


def _adder(server: Server, face: str, body: dict[str, Any]) -> tuple[str, Any, Callable[..., str]]:
    """(url, json body, id-from-reply) for one add through `face`."""
    if face == "unix":
        request = {"action": "add_task", "params": body}

        def unix_id(reply: dict[str, Any]) -> str:
            if not reply.get("ok"):
                raise RuntimeError(f"add refused: {reply}")
            return str(reply["result"]["id"])

        return "http://engine/api", request, unix_id

    def rest_id(reply: dict[str, Any]) -> str:
        if "task" not in reply:
            raise RuntimeError(f"add refused: {reply}")
        return str(reply["task"]["id"])

    return server.address["http"] + "/tasks/", body, rest_id


async def run_adds(
    server: Server, face: str, clients: int, per_client: int, body: dict[str, Any],
    sent_at: dict[str, float] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """`clients` keep-alive clients, each adding `per_client` tasks one request at a time."""
    url, payload, id_of = _adder(server, face, body)
    latencies: list[float] = []

    async def client(warmup: bool = False) -> None:
        async with _session(server, face) as session:
            for _ in range(WARMUP_ADDS if warmup else per_client):
                t0 = perf_counter()
                async with session.post(url, json=payload) as resp:
                    reply = await resp.json()
                    if resp.status not in (200, 201):
                        raise RuntimeError(f"HTTP {resp.status}: {reply}")
                t1 = perf_counter()
                task_id = id_of(reply)
                latencies.append(t1 - t0)
                if sent_at is not None:
                    sent_at[task_id] = t0

    await asyncio.gather(*(client(warmup=True) for _ in range(clients)))  # warm-up
    latencies.clear()
    if sent_at is not None:
        sent_at.clear()
    cpu0, own0, t0 = server.cpu_s(), time.process_time(), perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall = perf_counter() - t0
    n = clients * per_client
    return {
        "adds_per_s": n / wall,
        "p50_ms": percentile(latencies, 50) * 1e3,
        "p95_ms": percentile(latencies, 95) * 1e3,
        "p99_ms": percentile(latencies, 99) * 1e3,
        "max_ms": max(latencies) * 1e3,
        "server_cpu_pct": (server.cpu_s() - cpu0) / wall * 100,
        "server_cpu_us_per_add": (server.cpu_s() - cpu0) / n * 1e6,
        "client_cpu_pct": (time.process_time() - own0) / wall * 100,
        "n": n,
        "wall_s": wall,
    }


async def rest_available(server: Server) -> bool:
    """Whether the engine's HTTP server has the REST routes yet (branch wip-rest)."""
    url = server.address["http"] + "/tasks/?limit=1"
    async with _session(server, "rest") as session, session.get(url) as resp:
        return resp.status == 200


# --------------------------------------------------------------------------- workloads


def _profile_path(args: argparse.Namespace, name: str) -> str | None:
    return str(Path(args.profile) / f"{name}.prof") if args.profile else None


def work_adds(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-http-") as d:
        server = Server("engine", d, paused=True, profile=_profile_path(args, "adds"))
        try:
            rows.append(
                {"line": "qtqueue, local socket POST /api add_task"}
                | asyncio.run(run_adds(server, "unix", args.clients, args.per_client, ADD_BODY))
            )
            if asyncio.run(rest_available(server)):
                rows.append(
                    {"line": "qtqueue, REST POST /tasks/ (TCP)"}
                    | asyncio.run(run_adds(server, "rest", args.clients, args.per_client, ADD_BODY))
                )
            else:
                rows.append({"line": "qtqueue, REST POST /tasks/", "error": "no REST route yet"})
        finally:
            server.stop()
    for kind, line in (
        ("bare", "peer: bare aiohttp, nothing stored (HTTP floor)"),
        ("bare-sqlite", "peer: bare aiohttp + sqlite3 commit per add"),
    ):
        with tempfile.TemporaryDirectory(prefix="bench-http-") as d:
            server = Server(kind, d, paused=False, profile=None)
            try:
                rows.append(
                    {"line": line}
                    | asyncio.run(run_adds(server, "rest", args.clients, args.per_client, ADD_BODY))
                )
            finally:
                server.stop()
    return rows


async def _build_list_store(d: str, completed: int, pending: int) -> float:
    from qtqueue import Task, TaskQueue

    t0 = perf_counter()
    await _peers.build_finished_store(completed, d)
    q = TaskQueue(d)
    await q.start()
    try:
        await q.pause_queue()  # survives the restart: the pending tasks stay pending
        for start in range(0, pending, 10_000):
            await q.add_tasks(
                [
                    Task("CUSTOM_COMMAND", {"command": "true"})
                    for _ in range(min(10_000, pending - start))
                ]
            )
    finally:
        await q.close()
    return perf_counter() - t0


async def _time_lists(server: Server, rest: bool, n: int) -> list[dict[str, Any]]:
    import aiohttp

    rows = []
    for status in ("completed", "pending"):
        lat: list[float] = []
        total = None
        face = "unix" if not rest else "rest"
        async with _session(server, face) as session:
            for i in range(n + 3):
                t0 = perf_counter()
                if rest:
                    url = server.address["http"] + f"/tasks/?status={status}&limit=100"
                    async with session.get(url) as resp:
                        reply = await resp.json()
                    tasks, total = reply["tasks"], reply.get("total")
                else:
                    req = {"action": "list_tasks", "params": {"status": status, "limit": 100}}
                    async with session.post("http://engine/api", json=req) as resp:
                        reply = await resp.json()
                    tasks = reply["result"]["tasks"]
                if i >= 3:  # the first few warm the page cache
                    lat.append(perf_counter() - t0)
        assert len(tasks) == 100, len(tasks)
        what = "GET /tasks/" if rest else "local list_tasks"
        rows.append(
            {
                "line": f"{what}?status={status}&limit=100",
                "p50_ms": percentile(lat, 50) * 1e3,
                "p99_ms": percentile(lat, 99) * 1e3,
                "total": total,
                "n": n,
            }
        )
    del aiohttp
    return rows


def work_list(args: argparse.Namespace) -> list[dict[str, Any]]:
    completed, pending = (9_000, 1_000) if args.quick else (90_000, 10_000)
    with tempfile.TemporaryDirectory(prefix="bench-http-list-") as d:
        build_s = asyncio.run(_build_list_store(d, completed, pending))
        server = Server("engine", d, paused=True, profile=_profile_path(args, "list"))
        try:
            rest = asyncio.run(rest_available(server))
            rows = asyncio.run(_time_lists(server, rest, 10 if args.quick else 50))
        finally:
            server.stop()
    for row in rows:
        row["store"] = f"{completed + pending:,} tasks (built in {build_s:.1f} s)"
    return rows


async def _events(server: Server, face: str, clients: int, per_client: int) -> dict[str, Any]:
    received = {"n": 0, "overflow": 0}
    added_at: dict[str, float] = {}
    sent_at: dict[str, float] = {}
    last = {"t": perf_counter()}

    def seen(event: dict[str, Any]) -> None:
        last["t"] = perf_counter()
        if event.get("kind") in ("added", "changed"):
            received["n"] += 1
            if event["kind"] == "added":
                added_at[event["task_id"]] = last["t"]
        elif event.get("kind") == "overflow" or event.get("detail") == "overflow":
            received["overflow"] += 1

    async def subscribe(ready: asyncio.Event) -> None:
        url = "http://engine/events" if face == "unix" else server.address["http"] + "/events"
        async with _session(server, face) as session, session.get(url) as resp:
            ready.set()
            async for line in resp.content:
                if face == "unix":
                    seen(json.loads(line))
                elif line.startswith(b"data: "):  # server-sent events: one data line each
                    seen(json.loads(line[6:]))

    ready = asyncio.Event()
    sub = asyncio.create_task(subscribe(ready))
    await ready.wait()
    adds = await run_adds(server, face, clients, per_client, {"task_type": "noop"}, sent_at)
    while perf_counter() - last["t"] < 1.0:  # until the stream has been quiet for a second
        await asyncio.sleep(0.1)
    sub.cancel()
    lags = [added_at[i] - t for i, t in sent_at.items() if i in added_at]
    return {
        "adds_per_s": adds["adds_per_s"],
        "received": received["n"],
        "overflow": received["overflow"],
        "lag_p50_ms": percentile(lags, 50) * 1e3 if lags else None,
        "lag_p99_ms": percentile(lags, 99) * 1e3 if lags else None,
        "wall_s": adds["wall_s"],
    }


def work_events(args: argparse.Namespace) -> list[dict[str, Any]]:
    per_client = 250 if args.quick else 1_000
    rows = []
    for face, line in (
        ("unix", "local GET /events (NDJSON) + POST /api adds"),
        ("rest", "REST GET /events (SSE) + POST /tasks/ adds"),
    ):
        with tempfile.TemporaryDirectory(prefix="bench-http-ev-") as d:
            server = Server(
                "engine", d, paused=False, profile=_profile_path(args, f"events-{face}")
            )
            try:
                if face == "rest" and not asyncio.run(rest_available(server)):
                    rows.append({"line": line, "error": "no REST route yet"})
                    continue
                figures = asyncio.run(_events(server, face, args.clients, per_client))
            finally:
                last = server.stop()
        made = last.get("published", 0)
        figures["made"] = made
        figures["changes_per_s"] = made / figures["wall_s"]
        rows.append({"line": line + ", engine running no-op tasks"} | figures)
    return rows


WORKLOADS = {"adds": work_adds, "list": work_list, "events": work_events}


# --------------------------------------------------------------------------- output


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:,.0f}" if v >= 100 else f"{v:.2f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def print_table(title: str, rows: list[dict[str, Any]], cols: list[str]) -> None:
    print(f"\n### {title}\n")
    print("| line | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for r in rows:
        if "error" in r:
            print(f"| {r['line']} | error: {r['error']} |" + " |" * (len(cols) - 1))
        else:
            print(f"| {r['line']} | " + " | ".join(_fmt(r.get(c)) for c in cols) + " |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small N")
    ap.add_argument("--json", help="write every figure here")
    ap.add_argument("--only", help="comma-separated: adds,list,events")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--per-client", type=int, default=None, help="adds per client (2,500)")
    ap.add_argument("--profile", help="directory for the serving process's cProfile output")
    ap.add_argument(
        "--uvloop", action="store_true", help="serve on uvloop's event loop (if installed)"
    )
    ap.add_argument("--serve", choices=["engine", "bare", "bare-sqlite"], help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    ap.add_argument("--paused", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        return serve(args)
    Server.uvloop = args.uvloop
    if args.per_client is None:
        args.per_client = 250 if args.quick else 2_500
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    only = args.only.split(",") if args.only else list(WORKLOADS)
    load0 = os.getloadavg()
    results: dict[str, Any] = {}
    for name in only:
        results[name] = WORKLOADS[name](args)
    if "adds" in results:
        print_table(
            f"adds: {args.clients} keep-alive clients x {args.per_client:,} single-task adds",
            results["adds"],
            ["adds_per_s", "p50_ms", "p95_ms", "p99_ms", "max_ms", "server_cpu_pct",
             "server_cpu_us_per_add", "client_cpu_pct"],
        )  # fmt: skip
        print(f"\ntarget: >= 3,000 adds/s, p99 < 20 ms. For context: {PEER_ENQUEUE}")
    if "list" in results:
        print_table("list: a page of 100", results["list"], ["p50_ms", "p99_ms", "total", "store"])
        print("\ntarget: < 50 ms on 100,000 tasks")
    if "events" in results:
        print_table(
            "events: one subscriber while the engine works",
            results["events"],
            ["changes_per_s", "made", "received", "overflow", "lag_p50_ms", "lag_p99_ms"],
        )
        print("\ntarget: keeps up with 1,000 changes/s (received = made, no overflow)")
    load1 = os.getloadavg()
    print(
        f"\nmachine: {_peers.cpu_model()}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}, "
        f"SQLite {sqlite3.sqlite_version}; load average {load0[0]:.2f} at start, "
        f"{load1[0]:.2f} at end; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
