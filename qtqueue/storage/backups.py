"""Automatic copies of the store, taken with SQLite's backup API, and bringing one back.

A copy is taken before every schema migration and at most once a day while the store is in
use (`SqliteTaskStore` calls `take_backup`), into `<data_dir>/backups/`, named by the UTC time
it was taken and why: `queue-20261206T210000.123456Z-daily.db`. The newest `KEEP` are kept.
The copy is read on a connection of its own, so it is one consistent snapshot that never
blocks the writer (WAL readers do not), and it is written under a temporary name and renamed,
so a backup file is always whole. Everything is created 0600 in a 0700 folder.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.storage.private import PRIVATE_FILE_MODE, make_private_dir, replace_durably

logger = logging.getLogger(__name__)

__all__ = [
    "BACKUPS_DIR",
    "INTERVAL_S",
    "KEEP",
    "Backup",
    "backup_due",
    "count_tasks",
    "find_backup",
    "list_backups",
    "set_aside",
    "take_backup",
]

BACKUPS_DIR = "backups"
#: How many backups are kept (the oldest go first).
KEEP = 5
#: A daily backup is due when the newest backup is older than this.
INTERVAL_S = 86400.0
_STAMP = "%Y%m%dT%H%M%S.%fZ"
_NAME = re.compile(r"^queue-(\d{8}T\d{6}\.\d{6}Z)-([a-z0-9-]+)\.db$")


@dataclass(frozen=True, slots=True)
class Backup:
    """One backup file."""

    path: Path
    """The copy: an SQLite file that opens as a store on its own."""
    taken_at: float
    """When it was taken (UNIX seconds)."""
    reason: str
    """Why: "daily", "pre-migration-vN" (the schema it had), "manual"."""

    @property
    def name(self) -> str:
        """The file name, which is how a user names it to `qtqueue restore`."""
        return self.path.name


def _utc(ts: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ts, tz=datetime.UTC)


def stamp(ts: float) -> str:
    """`ts` as the UTC text used in backup and set-aside file names."""
    return _utc(ts).strftime(_STAMP)


def list_backups(backups_dir: Path) -> list[Backup]:
    """The backups in `backups_dir`, newest first (none if it does not exist)."""
    found: list[Backup] = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(backups_dir):
            m = _NAME.match(entry.name)
            if m is None or not entry.is_file(follow_symlinks=False):
                continue
            when = datetime.datetime.strptime(m.group(1), _STAMP).replace(tzinfo=datetime.UTC)
            found.append(Backup(Path(entry.path), when.timestamp(), m.group(2)))
    found.sort(key=lambda b: b.taken_at, reverse=True)
    return found


def backup_due(backups_dir: Path, now: float, interval_s: float = INTERVAL_S) -> bool:
    """Whether a daily backup is due: none is younger than `interval_s`."""
    backups = list_backups(backups_dir)
    return not backups or now - backups[0].taken_at >= interval_s


def take_backup(db_path: Path, backups_dir: Path, reason: str, now: float) -> Backup:
    """Copy the store at `db_path` into `backups_dir` as one consistent snapshot, then keep
    only the newest `KEEP` backups. Blocking: run it in a thread."""
    make_private_dir(backups_dir)
    final = backups_dir / f"queue-{stamp(now)}-{reason}.db"
    partial = final.with_name(final.name + ".partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    try:
        source = sqlite3.connect(db_path, timeout=5.0)
        try:
            target = sqlite3.connect(partial)
            try:
                source.backup(target)
                # One self-contained file: no -wal beside the copy.
                target.execute("PRAGMA journal_mode=DELETE")
            finally:
                target.close()
        finally:
            source.close()
        replace_durably(partial, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    for old in list_backups(backups_dir)[KEEP:]:
        with contextlib.suppress(FileNotFoundError):
            old.path.unlink()
    logger.info("backed up %s to %s (%s)", db_path, final, reason)
    return Backup(final, now, reason)


def find_backup(backups_dir: Path, name: str) -> Backup:
    """The backup a user named: its file name, its number in `qtqueue restore`'s list
    (1 = newest), or "latest"; QueueError(DATA_FILE_NOT_FOUND) if there is none such."""
    backups = list_backups(backups_dir)
    if name == "latest" and backups:
        return backups[0]
    if name.isdigit() and 1 <= int(name) <= len(backups):
        return backups[int(name) - 1]
    for b in backups:
        if b.name == name:
            return b
    raise QueueError(
        TaskErrorCode.DATA_FILE_NOT_FOUND,
        f"no backup {name!r} in {backups_dir} ({len(backups)} kept; 'qtqueue restore' lists them)",
        path=str(backups_dir),
    )


def set_aside(db_path: Path, label: str, now: float) -> Path:
    """Rename the store file (with its -wal and -shm, if any) to
    `<name>.<label>-<UTC time>`, so that SQLite can still open the pair; returns the new
    path of the main file. Nothing is deleted."""
    aside = db_path.with_name(f"{db_path.name}.{label}-{stamp(now)}")
    # The main file first: if this stops half way, the WAL left behind marks the store as
    # damaged (see `damage.inspect`) rather than being silently dropped.
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{db_path}{suffix}", f"{aside}{suffix}")
    return aside


def count_tasks(backup: Backup) -> int | None:
    """How many tasks `backup` holds, read on a read-only connection; None if it cannot be
    read as a store (it would be refused if brought back)."""
    try:
        conn = sqlite3.connect(f"file:{backup.path}?mode=ro", uri=True)
        try:
            (n,) = conn.execute("SELECT COUNT(*) FROM tasks").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return None
    return int(n)
