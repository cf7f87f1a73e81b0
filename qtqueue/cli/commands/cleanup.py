"""`qtqueue cleanup [--older-than DURATION]`: delete old finished tasks and their logs."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from qtqueue.cli.output import out
from qtqueue.cli.parser import Subparsers, add_command
from qtqueue.cli.values import parse_duration_s

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 100


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `cleanup` command."""
    p = add_command(
        sub, common, "cleanup", "Delete finished tasks and their logs older than a period."
    )
    p.add_argument(
        "--older-than",
        type=parse_duration_s,
        metavar="DURATION",
        help="e.g. 7d, 12h, 30m, 90s (default: the retention period, 30 days)",
    )
    p.set_defaults(handler=run)


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """Delete finished tasks (and their logs) older than --older-than, or the retention."""
    params = {} if args.older_than is None else {"older_than_s": args.older_than}
    removed = (await backend.call("cleanup", params))["removed"]
    out(f"removed {removed} finished task(s)")
    return 0
