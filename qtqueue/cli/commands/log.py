"""`qtqueue log ID`: print a task's log; --follow keeps printing until the task ends.

It prints plain text: the marks the log keeps around stderr output (`qtqueue.core.log_streams`)
are taken out; `--stderr-only` prints just what the command wrote to stderr."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING, Any

from qtqueue.cli.parser import Subparsers, UsageError, add_command
from qtqueue.core.log_streams import MarkStripper, split_streams, strip_marks
from qtqueue.core.task import TERMINAL

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 40


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `log` command."""
    p = add_command(sub, common, "log", "Print a task's log.")
    p.add_argument("id", metavar="ID", help="task id, or a unique prefix of 4+ characters")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing until it ends")
    p.add_argument("--tail", type=int, metavar="BYTES", help="only the last BYTES")
    p.add_argument(
        "--stderr-only",
        action="store_true",
        help="only what its command wrote to stderr (not with --follow)",
    )
    p.set_defaults(handler=run, check=check)


def check(args: argparse.Namespace) -> None:
    """--stderr-only reads the log as it is now: not with --follow."""
    if args.follow and args.stderr_only:
        raise UsageError("--stderr-only reads the log as it is now: drop --follow to use it")


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """Print a task's log; --follow keeps printing until the task is finished."""
    task = (await backend.call("get_task", {"task_id": args.id}))["task"]
    if not args.follow:
        params: dict[str, Any] = {"task_id": task["id"]}
        if args.tail is not None:
            params["tail_bytes"] = args.tail
        text = (await backend.call("read_log", params))["log"]
        if args.stderr_only:
            sys.stdout.write("".join(run for err, run in split_streams(text) if err))
        else:
            sys.stdout.write(strip_marks(text))
        return 0
    if not backend.remote and task["status"] not in {s.value for s in TERMINAL}:
        sys.stderr.write("note: no engine is running; this log grows once one runs the task\n")
    plain = MarkStripper()
    async for chunk in backend.follow_log(task["id"]):
        sys.stdout.write(plain.feed(chunk))
        sys.stdout.flush()
    sys.stdout.write(plain.finish())
    return 0
