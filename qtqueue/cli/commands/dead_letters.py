"""`qtqueue dead-letters [requeue|purge ID…|--all]`: tasks that failed for good."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from qtqueue.cli.output import clip, fmt_time, out, print_json, short, table
from qtqueue.cli.parser import Subparsers, UsageError, add_command, json_flag

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 80


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `dead-letters` command."""
    p = add_command(
        sub,
        common,
        "dead-letters",
        "List tasks that failed for good after their retries; requeue or purge them.",
        epilog="examples:\n"
        "  qtqueue dead-letters\n"
        "  qtqueue dead-letters requeue 3f2a9c1b\n"
        "  qtqueue dead-letters purge --all",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", nargs="?", choices=["requeue", "purge"], help="what to do")
    p.add_argument("ids", nargs="*", metavar="ID", help="task ids or unique prefixes")
    p.add_argument("--all", action="store_true", help="every dead letter")
    json_flag(p)
    p.set_defaults(handler=run, check=check)


def check(args: argparse.Namespace) -> None:
    """Ids or --all only with requeue / purge, and then one of them."""
    if args.action is None and (args.ids or args.all):
        raise UsageError("dead-letters: ids and --all go with requeue or purge")
    if args.action is not None and bool(args.ids) == bool(args.all):
        raise UsageError(f"dead-letters {args.action}: give task ids or --all")


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """List dead letters, or requeue / purge them (given ids, or --all)."""
    if args.action is not None:
        params: dict[str, Any] = {"all": True} if args.all else {"ids": list(args.ids)}
        done = (await backend.call(f"{args.action}_dead_letters", params))["ids"]
        word = "requeued" if args.action == "requeue" else "purged"
        for task_id in done:
            out(f"{word} {short(task_id)}")
        out(f"{len(done)} dead-lettered task(s) {word}")
        return 0
    tasks: list[dict[str, Any]] = (await backend.call("list_dead_letters"))["tasks"]
    if args.json:
        print_json(tasks)
        return 0
    if not tasks:
        out("no dead letters")
        return 0
    rows = [
        [
            short(t["id"]),
            clip(t["name"], 30),
            t["task_type"],
            clip(f"{t['error_code'] or '-'}: {t['error'] or ''}", 60),
            fmt_time(t["completed_at"]),
        ]
        for t in tasks
    ]
    out(table(["ID", "NAME", "TYPE", "LAST ERROR", "WHEN"], rows))
    return 0
