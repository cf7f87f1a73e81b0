"""GITHUB_CLONE and GITHUB_PUSH with real git through a real TaskQueue, against Debian git's
`git-http-backend` on 127.0.0.1 behind the suite's own basic-auth adapter (git_server.py):
progress, the token's way to git, cancel and pause, and the code of each failure."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psutil
from git_server import GitServer, git, make_bare_repo
from github_env import TOKEN, WRONG_ENTRY, assert_tokens_never_shown
from helpers.waiting import eventually
from loopback import closed_port

from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.github.progress import parse_git_log

C = TaskErrorCode
S = TaskStatus
T = TaskType


def files(count: int, size: int) -> dict[str, bytes]:
    """`count` files of `size` random bytes (nothing to compress: the pack is that big)."""
    return {f"data/f{n:04d}.bin": os.urandom(size) for n in range(count)}


async def run(queue: TaskQueue, task_type: T, /, **params: Any) -> Task:
    task_id = await queue.add_task(Task(task_type, params, max_retries=0, timeout_s=60))
    return await queue.wait_for(task_id, timeout_s=60)


def steps_of(queue: TaskQueue, into: list[str]) -> None:
    def keep(events: list[TaskEvent]) -> None:
        into.extend(
            e.task.current_step
            for e in events
            if e.kind is EventKind.CHANGED and e.task is not None and e.task.current_step
        )

    queue.subscribe(keep)


async def test_clone_shows_its_transfer_against_git_http_backend(
    gq: TaskQueue, git_http: GitServer, tmp_path: Path
) -> None:
    content = files(120, 8192)
    bare = make_bare_repo(git_http.root / "octo", "app", content)
    # owner/name is cloned from the settings' git URL into the settings' clone folder.
    gq.executor_settings["github_git_url"] = git_http.url
    gq.executor_settings["github_clone_root"] = str(tmp_path / "out")
    steps: list[str] = []
    steps_of(gq, steps)
    dest = tmp_path / "out" / "app"
    task = await run(gq, T.GITHUB_CLONE, repository="octo/app")
    assert task.status is S.COMPLETED, task.error
    assert all((dest / name).read_bytes() == data for name, data in content.items())
    head = git("rev-parse", "main", cwd=bare).strip()
    assert task.result is not None
    assert task.result["commit"] == head and task.result["branch"] == "main"
    assert task.result["repository"] == f"{git_http.url}/octo/app.git"
    assert task.result["objects"] >= 120
    assert any(s.startswith("Receiving objects") and "MiB" in s for s in steps), steps
    phases = parse_git_log(await gq.read_log(task.id))
    receiving = phases["Receiving objects"]
    assert (
        receiving.finished
        and receiving.percent == 100
        and receiving.total == task.result["objects"]
    )
    assert "Resolving deltas" in phases or "remote: Counting objects" in phases
    assert task.progress == 100


async def test_push_and_a_rejected_push_against_git_http_backend(
    gq: TaskQueue, git_http: GitServer, tmp_path: Path
) -> None:
    bare = make_bare_repo(git_http.root, "shared", {"README": b"hello\n"})
    url = f"{git_http.url}/shared.git"
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    stored = tmp_path / "stored-logins"
    for folder in (mine, theirs):
        cloned = await run(gq, T.GITHUB_CLONE, repository=url, destination=str(folder))
        assert cloned.status is S.COMPLETED, cloned.error
        # A helper that would write every login it is given to a file: it must never run.
        git("config", "credential.helper", f"store --file={stored}", cwd=folder)

    (mine / "mine.txt").write_text("mine\n")
    git("add", "mine.txt", cwd=mine)
    git("commit", "-q", "-m", "mine", cwd=mine)
    pushed = await run(gq, T.GITHUB_PUSH, path=str(mine))
    assert pushed.status is S.COMPLETED, pushed.error
    assert git("rev-parse", "main", cwd=bare) == git("rev-parse", "HEAD", cwd=mine)
    assert pushed.result is not None and pushed.result["branch"] == "main"
    assert pushed.result["updates"] and "main -> main" in pushed.result["updates"][0]
    assert "Writing objects" in parse_git_log(await gq.read_log(pushed.id))

    (theirs / "theirs.txt").write_text("theirs\n")
    git("add", "theirs.txt", cwd=theirs)
    git("commit", "-q", "-m", "theirs", cwd=theirs)
    rejected = await run(gq, T.GITHUB_PUSH, path=str(theirs))
    assert rejected.status is S.FAILED
    assert rejected.error_code == C.GITHUB_MERGE_CONFLICT.value
    assert "[rejected]" in (rejected.error or "") and "fetch first" in (rejected.error or "")
    assert git("rev-parse", "main", cwd=bare) == git("rev-parse", "HEAD", cwd=mine)  # untouched

    # Forced, but with a lease: their view of the remote branch is stale, so it is refused...
    forced = await run(gq, T.GITHUB_PUSH, path=str(theirs), force=True)
    assert forced.error_code == C.GITHUB_MERGE_CONFLICT.value
    assert "stale info" in (forced.error or "")
    # ...until they have seen where it is now; then theirs replaces mine.
    # (Fetched from the folder: the test's own git must not call the server on this loop.)
    git("fetch", "-q", str(bare), "+main:refs/remotes/origin/main", cwd=theirs)
    replaced = await run(gq, T.GITHUB_PUSH, path=str(theirs), force=True)
    assert replaced.status is S.COMPLETED, replaced.error
    assert git("rev-parse", "main", cwd=bare) == git("rev-parse", "HEAD", cwd=theirs)

    # A new branch with -u: the remote has it and it is the local branch's upstream.
    git("checkout", "-q", "-b", "feature", cwd=theirs)
    branched = await run(gq, T.GITHUB_PUSH, path=str(theirs), set_upstream=True)
    assert branched.status is S.COMPLETED, branched.error
    assert git("rev-parse", "feature", cwd=bare) == git("rev-parse", "HEAD", cwd=theirs)
    assert (
        git("rev-parse", "--abbrev-ref", "feature@{upstream}", cwd=theirs).strip()
        == "origin/feature"
    )
    assert not stored.exists()  # the credential helper configured was never asked to store it


async def test_missing_branch_against_git_http_backend(
    gq: TaskQueue, git_http: GitServer, tmp_path: Path
) -> None:
    make_bare_repo(git_http.root, "app", {"README": b"hello\n"})
    url = f"{git_http.url}/app.git"
    dest = tmp_path / "nobranch"
    cloned = await run(gq, T.GITHUB_CLONE, repository=url, destination=str(dest), branch="nope")
    assert cloned.status is S.FAILED
    assert cloned.error_code == C.GITHUB_BRANCH_NOT_FOUND.value
    assert "nope" in (cloned.error or "")
    assert not dest.exists()  # what the failed clone made is gone

    local = tmp_path / "local"
    assert (
        await run(gq, T.GITHUB_CLONE, repository=url, destination=str(local))
    ).status is S.COMPLETED
    pushed = await run(gq, T.GITHUB_PUSH, path=str(local), branch="no-such-branch")
    assert pushed.status is S.FAILED
    assert pushed.error_code == C.GITHUB_BRANCH_NOT_FOUND.value
    assert "no-such-branch" in (pushed.error or "")


async def test_missing_repo_against_git_http_backend(
    gq: TaskQueue, git_http: GitServer, tmp_path: Path
) -> None:
    task = await run(
        gq,
        T.GITHUB_CLONE,
        repository=f"{git_http.url}/missing.git",
        destination=str(tmp_path / "m"),
    )
    assert task.status is S.FAILED
    assert task.error_code == C.GITHUB_REPO_NOT_FOUND.value
    assert "missing.git" in (task.error or "")
    not_a_repo = await run(gq, T.GITHUB_PUSH, path=str(tmp_path))
    assert not_a_repo.error_code == C.GITHUB_REPO_NOT_FOUND.value


async def test_wrong_token_is_refused_and_never_shown_against_git_http_backend(
    gq: TaskQueue, git_http: GitServer, tmp_path: Path, data_dir: Path
) -> None:
    make_bare_repo(git_http.root, "private", {"README": b"secret\n"})
    url = f"{git_http.url}/private.git"
    refused = await run(
        gq, T.GITHUB_CLONE, repository=url, destination=str(tmp_path / "r"), credential=WRONG_ENTRY
    )
    assert refused.status is S.FAILED
    assert refused.error_code == C.GITHUB_AUTHENTICATION_FAILED.value
    good = await run(gq, T.GITHUB_CLONE, repository=url, destination=str(tmp_path / "g"))
    assert good.status is S.COMPLETED, good.error
    # git kept the token nowhere: not in the clone's config, not in the URL it remembers.
    assert TOKEN not in (tmp_path / "g" / ".git" / "config").read_text()
    assert not list((data_dir / "tmp").glob("github-askpass-*"))  # the askpass script is gone
    await assert_tokens_never_shown(gq, [refused, good], data_dir)


async def test_dead_git_server_is_connection_failed(gq: TaskQueue, tmp_path: Path) -> None:
    port = closed_port()
    task = await run(
        gq,
        T.GITHUB_CLONE,
        repository=f"http://127.0.0.1:{port}/a/b.git",
        destination=str(tmp_path / "d"),
    )
    assert task.status is S.FAILED
    assert task.error_code == C.NETWORK_CONNECTION_FAILED.value


def git_children() -> list[psutil.Process]:
    """git processes this test process started (directly or below)."""
    me = psutil.Process()
    return [p for p in me.children(recursive=True) if p.name().startswith("git")]


async def test_pause_and_cancel_a_clone_against_a_stalled_git_http_backend(
    gq: TaskQueue, git_http: GitServer, tmp_path: Path, data_dir: Path
) -> None:
    make_bare_repo(git_http.root, "big", files(64, 32 * 1024))  # a 2 MiB pack
    git_http.stall = True  # it sends the first 256 KiB, then holds the rest
    dest = tmp_path / "big"
    task_id = await gq.add_task(
        Task(T.GITHUB_CLONE, {"repository": f"{git_http.url}/big.git", "destination": str(dest)})
    )
    await eventually(git_http.stalled.is_set, 30, "the server holds the pack half-sent")

    async def receiving() -> bool:
        return (await gq.get_task(task_id)).current_step.startswith("Receiving objects")

    await eventually(receiving, 30, "the task shows the transfer")
    clone = next(p for p in git_children() if "clone" in p.cmdline())
    its_tree = [clone, *clone.children(recursive=True)]  # git-remote-http, index-pack
    await gq.pause_task(task_id)
    await eventually(lambda: clone.status() == psutil.STATUS_STOPPED, 10, "git is stopped")
    await gq.resume_task(task_id)
    await eventually(lambda: clone.status() != psutil.STATUS_STOPPED, 10, "git runs again")

    await gq.cancel_task(task_id)
    done = await gq.wait_for(task_id, timeout_s=30)
    assert done.status is S.CANCELLED
    assert len(its_tree) > 1
    assert all(not p.is_running() or p.status() == psutil.STATUS_ZOMBIE for p in its_tree)
    assert not dest.exists()  # the half clone is removed
    assert not list((data_dir / "tmp").glob("github-askpass-*"))  # and the token file


async def test_a_clone_past_its_time_limit_times_out_against_a_stalled_git_http_backend(
    gq: TaskQueue, git_http: GitServer, tmp_path: Path
) -> None:
    make_bare_repo(git_http.root, "big", files(64, 32 * 1024))
    git_http.stall = True  # the transfer never ends on its own
    dest = tmp_path / "big"
    task_id = await gq.add_task(
        Task(
            T.GITHUB_CLONE,
            {"repository": f"{git_http.url}/big.git", "destination": str(dest)},
            timeout_s=1.5,
            max_retries=0,
        )
    )
    done = await gq.wait_for(task_id, timeout_s=30)
    assert done.status is S.TIMEOUT
    assert not dest.exists()
