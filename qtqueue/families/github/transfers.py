"""GITHUB_CLONE and GITHUB_PUSH: repositories moved with real git (see gitrun.py)."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.executors.base import Executor, RunContext
from qtqueue.families.github.gitauth import git_login
from qtqueue.families.github.gitrun import GitOutcome, git_output, run_git
from qtqueue.families.github.params import CloneParams, PushParams, is_url, repo_url
from qtqueue.families.github.progress import CLONE_PHASES, PUSH_PHASES
from qtqueue.families.github.settings import GitHubSettings, git_url_of

logger = logging.getLogger(__name__)

__all__ = ["CloneExecutor", "PushExecutor", "clone_destination"]

_C = TaskErrorCode
#: A ref update in git push's report: "   3f2a1b0..9c8d7e6  main -> main".
_REF_UPDATE = re.compile(r"^\s*[+\-*!=t]?\s*(\[[^\]]+\]|\S+)\s+(\S+) -> (\S+)")


def _repo_name(url: str) -> str:
    """The folder name git gives a clone of `url` ("https://h/o/app.git" -> "app")."""
    path = urlsplit(url).path if "://" in url else url.rsplit(":", 1)[-1]
    name = path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    return name or "repository"


def clone_destination(p: CloneParams, settings: GitHubSettings, url: str) -> Path:
    """Where a clone goes: its `destination`, else its name in the settings' clone folder, else
    in the home folder (never the engine's working directory)."""
    if p.destination:
        return Path(os.path.expanduser(p.destination)).absolute()
    root = settings.github_clone_root or "~"
    return Path(os.path.expanduser(root)).absolute() / _repo_name(url)


def _transfer_summary(outcome: GitOutcome, phase: str) -> dict[str, Any]:
    state = outcome.phases.get(phase)
    if state is None:
        return {}
    return {"objects": state.total or state.done, "size": state.size}


async def _empty(folder: Path, remove_folder: bool) -> None:
    """Remove what a cut-short clone left: the folder it made, or what it put in one that was
    empty before."""
    if remove_folder:
        await asyncio.to_thread(shutil.rmtree, folder, True)
        return
    for child in folder.iterdir() if folder.is_dir() else ():
        if child.is_dir() and not child.is_symlink():
            await asyncio.to_thread(shutil.rmtree, child, True)
        else:
            child.unlink(missing_ok=True)


async def _run_git_logged_in(
    ctx: RunContext,
    verb: str,
    args: list[str],
    *,
    urls: list[str],
    credential: str | None,
    phases: Mapping[str, tuple[float, float]],
    cwd: Path | None = None,
) -> GitOutcome:
    """`git verb args` to the remote at `urls`, with the token only when they are on the
    configured GitHub git host (gitauth.py); a login refused where none was sent says why."""
    settings = ctx.family_settings(GitHubSettings)
    git_url = git_url_of(settings)
    async with git_login(
        ctx, urls, credential=credential, username=settings.github_username, git_url=git_url
    ) as auth:
        try:
            return await run_git(ctx, verb, args, auth=auth, phases=phases, cwd=cwd)
        except QueueError as exc:
            if auth is not None or exc.code != _C.GITHUB_AUTHENTICATION_FAILED:
                raise
            raise QueueError(
                exc.code,
                f"{exc.message} (not a GitHub URL, so no token was sent: the token only goes "
                f"to the Git URL of the GitHub settings, {git_url})",
                **exc.details,
            ) from None


class CloneExecutor(Executor[CloneParams]):
    """Clones a repository with real git, showing its transfer (objects, bytes, speed)."""

    task_type: ClassVar[TaskType] = TaskType.GITHUB_CLONE
    summary: ClassVar[str] = "Clone a GitHub repository with git (progress: objects, bytes, speed)"

    async def run(self, ctx: RunContext[CloneParams]) -> dict[str, Any]:
        p = ctx.params
        settings = ctx.family_settings(GitHubSettings)
        url = repo_url(p.repository, git_url_of(settings))
        dest = clone_destination(p, settings, url)
        existed = dest.exists()
        if existed and (not dest.is_dir() or any(dest.iterdir())):
            raise QueueError(
                _C.VALIDATION_INVALID_PARAMS,
                f"cannot clone into {dest}: it exists and is not an empty folder",
                destination=str(dest),
            )
        ctx.phase(TaskStatus.PREPARING)
        args = ["--progress"]
        if p.branch:
            args += ["--branch", p.branch]
        if p.depth:
            args += ["--depth", str(p.depth)]
        args += ["--", url, str(dest)]
        ctx.log(f"[github] cloning {url} into {dest}")
        ctx.phase(TaskStatus.DOWNLOADING)
        ctx.progress(0, f"connecting to {urlsplit(url).netloc or url}")
        done = False
        try:
            outcome = await _run_git_logged_in(
                ctx, "clone", args, urls=[url], credential=p.credential, phases=CLONE_PHASES
            )
            done = True
        finally:
            if not done and dest.exists():
                await _empty(dest, remove_folder=not existed)
        branch = await git_output(ctx, ["symbolic-ref", "--short", "-q", "HEAD"], cwd=dest)
        commit = await git_output(ctx, ["rev-parse", "-q", "--verify", "HEAD"], cwd=dest)
        ctx.progress(100, f"cloned into {dest}")
        ctx.log(f"[github] cloned {url} ({branch or 'no branch'} at {(commit or '-')[:12]})")
        return {
            "repository": url,
            "path": str(dest),
            "branch": branch,
            "commit": commit,
            **_transfer_summary(outcome, "Receiving objects"),
        }


class PushExecutor(Executor[PushParams]):
    """Pushes a branch with real git, showing its transfer; a rejected (non-fast-forward) push
    is GITHUB_MERGE_CONFLICT."""

    task_type: ClassVar[TaskType] = TaskType.GITHUB_PUSH
    summary: ClassVar[str] = "Push a branch to GitHub with git (progress: objects, bytes, speed)"

    async def run(self, ctx: RunContext[PushParams]) -> dict[str, Any]:
        p = ctx.params
        path = Path(os.path.expanduser(p.path)).absolute()
        if not path.is_dir():
            raise QueueError(
                _C.DATA_FILE_NOT_FOUND, f"no folder {path} to push from", path=str(path)
            )
        ctx.phase(TaskStatus.PREPARING)
        if await git_output(ctx, ["rev-parse", "--git-dir"], cwd=path) is None:
            raise QueueError(
                _C.GITHUB_REPO_NOT_FOUND, f"{path} is not a git repository", path=str(path)
            )
        branch = p.branch or await git_output(
            ctx, ["symbolic-ref", "--short", "-q", "HEAD"], cwd=path
        )
        if not branch:
            raise QueueError(
                _C.GITHUB_BRANCH_NOT_FOUND,
                f"{path} has no branch checked out (a detached HEAD): name the branch to push",
                path=str(path),
            )
        if is_url(p.remote):
            urls = [p.remote]
        else:  # what git will push to: the remote's push URLs, insteadOf applied
            found = await git_output(
                ctx, ["remote", "get-url", "--push", "--all", "--", p.remote], cwd=path
            )
            urls = found.splitlines() if found else [p.remote]  # none: git reads a path
        args = ["--progress"]
        if p.force:
            args.append("--force-with-lease")
        if p.set_upstream:
            args.append("--set-upstream")
        args += ["--", p.remote, f"{branch}:{branch}" if is_url(p.remote) else branch]
        ctx.log(f"[github] pushing {branch} to {p.remote}")
        ctx.phase(TaskStatus.UPLOADING)
        ctx.progress(0, f"pushing {branch} to {p.remote}")
        outcome = await _run_git_logged_in(
            ctx, "push", args, urls=urls, credential=p.credential, phases=PUSH_PHASES, cwd=path
        )
        commit = await git_output(ctx, ["rev-parse", "-q", "--verify", branch], cwd=path)
        updates = [
            f"{m.group(2)} -> {m.group(3)} ({m.group(1)})"
            for m in map(_REF_UPDATE.match, outcome.lines)
            if m is not None
        ]
        ctx.progress(100, f"pushed {branch} to {p.remote}")
        return {
            "path": str(path),
            "remote": p.remote,
            "branch": branch,
            "commit": commit,
            "updates": updates,
            **_transfer_summary(outcome, "Writing objects"),
        }
