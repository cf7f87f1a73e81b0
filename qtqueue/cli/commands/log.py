"""`qtqueue log ID`: print a task's log; --follow keeps printing until the task ends."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING, Any

from qtqueue.cli.parser import Subparsers, add_command
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
    p.set_defaults(handler=run)


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """Print a task's log; --follow keeps printing until the task is finished."""
    task = (await backend.call("get_task", {"task_id": args.id}))["task"]
    if not args.follow:
        params: dict[str, Any] = {"task_id": task["id"]}
        if args.tail is not None:
            params["tail_bytes"] = args.tail
        sys.stdout.write((await backend.call("read_log", params))["log"])
        return 0
    if not backend.remote and task["status"] not in {s.value for s in TERMINAL}:
        sys.stderr.write("note: no engine is running; this log grows once one runs the task\n")
    async for chunk in backend.follow_log(task["id"]):
        sys.stdout.write(chunk)
        sys.stdout.flush()
    return 0
