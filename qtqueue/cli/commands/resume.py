"""`qtqueue resume ID…|--all|--queue`: resume paused tasks."""

from __future__ import annotations

import argparse
import logging

from qtqueue.cli import bulk
from qtqueue.cli.parser import Subparsers
from qtqueue.core.actions import TaskAction

logger = logging.getLogger(__name__)

ORDER = 51


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `resume` command."""
    p = bulk.register(sub, common, TaskAction.RESUME, "Resume paused tasks.")
    p.add_argument("--queue", action="store_true", help="resume the whole queue's dispatching")
