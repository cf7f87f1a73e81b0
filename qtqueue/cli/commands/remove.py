"""`qtqueue remove ID…|--all`: delete finished tasks and their logs."""

from __future__ import annotations

import argparse
import logging

from qtqueue.cli import bulk
from qtqueue.cli.parser import Subparsers
from qtqueue.core.actions import TaskAction

logger = logging.getLogger(__name__)

ORDER = 54


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `remove` command."""
    bulk.register(sub, common, TaskAction.REMOVE, "Delete finished tasks and their logs.")
