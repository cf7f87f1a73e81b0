"""`qtqueue reject ID… [--reason TEXT]`: reject tasks that await approval; they end cancelled."""

from __future__ import annotations

import argparse
import logging

from qtqueue.cli.commands import approve
from qtqueue.cli.parser import Subparsers, add_command

logger = logging.getLogger(__name__)

ORDER = 61


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `reject` command (run as `approve` runs, with a reason)."""
    p = add_command(sub, common, "reject", "Reject tasks that await approval: they end cancelled.")
    p.add_argument("ids", nargs="+", metavar="ID", help="task ids or unique prefixes")
    p.add_argument("--reason", default="", help="why (kept with the task's error)")
    p.set_defaults(handler=approve.run)
