"""What SYSTEM_BACKUP's backup and restore share: the params, the manifest, archive names, the
errors a damaged archive or the file system raise, and files written readable by their owner
only."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import logging
import lzma
import os
import re
import tarfile
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.executors.base import Params

logger = logging.getLogger(__name__)

__all__ = [
    "CORRUPT",
    "MANIFEST_MEMBER",
    "BackupParams",
    "Cancel",
    "archive_manifest",
    "file_sha",
    "os_error",
    "previous",
    "read_manifest",
    "write_private",
]

#: The manifest's name inside the archive (its last member); beside it: `<archive>.manifest.json`.
MANIFEST_MEMBER = ".qtqueue-manifest.json"
#: What reading a damaged archive raises: a bad header, a cut stream, broken gzip or xz data.
CORRUPT = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, UnicodeDecodeError)
_CHUNK = 1 << 20
_PERMISSION_FIX = "run with approval and elevation"
C = TaskErrorCode


class BackupParams(Params):
    """A backup of `paths` into `destination`, or (restore) `archive` into `restore_to`."""

    operation: Literal["backup", "restore"] = Field("backup", description="Back up, or restore")
    paths: list[str] = Field(
        default_factory=list,
        description="Files and folders to back up",
    )
    destination: str = Field(
        "", description="Folder the archives go to", json_schema_extra={"widget": "folder"}
    )
    include: list[str] = Field(
        default_factory=list, description="Glob patterns a file must match (empty: all)"
    )
    exclude: list[str] = Field(default_factory=list, description="Glob patterns to leave out")
    name: str = Field("backup", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Archive name")
    compression: Literal["gzip", "xz", "none"] = Field("gzip", description="Compression")
    keep_last: int = Field(5, ge=0, le=1000, description="Archives to keep (0: all)")
    verify: bool = Field(True, description="Re-read the archive and check every checksum")
    incremental: bool = Field(
        False, description="Store only files changed since the last backup of this name"
    )
    archive: str = Field("", description="Archive to restore", json_schema_extra={"widget": "file"})
    restore_to: str = Field(
        "", description="Folder to restore into", json_schema_extra={"widget": "folder"}
    )

    @model_validator(mode="after")
    def _needs(self) -> BackupParams:
        if self.operation == "backup" and (not self.paths or not self.destination):
            raise ValueError("a backup needs paths and a destination")
        if self.operation == "restore" and (not self.archive or not self.restore_to):
            raise ValueError("a restore needs archive and restore_to")
        return self


@dataclass
class Cancel:
    """Set when the task is cancelled: the worker threads stop at their next read."""

    event: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        """Raise CancelledError once cancelled."""
        if self.event.is_set():
            raise asyncio.CancelledError


def os_error(exc: OSError, what: str) -> QueueError:
    """The documented code of a file-system error met while backing up or restoring `what`."""
    path = exc.filename if isinstance(exc.filename, str) else what
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return QueueError(C.SYSTEM_DISK_SPACE, f"no space left writing {path}", path=path)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return QueueError(
            C.SYSTEM_PERMISSION_DENIED, f"permission denied: {path}", path=path, fix=_PERMISSION_FIX
        )
    if exc.errno == errno.ENOENT:
        return QueueError(C.DATA_FILE_NOT_FOUND, f"not found: {path}", path=path)
    if exc.errno in (errno.EMFILE, errno.ENFILE):
        return QueueError(C.SYSTEM_RESOURCE_LIMIT, f"too many open files: {exc}", path=path)
    return QueueError(C.SYSTEM_COMMAND_FAILED, f"{what}: {exc}", path=path)


def file_sha(path: str) -> str:
    """The sha256 of the file at `path`."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path`, readable and writable by its owner only (0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            fd = -1
            f.write(data)
    finally:
        if fd >= 0:
            os.close(fd)


def read_manifest(archive: str | Path) -> dict[str, Any]:
    """The manifest stored in `archive` (its files: name → sha256, size, mtime, mode)."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                if member.name == MANIFEST_MEMBER:
                    f = tar.extractfile(member)
                    if f is not None:
                        data: dict[str, Any] = json.loads(f.read())
                        return data
    except (*CORRUPT, ValueError) as exc:
        raise QueueError(
            C.DATA_FILE_CORRUPTED, f"{archive}: unreadable: {exc}", path=str(archive)
        ) from exc
    raise QueueError(C.DATA_FILE_CORRUPTED, f"{archive}: no manifest", path=str(archive))


def archive_manifest(archive: Path) -> dict[str, Any] | None:
    """`archive`'s manifest: the copy beside it, else the one inside; None when neither reads."""
    try:
        data: dict[str, Any] = json.loads(Path(f"{archive}.manifest.json").read_text())
        if isinstance(data.get("files"), dict):
            return data
    except (OSError, ValueError):
        pass
    try:
        return read_manifest(archive)
    except (QueueError, OSError):
        return None


def previous(dest: Path, name: str) -> list[Path]:
    """This name's archives in `dest`, oldest first (their names sort by time): exactly
    `<name>-YYYYmmdd-HHMMSS-<ns>.tar[.gz|.xz]`, never another name that starts with this one."""
    pattern = re.compile(rf"^{re.escape(name)}-\d{{8}}-\d{{6}}-\d{{9}}\.tar(\.gz|\.xz)?$")
    try:
        return sorted(q for q in dest.iterdir() if pattern.match(q.name))
    except FileNotFoundError:
        return []
