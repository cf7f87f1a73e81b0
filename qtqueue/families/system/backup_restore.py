"""SYSTEM_BACKUP's `operation: restore`: an archive into a chosen folder.

The archive's manifest is required (a damaged tar header reads as the end of the archive: without
this check files would go missing silently), and every file it lists must come back: from this
archive, or, for an incremental backup, from the earlier archive named in its `stored_in`, found
beside it. Members go through tarfile's "data" filter (no absolute paths, no `..`, no link out
of the target: such a member is skipped and listed); folders get their modes back afterwards.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.families.system.backup_archive import (
    CORRUPT,
    MANIFEST_MEMBER,
    Cancel,
    file_sha,
    os_error,
)
from qtqueue.families.system.table import row_line, table_line

if TYPE_CHECKING:
    from qtqueue.executors.base import RunContext
    from qtqueue.families.system.backup_archive import BackupParams

logger = logging.getLogger(__name__)

__all__ = ["restore"]

C = TaskErrorCode


@dataclass
class _Restored:
    """What the archives read so far put into the target."""

    written: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    folders: dict[str, int] = field(default_factory=dict)
    count: int = 0


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    f = tar.extractfile(member)
    return f.read() if f is not None else b""


async def _extract(
    ctx: RunContext[BackupParams],
    source: Path,
    target: Path,
    only: set[str] | None,
    out: _Restored,
    cancel: Cancel,
) -> dict[str, Any] | None:
    """Extract `source` (only the files named in `only`, when given) into `target`; its
    manifest, None when it has none."""
    try:
        tar = await asyncio.to_thread(tarfile.open, source, "r:*")
    except CORRUPT as exc:
        raise QueueError(
            C.DATA_FILE_CORRUPTED,
            f"{source.name} is not a readable archive: {exc}",
            path=str(source),
        ) from exc
    except OSError as exc:
        raise os_error(exc, str(source)) from exc
    manifest: dict[str, Any] | None = None
    try:
        members = await asyncio.to_thread(tar.getmembers)
        total = sum(m.size for m in members) or 1
        done = 0
        for member in members:
            await ctx.checkpoint()
            cancel.check()
            if member.name == MANIFEST_MEMBER:
                manifest = json.loads(await asyncio.to_thread(_read_member, tar, member))
                continue
            if only is not None and member.name not in only:
                continue
            try:
                await asyncio.to_thread(tar.extract, member, target, filter="data")
                out.count += 1
                if member.isfile():
                    out.written.append(member.name)
                elif member.isdir() and only is None:
                    out.folders[member.name] = member.mode
            except tarfile.FilterError as exc:
                out.skipped.append({"name": member.name, "reason": str(exc)})
                ctx.log(f"skipped unsafe member {member.name!r}: {exc}")
            done += member.size
            ctx.progress(min(95.0, 95.0 * done / total), f"{source.name}: {done} of {total} bytes")
    except (*CORRUPT, ValueError) as exc:
        raise QueueError(
            C.DATA_FILE_CORRUPTED,
            f"{source.name} broke off while restoring: {exc}",
            path=str(source),
        ) from exc
    except OSError as exc:
        raise os_error(exc, str(target)) from exc
    finally:
        tar.close()
    return manifest


def _folder_modes(target: Path, folders: dict[str, int]) -> None:
    """Give restored folders their archived modes (group/other write stripped, as the data
    filter does for files; the owner keeps rwx), deepest first; links are never followed."""
    for name in sorted(folders, key=lambda n: n.count("/"), reverse=True):
        path = target / name
        try:
            if stat.S_ISDIR(os.lstat(path).st_mode):
                os.chmod(path, (folders[name] & 0o755) | 0o700)
        except FileNotFoundError:
            continue


def _check_restored(target: Path, names: list[str], files: dict[str, Any], cancel: Cancel) -> int:
    """Each restored file the manifest lists must have its sha256; the number checked."""
    checked = 0
    for name in names:
        cancel.check()
        want = files.get(name, {}).get("sha256")
        if want is None:
            continue
        if file_sha(str(target / name.lstrip("/"))) != want:  # the data filter strips a "/"
            raise QueueError(
                C.DATA_FILE_CORRUPTED,
                f"restored {name!r} does not match the manifest's checksum",
                member=name,
            )
        checked += 1
    return checked


async def restore(ctx: RunContext[BackupParams], cancel: Cancel) -> dict[str, Any]:
    """Restore `archive` (and what it needs from earlier archives) into `restore_to`."""
    p = ctx.params
    target = Path(p.restore_to).expanduser().resolve()
    source = Path(p.archive).expanduser()
    if not source.is_file():
        raise QueueError(C.DATA_FILE_NOT_FOUND, f"no archive at {source}", path=str(source))
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(exc, str(target)) from exc
    out = _Restored()
    manifest = await _extract(ctx, source, target, None, out, cancel)
    if manifest is None or not isinstance(manifest.get("files"), dict):
        raise QueueError(
            C.DATA_FILE_CORRUPTED,
            f"{source.name} has no manifest: the archive is damaged (a broken header ends a tar"
            " archive early) or was not made by a qtqueue backup",
            path=str(source),
        )
    files: dict[str, Any] = manifest["files"]
    own = str(manifest.get("archive") or source.name)
    earlier: dict[str, set[str]] = {}
    for name, entry in files.items():
        where = str(entry.get("stored_in") or own)
        if where != own:
            earlier.setdefault(where, set()).add(name)
    for where, names in sorted(earlier.items()):
        other = source.parent / where
        if not other.is_file():
            raise QueueError(
                C.DATA_FILE_NOT_FOUND,
                f"{source.name} is incremental: {len(names)} of its files are stored in {where},"
                f" which is not beside it in {source.parent}",
                path=str(other),
            )
        ctx.log(f"restoring {len(names)} unchanged files from the earlier archive {where}")
        await _extract(ctx, other, target, names, out, cancel)
    unsafe = {s["name"] for s in out.skipped}
    missing = sorted(set(files) - set(out.written) - unsafe)
    if missing:
        raise QueueError(
            C.DATA_FILE_CORRUPTED,
            f"{len(missing)} files the manifest lists were not found in the archive (damaged):"
            f" {', '.join(missing[:5])}",
            path=str(source),
            missing=missing[:50],
        )
    try:
        await asyncio.to_thread(_folder_modes, target, out.folders)
    except OSError as exc:
        raise os_error(exc, str(target)) from exc
    checked = 0
    if p.verify:
        checked = await asyncio.to_thread(_check_restored, target, out.written, files, cancel)
        ctx.log(f"verified {checked} restored files against the manifest's sha256")
    ctx.log(table_line("Restore", ["Restored to", "Restored", "Verified", "Skipped (unsafe)"]))
    ctx.log(row_line([target, out.count, checked, len(out.skipped)]))
    ctx.progress(100.0, "restored")
    return {
        "restored_to": str(target),
        "restored": out.count,
        "verified": checked,
        "skipped": out.skipped,
        "from_earlier": sorted(earlier),
    }
