"""`qtqueue approve ID…`: approve tasks that await approval (added with --approval)."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from qtqueue.cli.output import out, report_error, short
from qtqueue.cli.parser import Subparsers, add_command
from qtqueue.core.actions import DONE_WORDS, TaskAction
from qtqueue.core.errors import QueueError

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 60


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `approve` command."""
    p = add_command(
        sub, common, "approve", "Approve tasks that await approval (added with --approval)."
    )
    p.add_argument("ids", nargs="+", metavar="ID", help="task ids or unique prefixes")
    p.set_defaults(handler=run)


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """approve / reject: tasks that await approval, one line each."""
    word, failed = DONE_WORDS[TaskAction(args.command)], 0
    for task_id in args.ids:
        params = {"task_id": task_id}
        if args.command == "reject":
            params["reason"] = args.reason
        try:
            t = (await backend.call(f"{args.command}_task", params))["task"]
        except QueueError as exc:
            failed += 1
            report_error(exc)
            continue
        out(f"{word} {short(t['id'])} {t['name']} (now {t['status']})")
    return 1 if failed else 0
