"""GITHUB_CREATE_REPO and GITHUB_LIST_REPOS through a real TaskQueue against a local server
that speaks GitHub's documented REST API (github_api_server.py): what the user sees in the
task's result, log and error code."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from github_api_server import GitHubApiServer
from github_env import LOGIN, WRONG_ENTRY, assert_tokens_never_shown
from loopback import closed_port

from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import Task, TaskStatus, TaskType
from qtqueue.engine.queue import TaskQueue
from qtqueue.families.github.progress import parse_repo_table

C = TaskErrorCode
S = TaskStatus
T = TaskType


async def run(
    queue: TaskQueue, task_type: T, /, timeout_s: float | None = None, **params: Any
) -> Task:
    task_id = await queue.add_task(Task(task_type, params, max_retries=0, timeout_s=timeout_s))
    return await queue.wait_for(task_id, timeout_s=60)


async def test_create_repo_against_local_github_api(gq: TaskQueue, api: GitHubApiServer) -> None:
    mine = await run(
        gq, T.GITHUB_CREATE_REPO, name="tools", description="Our tools", api_url=api.url
    )
    assert mine.status is S.COMPLETED, mine.error
    assert mine.result is not None
    assert mine.result["full_name"] == f"{LOGIN}/tools"
    assert mine.result["private"] is True  # the safe default
    assert mine.result["html_url"].endswith("/octo/tools")
    assert api.repos[f"{LOGIN}/tools"]["description"] == "Our tools"
    assert f"created {LOGIN}/tools (private)" in await gq.read_log(mine.id)

    theirs = await run(
        gq, T.GITHUB_CREATE_REPO, name="site", org="acme", private=False, api_url=api.url
    )
    assert theirs.status is S.COMPLETED, theirs.error
    assert theirs.result is not None and theirs.result["full_name"] == "acme/site"
    assert api.repos["acme/site"]["private"] is False


async def test_create_existing_repo_is_already_exists_against_local_github_api(
    gq: TaskQueue, api: GitHubApiServer
) -> None:
    api.add_repo(LOGIN, "taken")
    task = await run(gq, T.GITHUB_CREATE_REPO, name="taken", api_url=api.url)
    assert task.status is S.FAILED
    assert task.error_code == C.GITHUB_REPO_ALREADY_EXISTS.value
    assert "name already exists on this account" in (task.error or "")


async def test_create_in_unknown_org_says_what_was_asked_against_local_github_api(
    gq: TaskQueue, api: GitHubApiServer
) -> None:
    task = await run(gq, T.GITHUB_CREATE_REPO, name="x", org="nobody", api_url=api.url)
    assert task.error_code == C.GITHUB_API_ERROR.value
    assert "create repository nobody/x" in (task.error or "")
    assert "no such organisation" in (task.error or "")


async def test_list_follows_every_page_against_local_github_api(
    gq: TaskQueue, api: GitHubApiServer
) -> None:
    for n in range(150):
        api.add_repo(LOGIN, f"repo-{n:03d}", private=n % 3 == 0)
    api.add_repo("someone-else", "not-mine")
    task = await run(gq, T.GITHUB_LIST_REPOS, api_url=api.url)
    assert task.status is S.COMPLETED, task.error
    assert task.result is not None and task.result["count"] == 150
    names = [r["full_name"] for r in task.result["repositories"]]
    assert names == [f"{LOGIN}/repo-{n:03d}" for n in range(150)]
    first = task.result["repositories"][0]
    assert set(first) == {
        "full_name",
        "private",
        "default_branch",
        "html_url",
        "clone_url",
        "updated_at",
    }
    pages = [path for _, method, path in api.requests if method == "GET"]
    assert len(pages) == 2 and "page=2" in pages[1]  # followed the Link header's next
    rows = parse_repo_table((await gq.read_log(task.id)).splitlines())
    assert [row.full_name for row in rows] == names
    assert rows[0].private and not rows[1].private


async def test_list_of_a_user_and_an_unknown_one_against_local_github_api(
    gq: TaskQueue, api: GitHubApiServer
) -> None:
    api.add_repo("torvalds", "linux")
    theirs = await run(gq, T.GITHUB_LIST_REPOS, owner="torvalds", api_url=api.url)
    assert theirs.status is S.COMPLETED, theirs.error
    assert theirs.result is not None
    assert [r["full_name"] for r in theirs.result["repositories"]] == ["torvalds/linux"]

    missing = await run(gq, T.GITHUB_LIST_REPOS, owner="no-such-user", api_url=api.url)
    assert missing.status is S.FAILED
    assert missing.error_code == C.GITHUB_API_ERROR.value
    assert "no-such-user" in (missing.error or "") and "404" in (missing.error or "")


async def test_wrong_token_is_authentication_failed_and_never_shown_against_local_github_api(
    gq: TaskQueue, api: GitHubApiServer, data_dir: Path
) -> None:
    refused = await run(gq, T.GITHUB_CREATE_REPO, name="x", credential=WRONG_ENTRY, api_url=api.url)
    listed = await run(gq, T.GITHUB_LIST_REPOS, credential=WRONG_ENTRY, api_url=api.url)
    good = await run(gq, T.GITHUB_LIST_REPOS, api_url=api.url)
    for task in (refused, listed):
        assert task.status is S.FAILED
        assert task.error_code == C.GITHUB_AUTHENTICATION_FAILED.value
        assert "Bad credentials" in (task.error or "")
    assert good.status is S.COMPLETED
    await assert_tokens_never_shown(gq, [refused, listed, good], data_dir)


async def test_rate_limit_is_waited_out_as_the_headers_say_against_local_github_api(
    gq: TaskQueue, api: GitHubApiServer
) -> None:
    api.add_repo(LOGIN, "app")
    reset = api.exhaust(reset_in_s=1.5)
    task = await run(gq, T.GITHUB_LIST_REPOS, api_url=api.url, timeout_s=60)
    assert task.status is S.COMPLETED, task.error
    assert task.result is not None and task.result["count"] == 1
    log = await gq.read_log(task.id)
    until = time.strftime("%H:%M:%S", time.localtime(reset + 0.5))
    assert "rate limited: waiting" in log and f"until {until}" in log
    refused, answered = api.requests[0][0], api.requests[-1][0]
    assert len(api.requests) == 2 and answered >= reset > refused  # asked again after the reset


async def test_rate_limit_past_the_time_limit_fails_at_once_unretried_against_local_github_api(
    gq: TaskQueue, api: GitHubApiServer
) -> None:
    api.exhaust(reset_in_s=3600)
    started = time.monotonic()
    # Retries asked for: none is spent, each would only meet the same limit.
    task_id = await gq.add_task(
        Task(
            T.GITHUB_LIST_REPOS,
            {"api_url": api.url},
            max_retries=3,
            retry_backoff=[0.0],
            timeout_s=60,
        )
    )
    task = await gq.wait_for(task_id, timeout_s=60)
    assert time.monotonic() - started < 30
    assert task.status is S.FAILED
    assert task.retry_count == 0
    assert task.error_code == "GITHUB_RATE_LIMITED"
    assert "rate limited until" in (task.error or "") and "time limit" in (task.error or "")
    assert len(api.requests) == 1  # one request: the task never ran again


async def test_dead_api_is_connection_failed(gq: TaskQueue) -> None:
    port = closed_port()
    task = await run(gq, T.GITHUB_LIST_REPOS, api_url=f"http://127.0.0.1:{port}", timeout_s=30)
    assert task.status is S.FAILED
    assert task.error_code == C.NETWORK_CONNECTION_FAILED.value
    assert f"127.0.0.1:{port}" in (task.error or "")


async def test_an_api_that_never_answers_is_a_timeout_against_local_github_api(
    gq: TaskQueue, api: GitHubApiServer
) -> None:
    api.hang = True
    gq.executor_settings["github_timeout_s"] = 0.5
    task = await run(gq, T.GITHUB_CREATE_REPO, name="x", api_url=api.url, timeout_s=30)
    assert task.status is S.FAILED
    assert task.error_code == C.NETWORK_TIMEOUT.value
    assert api.url in (task.error or "")


async def test_without_a_token_lists_are_anonymous_and_create_refused_against_local_github_api(
    gq: TaskQueue, api: GitHubApiServer
) -> None:
    api.add_repo("torvalds", "linux")
    api.add_repo("torvalds", "secret-plans", private=True)
    gq.executor_settings["github_keyring_entry"] = "no-such-entry"
    listed = await run(gq, T.GITHUB_LIST_REPOS, owner="torvalds", api_url=api.url)
    assert listed.status is S.COMPLETED, listed.error
    assert listed.result is not None
    assert [r["full_name"] for r in listed.result["repositories"]] == ["torvalds/linux"]
    assert "no keyring entry 'no-such-entry': anonymous access" in await gq.read_log(listed.id)
    created = await run(gq, T.GITHUB_CREATE_REPO, name="x", api_url=api.url)
    assert created.error_code == C.GITHUB_AUTHENTICATION_FAILED.value
    assert "Requires authentication" in (created.error or "")
    named = await run(gq, T.GITHUB_LIST_REPOS, credential="no-such-entry", api_url=api.url)
    assert named.error_code == C.CREDENTIAL_NOT_FOUND.value  # a named entry must exist


async def test_retry_after_is_waited_and_a_down_github_is_api_error_against_local_github_api(
    gq: TaskQueue, api: GitHubApiServer
) -> None:
    api.add_repo(LOGIN, "app")
    api.retry_after_s = 1
    waited = await run(gq, T.GITHUB_LIST_REPOS, api_url=api.url, timeout_s=60)
    assert waited.status is S.COMPLETED, waited.error
    assert "rate limited: waiting 1 s" in await gq.read_log(waited.id)
    assert api.requests[1][0] - api.requests[0][0] >= 1.0  # asked again after retry-after

    api.broken = True
    down = await run(gq, T.GITHUB_CREATE_REPO, name="x", api_url=api.url)
    assert down.status is S.FAILED
    assert down.error_code == C.GITHUB_API_ERROR.value
    assert "502" in (down.error or "")
