"""SYSTEM_BACKUP: folders to a compressed tar archive with a sha256 manifest, verified by
re-reading, the last N kept; incremental mode; and `operation: restore` into a chosen folder.

Symlinks are archived as links (never followed), except a path to back up that is itself a
link: it is followed at the top level only, and the log says so. Names that are not UTF-8
round-trip (PAX headers with the file system's surrogate escapes); permissions and modification
times are kept. Restoring: see backup_restore. Archives and manifests are readable by their
owner only (0600).
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import io
import json
import logging
import os
import stat
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.executors.base import Executor, RunContext
from qtqueue.families.system.backup_archive import (
    CORRUPT,
    MANIFEST_MEMBER,
    BackupParams,
    Cancel,
    archive_manifest,
    os_error,
    previous,
    read_manifest,
    write_private,
)
from qtqueue.families.system.backup_restore import restore
from qtqueue.families.system.table import row_line, table_line

logger = logging.getLogger(__name__)

__all__ = ["MANIFEST_MEMBER", "BackupExecutor", "BackupParams", "read_manifest"]

_SUFFIX = {"gzip": ".tar.gz", "xz": ".tar.xz", "none": ".tar"}
_MODE: dict[str, Literal["w:gz", "w:xz", "w"]] = {"gzip": "w:gz", "xz": "w:xz", "none": "w"}
_CHUNK = 1 << 20
C = TaskErrorCode


@dataclass
class _Entry:
    """One thing to archive: its path on disk, its name in the archive and its lstat."""

    path: str
    arcname: str
    st: os.stat_result


@dataclass
class _Scan:
    """What a scan found: entries to archive, things left out (and why), notes for the log."""

    entries: list[_Entry] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _matches(patterns: list[str], rel: str, arc: str) -> bool:
    """Whether a pattern matches the name, the path under its top folder, or the archive name
    (`build`, `build/out`, `proj/build`, `*.tmp`)."""
    base = rel.rsplit("/", 1)[-1]
    return any(
        fnmatch.fnmatch(base, pat) or fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(arc, pat)
        for pat in patterns
    )


def _wanted(rel: str, arc: str, p: BackupParams) -> bool:
    if _matches(p.exclude, rel, arc):
        return False
    return not p.include or _matches(p.include, rel, arc)


def _special(mode: int) -> str | None:
    """What a file that cannot be archived is (socket, FIFO, device); None for the others."""
    for test, what in (
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return what
    return None


def _top(raw: str, used: set[str], found: _Scan) -> tuple[str, str, os.stat_result]:
    """A path to back up: its absolute path, a name in the archive no other path has (a second
    `config` becomes `config-2`), its stat; a path that is itself a link is followed (once)."""
    top = os.path.abspath(os.path.expanduser(raw))
    try:
        st = os.lstat(top)
        if stat.S_ISLNK(st.st_mode):
            st = os.stat(top)
            found.notes.append(f"{top} is a link: followed to {os.path.realpath(top)}")
    except OSError as exc:
        raise os_error(exc, top) from exc
    base = os.path.basename(top.rstrip(os.sep)) or "root"
    name, n = base, 1
    while name in used:
        n += 1
        name = f"{base}-{n}"
    if name != base:
        found.notes.append(f"{top} is stored as {name}/ (another path is named {base})")
    used.add(name)
    return top, name, st


def _scan(p: BackupParams, dest: os.stat_result) -> _Scan:
    """Everything under `paths` to archive, links as links (lstat; never descended); the
    destination folder (the same folder, however reached) is left out when it lies inside a
    path; files that vanish while scanning and sockets, FIFOs and devices are skipped and listed."""
    found = _Scan()
    used: set[str] = set()
    for raw in p.paths:
        top, root_name, st = _top(raw, used, found)
        if (what := _special(st.st_mode)) is not None:
            found.skipped.append({"path": root_name, "reason": f"a {what}: not archived"})
            continue
        found.entries.append(_Entry(top, root_name, st))
        if not stat.S_ISDIR(st.st_mode):
            continue
        stack = [(top, root_name)]
        while stack:
            folder, arc = stack.pop()
            try:
                with os.scandir(folder) as it:
                    children = sorted(it, key=lambda e: e.name)
            except FileNotFoundError:
                found.skipped.append({"path": arc, "reason": "vanished during the backup"})
                continue
            for child in children:
                rel_arc = f"{arc}/{child.name}"
                rel = rel_arc[len(root_name) + 1 :]
                try:
                    cst = child.stat(follow_symlinks=False)
                except FileNotFoundError:
                    found.skipped.append({"path": rel_arc, "reason": "vanished during the backup"})
                    continue
                if stat.S_ISDIR(cst.st_mode):
                    same = (cst.st_dev, cst.st_ino) == (dest.st_dev, dest.st_ino)
                    if same or _matches(p.exclude, rel, rel_arc):
                        continue
                    found.entries.append(_Entry(child.path, rel_arc, cst))
                    stack.append((child.path, rel_arc))
                elif not _wanted(rel, rel_arc, p):
                    continue
                elif (what := _special(cst.st_mode)) is not None:
                    found.skipped.append({"path": rel_arc, "reason": f"a {what}: not archived"})
                else:
                    found.entries.append(_Entry(child.path, rel_arc, cst))
    return found


class _HashingReader(io.RawIOBase):
    """Reads a file for tarfile, hashing it and counting bytes; stops when cancelled."""

    def __init__(self, f: BinaryIO, cancel: Cancel, on_bytes: Any) -> None:
        self.f, self.cancel, self.on_bytes = f, cancel, on_bytes
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.cancel.check()
        data = self.f.read(size)
        self.sha.update(data)
        self.on_bytes(len(data))
        return data


def _verify(archive: Path, shown: str, files: dict[str, Any], cancel: Cancel) -> int:
    """Re-read `archive`: its manifest must be there, and every file `files` stores in it must
    be read back with the manifest's sha256 (a damaged header would end the archive early)."""
    checked: set[str] = set()
    manifest = False
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                cancel.check()
                if member.name == MANIFEST_MEMBER:
                    manifest = True
                    continue
                if not member.isfile():
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
                        f"{shown}: {member.name!r} does not match its checksum",
                        path=str(archive),
                        member=member.name,
                    )
                checked.add(member.name)
    except (*CORRUPT, OSError) as exc:
        raise QueueError(
            C.DATA_FILE_CORRUPTED, f"{shown} cannot be read back: {exc}", path=str(archive)
        ) from exc
    missing = sorted(set(files) - checked)
    if missing or not manifest:
        what = f"{len(missing)} files ({', '.join(missing[:5])})" if missing else "its manifest"
        raise QueueError(
            C.DATA_FILE_CORRUPTED, f"{shown}: {what} could not be read back", path=str(archive)
        )
    return len(checked)


