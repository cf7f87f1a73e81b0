"""`qtqueue export [ID…]`: tasks' definitions as a JSON file that `qtqueue import` and the
window's File › Import tasks… read back (no ids, history or secret values)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtqueue.api.task_files import export_json, write_private
from qtqueue.cli.commands.ls import label_filters
from qtqueue.cli.output import out
from qtqueue.cli.parser import Subparsers, add_command

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 35


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `export` command."""
    p = add_command(
        sub, common, "export",
        "Write tasks' definitions (type, params, settings) as JSON, to import later.",
    )  # fmt: skip
    p.add_argument(
        "ids", nargs="*", metavar="ID", help="tasks by id or unique prefix (default: all)"
    )
    p.add_argument("--status", action="append", default=[], help="only this status (repeatable)")
    p.add_argument("--category", help="only this category")
    p.add_argument("--tag", help="only tasks with this tag")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (0600), not stdout")
    p.set_defaults(handler=run)


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """Export the tasks named, or those the filters let through."""
    tasks: list[dict[str, Any]]
    if args.ids:
        tasks = [(await backend.call("get_task", {"task_id": i}))["task"] for i in args.ids]
    else:
        tasks = (await backend.call("list_tasks", label_filters(args)))["tasks"]
    text = export_json(tasks)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    path = Path(args.output)
    write_private(path, text)
    out(f"exported {len(tasks)} task(s) to {path}")
    return 0
