"""What pause, resume, retry, cancel and remove share: task ids or `--all` that apply (the
statuses `qtqueue.core.actions` names), one `queue_manage` action per task, one line per
task done."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from qtqueue.cli.output import out, report_error, short
from qtqueue.cli.parser import Subparsers, UsageError, add_command
from qtqueue.core.actions import DONE_WORDS, TaskAction, statuses_for
from qtqueue.core.errors import QueueError

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

__all__ = ["check", "register", "run"]


def register(
    sub: Subparsers, common: argparse.ArgumentParser, action: TaskAction, help_: str
) -> argparse.ArgumentParser:
    """A task action's subparser: ids, or `--all` tasks in the statuses it applies to
    (`qtqueue.core.actions`, the rule the engine and the window follow too)."""
    name = action.value
    p = add_command(sub, common, name, help_)
    p.set_defaults(
        handler=run,
        check=check,
        applies=statuses_for(action),
        done_word=DONE_WORDS[action],
        queue=False,
    )
    p.add_argument("ids", nargs="*", metavar="ID", help="task ids or unique prefixes")
    p.add_argument("--all", action="store_true", help=f"every task that can be {name}d")
    return p


def check(args: argparse.Namespace) -> None:
    """Ids, --all, --queue and --dead-letters exclude one another; one of them is needed."""
    if args.all and args.ids:
        raise UsageError("give task ids or --all, not both")
    if args.queue and (args.all or args.ids):
        raise UsageError("--queue takes no task ids and no --all")
    dead = getattr(args, "dead_letters", False)
    if dead and (args.all or args.ids):
        raise UsageError("--dead-letters takes no task ids and no --all")
    if not (args.all or args.ids or args.queue or dead):
        raise UsageError(f"{args.command}: give task ids or --all")


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """The given tasks, or --all that apply (or the whole queue: --queue)."""
    action: str = args.command
    if args.queue:
        result = await backend.call(f"{action}_queue")
        out("queue paused" if result["queue_paused"] else "queue resumed")
        return 0
    if args.all:
        statuses = sorted(s.value for s in args.applies)
        listed = await backend.call("list_tasks", {"status": statuses})
        ids = [t["id"] for t in listed["tasks"]]
        if not ids:
            out(f"no task to {action}")
            return 0
    else:
        ids = list(args.ids)
    failed = 0
    for task_id in ids:
        try:
            result = await backend.call("queue_manage", {"action": action, "task_id": task_id})
        except QueueError as exc:  # its message names the task
            failed += 1
            report_error(exc)
            continue
        if "task" in result:
            t = result["task"]
            out(f"{args.done_word} {short(t['id'])} {t['name']} (now {t['status']})")
        else:
            out(f"{args.done_word} {short(result['task_id'])}")
    return 1 if failed else 0
