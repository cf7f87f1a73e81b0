"""`qtqueue ls`: list tasks as a table (or JSON)."""

from __future__ import annotations

import argparse
import logging
import time
from typing import TYPE_CHECKING, Any

from qtqueue.cli.output import clip, fmt_duration, fmt_time, out, print_json, short, table
from qtqueue.cli.parser import Subparsers, add_command, json_flag
from qtqueue.cli.values import type_name
from qtqueue.core.task import ACTIVE

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 20


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `ls` command and its filters."""
    p = add_command(sub, common, "ls", "List tasks.")
    p.add_argument("--status", action="append", default=[], help="only this status (repeatable)")
    p.add_argument("--category", help="only this category")
    p.add_argument("--tag", help="only tasks with this tag")
    p.add_argument("--type", help="only this task type")
    p.add_argument("--dead-letter", action="store_true", help="only dead-lettered tasks")
    p.add_argument("--limit", type=int, metavar="N", help="only the N newest")
    json_flag(p)
    p.set_defaults(handler=run)


def _running_s(task: dict[str, Any], now: float) -> float | None:
    if task.get("duration_s") is not None:
        return float(task["duration_s"])
    if task.get("started_at") is not None and task["status"] in {s.value for s in ACTIVE}:
        return now - float(task["started_at"])
    return None


def label_filters(args: argparse.Namespace) -> dict[str, Any]:
    """`list_tasks` params for the --status, --category and --tag a command was given (`ls`,
    `export`)."""
    params: dict[str, Any] = {}
    if args.status:
        params["status"] = [s.lower() for s in args.status]
    if args.category is not None:
        params["category"] = args.category
    if args.tag is not None:
        params["tag"] = args.tag
    return params


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """List tasks as a table (or JSON)."""
    params = label_filters(args)
    if args.type is not None:
        params["type"] = type_name(args.type)
    if args.dead_letter:
        params["dead_letter"] = True
    if args.limit is not None:
        params["limit"] = args.limit
        params["newest_first"] = True  # the last N, still shown oldest first
    tasks: list[dict[str, Any]] = (await backend.call("list_tasks", params))["tasks"]
    if args.limit is not None:
        tasks.reverse()
    if args.json:
        print_json(tasks)
        return 0
    if not tasks:
        out("no tasks")
        return 0
    now = time.time()
    rows = [
        [
            short(t["id"]),
            clip(t["name"], 40),
            t["task_type"],
            t["status"],
            f"{t['progress']:.0f}%",
            fmt_time(t["created_at"]),
            fmt_duration(_running_s(t, now)),
            t["error_code"] or "",
        ]
        for t in tasks
    ]
    headers = ["ID", "NAME", "TYPE", "STATUS", "PROGRESS", "CREATED", "DURATION", "ERROR"]
    out(table(headers, rows))
    return 0
