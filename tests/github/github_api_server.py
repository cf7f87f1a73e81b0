"""A local server on 127.0.0.1 that speaks the part of GitHub's REST API the github family uses,
as GitHub's published OpenAPI description (api.github.com.json, @octokit/openapi) gives it:

- `POST /user/repos`, `POST /orgs/{org}/repos`: 201 with the repository object; 422 with
  {"message": "Repository creation failed.", "errors": [{"resource": "Repository",
  "code": "custom", "field": "name", "message": "name already exists on this account"}]} when
  the name is taken; 404 for an unknown organisation.
- `GET /user/repos`, `GET /users/{username}/repos`, `GET /orgs/{org}/repos`: arrays of
  repository objects, paginated by `per_page` (default 30, at most 100) and `page`, with a
  `Link` header (rel="next", "last", "first", "prev"); 404 for an unknown user.
- 401 {"message": "Bad credentials", ...} for a wrong token, {"message": "Requires
  authentication", ...} for none where one is needed.
- `x-ratelimit-limit/-remaining/-used/-reset/-resource` on every answer; while the test has
  the limit used up (`exhaust`), 403 {"message": "API rate limit exceeded ..."} with
  `x-ratelimit-remaining: 0` until `x-ratelimit-reset`; a secondary rate limit is 429 with
  `retry-after`; a GitHub that is down answers 502.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from loopback import serve

DOCS = "https://docs.github.com/rest"
RATE_LIMIT = 5000


@dataclass
class GitHubApiServer:
    """What the server holds and saw."""

    url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    """Valid token -> the login it belongs to."""
    orgs: set[str] = field(default_factory=set)
    """Known organisations (members: every valid token)."""
    repos: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Repository objects by full_name."""
    git_url: str = "https://github.com"
    """Where clone_url points."""
    requests: list[tuple[float, str, str]] = field(default_factory=list)
    """(UNIX time, method, path with query) of every request."""
    broken: bool = False
    """Answer every request 502, as GitHub does when it is down."""
    retry_after_s: int | None = None
    """Answer the next request 429 with this `retry-after` (a secondary rate limit)."""
    hang: bool = False
    """Take every request and never answer it (until the server stops)."""
    exhausted_until: float | None = None
    """The rate limit is used up until this UNIX time (None: it is not)."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    def exhaust(self, reset_in_s: float) -> int:
        """Use the rate limit up until `reset_in_s` from now (whole seconds, as GitHub's
        reset is); the reset's UNIX time."""
        reset = math.ceil(time.time() + reset_in_s)
        self.exhausted_until = reset
        return reset

    def add_repo(self, owner: str, name: str, *, private: bool = False) -> dict[str, Any]:
        """A repository object as GitHub describes one (the fields the family reads and their
        neighbours), stored under owner/name."""
        repo_id = next(self._ids)
        full_name = f"{owner}/{name}"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_700_000_000 + repo_id))
        repo = {
            "id": repo_id,
            "node_id": f"R_kgDO{repo_id:08d}",
            "name": name,
            "full_name": full_name,
            "private": private,
            "visibility": "private" if private else "public",
            "owner": {
                "login": owner,
                "id": 1,
                "type": "Organization" if owner in self.orgs else "User",
            },
            "html_url": f"https://github.com/{full_name}",
            "description": None,
            "fork": False,
            "url": f"{self.url}/repos/{full_name}",
            "clone_url": f"{self.git_url}/{full_name}.git",
            "ssh_url": f"git@github.com:{full_name}.git",
            "default_branch": "main",
            "created_at": stamp,
            "updated_at": stamp,
            "pushed_at": stamp,
        }
        self.repos[full_name] = repo
        return repo


