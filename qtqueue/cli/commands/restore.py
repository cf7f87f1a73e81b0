"""`qtqueue restore [BACKUP]`: list the store's backups, or bring one back."""

from __future__ import annotations

import argparse
import logging
import time

from qtqueue.cli.output import fmt_time, out, print_json, table
from qtqueue.cli.parser import Subparsers, add_command, json_flag
from qtqueue.config import resolve_data_dir

logger = logging.getLogger(__name__)

ORDER = 160


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    """The `restore` command."""
    p = add_command(
        sub,
        common,
        "restore",
        "List the store's backups, or bring one back (no engine may be running; the "
        "current file is kept beside it).",
        epilog="Backups are taken automatically at most once a day and before every "
        "upgrade of the store's format; the newest 5 are kept.",
    )
    p.add_argument(
        "backup",
        nargs="?",
        metavar="BACKUP",
        help="the backup to bring back: its number in the list (1 = newest), its file "
        "name, or 'latest'",
    )
    json_flag(p)
    p.set_defaults(direct=run)


def run(args: argparse.Namespace) -> int:
    """`qtqueue restore [BACKUP]`: list the backups, or bring one back."""
    # storage/__init__ loads the store's driver: only when this command runs
    from qtqueue.storage.backups import BACKUPS_DIR, list_backups

    data_dir = resolve_data_dir(args.data_dir)
    if args.backup is None:
        backups = list_backups(data_dir / BACKUPS_DIR)
        if args.json:
            print_json(
                [
                    {"n": n, "name": b.name, "taken_at": b.taken_at, "reason": b.reason}
                    for n, b in enumerate(backups, 1)
                ]
            )
        elif not backups:
            out(f"no backups in {data_dir / BACKUPS_DIR}")
        else:
            rows = [
                [str(n), fmt_time(b.taken_at), b.reason, b.name] for n, b in enumerate(backups, 1)
            ]
            out(table(["#", "TAKEN", "WHY", "FILE"], rows))
            out("bring one back with: qtqueue restore N (no engine may be running)")
        return 0
    from qtqueue.api.local_backend import restore_backup  # only when it runs

    backup, aside = restore_backup(data_dir, args.backup, time.time())
    if args.json:
        print_json({"restored": backup.name, "set_aside": str(aside) if aside else None})
        return 0
    out(f"restored the store from {backup.name} ({fmt_time(backup.taken_at)})")
    if aside is not None:
        out(f"the file it replaced is kept as {aside}")
    return 0
