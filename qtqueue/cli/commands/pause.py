"""`qtqueue pause ID…|--all|--queue`: pause tasks (hold waiting ones, suspend running ones)."""

from __future__ import annotations

import argparse
import logging

from qtqueue.cli import bulk
from qtqueue.cli.parser import Subparsers
from qtqueue.core.actions import TaskAction

logger = logging.getLogger(__name__)

ORDER = 50


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `pause` command."""
    p = bulk.register(
        sub, common, TaskAction.PAUSE, "Pause tasks (hold waiting ones, suspend running ones)."
    )
    p.add_argument("--queue", action="store_true", help="pause the whole queue's dispatching")
