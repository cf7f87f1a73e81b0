"""GitHub's REST API through gidgethub (aiohttp-native): the token from the keyring, a timeout
on every request, rate limits waited out as the headers say, and every failure as its code.

A 403 or 429 whose `x-ratelimit-remaining` is 0 (or that carries `retry-after`) is GitHub
saying "not now": the client waits until `x-ratelimit-reset` (or for `retry-after` seconds),
says so in the task's log and step, and asks again — unless the wait would run past the task's
time limit, which fails at once with GITHUB_RATE_LIMITED saying so: a `final` code, so the
queue does not retry the task straight back into the same limit.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import gidgethub
from gidgethub.aiohttp import GitHubAPI

from qtqueue.core.errors import ErrorCode, QueueError, TaskErrorCode
from qtqueue.executors.base import RunContext
from qtqueue.families.github.login import github_token
from qtqueue.families.github.settings import GitHubSettings

logger = logging.getLogger(__name__)

__all__ = [
    "RATE_LIMITED",
    "RATE_LIMIT_RETRIES",
    "REST_FAILURES",
    "RestClient",
    "github_api",
    "rate_limit_wait",
    "repo_summary",
    "rest_error",
]

_C = TaskErrorCode
#: A rate limit that lasts past the task's time limit (errors.toml: final, never retried).
RATE_LIMITED = ErrorCode("GITHUB_RATE_LIMITED")
#: How many times one request waits out a rate limit before giving up.
RATE_LIMIT_RETRIES = 3
#: Added to a wait until `x-ratelimit-reset` (whole seconds) so the next try is after it.
_RESET_MARGIN_S = 0.5
_REQUESTER = "qtqueue"
#: What a request can raise besides QueueError (a JSON body that is none is a ValueError).
REST_FAILURES = (gidgethub.GitHubException, aiohttp.ClientError, TimeoutError, ValueError)


def rate_limit_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait before asking again, from a refused answer's headers: `retry-after`,
    else until `x-ratelimit-reset` when `x-ratelimit-remaining` is 0; None when the answer is
    no rate limit."""
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return None
    if headers.get("x-ratelimit-remaining") != "0":
        return None
    try:
        reset = float(headers["x-ratelimit-reset"])
    except (KeyError, ValueError):
        return None
    return max(0.0, reset - now) + _RESET_MARGIN_S


class RestClient(GitHubAPI):
    """gidgethub's aiohttp client, waiting out rate limits for one task (see the module
    docstring)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        ctx: RunContext,
        *,
        token: str | None,
        base_url: str,
        deadline: float | None,
    ) -> None:
        super().__init__(session, _REQUESTER, oauth_token=token, base_url=base_url)
        self.ctx = ctx
        self.deadline = deadline
        """UNIX time the task's time limit ends; None: no limit."""
        self.waited_s = 0.0
        """Seconds spent waiting out rate limits."""

    async def handle_rate_limit_error(
        self, *, method: str, url: str, exception: gidgethub.HTTPException, attempt: int
    ) -> bool:
        """Wait and ask again when GitHub refused for its rate limit (see the module docstring);
        False for any other refusal."""
        if exception.status_code not in (403, 429):
            return False
        now = time.time()
        wait = rate_limit_wait(exception.headers, now)
        if wait is None:
            return False
        until = time.strftime("%H:%M:%S", time.localtime(now + wait))
        if attempt > RATE_LIMIT_RETRIES:
            raise QueueError(
                _C.GITHUB_API_ERROR,
                f"GitHub's rate limit still refused {method} {url} after {attempt} tries",
                status=int(exception.status_code),
            )
        if self.deadline is not None and now + wait > self.deadline:
            raise QueueError(
                RATE_LIMITED,
                f"rate limited until {until} ({math.ceil(wait)} s), which is past the task's "
                f"time limit: not waiting",
                status=int(exception.status_code),
                wait_s=round(wait, 1),
            )
        text = f"rate limited: waiting {math.ceil(wait)} s until {until}"
        self.ctx.log(f"[github] {text} ({method} {url} answered {int(exception.status_code)})")
        self.ctx.progress(-1, text)
        await self.sleep(wait)
        self.waited_s += wait
        return True


def _deadline(ctx: RunContext) -> float | None:
    task = ctx.task
    if task.timeout_s is None:
        return None
    return (task.started_at or time.time()) + task.timeout_s


@asynccontextmanager
async def github_api(
    ctx: RunContext, *, api_url: str | None, credential: str | None
) -> AsyncIterator[RestClient]:
    """A client of the task's GitHub API (its `api_url`, else the settings'), with its token."""
    settings = ctx.family_settings(GitHubSettings)
    token = await github_token(ctx, credential)
    timeout = aiohttp.ClientTimeout(total=settings.github_timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield RestClient(
            session,
            ctx,
            token=token,
            base_url=api_url or settings.github_api_url,
            deadline=_deadline(ctx),
        )


def rest_error(exc: BaseException, *, asked: str, not_found: str, api_url: str) -> QueueError:
    """The coded error of a failed request (one of REST_FAILURES). `asked` says what was asked
    ("create repository octo/app"); `not_found` is what a 404 means for it (a missing
    repository, owner...)."""
    if isinstance(exc, QueueError):
        return exc
    if isinstance(exc, gidgethub.HTTPException):
        status = int(exc.status_code)
        said = str(exc) or exc.status_code.phrase
        if status == 401:
            return QueueError(
                _C.GITHUB_AUTHENTICATION_FAILED,
                f"cannot {asked}: GitHub refused the token ({status} {said})",
                status=status,
            )
        if status == 403:
            return QueueError(
                _C.GITHUB_AUTHENTICATION_FAILED,
                f"cannot {asked}: the token is not allowed to ({status} {said}); it lacks a "
                "scope or access",
                status=status,
            )
        if status == 404:
            code = _C.GITHUB_REPO_NOT_FOUND if not_found == "repository" else _C.GITHUB_API_ERROR
            return QueueError(
                code, f"cannot {asked}: no such {not_found} (404 {said})", status=status
            )
        if status == 422 and "already exists" in said:
            return QueueError(_C.GITHUB_REPO_ALREADY_EXISTS, f"cannot {asked}: {said}", status=422)
        return QueueError(_C.GITHUB_API_ERROR, f"cannot {asked}: {status} {said}", status=status)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return QueueError(
            _C.NETWORK_DNS_ERROR, f"cannot {asked}: unknown host ({api_url})", url=api_url
        )
    if isinstance(exc, aiohttp.ClientSSLError):
        return QueueError(
            _C.NETWORK_SSL_ERROR, f"cannot {asked}: TLS failed with {api_url}", url=api_url
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return QueueError(
            _C.NETWORK_CONNECTION_FAILED,
            f"cannot {asked}: no GitHub API answers at {api_url} ({exc.strerror or exc})",
            url=api_url,
        )
    if isinstance(exc, TimeoutError):
        return QueueError(
            _C.NETWORK_TIMEOUT, f"cannot {asked}: {api_url} did not answer in time", url=api_url
        )
    return QueueError(
        _C.GITHUB_API_ERROR, f"cannot {asked}: {type(exc).__name__}: {exc}", url=api_url
    )


def repo_summary(repo: Mapping[str, Any]) -> dict[str, Any]:
    """What a task's result keeps of a repository object of the REST API."""
    return {
        key: repo.get(key)
        for key in ("full_name", "private", "default_branch", "html_url", "clone_url", "updated_at")
    }
