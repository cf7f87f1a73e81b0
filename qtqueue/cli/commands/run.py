"""`qtqueue run`: the engine and its API in the foreground, until a signal (or idle).

The one command that imports the engine itself — when it runs, not when the parser is built,
so that the other commands (and `--help`) start without it.

`qtqueue run --redis URL --http ADDR` serves a cluster instead (issue 17): the REST API, the
admin page and /metrics over the cluster's Redis (`qtqueue.cluster.http_engine`). It runs no
task (no local engine, no data-directory lock); the data directory (`--data-dir`, as for
`qtqueue run --http`) only names the API key in the keyring and holds the audit trail.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from qtqueue.cli.parser import Subparsers, UsageError, add_command
from qtqueue.core.task import ACTIVE, TaskStatus

if TYPE_CHECKING:
    import asyncio

    from qtqueue.engine.queue import TaskQueue

logger = logging.getLogger(__name__)

ORDER = 140
#: `qtqueue.engine.queue.ShutdownPolicy`'s values, in its order (the parser is built without
#: importing the engine; a test holds the two equal).
ON_EXIT_CHOICES = ("requeue", "wait", "cancel")


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `run` command."""
    p = add_command(
        sub,
        common,
        "run",
        "Run the engine headless in the foreground (stops on SIGINT/SIGTERM).",
    )
    p.add_argument(
        "--until-idle",
        action="store_true",
        help="stop once nothing is left to run (paused tasks stay for a later run)",
    )
    p.add_argument(
        "--max-concurrent",
        type=int,
        metavar="N",
        help="tasks at once for this run (default: the saved setting, `qtqueue config`, else 4)",
    )
    p.add_argument(
        "--on-exit",
        choices=ON_EXIT_CHOICES,
        help="running tasks at shutdown: wait for them, requeue them, cancel them (default: the "
        "saved setting, else requeue)",
    )
    p.add_argument(
        "--new-store-if-damaged",
        action="store_true",
        help="if the store file is damaged, set it aside (renamed, kept) and start on an "
        "empty store instead of refusing to start",
    )
    p.add_argument(
        "--lock-timeout",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="how long to wait for another engine to let go of the data directory",
    )
    p.add_argument(
        "--http",
        metavar="HOST:PORT",
        help="also serve the REST API, the admin page and /metrics there (port 0: a free one; "
        "the URL is the first line printed); any address but loopback needs --tls-cert/--tls-key; "
        "with --redis URL: serve the cluster's instead, running no task here",
    )
    p.add_argument("--tls-cert", type=Path, metavar="FILE", help="the HTTPS certificate (PEM)")
    p.add_argument(
        "--tls-key", type=Path, metavar="FILE", help="the certificate's private key (PEM)"
    )
    p.set_defaults(direct=main, check=check, engine_logging=True)


#: The options of a run that runs tasks: refused with --redis (a cluster's workers run them).
_ENGINE_OPTIONS = ("until_idle", "max_concurrent", "on_exit", "new_store_if_damaged")


def _check_cluster(args: argparse.Namespace) -> None:
    """--redis: a URL without a password, --http, and none of the engine's own options."""
    from qtqueue.cluster.connection import check_url

    args.redis = check_url(args.redis)  # CLUSTER_REDIS_PASSWORD_IN_URL: exit status 2
    given = [n for n in _ENGINE_OPTIONS if getattr(args, n) not in (None, False)]
    if given:
        names = ", ".join("--" + n.replace("_", "-") for n in given)
        raise UsageError(
            f"{names}: run --redis runs no tasks (the cluster's workers do); leave it out"
        )
    if args.http is None:
        raise UsageError(
            "run --redis URL serves the cluster's REST API, admin page and /metrics: give "
            "--http HOST:PORT"
        )


def check(args: argparse.Namespace) -> None:
    """At least one task at a time; a usable --http address, TLS where it is needed; with
    --redis, what a cluster's server needs."""
    if getattr(args, "redis", None) is not None:
        _check_cluster(args)
    if args.max_concurrent is not None and args.max_concurrent < 1:
        raise UsageError("--max-concurrent must be at least 1")
    args.http_address = args.tls = None
    tls_given = args.tls_cert is not None or args.tls_key is not None
    if args.http is None:
        if tls_given:
            raise UsageError("--tls-cert and --tls-key go with --http HOST:PORT")
        return
    from qtqueue.api.http.server import check_bind, parse_address, tls_context
    from qtqueue.core.errors import QueueError, TaskErrorCode

    args.http_address = parse_address(args.http)
    if tls_given:
        if args.tls_cert is None or args.tls_key is None:
            raise QueueError(
                TaskErrorCode.VALIDATION_MISSING_REQUIRED,
                "HTTPS needs both --tls-cert FILE and --tls-key FILE",
            )
        args.tls = tls_context(args.tls_cert, args.tls_key)
    check_bind(args.http_address[0], args.tls is not None)


