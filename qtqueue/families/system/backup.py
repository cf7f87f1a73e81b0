"""SYSTEM_BACKUP: folders to a compressed tar archive with a sha256 manifest, verified by
re-reading, the last N kept; incremental mode; and `operation: restore` into a chosen folder.

Symlinks are archived as links (never followed); names that are not UTF-8 round-trip (PAX
headers with the file system's surrogate escapes); permissions and modification times are kept.
Restoring goes through tarfile's "data" filter: no absolute paths, no `..`, no link that
points out of the target (such a member is skipped and listed, the rest is restored).
"""

from __future__ import annotations

import asyncio
import errno
import fnmatch
import hashlib
import io
import json
import logging
import os
import stat
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from pydantic import Field, model_validator

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.executors.base import Executor, Params, RunContext
from qtqueue.families.system.table import row_line, table_line

logger = logging.getLogger(__name__)

__all__ = ["MANIFEST_MEMBER", "BackupExecutor", "BackupParams", "read_manifest"]

#: The manifest's name inside the archive (its last member); beside it: `<archive>.manifest.json`.
MANIFEST_MEMBER = ".qtqueue-manifest.json"
_SUFFIX = {"gzip": ".tar.gz", "xz": ".tar.xz", "none": ".tar"}
_MODE: dict[str, Literal["w:gz", "w:xz", "w"]] = {"gzip": "w:gz", "xz": "w:xz", "none": "w"}
_CHUNK = 1 << 20
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
class _Entry:
    """One thing to archive: its path on disk, its name in the archive and its lstat."""

    path: str
    arcname: str
    st: os.stat_result


@dataclass
class _Cancel:
    event: threading.Event = field(default_factory=threading.Event)


def _os_error(exc: OSError, what: str) -> QueueError:
    path = exc.filename if isinstance(exc.filename, str) else what
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return QueueError(C.SYSTEM_DISK_SPACE, f"no space left writing {path}", path=path)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return QueueError(C.SYSTEM_PERMISSION_DENIED, f"permission denied: {path}", path=path)
    if exc.errno == errno.ENOENT:
        return QueueError(C.DATA_FILE_NOT_FOUND, f"not found: {path}", path=path)
    if exc.errno in (errno.EMFILE, errno.ENFILE):
        return QueueError(C.SYSTEM_RESOURCE_LIMIT, f"too many open files: {exc}", path=path)
    return QueueError(C.SYSTEM_COMMAND_FAILED, f"{what}: {exc}", path=path)


def _wanted(rel: str, p: BackupParams) -> bool:
    base = rel.rsplit("/", 1)[-1]
    if any(fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(base, pat) for pat in p.exclude):
        return False
    if not p.include:
        return True
    return any(fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(base, pat) for pat in p.include)


def _scan(p: BackupParams, dest: str) -> list[_Entry]:
    """Everything under `paths` to archive, links as links (lstat; never descended); the
    destination folder (earlier archives) is left out when it lies inside a path."""
    out: list[_Entry] = []
    for raw in p.paths:
        top = os.path.abspath(os.path.expanduser(raw))
        try:
            st = os.lstat(top)
        except OSError as exc:
            raise _os_error(exc, top) from exc
        root_name = os.path.basename(top.rstrip(os.sep)) or "root"
        out.append(_Entry(top, root_name, st))
        if not stat.S_ISDIR(st.st_mode):
            continue
        stack = [(top, root_name)]
        while stack:
            folder, arc = stack.pop()
            with os.scandir(folder) as it:
                children = sorted(it, key=lambda e: e.name)
            for child in children:
                rel = f"{arc}/{child.name}"
                cst = child.stat(follow_symlinks=False)
                if stat.S_ISDIR(cst.st_mode):
                    if child.path == dest or any(
                        fnmatch.fnmatch(child.name, pat) for pat in p.exclude
                    ):
                        continue
                    out.append(_Entry(child.path, rel, cst))
                    stack.append((child.path, rel))
                elif _wanted(rel[len(root_name) + 1 :], p):
                    out.append(_Entry(child.path, rel, cst))
    return out


