"""`qtqueue show ID`: one task in detail — status, progress, timing, error and its fix."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import TYPE_CHECKING

from qtqueue.cli.output import fmt_duration, fmt_time, out, print_json, short
from qtqueue.cli.parser import Subparsers, add_command, json_flag
from qtqueue.core.task import ACTIVE

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 30


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `show` command."""
    p = add_command(
        sub, common, "show", "Show one task: status, progress, timing, error and its fix."
    )
    p.add_argument("id", metavar="ID", help="task id, or a unique prefix of 4+ characters")
    p.add_argument("--logs", action="store_true", help="include the log's tail")
    json_flag(p)
    p.set_defaults(handler=run)


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """One task in detail."""
    info = await backend.call(
        "queue_task_status",
        {"task_id": args.id, "detailed": True, "include_logs": args.logs},
    )
    if args.json:
        print_json(info)
        return 0
    progress, timing, retry, error = info["progress"], info["timing"], info["retry"], info["error"]
    status = info["status"]
    if status in {s.value for s in ACTIVE} or progress["percent"]:
        status += f"  {progress['percent']:.0f}%"
    if progress["current_step"]:
        status += f"  ({progress['current_step']})"
    if info.get("suspended"):
        status += f"  (suspended; holds its slot in queue {info['queue']!r})"
    fields: list[tuple[str, str]] = [
        ("id", info["id"]),
        ("name", info["name"]),
        ("type", info["type"]),
        ("category", info["category"]),
        ("priority", info["priority"]),
        ("tags", ", ".join(info["tags"]) or "-"),
        ("status", status),
        ("created", fmt_time(timing["created_at"])),
        ("added by", (info.get("task") or {}).get("created_by") or "-"),
        ("started", fmt_time(timing["started_at"])),
        ("finished", fmt_time(timing["completed_at"])),
        ("duration", fmt_duration(timing["duration_seconds"])),
        ("waited", fmt_duration(timing["waiting_seconds"])),
    ]
    retries = f"{retry['count']} of {retry['max_retries']}"
    if retry["dead_letter"]:
        retries += "  (dead letter)"
    if retry["next_attempt_at"]:
        retries += f"  next attempt {fmt_time(retry['next_attempt_at'])}"
    if retry.get("retry_on"):
        retries += f"  only on {', '.join(retry['retry_on'])}"
    if retry.get("no_retry_on"):
        retries += f"  never on {', '.join(retry['no_retry_on'])}"
    fields.append(("retries", retries))
    if info["wait_reason"]:
        fields.append(("waiting", info["wait_reason"]))
    if info["queue"] != "default":
        fields.append(("queue", info["queue"]))
    if info["depends_on"]:
        after = ", ".join(short(d) for d in info["depends_on"])
        if info["allow_dependency_failure"]:
            after += "  (runs even if one fails)"
        fields.append(("after", after))
    if info["permission"] != "autonomous":
        approval = info["permission"]
        if info["approved_at"]:
            approval += f"  (approved {fmt_time(info['approved_at'])})"
        fields.append(("approval", approval))
    if info["resources"]:
        fields.append(("needs", ", ".join(f"{k} {v}" for k, v in info["resources"].items())))
    if info["expires_at"]:
        fields.append(("expires", fmt_time(info["expires_at"])))
    if error:
        fields.append(("error", f"{error['code']}: {error['message']}"))
        fields.append(("", error["description"]))
        fields.append(("hint", error["suggestion"]))
    if info["result"] is not None:
        fields.append(("result", json.dumps(info["result"], default=str)))
    for label, value in fields:
        out(f"{label + ':' if label else '':<10}{value}")
    if args.logs:
        out("--- log (tail) ---")
        sys.stdout.write(info.get("log_tail", ""))
    return 0
