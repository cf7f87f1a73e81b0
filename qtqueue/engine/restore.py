"""Taking a backup of a data directory's store by hand, and bringing a backup back.

Both are blocking and short; the command line runs them (`qtqueue backup`, `qtqueue
restore`), and the window can call them too. A restore replaces the store under the engine's
feet, so it takes the data directory's lock first and is refused while an engine (or a
window, or another command) holds it; the file it replaces is set aside, never deleted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path

from qtqueue.core.errors import QueueError, TaskErrorCode, classify_exception
from qtqueue.engine.lock import DB_NAME, LOCK_NAME
from qtqueue.storage.backups import BACKUPS_DIR, Backup, find_backup, set_aside, take_backup
from qtqueue.storage.damage import inspect
from qtqueue.storage.migrations import SCHEMA_VERSION
from qtqueue.storage.private import PRIVATE_FILE_MODE, permission_denied, replace_durably

logger = logging.getLogger(__name__)

__all__ = ["backup_now", "restore_backup"]


def backup_now(data_dir: Path, now: float) -> Backup:
    """Copy the store of `data_dir` into its backups folder now (an engine may be running)."""
    db = data_dir / DB_NAME
    if not db.exists():
        raise QueueError(
            TaskErrorCode.DATA_FILE_NOT_FOUND, f"{db} does not exist: nothing to back up"
        )
    problem = inspect(db)
    if problem is not None:
        raise QueueError(
            TaskErrorCode.QUEUE_STORE_CORRUPT, f"{db} {problem}; it was not backed up", path=str(db)
        )
    try:
        return take_backup(db, data_dir / BACKUPS_DIR, "manual", now)
    except PermissionError as exc:
        raise permission_denied(data_dir, exc) from None


def _check_backup(backup: Backup) -> None:
    """Refuse (DATA_FILE_CORRUPTED) a backup that is not a whole store this qtqueue opens."""
    problem = inspect(backup.path)
    if problem is None:
        try:
            conn = sqlite3.connect(f"file:{backup.path}?mode=ro", uri=True)
            try:
                (version,) = conn.execute("PRAGMA user_version").fetchone()
                (check,) = conn.execute("PRAGMA quick_check").fetchone()
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            problem = f"cannot be read: {exc}"
        else:
            if check != "ok":
                problem = f"fails SQLite's check: {check}"
            elif not 0 < version <= SCHEMA_VERSION:
                problem = f"has schema version {version}; this qtqueue opens 1 to {SCHEMA_VERSION}"
    if problem is not None:
        raise QueueError(
            TaskErrorCode.DATA_FILE_CORRUPTED,
            f"the backup {backup.path} {problem}; choose another one",
            path=str(backup.path),
        )


def _copy_beside(backup: Backup, copy: Path) -> Path:
    """Copy `backup` to `copy` (0600); a copy that fails is removed and raised as a coded
    error saying that nothing was changed."""
    try:
        with open(backup.path, "rb") as src:
            fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
            with os.fdopen(fd, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
    except OSError as exc:
        with contextlib.suppress(OSError):
            copy.unlink()
        raise QueueError(
            classify_exception(exc),
            f"the backup {backup.name} could not be copied to {copy}: {exc}; nothing was "
            "changed",
            path=str(copy),
        ) from None
    return copy


def restore_backup(data_dir: Path, name: str, now: float) -> tuple[Backup, Path | None]:
    """Make the backup `name` (see `find_backup`) the store of `data_dir`; returns it and
    where the file it replaced was set aside (None if there was none). Refused with
    QUEUE_ENGINE_LOCKED while anything holds the data directory."""
    from filelock import FileLock, Timeout  # here: see engine.lock

    lock = FileLock(str(data_dir / LOCK_NAME), mode=PRIVATE_FILE_MODE, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise QueueError(
            TaskErrorCode.QUEUE_ENGINE_LOCKED,
            f"an engine is using {data_dir}; stop it (or close the window) before bringing "
            "a backup back",
            data_dir=str(data_dir),
        ) from None
    except PermissionError as exc:
        raise permission_denied(data_dir, exc) from None
    try:
        backup = find_backup(data_dir / BACKUPS_DIR, name)
        _check_backup(backup)
        db = data_dir / DB_NAME
        # The whole copy first: if it fails (a full disk), the store is still in its place.
        copy = _copy_beside(backup, db.with_name(db.name + ".restoring"))
        present = any(Path(f"{db}{s}").exists() for s in ("", "-wal"))
        aside = set_aside(db, "replaced", now) if present else None
        replace_durably(copy, db)
    finally:
        lock.release()
    logger.warning(
        "restored %s from the backup %s%s",
        db,
        backup.name,
        f"; the file it replaced is {aside}" if aside else "",
    )
    return backup, aside