class _HashingReader(io.RawIOBase):
    """Reads a file for tarfile, hashing it and counting bytes; stops when cancelled."""

    def __init__(self, f: BinaryIO, cancel: _Cancel, on_bytes: Any) -> None:
        self.f, self.cancel, self.on_bytes = f, cancel, on_bytes
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.cancel.event.is_set():
            raise asyncio.CancelledError
        data = self.f.read(size)
        self.sha.update(data)
        self.on_bytes(len(data))
        return data


def _file_sha(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def read_manifest(archive: str | Path) -> dict[str, Any]:
    """The manifest stored in `archive` (its files: name → sha256, size, mtime, mode)."""
    with tarfile.open(archive, "r:*") as tar:
        member = tar.extractfile(MANIFEST_MEMBER)
        if member is None:
            raise QueueError(C.DATA_FILE_CORRUPTED, f"{archive}: no manifest", path=str(archive))
        data: dict[str, Any] = json.loads(member.read())
        return data


def _previous(dest: Path, name: str) -> list[Path]:
    """This name's archives in `dest`, oldest first (their names sort by time)."""
    return sorted(
        q
        for q in dest.glob(f"{name}-*.tar*")
        if not q.name.endswith(".manifest.json") and not q.name.endswith(".part")
    )


def _verify(archive: Path, files: dict[str, Any], cancel: _Cancel) -> int:
    """Re-read `archive`: every stored file's sha256 must be the manifest's."""
    checked = 0
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                if cancel.event.is_set():
                    raise asyncio.CancelledError
                if not member.isfile() or member.name == MANIFEST_MEMBER:
                    continue
                f = tar.extractfile(member)
                assert f is not None
                sha = hashlib.sha256()
                while chunk := f.read(_CHUNK):
                    sha.update(chunk)
                want = files.get(member.name, {}).get("sha256")
                if sha.hexdigest() != want:
                    raise QueueError(
                        C.DATA_FILE_CORRUPTED,
                        f"{archive.name}: {member.name!r} does not match its checksum",
                        path=str(archive),
                        member=member.name,
                    )
                checked += 1
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise QueueError(
            C.DATA_FILE_CORRUPTED, f"{archive.name} cannot be read back: {exc}", path=str(archive)
        ) from exc
    return checked


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    f = tar.extractfile(member)
    return f.read() if f is not None else b"{}"


def _check_restored(
    target: Path, names: list[str], manifest: dict[str, Any], cancel: _Cancel
) -> int:
    """Each restored file the manifest lists must have its sha256; the number checked."""
    files = manifest.get("files", {})
    checked = 0
    for name in names:
        if cancel.event.is_set():
            raise asyncio.CancelledError
        want = files.get(name, {}).get("sha256")
        if want is None:
            continue
        if _file_sha(str(target / name)) != want:
            raise QueueError(
                C.DATA_FILE_CORRUPTED,
                f"restored {name!r} does not match the manifest's checksum",
                member=name,
            )
        checked += 1
    return checked


class BackupExecutor(Executor[BackupParams]):
    """Backs folders up to a verified archive, or restores one into a folder."""

    task_type = TaskType.SYSTEM_BACKUP
    params_model = BackupParams
    summary = "Back up folders to a verified archive, or restore one"

    async def run(self, ctx: RunContext[BackupParams]) -> dict[str, Any] | None:
        cancel = _Cancel()
        try:
            if ctx.params.operation == "restore":
                return await self._restore(ctx, cancel)
            return await self._backup(ctx, cancel)
        except asyncio.CancelledError:
            cancel.event.set()
            raise

    async def _backup(self, ctx: RunContext[BackupParams], cancel: _Cancel) -> dict[str, Any]:
        p = ctx.params
        dest = Path(p.destination).expanduser()
        ctx.phase(TaskStatus.PREPARING)
        try:
            dest.mkdir(parents=True, exist_ok=True)
            entries = await asyncio.to_thread(_scan, p, os.path.abspath(dest))
        except OSError as exc:
            raise _os_error(exc, str(dest)) from exc
        older = _previous(dest, p.name)
        before: dict[str, Any] = {}
        if p.incremental and older:
            before = json.loads(Path(f"{older[-1]}.manifest.json").read_text())["files"]
        total = sum(e.st.st_size for e in entries if stat.S_ISREG(e.st.st_mode)) or 1
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{time.time_ns() % 10**9:09d}"
        archive = dest / f"{p.name}-{stamp}{_SUFFIX[p.compression]}"
        part = archive.with_name(archive.name + ".part")
        ctx.phase(TaskStatus.RUNNING)
        ctx.log(f"backing up {len(entries)} entries ({total} bytes) to {archive}")
        try:
            files, blob = await self._write(ctx, entries, before, part, archive.name, total, cancel)
            os.replace(part, archive)
            Path(f"{archive}.manifest.json").write_bytes(blob)
        except OSError as exc:
            part.unlink(missing_ok=True)
            raise _os_error(exc, str(archive)) from exc
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        unchanged = sum(1 for v in files.values() if v.get("stored_in") != archive.name)
        checked = 0
        if p.verify:
            ctx.progress(92.0, "verifying")
            stored = {k: v for k, v in files.items() if v.get("stored_in") == archive.name}
            checked = await asyncio.to_thread(_verify, archive, stored, cancel)
            ctx.log(f"verified {checked} files against their sha256")
        removed = []
        # An archive the newest manifest still points to (incremental) is kept.
        needed = {v.get("stored_in") for v in files.values()}
        if p.keep_last:
            for stale in _previous(dest, p.name)[: -p.keep_last]:
                if stale.name in needed:
                    ctx.log(f"kept {stale.name}: this backup still needs files stored there")
                    continue
                stale.unlink(missing_ok=True)
                Path(f"{stale}.manifest.json").unlink(missing_ok=True)
                removed.append(stale.name)
                ctx.log(f"removed old archive {stale.name}")
        size = archive.stat().st_size
        ctx.log(table_line("Backup", ["Archive", "Files", "Stored", "Archive bytes", "Verified"]))
        stored_count = sum(1 for v in files.values() if v.get("stored_in") == archive.name)
        ctx.log(row_line([archive.name, len(files), stored_count, size, checked]))
        ctx.progress(100.0, "done")
        return {
            "archive": str(archive),
            "manifest": f"{archive}.manifest.json",
            "archive_bytes": size,
            "source_bytes": sum(v["size"] for v in files.values()),
            "files": len(files),
            "stored": stored_count,
            "unchanged": unchanged,
            "verified": checked,
            "removed": removed,
        }

    async def _write(
        self,
        ctx: RunContext[BackupParams],
        entries: list[_Entry],
        before: dict[str, Any],
        part: Path,
        name: str,
        total: int,
        cancel: _Cancel,
    ) -> tuple[dict[str, Any], bytes]:
        """Write `entries` (and the manifest, last) to `part`; (the manifest's files, its bytes).
        A regular file unchanged since `before` (size and mtime) is listed, not stored."""
        loop = asyncio.get_running_loop()
        done = reported = 0
        files: dict[str, Any] = {}

        def report() -> None:
            ctx.progress(min(90.0, 90.0 * done / total), f"{done} of {total} bytes")

        def on_bytes(n: int) -> None:  # in the worker thread
            nonlocal done, reported
            done += n
            if done - reported >= _CHUNK * 8:
                reported = done
                loop.call_soon_threadsafe(report)

        with tarfile.open(part, _MODE[ctx.params.compression], format=tarfile.PAX_FORMAT) as tar:
            for entry in entries:
                await ctx.checkpoint()
                st = entry.st
                if not stat.S_ISREG(st.st_mode):
                    tar.addfile(await asyncio.to_thread(tar.gettarinfo, entry.path, entry.arcname))
                    continue
                old = before.get(entry.arcname)
                if old and old["size"] == st.st_size and old["mtime"] == st.st_mtime_ns:
                    files[entry.arcname] = old
                    done += st.st_size
                else:
                    sha = await asyncio.to_thread(self._add_file, tar, entry, cancel, on_bytes)
                    files[entry.arcname] = {
                        "sha256": sha,
                        "size": st.st_size,
                        "mtime": st.st_mtime_ns,
                        "mode": stat.S_IMODE(st.st_mode),
                        "stored_in": name,
                    }
                report()
            manifest = {"archive": name, "created": time.time(), "files": files}
            blob = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST_MEMBER)
            info.size, info.mtime, info.mode = len(blob), int(time.time()), 0o600
            tar.addfile(info, io.BytesIO(blob))
        return files, blob

    @staticmethod
    def _add_file(tar: tarfile.TarFile, entry: _Entry, cancel: _Cancel, on_bytes: Any) -> str:
        info = tar.gettarinfo(entry.path, entry.arcname)
        if info.islnk():  # a second hard link: store its content again, checksummed
            info.type, info.linkname, info.size = tarfile.REGTYPE, "", entry.st.st_size
        with open(entry.path, "rb") as f:
            reader = _HashingReader(f, cancel, on_bytes)
            tar.addfile(info, reader)
        return reader.sha.hexdigest()

    async def _restore(self, ctx: RunContext[BackupParams], cancel: _Cancel) -> dict[str, Any]:
        p = ctx.params
        target = Path(p.restore_to).expanduser().resolve()
        source = Path(p.archive).expanduser()
        if not source.is_file():
            raise QueueError(C.DATA_FILE_NOT_FOUND, f"no archive at {source}", path=str(source))
        try:
            target.mkdir(parents=True, exist_ok=True)
            tar = await asyncio.to_thread(tarfile.open, source, "r:*")
        except tarfile.TarError as exc:
            raise QueueError(
                C.DATA_FILE_CORRUPTED, f"{source.name} is not a readable archive: {exc}"
            ) from exc
        except OSError as exc:
            raise _os_error(exc, str(source)) from exc
        skipped: list[dict[str, str]] = []
        restored = 0
        manifest: dict[str, Any] = {}
        written: list[str] = []
        try:
            members = await asyncio.to_thread(tar.getmembers)
            total = sum(m.size for m in members) or 1
            done = 0
            for member in members:
                await ctx.checkpoint()
                if cancel.event.is_set():
                    raise asyncio.CancelledError
                if member.name == MANIFEST_MEMBER:
                    blob = await asyncio.to_thread(_read_member, tar, member)
                    manifest = json.loads(blob)
                    continue
                try:
                    await asyncio.to_thread(tar.extract, member, target, filter="data")
                    restored += 1
                    if member.isfile():
                        written.append(member.name)
                except tarfile.FilterError as exc:
                    skipped.append({"name": member.name, "reason": str(exc)})
                    ctx.log(f"skipped unsafe member {member.name!r}: {exc}")
                done += member.size
                ctx.progress(min(99.0, 100.0 * done / total), f"{done} of {total} bytes")
        except (tarfile.TarError, EOFError) as exc:
            raise QueueError(
                C.DATA_FILE_CORRUPTED, f"{source.name} broke off while restoring: {exc}"
            ) from exc
        except OSError as exc:
            raise _os_error(exc, str(target)) from exc
        finally:
            tar.close()
        checked = 0
        if p.verify and manifest:
            checked = await asyncio.to_thread(_check_restored, target, written, manifest, cancel)
            ctx.log(f"verified {checked} restored files against the manifest's sha256")
        ctx.log(table_line("Restore", ["Restored to", "Restored", "Verified", "Skipped (unsafe)"]))
        ctx.log(row_line([target, restored, checked, len(skipped)]))
        ctx.progress(100.0, "restored")
        return {
            "restored_to": str(target),
            "restored": restored,
            "verified": checked,
            "skipped": skipped,
        }
