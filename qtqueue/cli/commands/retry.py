"""`qtqueue retry ID…|--all|--dead-letters`: run failed, cancelled or timed-out tasks again."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from qtqueue.cli import bulk
from qtqueue.cli.output import out, short
from qtqueue.cli.parser import Subparsers
from qtqueue.core.actions import TaskAction

if TYPE_CHECKING:
    from qtqueue.api.local_backend import Backend

logger = logging.getLogger(__name__)

ORDER = 52


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `retry` command."""
    p = bulk.register(
        sub, common, TaskAction.RETRY, "Run failed, cancelled or timed-out tasks again."
    )
    p.add_argument(
        "--dead-letters",
        action="store_true",
        help="requeue every dead-lettered task (failed after using up its retries)",
    )
    p.set_defaults(handler=run)


async def run(backend: Backend, args: argparse.Namespace) -> int:
    """The given tasks or --all that apply; or, with --dead-letters, every dead letter."""
    if not args.dead_letters:
        return await bulk.run(backend, args)
    requeued = (await backend.call("requeue_dead_letters"))["ids"]
    for task_id in requeued:
        out(f"requeued {short(task_id)}")
    out(f"{len(requeued)} dead-lettered task(s) requeued")
    return 0
