"""The admin page's routes over real HTTP: the page and its assets load without a key, only
the shipped files are served, the page carries the engine's action rules, and the error-code
lookup the page's details use needs the key like every API route."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from importlib import resources

import aiohttp
import pytest
from helpers.keyring_service import SecretServiceSession

from api.http_auth_env import bearer
from qtqueue.api.http import admin
from qtqueue.api.http.app import build_app, is_public
from qtqueue.api.http.server import HttpServer
from qtqueue.core.actions import ACTION_STATUSES, TaskAction
from qtqueue.core.errors import error_info
from qtqueue.core.task import ACTIVE, TERMINAL, TaskStatus
from qtqueue.engine.queue import TaskQueue


@pytest.fixture
async def http(
    queue: TaskQueue, secret_service: SecretServiceSession
) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """The HTTP server as it runs (the API key in a real keyring), and a client without it."""
    async with HttpServer(queue, "127.0.0.1", 0) as server, aiohttp.ClientSession() as session:
        yield server.url, session


def test_the_page_and_its_assets_ship_inside_the_package() -> None:
    static = resources.files("qtqueue.api.http") / "static"
    html = (static / "admin.html").read_text(encoding="utf-8")
    assert '<script type="module" src="/admin/static/admin.js">' in html
    assert '<link rel="stylesheet" href="/admin/static/admin.css">' in html
    for name in admin.ASSETS:
        assert (static / name).read_bytes(), name
    # every module a script imports is one the server serves
    for name in admin.ASSETS:
        for imported in re.findall(r'from "\./([^"]+)"', (static / name).read_text("utf-8")):
            assert imported in admin.ASSETS, (name, imported)
    # nothing from elsewhere: every URL the files name is this server's own
    for name in ("admin.html", *admin.ASSETS):
        text = (static / name).read_text(encoding="utf-8")
        assert not re.search(r"https?://|//cdn|@import", text), name


async def test_the_page_loads_without_a_key_and_allows_nothing_foreign(
    http: tuple[str, aiohttp.ClientSession],
) -> None:
    url, session = http
    async with session.get(f"{url}/admin/tasks") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        csp = resp.headers["Content-Security-Policy"]
        page = await resp.text()
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "connect-src 'self'" in csp and "form-action 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "no-store"
    assert '<input id="key-input" type="password"' in page
    # the key field has no name: even a form submitted without the script sends no key
    assert not re.search(r"<input[^>]*\bname=", page)

    async with session.get(f"{url}/admin", allow_redirects=False) as resp:
        assert resp.status == 302
        assert resp.headers["Location"] == "/admin/tasks"


async def test_the_page_carries_the_engines_action_rules(
    http: tuple[str, aiohttp.ClientSession],
) -> None:
    url, session = http
    async with session.get(f"{url}/admin/tasks") as resp:
        page = await resp.text()
    found = re.search(r'<script type="application/json" id="qtqueue-rules">(.*?)</script>', page)
    assert found is not None
    rules = json.loads(found.group(1))
    for verb in ("cancel", "pause", "resume", "retry", "approve", "reject"):
        expected = ACTION_STATUSES[TaskAction(verb)]
        assert {TaskStatus(s) for s in rules["actions"][verb]} == expected, verb
    assert set(rules["groups"]["active"]) == {s.value for s in ACTIVE}
    assert set(rules["groups"]["terminal"]) == {s.value for s in TERMINAL}
    assert rules["statuses"] == [s.value for s in TaskStatus]


@pytest.mark.parametrize("name", sorted(admin.ASSETS))
async def test_assets_have_their_type_and_revalidate(
    http: tuple[str, aiohttp.ClientSession], name: str
) -> None:
    content_type = {"js": "text/javascript", "css": "text/css"}[name.rsplit(".", 1)[1]]
    url, session = http
    async with session.get(f"{url}/admin/static/{name}") as resp:
        assert resp.status == 200
        assert resp.content_type == content_type
        assert resp.headers["Cache-Control"] == "no-cache"
        etag = resp.headers["ETag"]
        body = await resp.read()
    assert body == (resources.files("qtqueue.api.http") / "static" / name).read_bytes()
    async with session.get(f"{url}/admin/static/{name}", headers={"If-None-Match": etag}) as resp:
        assert resp.status == 304
        assert await resp.read() == b""


@pytest.mark.parametrize(
    "path",
    [
        "/admin/static/admin.html",
        "/admin/static/..%2Fadmin.py",
        "/admin/static/%2e%2e%2f%2e%2e%2fserver.py",
        "/admin/static/..%5cadmin.py",
        "/admin/static/__init__.py",
        "/admin/static/ADMIN.JS",
    ],
)
async def test_no_other_file_is_served(http: tuple[str, aiohttp.ClientSession], path: str) -> None:
    url, session = http
    async with session.get(f"{url}{path}") as resp:
        assert resp.status == 404
        body = await resp.json()
    assert body["ok"] is False
    assert body["error"]["code"] == "DATA_FILE_NOT_FOUND"
    assert body["error"]["suggestion"]


async def test_an_error_code_is_explained_with_its_fix_to_the_key_holder(
    http: tuple[str, aiohttp.ClientSession], queue: TaskQueue
) -> None:
    url, session = http
    async with session.get(f"{url}/admin/api/errors/SYSTEM_COMMAND_FAILED") as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "API_KEY_REQUIRED"
    session.headers.update(bearer(queue.data_dir))
    async with session.get(f"{url}/admin/api/errors/system_command_failed") as resp:
        assert resp.status == 200
        entry = (await resp.json())["error"]
    info = error_info("SYSTEM_COMMAND_FAILED")
    assert entry == {
        "code": "SYSTEM_COMMAND_FAILED",
        "known": True,
        "description": info.description,
        "suggestion": info.suggestion,
        "retryable": info.retryable,
    }
    async with session.get(f"{url}/admin/api/errors/NO_SUCH_CODE_HERE") as resp:
        assert (await resp.json())["error"]["known"] is False
    async with session.get(f"{url}/admin/api/errors/bad-code!") as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "VALIDATION_INVALID_FORMAT"


async def test_only_the_page_and_its_assets_are_public(queue: TaskQueue) -> None:
    app = build_app(queue)
    handlers = {
        route.resource.canonical: route.handler
        for route in app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/admin")
    }
    assert is_public(handlers["/admin/tasks"])
    assert is_public(handlers["/admin/static/{name}"])
    assert is_public(handlers["/admin"])
    assert not is_public(handlers["/admin/api/errors/{code}"])
