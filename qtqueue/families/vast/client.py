"""Vast.ai's REST API over aiohttp, as the official `vastai` CLI speaks it, and every failure
turned into its error code.

The paths and bodies are the CLI's (vastai 1.9): `POST /api/v0/bundles/` searches offers,
`PUT /api/v0/asks/{offer}/` rents one, `GET /api/v0/instances/{id}/?owner=me` shows an instance
(`{"instances": null}` once it is gone), `GET /api/v1/instances/` lists them a page at a time,
`DELETE /api/v0/instances/{id}/` destroys one. The key goes in `Authorization: Bearer`, never in
a URL; every request has a time limit (`vast_request_timeout_s`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote_plus

import aiohttp

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.executors.base import RunContext
from qtqueue.families.vast.settings import VastSettings

logger = logging.getLogger(__name__)

__all__ = ["VastApi", "api_error", "vast_api"]

_C = TaskErrorCode
#: Words of an error answer that say the account ran out of credit or hit a limit.
_QUOTA = re.compile(r"credit|balance|quota|limit exceeded|too many|insufficient", re.IGNORECASE)
#: Longest piece of a server's answer quoted in a message.
_QUOTE_CHARS = 300


def _server_message(status: int, text: str) -> tuple[str, str]:
    """(error slug, message) of an answer: Vast's `{"success": false, "error": ..., "msg": ...}`
    or any other body, cut short."""
    try:
        body = json.loads(text)
    except ValueError:
        return "", " ".join(text.split())[:_QUOTE_CHARS] or f"HTTP {status}"
    if not isinstance(body, Mapping):
        return "", str(body)[:_QUOTE_CHARS]
    slug = str(body.get("error") or "")
    message = body.get("msg") or body.get("detail") or body.get("message") or slug
    return slug, str(message or f"HTTP {status}")[:_QUOTE_CHARS]


def api_error(
    status: int,
    text: str,
    what: str,
    *,
    not_found: QueueError | None = None,
    **details: Any,
) -> QueueError:
    """The QueueError for an answer that is not a success: 401/403 VAST_AUTHENTICATION_FAILED,
    429 or an answer about credit or quota VAST_QUOTA_EXCEEDED, 404 `not_found` when the caller
    gives one, anything else VAST_API_ERROR quoting the server's message."""
    slug, message = _server_message(status, text)
    said = f"HTTP {status}: {message}"
    details = {"http_status": status, "server_error": slug, **details}
    if status in (401, 403):
        return QueueError(
            _C.VAST_AUTHENTICATION_FAILED,
            f"Vast.ai refused the API key while {what} ({said}); set a valid key in qtqueue's "
            "Credentials",
            **details,
        )
    if status == 429 or _QUOTA.search(f"{slug} {message}"):
        return QueueError(
            _C.VAST_QUOTA_EXCEEDED,
            f"Vast.ai refused {what}: the account's credit or rate limit is exhausted ({said})",
            **details,
        )
    if status == 404 and not_found is not None:
        not_found.details.update(details)
        return not_found
    return QueueError(_C.VAST_API_ERROR, f"Vast.ai API error while {what} ({said})", **details)


