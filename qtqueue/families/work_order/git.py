"""A work order's worktree: made fresh from its branch, read for what changed, removed.

A local repository gets a linked worktree (`git worktree add`) on a branch of its own,
`work-order/<first 8 of the task id>`, started at the work order's branch, so the agent's
commits are in that repository for review (and the branch may be checked out elsewhere): git
records the worktree in that repository (.git/worktrees/) and keeps the work branch there, the
only things a work order writes outside the data directory. A URL is cloned (`git clone
--branch`, no credentials: git is never allowed to prompt) and the same work branch made in the
clone. Either lives in `<data dir>/work_orders/<task id>/worktree`; an earlier attempt's is
removed first (and the work branch reset), so every attempt starts from the branch as it is.

git runs with LC_ALL=C (its messages are matched by git_messages.toml), in its own session,
and is killed when the task is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from qtqueue.core.error_catalog import MessageRule, parse_catalog
from qtqueue.core.errors import QueueError
from qtqueue.executors.base import RunContext
from qtqueue.families.work_order.params import WorkOrderParams, is_remote

logger = logging.getLogger(__name__)

__all__ = ["Checkout", "changed_files", "git_program", "make_checkout", "remove_checkout"]

_RULES: tuple[MessageRule, ...] = parse_catalog(
    (resources.files(__package__) / "git_messages.toml").read_text(encoding="utf-8"),
    "work_order/git_messages.toml",
).rules
_GIT_ENV = {
    "LC_ALL": "C",
    "GIT_TERMINAL_PROMPT": "0",  # never wait for a password nobody will type
    "GCM_INTERACTIVE": "never",
}


@dataclass(frozen=True, slots=True)
class Checkout:
    """A worktree made for one attempt of a work order."""

    path: Path
    """The worktree's folder."""
    base: str
    """The commit it started from (the branch's, when it was made)."""
    work_branch: str
    """The branch it is on."""
    repository: Path | None
    """The local repository it is a worktree of; None for a clone."""


def git_program() -> str:
    """The git executable, or WORK_ORDER_GIT_NOT_FOUND."""
    found = shutil.which("git")
    if found is None:
        raise QueueError(
            "WORK_ORDER_GIT_NOT_FOUND",
            "git is not installed (no 'git' on the engine's PATH)",
            path=os.environ.get("PATH", ""),
        )
    return found


def _coded(stderr: str, fallback: str) -> str:
    for rule in _RULES:
        if rule.pattern.search(stderr):
            return rule.code
    return fallback


async def git(
    ctx: RunContext, *args: str, cwd: Path | None = None, fallback: str = "WORK_ORDER_GIT_FAILED"
) -> str:
    """Run `git args`; its stdout. Its stderr goes to the task's log; a failure raises the
    code git_messages.toml gives its message, else `fallback`."""
    env = {**os.environ, **_GIT_ENV}
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    proc = await asyncio.create_subprocess_exec(
        git_program(),
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = await proc.communicate()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise
    text = err.decode("utf-8", "replace").strip()
    for line in text.splitlines():
        ctx.log(f"[git] {line}")
    if proc.returncode != 0:
        last = text.splitlines()[-1] if text else f"exit status {proc.returncode}"
        raise QueueError(
            _coded(text, fallback),
            f"git {args[0]}: {last.removeprefix('fatal: ')}",
            git=list(args[:1]),
            exit_code=proc.returncode,
        )
    return out.decode("utf-8", "replace")


async def make_checkout(ctx: RunContext, p: WorkOrderParams, folder: Path) -> Checkout:
    """A fresh worktree of the work order's branch in `folder` (see the module docstring)."""
    work_branch = f"work-order/{ctx.task.id[:8]}"
    if is_remote(p.repository_url):
        ctx.log(f"[work order] cloning {p.repository_url} ({p.branch_name}) into {folder}")
        await git(
            ctx,
            "clone",
            "--quiet",
            "--single-branch",
            "--branch",
            p.branch_name,
            "--",
            p.repository_url,
            str(folder),
            fallback="WORK_ORDER_REPO_NOT_FOUND",
        )
        await git(ctx, "checkout", "--quiet", "-B", work_branch, cwd=folder)
        base = (await git(ctx, "rev-parse", "HEAD", cwd=folder)).strip()
        return Checkout(folder, base, work_branch, None)

    repository = Path(os.path.expanduser(p.repository_url)).resolve()
    if not repository.is_dir():
        raise QueueError(
            "WORK_ORDER_REPO_NOT_FOUND",
            f"no repository folder {repository}",
            repository=str(repository),
        )
    await git(ctx, "rev-parse", "--git-dir", cwd=repository, fallback="WORK_ORDER_REPO_NOT_FOUND")
    try:
        found = await git(
            ctx,
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            f"{p.branch_name}^{{commit}}",
            cwd=repository,
        )
    except QueueError:
        raise QueueError(
            "WORK_ORDER_BRANCH_NOT_FOUND",
            f"no branch {p.branch_name} in {repository}",
            repository=str(repository),
            branch=p.branch_name,
        ) from None
    base = found.strip()
    ctx.log(f"[work order] worktree of {repository} at {p.branch_name} ({base[:12]}) in {folder}")
    await git(
        ctx, "worktree", "add", "--quiet", "-B", work_branch, str(folder), base, cwd=repository
    )
    return Checkout(folder, base, work_branch, repository)


async def remove_checkout(ctx: RunContext, folder: Path, repository: Path | None) -> None:
    """Remove a worktree (an earlier attempt's, or one not kept), and the local repository's
    record of it; its branch stays."""
    if repository is not None and not repository.is_dir():
        repository = None  # gone since: nothing of it to tidy
    if repository is not None:
        with contextlib.suppress(QueueError):
            await git(ctx, "worktree", "remove", "--force", str(folder), cwd=repository)
    if folder.exists():
        await asyncio.to_thread(shutil.rmtree, folder, True)
    if repository is not None:
        with contextlib.suppress(QueueError):
            await git(ctx, "worktree", "prune", cwd=repository)


async def changed_files(ctx: RunContext, checkout: Checkout) -> list[str]:
    """Paths (relative to the worktree) that differ from the commit it started at: committed,
    staged, changed, deleted or new (untracked, not ignored)."""
    committed = await git(
        ctx, "diff", "--name-only", "-z", checkout.base, "HEAD", "--", cwd=checkout.path
    )
    status = await git(
        ctx, "status", "--porcelain=v1", "-z", "--untracked-files=all", cwd=checkout.path
    )
    paths = {p for p in committed.split("\0") if p}
    entries = iter(status.split("\0"))
    for entry in entries:
        if len(entry) < 4:
            continue
        paths.add(entry[3:])
        if entry[0] in "RC":  # a rename or copy: the next field is where it came from
            source = next(entries, "")
            if source:
                paths.add(source)
    return sorted(paths)
