"""`qtqueue move ID top|up|down|bottom`, `--before OTHER`, `--priority P`: change the order in
which waiting tasks start (as pueue's `switch` and priorities do), within the task's named
queue. A task that started is refused (QUEUE_TASK_NOT_WAITING) with what to do instead. With
both --priority and a place, the line says the priority the task ended with: a move gives it
that of the tasks it lands among (`move ID bottom --priority urgent` in a queue of normal
tasks leaves it normal, and says so)."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from qtqueue.cli.output import out, print_json, report_error, short
from qtqueue.cli.parser import Subparsers, add_command, json_flag
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.queue_moves import MovePlace

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 55

#: The places named on the command line (BEFORE comes with --before).
PLACES = [p.value for p in MovePlace if p is not MovePlace.BEFORE]


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `move` command."""
    p = add_command(
        sub,
        common,
        "move",
        "Move a waiting task in its queue (top, up, down, bottom, or --before another) "
        "or give it another --priority.",
    )
    p.add_argument("id", metavar="ID", help="the waiting task's id or unique prefix")
    p.add_argument("place", nargs="?", choices=PLACES, help="where it goes in its queue")
    p.add_argument("--before", metavar="OTHER", help="put it just before this waiting task")
    p.add_argument("--priority", metavar="P", help="low, normal, high, urgent or 0-3")
    json_flag(p)
    p.set_defaults(handler=run)


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """Apply the priority first (if any), then the move; one line, or the task as JSON."""
    if args.place and args.before:
        return _refuse("give a place or --before OTHER, not both")
    if not (args.place or args.before or args.priority):
        return _refuse("say where: top, up, down, bottom, --before OTHER or --priority P")
    task: dict[str, Any] = {}
    words: list[str] = []
    asked = ""
    try:
        if args.priority:
            params = {"task_id": args.id, "priority": args.priority}
            task = (await backend.call("set_priority", params))["task"]
            asked = str(task["priority"])
        if args.place or args.before:
            place = args.place or MovePlace.BEFORE.value
            params = {"task_id": args.id, "place": place}
            if args.before:
                params["before"] = args.before
            task = (await backend.call("move_task", params))["task"]
            words.append(f"before {short(args.before)}" if args.before else f"to the {place}")
    except QueueError as exc:
        report_error(exc)
        return 1
    if asked:  # the priority it ended with: a move takes that of the tasks it lands among
        final = str(task["priority"])
        words.insert(0, f"priority {final}")
        if final != asked:
            words.append(f"which made it {final} like the tasks around it, not {asked}")
    if args.json:
        print_json(task)
    else:
        out(f"moved {short(task['id'])} {task['name']}: {', '.join(words)} "
            f"(queue {task['queue']})")  # fmt: skip
    return 0


def _refuse(message: str) -> int:
    report_error(QueueError(TaskErrorCode.VALIDATION_MISSING_REQUIRED, f"move: {message}"))
    return 2