class VastApi:
    """One task's way to the API: its base URL, its key, its time limit per request."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")

    def url(self, path: str, query: Mapping[str, Any] | None = None) -> str:
        """The CLI's URL for `path` ("/instances/" → /api/v0/instances/): query values that are
        not strings are sent as JSON, as the CLI sends them."""
        if not re.match(r"^/api/v\d+/", path):
            path = "/api/v0" + path
        url = self.base_url + path
        if query:
            url += "?" + "&".join(
                f"{k}={quote_plus(v if isinstance(v, str) else json.dumps(v))}"
                for k, v in query.items()
            )
        return url

    async def call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        not_found: QueueError | None = None,
        **details: Any,
    ) -> Any:
        """The JSON answer of one request; a failure raises its QueueError (see `api_error`),
        a server that cannot be reached NETWORK_CONNECTION_FAILED, one that does not answer in
        time NETWORK_TIMEOUT. A 2xx answer `{"success": false}` is a failure too."""
        url = self.url(path, query)
        try:
            async with self.session.request(method, url, json=body) as response:
                text = await response.text()
                status = response.status
        except TimeoutError:
            raise QueueError(
                _C.NETWORK_TIMEOUT,
                f"the Vast.ai API at {self.base_url} did not answer in time while {what}; check "
                "the network, or raise vast_request_timeout_s",
                url=self.base_url,
            ) from None
        except aiohttp.ClientError as exc:
            raise QueueError(
                _C.NETWORK_CONNECTION_FAILED,
                f"cannot reach the Vast.ai API at {self.base_url} while {what} "
                f"({type(exc).__name__}: {exc}); check the vast_api_url setting and the network",
                url=self.base_url,
            ) from None
        if status >= 300:
            raise api_error(status, text, what, not_found=not_found, **details)
        try:
            answer = json.loads(text) if text.strip() else {}
        except ValueError:
            raise QueueError(
                _C.VAST_API_ERROR,
                f"Vast.ai answered {what} with something that is not JSON: {text[:120]!r}",
                http_status=status,
            ) from None
        if isinstance(answer, Mapping) and answer.get("success") is False:
            raise api_error(status, text, what, not_found=not_found, **details)
        return answer

    async def offers(self, query: Mapping[str, Any], what: str) -> list[dict[str, Any]]:
        """Offers matching a query in the search's own language (`POST /bundles/`)."""
        answer = await self.call("POST", "/bundles/", what, body=dict(query))
        offers = answer.get("offers") if isinstance(answer, Mapping) else None
        if not isinstance(offers, list):
            raise QueueError(_C.VAST_API_ERROR, f"Vast.ai answered {what} without offers")
        return [o for o in offers if isinstance(o, dict)]

    async def instance(self, instance_id: int, what: str) -> dict[str, Any] | None:
        """One of the account's instances, or None once it does not exist (404, or the API's
        `{"instances": null}`)."""
        try:
            answer = await self.call(
                "GET",
                f"/instances/{instance_id}/",
                what,
                query={"owner": "me"},
                not_found=QueueError(_C.VAST_INSTANCE_NOT_FOUND),
            )
        except QueueError as exc:
            if exc.code is _C.VAST_INSTANCE_NOT_FOUND:
                return None
            raise
        row = answer.get("instances") if isinstance(answer, Mapping) else None
        return row if isinstance(row, dict) else None

    async def instances(self, what: str) -> list[dict[str, Any]]:
        """Every instance of the account (`GET /api/v1/instances/`, page after page)."""
        query: dict[str, Any] = {
            "select_filters": {},
            "order_by": [{"col": "id", "dir": "asc"}],
            "limit": 25,
        }
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        while True:
            answer = await self.call("GET", "/api/v1/instances/", what, query=query)
            page = answer.get("instances") if isinstance(answer, Mapping) else None
            rows.extend(r for r in page or [] if isinstance(r, dict))
            token = answer.get("next_token") if isinstance(answer, Mapping) else None
            if not token:
                return rows
            if str(token) in seen:  # a server handing back a page it gave: no end in sight
                raise QueueError(
                    TaskErrorCode.VAST_API_ERROR,
                    f"{what}: the server sent the same page twice (next_token {token!r})",
                )
            seen.add(str(token))
            query["after_token"] = token


@asynccontextmanager
async def vast_api(ctx: RunContext, keyring_name: str | None) -> AsyncIterator[VastApi]:
    """A `VastApi` with the key from the keyring entry `keyring_name` (else the settings'
    `vast_keyring_name`), the settings' URL and request time limit."""
    settings = ctx.family_settings(VastSettings)
    key = await ctx.credential(keyring_name or settings.vast_keyring_name)
    timeout = aiohttp.ClientTimeout(
        total=settings.vast_request_timeout_s, connect=min(settings.vast_request_timeout_s, 10.0)
    )
    headers = {"Authorization": f"Bearer {key}", "User-Agent": "qtqueue-vast"}
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
        yield VastApi(session, settings.vast_api_url)


async def wait_interval(ctx: RunContext, seconds: float) -> None:
    """Between two looks at an instance: a pause of the task holds here."""
    await asyncio.sleep(seconds)  # the poll interval of a remote state, not a synchronisation
    await ctx.checkpoint()
