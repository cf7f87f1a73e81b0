"""Who git gives the GitHub token to, through a real TaskQueue and real git: only the configured
GitHub git host (here Debian git's `git-http-backend` on 127.0.0.1, git_server.py), never another
host that asks for a password (a local intruder server answering 401 as a private repository
would), never after a redirect elsewhere, never to a hook through git's environment; and git
is never handed a remote that it would read as an option."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from git_server import GitServer, git, make_bare_repo
from github_env import TOKEN
from loopback import serve

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.github.gitauth import token_allowed

C = TaskErrorCode
S = TaskStatus
T = TaskType


class Intruder:
    """A server that is not the GitHub git host: every request gets 401 asking for a basic
    login, and what each sent as one is kept."""

    def __init__(self) -> None:
        self.logins: list[str] = []
        """The decoded `user:password` of every Authorization header it was sent."""
        self.requests = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            self.logins.append(base64.b64decode(header[6:]).decode("utf-8", "replace"))
        return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="intruder"'})


@pytest.fixture
async def intruder() -> AsyncIterator[tuple[Intruder, str]]:
    """The intruder server and its base URL."""
    server = Intruder()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    async with serve(app) as url:
        yield server, url


async def run(queue: TaskQueue, task_type: T, /, **params: Any) -> Task:
    task_id = await queue.add_task(Task(task_type, params, max_retries=0, timeout_s=60))
    return await queue.wait_for(task_id, timeout_s=60)


async def test_another_host_asking_for_a_password_gets_no_token_against_a_local_intruder(
    gq: TaskQueue, git_http: GitServer, intruder: tuple[Intruder, str], tmp_path: Path
) -> None:
    server, url = intruder
    clone = await run(
        gq,
        T.GITHUB_CLONE,
        repository=f"{url}/someone/else.git",
        destination=str(tmp_path / "c"),
    )
    assert server.requests  # git did ask it, and it did ask for a login
    assert not [login for login in server.logins if TOKEN in login], server.logins
    assert clone.status is S.FAILED
    assert clone.error_code == C.GITHUB_AUTHENTICATION_FAILED.value
    assert "no token was sent" in (clone.error or "")
    assert "not a GitHub URL: no token sent" in await gq.read_log(clone.id)

    # A push to a remote *name* is judged by the URL the remote has (its push URL).
    make_bare_repo(git_http.root, "app", {"README": b"hello\n"})
    work = tmp_path / "work"
    cloned = await run(
        gq, T.GITHUB_CLONE, repository=f"{git_http.url}/app.git", destination=str(work)
    )
    assert cloned.status is S.COMPLETED, cloned.error
    git("remote", "set-url", "--push", "origin", f"{url}/someone/else.git", cwd=work)
    pushed = await run(gq, T.GITHUB_PUSH, path=str(work))
    assert pushed.status is S.FAILED
    assert pushed.error_code == C.GITHUB_AUTHENTICATION_FAILED.value
    assert "not a GitHub URL: no token sent" in await gq.read_log(pushed.id)
    assert not [login for login in server.logins if TOKEN in login], server.logins


async def test_a_redirect_from_the_github_host_to_another_gets_no_token_against_local_servers(
    gq: TaskQueue, intruder: tuple[Intruder, str], tmp_path: Path
) -> None:
    server, url = intruder

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(url + request.path_qs)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", redirect)
    async with serve(app) as github:
        gq.executor_settings["github_git_url"] = github  # the token is for this host...
        clone = await run(
            gq, T.GITHUB_CLONE, repository="octo/app", destination=str(tmp_path / "r")
        )
    assert server.requests  # ...which sent git on to the intruder, who asked for a login
    assert clone.status is S.FAILED
    assert clone.error_code == C.GITHUB_AUTHENTICATION_FAILED.value
    assert not [login for login in server.logins if TOKEN in login], server.logins


async def test_a_pre_push_hook_does_not_see_the_token_against_git_http_backend(
    gq: TaskQueue, git_http: GitServer, tmp_path: Path, data_dir: Path
) -> None:
    bare = make_bare_repo(git_http.root, "hooked", {"README": b"hello\n"})
    work = tmp_path / "work"
    cloned = await run(
        gq, T.GITHUB_CLONE, repository=f"{git_http.url}/hooked.git", destination=str(work)
    )
    assert cloned.status is S.COMPLETED, cloned.error
    (work / "new.txt").write_text("new\n")
    git("add", "new.txt", cwd=work)
    git("commit", "-q", "-m", "new", cwd=work)
    dump = tmp_path / "hook-env.txt"
    hook = work / ".git" / "hooks" / "pre-push"
    modes = tmp_path / "hook-modes.txt"
    # What husky, npm test... could print; and the modes of git's login files meanwhile.
    hook.write_text(
        f"#!/bin/sh\nenv > '{dump}'\n"
        f'stat -c %a "$(dirname "$GIT_ASKPASS")" "$QTQUEUE_GIT_TOKEN_FILE" > \'{modes}\'; true\n'
    )
    hook.chmod(0o755)

    push = Task(T.GITHUB_PUSH, {"path": str(work)}, max_retries=0, timeout_s=60)
    # What a crash (the engine killed mid-run) left of an earlier attempt of this task.
    crashed = data_dir / "tmp" / f"github-askpass-{push.id}-crashed"
    crashed.mkdir(parents=True)
    (crashed / "token").write_text(TOKEN)
    pushed = await gq.wait_for(await gq.add_task(push), timeout_s=60)
    assert pushed.status is S.COMPLETED, pushed.error  # the server did get the token
    assert git("rev-parse", "main", cwd=bare) == git("rev-parse", "HEAD", cwd=work)
    env = dump.read_text()
    assert f"GIT_ASKPASS={data_dir}" in env  # the hook ran inside the logged-in push
    assert TOKEN not in env
    assert modes.read_text().split() == ["700", "600"]  # the folder and the token file
    # This run's token file is gone, and so is the crashed attempt's.
    assert not list((data_dir / "tmp").glob("github-askpass-*"))


@pytest.mark.parametrize(
    ("params", "task_type"),
    [
        ({"path": ".", "remote": "--all"}, T.GITHUB_PUSH),
        ({"path": ".", "remote": "--upload-pack@x:y"}, T.GITHUB_PUSH),
        ({"repository": "--upload-pack=touch /tmp/x"}, T.GITHUB_CLONE),
    ],
)
async def test_a_remote_git_would_read_as_an_option_is_refused(
    gq: TaskQueue, params: dict[str, str], task_type: T
) -> None:
    with pytest.raises(QueueError) as refused:
        await gq.add_task(Task(task_type, params))
    assert refused.value.code == C.VALIDATION_INVALID_PARAMS
    assert "option" in str(refused.value)


@pytest.mark.parametrize(
    ("url", "git_url", "allowed"),
    [
        ("https://github.com/o/r.git", "https://github.com", True),
        ("https://GitHub.com:443/o/r.git", "https://github.com", True),
        ("https://github.com:8443/o/r.git", "https://github.com", False),
        ("http://github.com/o/r.git", "https://github.com", False),
        ("https://github.com.evil.example/o/r.git", "https://github.com", False),
        ("https://evil.example/github.com/o/r.git", "https://github.com", False),
        ("ssh://git@github.com/o/r.git", "https://github.com", False),
        ("git@github.com:o/r.git", "https://github.com", False),
        ("file:///srv/o/r.git", "https://github.com", False),
        ("https://ghe.example/o/r.git", "https://ghe.example", True),
        ("http://127.0.0.1:8080/o/r.git", "http://127.0.0.1:8080", True),
        ("http://127.0.0.1:8081/o/r.git", "http://127.0.0.1:8080", False),
        ("http://127.0.0.1:8080/elsewhere/r.git", "http://127.0.0.1:8080/git", False),
    ],
)
def test_only_the_configured_git_host_is_given_the_token(
    url: str, git_url: str, allowed: bool
) -> None:
    assert token_allowed(url, git_url) is allowed