def main(args: argparse.Namespace) -> int:
    """Run the engine until a signal (or, with --until-idle, until nothing is left); with
    --redis, serve the cluster until a signal."""
    import asyncio  # here, not at the top: `qtqueue --help` imports this module too

    if getattr(args, "redis", None) is not None:
        return asyncio.run(serve_cluster(args))
    return asyncio.run(run_engine(args))


async def serve_cluster(args: argparse.Namespace) -> int:
    """`qtqueue run --redis URL --http ADDR`: the cluster's HTTP API until a signal. Redis
    must answer at the start (else its coded error, exit status 1)."""
    import asyncio

    from qtqueue.api.http.server import HttpServer
    from qtqueue.cluster.backend import ClusterBackend
    from qtqueue.cluster.http_engine import ClusterEngine
    from qtqueue.config import resolve_data_dir
    from qtqueue.storage.private import make_private_dir

    data_dir = resolve_data_dir(args.data_dir)
    make_private_dir(data_dir)  # the audit trail's folder
    engine = ClusterEngine(ClusterBackend(args.redis), data_dir)
    await engine.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with HttpServer(engine, *args.http_address, tls=args.tls) as http:
            logger.info("serving the cluster at %s on %s", engine.server, http.url)
            sys.stdout.write(http.url + "\n")  # the first line: scripts read it
            sys.stdout.flush()
            await stop.wait()
    finally:
        engine.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 0


async def _wait_any(*events: asyncio.Event) -> None:
    import asyncio

    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


async def _is_idle(queue: TaskQueue) -> bool:
    """Nothing runs, and nothing waits that could start: held (paused) tasks — and, while the
    queue is paused, pending ones — are left for a later run. So are pending tasks while a
    paused running task is all that runs: it keeps its slot, so they could only start once
    someone resumes or cancels it (a later run's work; `qtqueue run` without --until-idle
    waits for that)."""
    if await queue.list_tasks(status=ACTIVE, limit=1):
        return False
    if queue.queue_paused or not await queue.list_tasks(status=[TaskStatus.PENDING], limit=1):
        return True
    paused = await queue.list_tasks(status=[TaskStatus.PAUSED])
    return any(t.paused_from in ACTIVE for t in paused)


async def run_engine(args: argparse.Namespace) -> int:
    """`qtqueue run`: the engine and its API in the foreground until a signal (or idle)."""
    import asyncio

    from qtqueue import settings
    from qtqueue.api.http.server import HttpServer, from_settings
    from qtqueue.api.server import ApiServer  # aiohttp's server: only the engine needs it
    from qtqueue.engine.queue import ShutdownPolicy, TaskQueue

    queue = TaskQueue(
        args.data_dir,
        lock_timeout_s=args.lock_timeout,
        replace_damaged_store=args.new_store_if_damaged,
    )
    settings.apply_saved_settings(queue)
    # What the command line names wins over the saved settings, for this run only.
    if args.max_concurrent is not None:
        queue.set_max_concurrent(args.max_concurrent)
    if args.on_exit is not None:
        queue.shutdown_policy = ShutdownPolicy(args.on_exit)
    await queue.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    changed = asyncio.Event()

    def on_signal(signame: str) -> None:
        if stop.is_set():
            logger.warning("%s: already stopping (policy %s)", signame, queue.shutdown_policy)
        else:
            logger.info("%s: stopping (running tasks: %s)", signame, queue.shutdown_policy)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig.name)
    unsubscribe = queue.subscribe(lambda _events: changed.set())
    try:
        async with ApiServer(queue) as server, contextlib.AsyncExitStack() as serving:
            where = server.socket_path or f"{server.host}:{server.port}"
            logger.info("engine running for %s; API at %s", queue.data_dir, where)
            address = getattr(args, "http_address", None)
            # --http wins; else the address the settings name (`engine.http_address`).
            http = (
                HttpServer(queue, *address, tls=getattr(args, "tls", None))
                if address is not None
                else from_settings(queue)
            )
            if http is not None:
                await serving.enter_async_context(http)
                server.announce(http=http.url)
                sys.stdout.write(http.url + "\n")  # the first line: scripts read it
                sys.stdout.flush()
            if not args.until_idle:
                await stop.wait()
            while args.until_idle and not stop.is_set():
                changed.clear()  # before looking, so that no change goes unseen
                # The look is two reads; a change committed between them (a task that
                # starts after the first) sets `changed`: then the two disagree, look again.
                if await _is_idle(queue) and not changed.is_set():
                    logger.info("nothing left to run; stopping")
                    break
                await _wait_any(stop, changed)
    finally:
        unsubscribe()
        await queue.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 0
