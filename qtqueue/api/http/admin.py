"""The admin page: `/admin/tasks` and its assets, shipped inside the package.

The page (`static/admin.html`, its script modules `admin.js` `rows.js` `details.js` `sse.js`
`util.js`, and `admin.css`) needs no API key to load: it asks the person for the key, keeps
it in the tab's `sessionStorage` and sends it with every `fetch()` as `Authorization: Bearer
KEY` — the REST routes (`/tasks/...`, `/events`) do the rest. Nothing is fetched from
anywhere but this server: the Content-Security-Policy of the page says so to the browser.

The page is told what it serves (`HttpEngine.page_info`, JSON inside the HTML): on a cluster
(`qtqueue run --redis URL --http ADDR`) it names the cluster's server, leaves out what a
cluster does not do (approval, pausing the whole queue), shows a Workers table (`GET
/workers`: name, host, state, current task, jobs done and failed), and without a live event
stream reads the cluster again every few seconds, saying so (`static/cluster.js`).

Which buttons a task shows is `core/actions.py`'s rule: the page gets it (and the status
groups of `core/task.py`) as JSON inside the HTML, so the rule still lives in one place.
`GET /admin/api/errors/{code}` (key required) gives an error code's description and fix.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from aiohttp import web

from qtqueue.api.http.app import ENGINE, public
from qtqueue.api.messages import ErrorMessage, ErrorReply
from qtqueue.core.actions import ACTION_STATUSES, TaskAction
from qtqueue.core.error_catalog import CODE_SYNTAX
from qtqueue.core.errors import CATALOG, QueueError, TaskErrorCode, error_info
from qtqueue.core.task import ACTIVE, INTERMEDIATE, TERMINAL, UNFINISHED, TaskStatus

logger = logging.getLogger(__name__)

__all__ = ["ASSETS", "PAGE_PATH", "add_routes", "page_rules"]

#: Where the page is served.
PAGE_PATH = "/admin/tasks"

#: The files under `/admin/static/` and their content types: nothing else is served there.
ASSETS: dict[str, str] = {
    "admin.js": "text/javascript",
    "cluster.js": "text/javascript",
    "details.js": "text/javascript",
    "rows.js": "text/javascript",
    "sse.js": "text/javascript",
    "util.js": "text/javascript",
    "admin.css": "text/css",
}
_PAGE_FILE = "admin.html"
_RULES_MARK = "{{RULES_JSON}}"
_ENGINE_MARK = "{{ENGINE_JSON}}"

#: The actions the page offers on one task.
_PAGE_ACTIONS = (
    TaskAction.CANCEL,
    TaskAction.PAUSE,
    TaskAction.RESUME,
    TaskAction.RETRY,
    TaskAction.APPROVE,
    TaskAction.REJECT,
)

#: The page may load its own script and style and talk to this server; nothing else.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
#: Assets change with the installed package: the browser keeps them but asks (ETag) each time.
_ASSET_CACHE = "no-cache"
#: The page carries the rules of this engine's version: never stored.
_PAGE_CACHE = "no-store"


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    content_type: str
    etag: str


def _read_static(name: str) -> bytes:
    return (resources.files("qtqueue.api.http") / "static" / name).read_bytes()


@cache
def _asset(name: str) -> _Asset:
    body = _read_static(name)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return _Asset(body, ASSETS[name], etag)


def page_rules() -> dict[str, Any]:
    """What the page needs of the core's rules: the statuses, their groups (`active`,
    `terminal`...), and for each action the statuses it applies to (`core.actions`).
    APPROVE and REJECT also need a HUMAN_REQUIRED task not yet approved: the page checks
    `permission` and `approved_at` as `core.actions.awaits_approval` does."""

    def names(statuses: frozenset[TaskStatus]) -> list[str]:
        return [s.value for s in TaskStatus if s in statuses]

    return {
        "statuses": [s.value for s in TaskStatus],
        "groups": {
            "active": names(ACTIVE),
            "intermediate": names(INTERMEDIATE),
            "terminal": names(TERMINAL),
            "unfinished": names(UNFINISHED),
        },
        "actions": {a.value: names(ACTION_STATUSES[a]) for a in _PAGE_ACTIONS},
    }


def _script_json(value: Any) -> str:
    # `<` escaped so the JSON can never close its <script> element
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")


@cache
def _template() -> str:
    template = _read_static(_PAGE_FILE).decode("utf-8")
    return template.replace(_RULES_MARK, _script_json(page_rules()))


def _page(engine: dict[str, Any]) -> bytes:
    """The page, told what it serves (`HttpEngine.page_info`: a local engine or a cluster)."""
    return _template().replace(_ENGINE_MARK, _script_json(engine)).encode("utf-8")


def _error(exc: QueueError, status: int) -> web.Response:
    body = ErrorReply(ok=False, error=ErrorMessage.of(exc)).dump()
    return web.json_response(body, status=status)


@public
async def admin_redirect(request: web.Request) -> web.StreamResponse:
    """The admin page's short address: a redirect to /admin/tasks (no key needed)."""
    raise web.HTTPFound(PAGE_PATH)


@public
async def admin_page(request: web.Request) -> web.StreamResponse:
    """The admin page (HTML; no key needed: the page asks for it and sends it with fetch())."""
    return web.Response(
        body=_page(request.app[ENGINE].page_info()),
        content_type="text/html",
        charset="utf-8",
        headers={
            **_SECURITY_HEADERS,
            "Content-Security-Policy": _CSP,
            "Cache-Control": _PAGE_CACHE,
        },
    )


@public
async def admin_asset(request: web.Request) -> web.StreamResponse:
    """One of the admin page's scripts or its style sheet (no key needed).

    Only the shipped files are served: any other name is 404 DATA_FILE_NOT_FOUND."""
    name = request.match_info["name"]
    if name not in ASSETS:  # a fixed list: no path, no traversal, no other file
        exc = QueueError(
            TaskErrorCode.DATA_FILE_NOT_FOUND,
            f"the admin page has no file named {name[:80]!r}",
            name=name[:80],
        )
        return _error(exc, 404)
    asset = _asset(name)
    headers = {**_SECURITY_HEADERS, "Cache-Control": _ASSET_CACHE, "ETag": asset.etag}
    if asset.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(
        body=asset.body, content_type=asset.content_type, charset="utf-8", headers=headers
    )


async def error_code(request: web.Request) -> web.StreamResponse:
    """An error code's description and suggested fix, as the admin page's details show them.

    The catalog entry: `{"error": {code, known, description, suggestion,
    retryable}}` (an unregistered code gets UNKNOWN_ERROR's texts and `known: false`)."""
    code = request.match_info["code"].upper()
    if len(code) > 100 or not CODE_SYNTAX.fullmatch(code):
        exc = QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            "an error code is upper-case letters, digits and '_', starting with a letter",
            given=code[:100],
        )
        return _error(exc, 400)
    info = error_info(code)
    return web.json_response(
        {
            "error": {
                "code": code,
                "known": code in CATALOG,
                "description": info.description,
                "suggestion": info.suggestion,
                "retryable": info.retryable,
            }
        }
    )


def add_routes(app: web.Application) -> None:
    """Add this part's routes to `app`: the page (and `/admin` leading to it), its assets,
    and the error-code lookup the page's task details use."""
    app.router.add_get("/admin", admin_redirect)
    app.router.add_get(PAGE_PATH, admin_page)
    app.router.add_get("/admin/static/{name}", admin_asset)
    app.router.add_get("/admin/api/errors/{code}", error_code)
