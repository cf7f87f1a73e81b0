"""`qtqueue questions`: what running tasks ask and wait to be answered (`qtqueue answer`)."""

from __future__ import annotations

import argparse
import logging
import time
from typing import TYPE_CHECKING, Any

from qtqueue.cli.output import clip, fmt_duration, out, print_json, short, table
from qtqueue.cli.parser import Subparsers, add_command, json_flag

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 72
_MESSAGE_WIDTH = 60


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `questions` command."""
    p = add_command(
        sub,
        common,
        "questions",
        "List the questions running tasks wait to have answered ('qtqueue answer ID TEXT').",
    )
    p.add_argument("--all", action="store_true", help="answered and ended ones too")
    p.add_argument("--task", metavar="ID", help="only this task's (an id or a unique prefix)")
    json_flag(p)
    p.set_defaults(handler=run)


def _row(q: dict[str, Any], now: float, every: bool) -> list[str]:
    row = [short(q["id"]), short(q["task_id"]), q["request_type"]]
    row.append(fmt_duration(max(0.0, now - q["created_at"])))
    if q["status"] == "open":
        row.append(fmt_duration(max(0.0, q["expires_at"] - now)))
    else:
        row.append("-")
    if every:
        row.append(q["status"])
        row.append(clip(q["answer"] or "", _MESSAGE_WIDTH // 2))
    row.append(clip(" ".join(q["message"].split()), _MESSAGE_WIDTH))
    return row


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """One line per question (open ones unless --all), oldest first."""
    params: dict[str, Any] = {"open_only": not args.all}
    if args.task:
        params["task_id"] = args.task
    found = (await backend.call("questions", params))["questions"]
    if args.json:
        print_json(found)
        return 0
    if not found:
        out("no questions" if args.all else "no open questions")
        return 0
    headers = ["ID", "TASK", "TYPE", "AGE", "EXPIRES IN"]
    if args.all:
        headers += ["STATUS", "ANSWER"]
    now = time.time()
    out(table([*headers, "MESSAGE"], [_row(q, now, args.all) for q in found]))
    return 0
