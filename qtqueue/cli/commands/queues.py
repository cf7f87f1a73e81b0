"""`qtqueue queues [set NAME --concurrency N …]`: the named queues and their settings (the
built-in ones start with the RQ-style design document's defaults)."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from qtqueue.cli.output import fmt_duration, out, print_json, table
from qtqueue.cli.parser import Subparsers, UsageError, add_command, json_flag
from qtqueue.cli.values import count_or_none, duration_or_none

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 90


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `queues` command."""
    p = add_command(
        sub,
        common,
        "queues",
        "List the named queues, or create one / change its settings with 'set'.",
        epilog="examples:\n"
        "  qtqueue queues\n"
        "  qtqueue queues set nightly --concurrency 1 --timeout 2h --retries 2 --result-ttl 7d\n"
        "  qtqueue queues set nightly --concurrency none   (no limit of its own)\n"
        "  qtqueue queues set default --failure-ttl 30d --max-length 500\n"
        "  qtqueue queues set nightly --alert-depth 100 --notify-webhook https://hooks.example/q",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", nargs="?", choices=["set"], help="create or change a queue")
    p.add_argument("name", nargs="?", metavar="NAME", help="the queue to create or change")
    p.add_argument(
        "--concurrency", type=count_or_none(1), metavar="N", help="at most N of its tasks at once"
    )
    p.add_argument(
        "--timeout", type=duration_or_none, metavar="DURATION", help="default task timeout"
    )
    p.add_argument("--retries", type=count_or_none(0), metavar="N", help="default max retries")
    p.add_argument(
        "--result-ttl",
        type=duration_or_none,
        metavar="DURATION",
        help="delete its completed tasks this long after they finish",
    )
    p.add_argument(
        "--failure-ttl",
        type=duration_or_none,
        metavar="DURATION",
        help="delete its failed, cancelled and timed-out tasks (not dead letters) this long "
        "after they finish",
    )
    p.add_argument(
        "--max-length",
        type=count_or_none(1),
        metavar="N",
        help="refuse new tasks while N of its tasks are unfinished",
    )
    p.add_argument(
        "--alert-depth",
        type=count_or_none(1),
        metavar="N",
        help="alert (tray notice, its webhook) once more than N of its tasks wait",
    )
    p.add_argument(
        "--notify-webhook", metavar="URL", help="post task summaries and alerts here (none: no)"
    )
    json_flag(p)
    p.set_defaults(handler=run, check=check)


def _settings(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """Each queue setting and its option's value (None: not given)."""
    return [
        ("concurrency", args.concurrency),
        ("timeout_s", args.timeout),
        ("max_retries", args.retries),
        ("result_ttl_s", args.result_ttl),
        ("failure_ttl_s", args.failure_ttl),
        ("max_length", args.max_length),
        ("alert_depth", args.alert_depth),
        ("notify_webhook", args.notify_webhook),
    ]


def check(args: argparse.Namespace) -> None:
    """A name with `set`, and settings only with `set NAME`."""
    settings = [value for _, value in _settings(args)]
    if args.action == "set" and not args.name:
        raise UsageError("queues set: name the queue")
    if args.action is None and (args.name or any(v is not None for v in settings)):
        raise UsageError("queues: a name and settings go with 'set NAME'")


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """List the named queues, or `set NAME` to create one or change its settings."""
    if args.action == "set":
        params: dict[str, Any] = {"name": args.name}
        for key, value in _settings(args):
            if value is not None:
                params[key] = None if value == "none" else value
        queues = [(await backend.call("set_queue", params))["queue"]]
    else:
        queues = (await backend.call("list_queues"))["queues"]
    if args.json:
        print_json(queues)
        return 0

    def shown(value: Any, unit: str = "") -> str:
        return "-" if value is None else f"{value:g}{unit}"

    rows = [
        [
            q["name"],
            shown(q["concurrency"]),
            shown(q["timeout_s"], "s"),
            shown(q["max_retries"]),
            fmt_duration(q["result_ttl_s"]),
            fmt_duration(q["failure_ttl_s"]),
            shown(q["max_length"]),
            shown(q["alert_depth"]),
            str(q["running"]),
            str(q["waiting"]),
        ]
        for q in queues
    ]
    headers = [
        "QUEUE", "CONCURRENCY", "TIMEOUT", "RETRIES", "RESULT-TTL", "FAILURE-TTL", "MAX-LENGTH",
        "ALERT-DEPTH", "RUNNING", "WAITING",
    ]  # fmt: skip
    out(table(headers, rows))
    return 0