class Refused(Exception):
    """Raised by a handler to answer with `response` (a 401) instead."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def _json(status: int, body: Any, headers: dict[str, str]) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def _error(status: int, message: str, headers: dict[str, str], **extra: Any) -> web.Response:
    return _json(
        status,
        {"message": message, **extra, "documentation_url": DOCS, "status": str(status)},
        headers,
    )


@asynccontextmanager
async def github_api_server() -> AsyncIterator[GitHubApiServer]:
    """Start the server on a free port of 127.0.0.1; stop it afterwards."""
    server = GitHubApiServer()

    def rate_headers() -> dict[str, str]:
        now = time.time()
        exhausted = server.exhausted_until is not None and now < server.exhausted_until
        if not exhausted:
            server.exhausted_until = None
        reset = server.exhausted_until or math.ceil(now + 3600)
        remaining = 0 if exhausted else RATE_LIMIT - 1
        return {
            "x-ratelimit-limit": str(RATE_LIMIT),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-used": str(RATE_LIMIT - remaining),
            "x-ratelimit-reset": str(int(reset)),
            "x-ratelimit-resource": "core",
        }

    def login_of(request: web.Request, required: bool) -> str | None:
        """The caller's login (None: no Authorization, where none is `required`); a wrong
        token, or none where one is required, is answered with 401 (Refused)."""
        header = request.headers.get("Authorization")
        if header is None:
            if required:
                raise Refused(_error(401, "Requires authentication", rate_headers()))
            return None
        scheme, _, token = header.partition(" ")
        login = server.tokens.get(token) if scheme.lower() in ("token", "bearer") else None
        if login is None:
            raise Refused(_error(401, "Bad credentials", rate_headers()))
        return login

    def page(
        request: web.Request, repos: list[dict[str, Any]], headers: dict[str, str]
    ) -> web.Response:
        try:
            per_page = min(100, max(1, int(request.query.get("per_page", "30"))))
            number = max(1, int(request.query.get("page", "1")))
        except ValueError:
            return _error(422, "Validation Failed", headers)
        last = max(1, math.ceil(len(repos) / per_page))
        links = []

        def link(n: int, rel: str) -> str:
            return f'<{server.url}{request.path}?per_page={per_page}&page={n}>; rel="{rel}"'

        if number > 1:
            links += [link(number - 1, "prev"), link(1, "first")]
        if number < last:
            links += [link(number + 1, "next"), link(last, "last")]
        if links:
            headers["Link"] = ", ".join(links)
        start = (number - 1) * per_page
        return _json(200, repos[start : start + per_page], headers)

    @web.middleware
    async def github_rules(request: web.Request, handler: Any) -> web.StreamResponse:
        server.requests.append((time.time(), request.method, request.path_qs))
        if server.hang:
            await asyncio.Event().wait()  # cancelled when the client gives up or it stops
        headers = rate_headers()
        if server.broken:
            return _error(502, "Server Error", headers)
        if server.retry_after_s is not None:
            headers["retry-after"] = str(server.retry_after_s)
            server.retry_after_s = None
            return _error(
                429,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you "
                "try again.",
                headers,
            )
        if headers["x-ratelimit-remaining"] == "0":
            return _error(
                403,
                "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for "
                "help, please include the request ID.",
                headers,
            )
        try:
            response: web.StreamResponse = await handler(request)
        except Refused as refused:
            return refused.response
        return response

    async def create(request: web.Request) -> web.Response:
        headers = rate_headers()
        login = login_of(request, required=True)
        owner = request.match_info.get("org", login)
        if "org" in request.match_info and owner not in server.orgs:
            return _error(404, "Not Found", headers)
        body = await request.json()
        name = body.get("name")
        if not isinstance(name, str) or not name:
            return _error(422, "Validation Failed", headers)
        if f"{owner}/{name}" in server.repos:
            return _json(
                422,
                {
                    "message": "Repository creation failed.",
                    "errors": [
                        {
                            "resource": "Repository",
                            "code": "custom",
                            "field": "name",
                            "message": "name already exists on this account",
                        }
                    ],
                    "documentation_url": f"{DOCS}/repos/repos#create-a-repository",
                    "status": "422",
                },
                headers,
            )
        repo = server.add_repo(owner, name, private=bool(body.get("private", False)))
        repo["description"] = body.get("description") or None
        return _json(201, repo, {**headers, "Location": repo["url"]})

    async def list_mine(request: web.Request) -> web.Response:
        headers = rate_headers()
        login = login_of(request, required=True)
        mine = [r for r in server.repos.values() if r["owner"]["login"] == login]
        return page(request, mine, headers)

    async def list_of(request: web.Request) -> web.Response:
        headers = rate_headers()
        login = login_of(request, required=False)
        owner = request.match_info.get("username") or request.match_info["org"]
        known = {r["owner"]["login"] for r in server.repos.values()} | server.orgs
        if ("org" in request.match_info and owner not in server.orgs) or owner not in known:
            return _error(404, "Not Found", headers)
        theirs = [
            r
            for r in server.repos.values()
            if r["owner"]["login"] == owner and (not r["private"] or login is not None)
        ]
        return page(request, theirs, headers)

    app = web.Application(middlewares=[github_rules])
    app.router.add_post("/user/repos", create)
    app.router.add_post("/orgs/{org}/repos", create)
    app.router.add_get("/user/repos", list_mine)
    app.router.add_get("/users/{username}/repos", list_of)
    app.router.add_get("/orgs/{org}/repos", list_of)
    async with serve(app, handler_cancellation=True, shutdown_timeout=2) as url:
        server.url = url
        yield server
