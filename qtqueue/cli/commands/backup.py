"""`qtqueue backup`: copy the store into the data directory's backups folder now."""

from __future__ import annotations

import argparse
import logging
import time

from qtqueue.cli.output import out
from qtqueue.cli.parser import Subparsers, add_command
from qtqueue.config import resolve_data_dir

logger = logging.getLogger(__name__)

ORDER = 150


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `backup` command."""
    p = add_command(
        sub, common, "backup", "Copy the store into the data directory's backups folder now."
    )
    p.set_defaults(direct=run)


def run(args: argparse.Namespace) -> int:
    """Copy the store now; prints where to."""
    from qtqueue.api.local_backend import backup_now  # only when it runs

    backup = backup_now(resolve_data_dir(args.data_dir), time.time())
    out(f"backed up to {backup.path}")
    return 0
