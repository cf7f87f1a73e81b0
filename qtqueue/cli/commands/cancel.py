"""`qtqueue cancel ID…|--all`: cancel tasks (running ones are terminated)."""

from __future__ import annotations

import argparse
import logging

from qtqueue.cli import bulk
from qtqueue.cli.parser import Subparsers
from qtqueue.core.actions import TaskAction

logger = logging.getLogger(__name__)

ORDER = 53


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `cancel` command."""
    bulk.register(sub, common, TaskAction.CANCEL, "Cancel tasks (running ones are terminated).")