class BackupExecutor(Executor[BackupParams]):
    """Backs folders up to a verified archive, or restores one into a folder."""

    task_type = TaskType.SYSTEM_BACKUP
    params_model = BackupParams
    summary = "Back up folders to a verified archive, or restore one"

    async def run(self, ctx: RunContext[BackupParams]) -> dict[str, Any] | None:
        cancel = Cancel()
        try:
            if ctx.params.operation == "restore":
                return await restore(ctx, cancel)
            return await self._backup(ctx, cancel)
        except asyncio.CancelledError:
            cancel.event.set()
            raise

    @staticmethod
    def _base(ctx: RunContext[BackupParams], older: list[Path]) -> dict[str, Any]:
        """The files of the last archive of this name, for an incremental backup."""
        if not ctx.params.incremental or not older:
            return {}
        manifest = archive_manifest(older[-1])
        if manifest is None:
            ctx.log(f"{older[-1].name} has no readable manifest: this backup stores every file")
            return {}
        files: dict[str, Any] = manifest["files"]
        return files

    async def _backup(self, ctx: RunContext[BackupParams], cancel: Cancel) -> dict[str, Any]:
        p = ctx.params
        dest = Path(p.destination).expanduser()
        ctx.phase(TaskStatus.PREPARING)
        try:
            dest.mkdir(parents=True, exist_ok=True)
            found = await asyncio.to_thread(_scan, p, dest.stat())
        except OSError as exc:
            raise os_error(exc, str(dest)) from exc
        for note in found.notes:
            ctx.log(note)
        entries = found.entries
        before = self._base(ctx, previous(dest, p.name))
        total = sum(e.st.st_size for e in entries if stat.S_ISREG(e.st.st_mode)) or 1
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{time.time_ns() % 10**9:09d}"
        archive = dest / f"{p.name}-{stamp}{_SUFFIX[p.compression]}"
        part = archive.with_name(archive.name + ".part")
        ctx.phase(TaskStatus.RUNNING)
        ctx.log(f"backing up {len(entries)} entries ({total} bytes) to {archive}")
        checked = 0
        try:
            os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            files, blob = await self._write(ctx, found, before, part, archive.name, total, cancel)
            stored = {k: v for k, v in files.items() if v.get("stored_in") == archive.name}
            if p.verify:  # before the archive takes its name: a bad one is never left behind
                ctx.progress(92.0, "verifying")
                checked = await asyncio.to_thread(_verify, part, archive.name, stored, cancel)
                ctx.log(f"verified {checked} files against their sha256")
            write_private(Path(f"{archive}.manifest.json"), blob)
            os.replace(part, archive)
        except OSError as exc:
            part.unlink(missing_ok=True)
            Path(f"{archive}.manifest.json").unlink(missing_ok=True)
            raise os_error(exc, str(archive)) from exc
        except BaseException:
            part.unlink(missing_ok=True)
            Path(f"{archive}.manifest.json").unlink(missing_ok=True)
            raise
        for gone in found.skipped:
            ctx.log(f"skipped {gone['path']}: {gone['reason']}")
        removed = self._prune(ctx, dest, archive, files) if p.keep_last else []
        size = archive.stat().st_size
        ctx.log(table_line("Backup", ["Archive", "Files", "Stored", "Archive bytes", "Verified"]))
        ctx.log(row_line([archive.name, len(files), len(stored), size, checked]))
        ctx.progress(100.0, "done")
        return {
            "archive": str(archive),
            "manifest": f"{archive}.manifest.json",
            "archive_bytes": size,
            "source_bytes": sum(v["size"] for v in files.values()),
            "files": len(files),
            "stored": len(stored),
            "unchanged": len(files) - len(stored),
            "verified": checked,
            "removed": removed,
            "skipped": found.skipped,
        }

    @staticmethod
    def _prune(
        ctx: RunContext[BackupParams], dest: Path, archive: Path, files: dict[str, Any]
    ) -> list[str]:
        """Remove this name's archives past keep_last, but never one that a kept archive (an
        incremental one) still takes files from."""
        every = previous(dest, ctx.params.name)
        kept, stale = every[-ctx.params.keep_last :], every[: -ctx.params.keep_last]
        needed = {str(v.get("stored_in")) for v in files.values()}
        for other in kept:
            if other == archive:
                continue
            manifest = archive_manifest(other)
            if manifest is None:
                ctx.log(f"kept every older archive: {other.name}'s manifest cannot be read")
                return []
            needed |= {str(v.get("stored_in")) for v in manifest["files"].values()}
        removed: list[str] = []
        for old in stale:
            if old.name in needed:
                ctx.log(f"kept {old.name}: a kept backup still needs files stored there")
                continue
            old.unlink(missing_ok=True)
            Path(f"{old}.manifest.json").unlink(missing_ok=True)
            removed.append(old.name)
            ctx.log(f"removed old archive {old.name}")
        return removed

    async def _write(
        self,
        ctx: RunContext[BackupParams],
        found: _Scan,
        before: dict[str, Any],
        part: Path,
        name: str,
        total: int,
        cancel: Cancel,
    ) -> tuple[dict[str, Any], bytes]:
        """Write the scan's entries (and the manifest, last) to `part`; (the manifest's files,
        its bytes). A regular file unchanged since `before` (size and mtime) is listed, not
        stored; one that vanished since the scan is skipped and listed in `found.skipped`."""
        loop = asyncio.get_running_loop()
        done = reported = 0
        files: dict[str, Any] = {}

        def report() -> None:
            ctx.progress(
                min(90.0, 90.0 * done / total),
                f"{done} of {total} bytes",
                done_bytes=done,
                total_bytes=total,
            )

        def on_bytes(n: int) -> None:  # in the worker thread
            nonlocal done, reported
            done += n
            if done - reported >= _CHUNK * 8:
                reported = done
                loop.call_soon_threadsafe(report)

        with tarfile.open(part, _MODE[ctx.params.compression], format=tarfile.PAX_FORMAT) as tar:
            for entry in found.entries:
                await ctx.checkpoint()
                st = entry.st
                old = before.get(entry.arcname)
                try:
                    if not stat.S_ISREG(st.st_mode):
                        info = await asyncio.to_thread(tar.gettarinfo, entry.path, entry.arcname)
                        if info is not None:
                            tar.addfile(info)
                        continue
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
                except FileNotFoundError:
                    found.skipped.append(
                        {"path": entry.arcname, "reason": "vanished during the backup"}
                    )
                report()
            manifest = {"archive": name, "created": time.time(), "files": files}
            blob = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST_MEMBER)
            info.size, info.mtime, info.mode = len(blob), int(time.time()), 0o600
            tar.addfile(info, io.BytesIO(blob))
        return files, blob

    @staticmethod
    def _add_file(tar: tarfile.TarFile, entry: _Entry, cancel: Cancel, on_bytes: Any) -> str:
        # Opened before the header is written: a file gone by now leaves nothing in the archive.
        with open(entry.path, "rb") as f:
            info = tar.gettarinfo(arcname=entry.arcname, fileobj=f)
            if info.islnk():  # a second hard link: store its content again, checksummed
                info.type, info.linkname, info.size = tarfile.REGTYPE, "", entry.st.st_size
            reader = _HashingReader(f, cancel, on_bytes)
            tar.addfile(info, reader)
        return reader.sha.hexdigest()
