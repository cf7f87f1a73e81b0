"""GITHUB_CREATE_REPO and GITHUB_LIST_REPOS: repositories made and listed through the REST API.

gidgethub (the `github` extra) is imported when a task runs (`rest.py`), so the types are listed
without it (the registry then answers QUEUE_EXTRA_NOT_INSTALLED)."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from qtqueue.core.task import TaskStatus, TaskType
from qtqueue.executors.base import Executor, RunContext
from qtqueue.families.github.params import CreateRepoParams, ListReposParams
from qtqueue.families.github.progress import RepoRow, repo_table
from qtqueue.families.github.settings import GitHubSettings

logger = logging.getLogger(__name__)

__all__ = ["CreateRepoExecutor", "ListReposExecutor"]

#: Repositories asked for per page (GitHub's most).
PER_PAGE = 100


class CreateRepoExecutor(Executor[CreateRepoParams]):
    """Creates a repository for the token's account or in an organisation."""

    task_type: ClassVar[TaskType] = TaskType.GITHUB_CREATE_REPO
    summary: ClassVar[str] = "Create a GitHub repository (yours or an organisation's)"

    async def run(self, ctx: RunContext[CreateRepoParams]) -> dict[str, Any]:
        from qtqueue.families.github.rest import REST_FAILURES, github_api, repo_summary, rest_error

        p = ctx.params
        api_url = p.api_url or ctx.family_settings(GitHubSettings).github_api_url
        where = f"{p.org}/{p.name}" if p.org else p.name
        asked = f"create repository {where}"
        ctx.phase(TaskStatus.PREPARING)
        ctx.progress(0, f"creating {where}")
        body = {
            "name": p.name,
            "description": p.description,
            "private": p.private,
            "auto_init": p.auto_init,
        }
        try:
            async with github_api(ctx, api_url=p.api_url, credential=p.credential) as gh:
                if p.org:
                    repo = await gh.post("/orgs/{org}/repos", {"org": p.org}, data=body)
                else:
                    repo = await gh.post("/user/repos", data=body)
        except REST_FAILURES as exc:
            not_found = "organisation" if p.org else "account"
            raise rest_error(exc, asked=asked, not_found=not_found, api_url=api_url) from None
        if not isinstance(repo, dict):
            raise rest_error(
                ValueError("the answer is no repository"),
                asked=asked,
                not_found="",
                api_url=api_url,
            )
        result = repo_summary(repo)
        visibility = "private" if result["private"] else "public"
        ctx.log(f"[github] created {result['full_name']} ({visibility}): {result['html_url']}")
        ctx.progress(100, f"created {result['full_name']}")
        return result


class ListReposExecutor(Executor[ListReposParams]):
    """Lists repositories (the token's, a user's or an organisation's), every page."""

    task_type: ClassVar[TaskType] = TaskType.GITHUB_LIST_REPOS
    summary: ClassVar[str] = "List GitHub repositories: yours, a user's or an organisation's"

    async def run(self, ctx: RunContext[ListReposParams]) -> dict[str, Any]:
        from qtqueue.families.github.rest import REST_FAILURES, github_api, repo_summary, rest_error

        p = ctx.params
        api_url = p.api_url or ctx.family_settings(GitHubSettings).github_api_url
        if p.owner is None:
            url, variables, whose = "/user/repos{?per_page}", {}, "your"
        elif p.organization:
            url, variables, whose = "/orgs/{owner}/repos{?per_page}", {"owner": p.owner}, ""
        else:
            url, variables, whose = "/users/{owner}/repos{?per_page}", {"owner": p.owner}, ""
        whose = whose or f"{p.owner}'s"
        asked = f"list {whose} repositories"
        ctx.phase(TaskStatus.DOWNLOADING)
        ctx.progress(-1, f"listing {whose} repositories")
        repos: list[dict[str, Any]] = []
        try:
            async with github_api(ctx, api_url=p.api_url, credential=p.credential) as gh:
                pages = gh.getiter(url, {**variables, "per_page": PER_PAGE})
                async for repo in pages:
                    if not isinstance(repo, dict):
                        raise ValueError("the answer is no list of repositories")
                    repos.append(repo_summary(repo))
                    if len(repos) % PER_PAGE == 0:
                        ctx.progress(-1, f"{len(repos)} repositories so far")
                    if len(repos) >= p.max_repos:
                        await pages.aclose()
                        break
        except REST_FAILURES as exc:
            owner = "organisation" if p.organization else "user"
            raise rest_error(exc, asked=asked, not_found=owner, api_url=api_url) from None
        rows = [RepoRow.from_api(repo) for repo in repos]
        ctx.log(f"[github] {len(rows)} repositories:")
        for line in repo_table(rows):
            ctx.log(line)
        ctx.progress(100, f"{len(rows)} repositories")
        return {"count": len(repos), "repositories": repos}
