"""Removing old files under a folder without ever leaving it, as `shutil.rmtree`'s safe version
does: every folder is opened with O_NOFOLLOW|O_DIRECTORY and checked to be the one just listed,
its entries are listed, stat'ed and unlinked relative to that open folder (`dir_fd`). A folder
swapped for a symlink between the listing and the removal is refused, never walked through
(the classic tmp-cleaner attack). A `threading.Event` stops the walk between two files. Where
the fd functions are missing (Windows), folders are walked by path, never through a link."""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

__all__ = ["Swept", "sweep_folder"]

_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
#: Whether folders can be held open and their entries handled relative to them (POSIX).
FD_SAFE = (
    {os.open, os.stat, os.unlink} <= os.supports_dir_fd
    and os.scandir in os.supports_fd
    and hasattr(os, "O_NOFOLLOW")
)


@dataclass
class Swept:
    """What a sweep found (or removed): items as (path, bytes), failures as 'path: reason'."""

    items: list[tuple[str, int]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    stopped: bool = False

    @property
    def count(self) -> int:
        """Files (and links) found, or removed."""
        return len(self.items)

    @property
    def size(self) -> int:
        """Their bytes (a link counts 0)."""
        return sum(s for _, s in self.items)


def sweep_folder(
    path: str,
    cutoff: float,
    *,
    remove: bool,
    follow_root: bool = True,
    keep: frozenset[str] = frozenset(),
    stop: threading.Event | None = None,
) -> Swept:
    """`sweep` of the folder `path`; unless `follow_root`, `path` itself must not be a link.
    OSError for the root: ENOENT (missing), ELOOP (a link), ENOTDIR (a file)."""
    if not FD_SAFE:
        st = os.stat(path, follow_symlinks=follow_root)
        if stat.S_ISLNK(st.st_mode):
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
        if not stat.S_ISDIR(st.st_mode):
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        return _sweep_paths(path, cutoff, remove=remove, keep=keep, stop=stop)
    flags = _DIR_FLAGS if not follow_root else os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    return sweep(os.open(path, flags), path, cutoff, remove=remove, keep=keep, stop=stop)


def _sweep_paths(
    root: str,
    cutoff: float,
    *,
    remove: bool,
    keep: frozenset[str],
    stop: threading.Event | None,
) -> Swept:
    """`sweep` by path, for systems without the fd functions (links and junctions are never
    entered, but a folder swapped meanwhile cannot be detected there)."""
    out = Swept()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            if stop is not None and stop.is_set():
                out.stopped = True
                return out
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            junction = getattr(entry, "is_junction", lambda: False)()
            if stat.S_ISDIR(st.st_mode) and not junction:
                stack.append(entry.path)
            elif stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                if st.st_mtime >= cutoff or entry.path in keep:
                    continue
                if remove:
                    try:
                        os.unlink(entry.path)
                    except FileNotFoundError:
                        continue
                    except OSError as exc:
                        out.failed.append(f"{entry.path}: {exc.strerror}")
                        continue
                size = st.st_size if stat.S_ISREG(st.st_mode) else 0
                out.items.append((entry.path, size))
    return out


def _sub(parent: int, name: str, expected: os.stat_result) -> int | None:
    """The sub-folder `name` of the open `parent`, if it is still the folder listed."""
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError:
        return None  # gone, or swapped for a link/file since it was listed
    st = os.fstat(fd)
    if (st.st_dev, st.st_ino) != (expected.st_dev, expected.st_ino):
        os.close(fd)
        return None
    return fd


def sweep(
    root_fd: int,
    root: str,
    cutoff: float,
    *,
    remove: bool,
    keep: frozenset[str] = frozenset(),
    stop: threading.Event | None = None,
) -> Swept:
    """Files and symlinks (never followed) under the open folder `root_fd` (named `root`)
    last modified before `cutoff`, removed as found when `remove`; `keep` paths are left
    alone; unreadable folders are skipped. Stops (``stopped``) once `stop` is set. Closes
    `root_fd`."""
    out = Swept()
    stack: list[tuple[int, str]] = [(root_fd, root)]
    try:
        while stack:
            fd, path = stack.pop()
            try:
                with os.scandir(fd) as it:
                    entries = list(it)
            except OSError:
                logger.debug("cannot read %s", path)
                os.close(fd)
                continue
            try:
                for entry in entries:
                    if stop is not None and stop.is_set():
                        out.stopped = True
                        return out
                    full = os.path.join(path, entry.name)
                    try:
                        st = os.stat(entry.name, dir_fd=fd, follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISDIR(st.st_mode):
                        sub = _sub(fd, entry.name, st)
                        if sub is not None:
                            stack.append((sub, full))
                        continue
                    if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                        continue
                    if st.st_mtime >= cutoff or full in keep:
                        continue
                    size = st.st_size if stat.S_ISREG(st.st_mode) else 0
                    if remove:
                        try:
                            os.unlink(entry.name, dir_fd=fd)
                        except FileNotFoundError:
                            continue
                        except OSError as exc:
                            out.failed.append(f"{full}: {exc.strerror}")
                            continue
                    out.items.append((full, size))
            finally:
                os.close(fd)
    finally:
        for fd, _ in stack:
            os.close(fd)
    return out
