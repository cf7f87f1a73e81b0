"""SYSTEM_CLEANUP: files older than N days under chosen roots (default: the temp folder and the
user cache folder), old qtqueue task logs, and Docker's dangling images and stopped containers
when a daemon answers. A dry run (the default) lists what would go and the space it would free.

Never follows a symlink: folders are held open (O_NOFOLLOW) and their entries removed relative to
them (`sweep`), so a folder swapped for a link mid-walk is not entered; an old symlink is removed
as a link, its target untouched. qtqueue's task logs: never one this process holds open (a
running or paused task's), nor one modified in the last day. A cancel stops the deletion
between two files. A root where every removal was refused (EACCES or EPERM) fails
SYSTEM_PERMISSION_DENIED once every other root (and Docker) is done, their results in the log.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskType
from qtqueue.executors.base import Executor, Params, RunContext
from qtqueue.executors.sweep import Swept, sweep_folder
from qtqueue.families.system.table import row_line, table_line

logger = logging.getLogger(__name__)

__all__ = ["CleanupExecutor", "CleanupParams", "default_roots", "old_files"]

C = TaskErrorCode
#: Items listed in the result (the totals count them all).
LISTED = 200
#: A task log younger than this is never removed (a task waiting to retry keeps its log open
#: only while an attempt runs; elsewhere than Linux the running tasks' logs are not known).
LOG_FLOOR_S = 86400.0


class CleanupParams(Params):
    """What to clean, and whether to do it or only say what would go."""

    dry_run: bool = Field(True, description="Only list what would go and the space it would free")
    older_than_days: float = Field(7.0, ge=0, le=36500, description="Age, by modification time")
    roots: list[str] = Field(
        default_factory=list,
        description="Folders to clean (empty: the temp folder and the user cache folder)",
    )
    qtqueue_logs: bool = Field(True, description="Also old task logs in qtqueue's data folder")
    docker: bool = Field(False, description="Also Docker's dangling images and stopped containers")
    docker_host: str = Field("", description="Docker daemon (empty: $DOCKER_HOST or the socket)")


def default_roots() -> list[str]:
    """The system temp folder and the user cache folder."""
    import platformdirs

    return [tempfile.gettempdir(), platformdirs.user_cache_dir()]


def old_files(
    root: str,
    cutoff: float,
    keep: frozenset[str] = frozenset(),
    *,
    remove: bool = False,
    stop: threading.Event | None = None,
) -> Swept:
    """Every file or symlink under `root` older than `cutoff` (lstat mtime), never through a
    symlink (folders held open, entries removed relative to them: `sweep`), removed as found
    when `remove`; `keep` paths are left alone; unreadable folders are skipped."""
    try:
        return sweep_folder(root, cutoff, remove=remove, keep=keep, stop=stop)
    except OSError as exc:
        return Swept(failed=[f"{root}: {exc.strerror}"])


def open_logs(logs_dir: str) -> frozenset[str]:
    """The logs under `logs_dir` (named as walked from it) that this process holds open: those
    of the tasks running or paused now. The engine keeps a task's log open from its start to
    its end and executors run in its process, so no store lookup is needed. Linux's
    /proc/self/fd; empty where there is none (the one-day floor of `run` still applies)."""
    real = os.path.realpath(logs_dir) + os.sep
    out: set[str] = set()
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return frozenset()
    for fd in fds:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(real):
            out.add(os.path.join(logs_dir, target.removeprefix(real)))
    return frozenset(out)


def _denied(failure: str) -> bool:
    """A removal refused for want of rights (EACCES, or EPERM: sticky /tmp, immutable)."""
    return failure.endswith((os.strerror(errno.EACCES), os.strerror(errno.EPERM)))


def _docker_failure(exc: BaseException, url: str, doing: str, out: dict[str, Any]) -> QueueError:
    """A coded error for the daemon's refusal, time-out or error while `doing`; what was
    already removed (`out`) travels in its details."""
    status = getattr(exc, "status_code", None)
    explanation = getattr(exc, "explanation", None) or exc
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", "replace")
    done = {k: out[k] for k in ("containers_removed", "images_removed") if k in out}
    if isinstance(exc, PermissionError) or status in (401, 403):
        return QueueError(
            C.DOCKER_PERMISSION_DENIED,
            f"{doing}: the Docker daemon at {url} refused this user: {explanation}",
            docker_host=url,
            **done,
        )
    return QueueError(
        C.DOCKER_DAEMON_UNAVAILABLE,
        f"{doing}: the Docker daemon at {url} failed: {explanation}"
        + (f" (already removed: {done})" if done else ""),
        docker_host=url,
        **({"status_code": status} if status is not None else {}),
        **done,
    )


def _docker(host: str, dry_run: bool, out: dict[str, Any]) -> dict[str, Any]:
    """Dangling images and stopped containers of the daemon (removed unless `dry_run`), filled
    into `out` as they are learnt (so a failure midway still shows what went). No daemon:
    {"available": False}; a daemon that refuses this user, fails or times out: QueueError
    DOCKER_PERMISSION_DENIED / DOCKER_DAEMON_UNAVAILABLE."""
    try:
        import docker
        from docker.errors import DockerException
        from docker.utils import kwargs_from_env
    except ImportError:
        return {"available": False, "reason": "the docker extra is not installed"}
    kwargs: dict[str, Any] = {"base_url": host} if host else kwargs_from_env()
    url = str(kwargs.get("base_url") or "unix:///var/run/docker.sock")
    if url.startswith("unix://"):  # the SDK leaks its socket when nobody answers: look first
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.settimeout(5.0)
                probe.connect(url.removeprefix("unix://"))
        except PermissionError as exc:
            raise _docker_failure(exc, url, "connecting", out) from None
        except OSError as exc:
            return {"available": False, "reason": f"no Docker daemon answers at {url}: {exc}"}
    try:
        client = docker.DockerClient(version="auto", timeout=60, **kwargs)
    except (DockerException, OSError) as exc:  # requests' errors are OSErrors
        if getattr(exc, "status_code", None) in (401, 403):
            raise _docker_failure(exc, url, "connecting", out) from None
        return {"available": False, "reason": f"no Docker daemon answers at {url}: {exc}"}
    doing = "listing stopped containers"
    try:
        stopped = client.containers.list(all=True, filters={"status": "exited"})
        stopped += client.containers.list(all=True, filters={"status": "created"})
        doing = "listing dangling images"
        images = client.images.list(filters={"dangling": True})
        out.update(
            available=True,
            containers=[c.name for c in stopped],
            images=[i.id for i in images],
            image_bytes=sum(int(i.attrs.get("Size") or 0) for i in images),
        )
        if not dry_run:
            doing = "removing stopped containers"
            pruned = client.containers.prune()
            out["containers_removed"] = pruned.get("ContainersDeleted") or []
            out["container_bytes_freed"] = pruned.get("SpaceReclaimed") or 0
            doing = "removing dangling images"
            pruned = client.images.prune(filters={"dangling": True})
            out["images_removed"] = [
                d.get("Deleted") for d in pruned.get("ImagesDeleted") or [] if d.get("Deleted")
            ]
            out["image_bytes_freed"] = pruned.get("SpaceReclaimed") or 0
        return out
    except (DockerException, OSError) as exc:  # API errors, time-outs, a lost connection
        raise _docker_failure(exc, url, doing, out) from None
    finally:
        client.close()


class CleanupExecutor(Executor[CleanupParams]):
    """Removes (or, in a dry run, lists) old temporary files, caches, logs and Docker leftovers."""

    task_type = TaskType.SYSTEM_CLEANUP
    params_model = CleanupParams
    summary = "Remove old temporary files, caches, qtqueue logs and Docker leftovers"

    async def run(self, ctx: RunContext[CleanupParams]) -> dict[str, Any] | None:
        p = ctx.params
        cutoff = time.time() - p.older_than_days * 86400.0
        roots = [os.path.abspath(os.path.expanduser(r)) for r in p.roots] or default_roots()
        keep = frozenset({os.path.abspath(ctx.log_path)})
        logs = str(Path(ctx.data_dir) / "logs")
        if p.qtqueue_logs:
            roots.append(logs)
        result: dict[str, Any] = {"dry_run": p.dry_run, "roots": []}
        total_files = total_bytes = 0
        denied: list[str] = []  # roots where every removal was refused for want of rights
        ctx.log(table_line("Would remove" if p.dry_run else "Removed", ["Path", "Bytes"]))
        for i, root in enumerate(roots):
            await ctx.checkpoint()
            ctx.progress(90.0 * i / len(roots), f"scanning {root}")
            if not os.path.isdir(root):
                ctx.log(f"{root}: no such folder, skipped")
                continue
            if root == logs:  # never the log of a task still running, paused or retrying soon
                here, spare = min(cutoff, time.time() - LOG_FLOOR_S), keep | open_logs(logs)
            else:
                here, spare = cutoff, keep
            swept = await _sweep_root(ctx, root, here, spare, remove=not p.dry_run)
            entry: dict[str, Any] = {
                "root": root,
                "files": swept.count,
                "bytes": swept.size,
                "paths": [path for path, _ in swept.items[:LISTED]],
            }
            for path, item_size in swept.items[:LISTED]:
                ctx.log(row_line([path, item_size]))
            if p.dry_run:
                ctx.log(f"{root}: {swept.count} files, {swept.size} bytes would go")
            else:
                entry["failed"] = swept.failed[:LISTED]
                ctx.log(f"{root}: removed {swept.count} files, freed {swept.size} bytes")
                for line in swept.failed[:20]:
                    ctx.log(f"could not remove {line}")
                if swept.failed and swept.count == 0 and all(map(_denied, swept.failed)):
                    denied.append(root)
            total_files += entry["files"]
            total_bytes += entry["bytes"]
            result["roots"].append(entry)
        if p.docker:
            ctx.progress(92.0, "asking the Docker daemon")
            docker: dict[str, Any] = {}
            try:
                docker = await asyncio.to_thread(_docker, p.docker_host, p.dry_run, docker)
            except QueueError as exc:
                ctx.log(f"docker: {exc.message}")
                raise
            result["docker"] = docker
            if docker["available"]:
                freed = docker.get("image_bytes_freed", 0) + docker.get("container_bytes_freed", 0)
                total_bytes += docker["image_bytes"] if p.dry_run else freed
                ctx.log(
                    f"docker: {len(docker['containers'])} stopped containers, "
                    f"{len(docker['images'])} dangling images"
                )
            else:
                ctx.log(f"docker: skipped ({docker['reason']})")
        key = "would_free_bytes" if p.dry_run else "freed_bytes"
        result.update(files=total_files, **{key: total_bytes})
        if denied:  # after every root and Docker: what the others removed is in the log
            raise QueueError(
                C.SYSTEM_PERMISSION_DENIED,
                f"{', '.join(denied)}: no file could be removed (permission denied; "
                f"{total_files} files removed elsewhere, {total_bytes} bytes freed)",
                fix="run with approval and elevation",
                path=denied[0],
                removed=total_files,
                freed_bytes=total_bytes,
            )
        ctx.progress(100.0, f"{total_bytes} bytes {'to free' if p.dry_run else 'freed'}")
        return result


async def _sweep_root(
    ctx: RunContext[CleanupParams], root: str, cutoff: float, keep: frozenset[str], *, remove: bool
) -> Swept:
    """`old_files` on a thread; a cancel stops it between two files (what it removed by then
    is logged) before the cancel goes on."""
    stop = threading.Event()
    work = asyncio.ensure_future(
        asyncio.to_thread(old_files, root, cutoff, keep, remove=remove, stop=stop)
    )
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        stop.set()
        swept = await work
        ctx.log(f"{root}: cancelled; removed {swept.count} files, freed {swept.size} bytes")
        raise
