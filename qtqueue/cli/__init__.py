"""The `qtqueue` command line.

Every command but `run` and `gui` works the same with or without an engine running: it runs
the local API's actions through the running engine's API when one answers, or on the store
directly when none does (`qtqueue.api.local_backend.open_backend`). Without an engine, `add`
stores the task for the next engine to run and the reading commands read the store.

With an engine running, a command imports neither the engine, pydantic nor aiohttp: it talks
to the engine through `qtqueue.api.light_client` (the standard library only) and asks it for
what it needs to know, such as a task type's params schema. Only `run` imports the engine
itself; without an engine, `qtqueue.api.local_backend` imports it to open the store.

Layout: `parser.py` assembles the parser from the modules of `commands/` (one per command:
its options, checks and run function), `output.py` writes, `values.py` reads arguments.

Exit status: 0 success; 1 a command failed (the error code and a hint go to stderr);
2 bad usage (argparse); 130 interrupted.

This package never imports Qt: `gui` loads the desktop application lazily, if installed.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from qtqueue.cli.parser import UsageError, build_parser

logger = logging.getLogger(__name__)

__all__ = ["build_parser", "main"]


def _setup_logging(args: argparse.Namespace) -> None:
    if getattr(args, "engine_logging", False):
        level = logging.DEBUG if args.verbose else logging.INFO
    else:
        level = [logging.WARNING, logging.INFO][min(args.verbose, 1)]
        if args.verbose >= 2:
            level = logging.DEBUG
    logging.basicConfig(
        stream=sys.stderr,
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


async def _with_backend(args: argparse.Namespace) -> int:
    url = args.redis or os.environ.get("QTQUEUE_REDIS_URL")  # connection.ENV_REDIS_URL
    if url:  # a cluster: RQ over Redis (qtqueue.cluster)
        from qtqueue.cluster.backend import cluster_backend

        return int(await args.handler(cluster_backend(url), args))
    from qtqueue.api.local_backend import open_backend  # not needed by --help or usage errors

    async with open_backend(args.data_dir) as backend:
        return int(await args.handler(backend, args))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `qtqueue` console script and of `python -m qtqueue`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:  # everything after "--" is add's command line, options included
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    parser = build_parser(argv)
    args = parser.parse_args(argv)  # --help and usage errors end here, before the imports below
    from qtqueue.cli.output import report_error
    from qtqueue.core.errors import QueueError, TaskErrorCode

    for name, default in (("data_dir", None), ("verbose", 0), ("redis", None)):
        if not hasattr(args, name):  # SUPPRESS: set before or after the command, or not at all
            setattr(args, name, default)
    if extra:
        if args.command != "add":
            parser.error("'--' is only used by 'add' (add command -- CMD ARGS…)")
        args.argv = [*args.argv, *extra]
    cluster_commands = ("worker", "run", "gui")  # run: the HTTP API of a cluster; gui: its window
    if args.redis is not None and hasattr(args, "direct") and args.command not in cluster_commands:
        parser.error(f"--redis goes with worker and the task commands, not with {args.command}")
    check = getattr(args, "check", None)
    try:
        if check is not None:
            check(args)
    except UsageError as exc:
        parser.error(str(exc))
    except QueueError as exc:  # a bad option value: bad usage
        report_error(exc)
        return 2
    _setup_logging(args)
    if args.command is None:
        from qtqueue.cli.commands.gui import open_gui

        return open_gui(args)
    try:
        if hasattr(args, "direct"):
            return int(args.direct(args))
        import asyncio

        return asyncio.run(_with_backend(args))
    except QueueError as exc:
        report_error(exc)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the exit flush
        return 1
    except Exception as exc:
        error = QueueError(TaskErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        report_error(error)
        if args.verbose:
            traceback.print_exc()
        return 1
