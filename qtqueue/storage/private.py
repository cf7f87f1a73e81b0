"""The data directory belongs to its user alone: the directory 0700, every file in it 0600.

The store holds task parameters (commands, `env` values) and the logs hold their output, so
no other local user may read them. Files are created private (`create_private`, and SQLite
gives its -wal and -shm files the mode of the database file), and `make_data_dir_private`
tightens whatever an older version, a copy or a permissive umask left readable to others.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import stat
from pathlib import Path

from qtqueue.core.errors import QueueError, TaskErrorCode

logger = logging.getLogger(__name__)

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "create_private",
    "make_data_dir_private",
    "make_private_dir",
    "permission_denied",
    "replace_durably",
    "write_private",
]

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
#: Group and other permission bits: what `make_data_dir_private` takes away.
_OTHERS = 0o077
#: How the names of what qtqueue keeps in a data directory begin: the store and its
#: companions (queue.db, -wal, -shm, set-aside copies), engine.lock and engine.json, the API
#: socket, the logs and backups folders.
OWN_ENTRIES = ("queue.db", "engine.", "api.", "logs", "backups")


def make_private_dir(path: Path) -> None:
    """Create `path` (and missing parents) if needed, and make `path` itself 0700."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, follow=True)  # a data directory may be a link to another disk


def create_private(path: Path) -> int:
    """Open `path` for appending, created 0600 if missing; returns the file descriptor."""
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE_MODE)


def write_private(path: Path, data: bytes) -> None:
    """Replace the contents of `path` with `data`, the file created 0600 if missing."""
    with os.fdopen(
        os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE), "wb"
    ) as fh:
        fh.write(data)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(source: Path, target: Path) -> None:
    """Rename the whole file `source` to `target` so that a crash leaves one or the other:
    the data is flushed to disk before the rename, and the rename before returning."""
    _fsync(source)
    os.replace(source, target)
    _fsync(target.parent)


def make_data_dir_private(data_dir: Path) -> list[Path]:
    """Create the data directory (0700) if missing, and take the group and other bits off
    it and off what qtqueue keeps in it (`OWN_ENTRIES`); returns what was changed. The files
    of a subdirectory (logs, backups) are looked at only when it or the data directory was
    open to others: inside a private directory nobody else reaches them, and a store with
    many logs should not cost a stat of each at every start. Symbolic links inside are left
    alone (their targets may be outside the data directory)."""
    repaired: list[Path] = []
    data_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    data_dir_was_open = _tighten(data_dir, follow=True)
    if data_dir_was_open:
        repaired.append(data_dir)
    with os.scandir(data_dir) as entries:
        for entry in entries:
            if not entry.name.startswith(OWN_ENTRIES):
                continue  # not qtqueue's: a user's own file in a folder they chose
            path = Path(entry.path)
            was_open = _tighten(path)
            if was_open:
                repaired.append(path)
            if entry.is_dir(follow_symlinks=False) and (was_open or data_dir_was_open):
                with os.scandir(path) as inner:
                    repaired += [p for p in map(Path, (e.path for e in inner)) if _tighten(p)]
    if repaired:
        logger.warning(
            "made %d paths in %s private to their owner (other users could read them): %s",
            len(repaired),
            data_dir,
            ", ".join(p.name for p in repaired[:10]) + (", …" if len(repaired) > 10 else ""),
        )
    return repaired


def _tighten(path: Path, *, follow: bool = False) -> bool:
    """Remove group/other bits from `path` (from what it links to if `follow`); whether
    anything changed."""
    try:
        st = os.stat(path, follow_symlinks=follow)
    except FileNotFoundError:  # removed meanwhile (a log cleaned up, a socket closed)
        return False
    if stat.S_ISLNK(st.st_mode) or not st.st_mode & _OTHERS:
        return False
    os.chmod(path, stat.S_IMODE(st.st_mode) & ~_OTHERS)
    return True


def owner_of(path: Path) -> str:
    """Who owns `path` (or its nearest ancestor this user can see), as 'name (uid N)'."""
    for candidate in (path, *path.parents):
        try:
            uid = candidate.stat().st_uid
        except OSError:
            continue
        name = str(uid)
        with contextlib.suppress(KeyError):
            name = pwd.getpwuid(uid).pw_name
        return f"{name} (uid {uid})"
    return "an unknown user"


def permission_denied(data_dir: Path, exc: OSError) -> QueueError:
    """The coded error for a data directory this user may not use (another user's)."""
    try:
        me = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        me = f"uid {os.geteuid()}"
    return QueueError(
        TaskErrorCode.SYSTEM_PERMISSION_DENIED,
        f"{data_dir} belongs to {owner_of(data_dir)} and {me} may not use it "
        f"({exc.strerror or exc} on {exc.filename or data_dir}); use a data directory of your "
        "own (--data-dir), or run qtqueue as its owner",
        data_dir=str(data_dir),
        owner=owner_of(data_dir),
    )
