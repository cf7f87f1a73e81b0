"""The HTTP API's key, in process: a real engine, real HTTP on 127.0.0.1 (and HTTPS), the real
Secret Service keyring. Without the key, with a wrong or an expired one: 401 and nothing else;
with it: the route answers, as the key's name. Rotation takes effect at once; state-changing
requests leave an audit line without the key."""

from __future__ import annotations

import json
import logging
import ssl
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import keyring
import pytest
from aiohttp import web
from keyring.backends import fail, null

from api.http_auth_env import files_holding, self_signed
from qtqueue.api.actions import run_action
from qtqueue.api.http import auth
from qtqueue.api.http.app import AUDITED_TASK, CALLER, QUEUE, build_app, public
from qtqueue.api.http.auth import auth_middleware
from qtqueue.api.http.server import HttpServer, parse_address
from qtqueue.api.keys import SERVICE, ApiKey, ApiKeys, LiveKey, live_key
from qtqueue.api.server import ApiServer
from qtqueue.core.errors import QueueError
from qtqueue.engine.queue import TaskQueue

pytestmark = pytest.mark.usefixtures("secret_service")

SLEEPER = {"task_type": "custom_command", "name": "secret-plans", "run_at": 4102444800.0,
           "params": {"command": "true"}}  # fmt: skip


# --------------------------------------------------------------------------- a probe app


@public
async def _open_door(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def _list(request: web.Request) -> web.Response:
    reply = await run_action(request.app[QUEUE], {"action": "list_tasks", "params": {}})
    return web.json_response({"tasks": reply["result"]["tasks"], "caller": request[CALLER]})


async def _add(request: web.Request) -> web.Response:
    queue = request.app[QUEUE]
    reply = await run_action(queue, {"action": "add_task", "params": await request.json()})
    task = await queue.get_task(reply["result"]["id"])
    request[AUDITED_TASK] = task.id  # what the audit line names
    return web.json_response({"task": task.to_dict(), "caller": request[CALLER]}, status=201)


async def _cancel(request: web.Request) -> web.Response:
    params = {"task_id": request.match_info["task_id"], "action": "cancel"}
    reply = await run_action(request.app[QUEUE], {"action": "queue_manage", "params": params})
    return web.json_response(reply["result"])


class Client:
    """Requests to one base URL, with or without a key."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url

    async def call(
        self, method: str, path: str, key: str | None = None, body: Any = None, **kw: Any
    ) -> tuple[int, dict[str, str], Any]:
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        headers.update(kw.pop("headers", {}))
        async with self.session.request(
            method, self.url + path, json=body, headers=headers, **kw
        ) as resp:
            text = await resp.text()
            data = json.loads(text) if resp.content_type == "application/json" else text
            return resp.status, dict(resp.headers), data


@pytest.fixture
async def keys(data_dir: Path) -> ApiKeys:
    return ApiKeys(data_dir)


@pytest.fixture
async def probe(queue: TaskQueue, keys: ApiKeys) -> AsyncIterator[Client]:
    """The app with the auth middleware and a few probe routes, on 127.0.0.1."""
    app = build_app(queue, middlewares=[auth_middleware(live_key(keys))])
    app.router.add_get("/probe/open", _open_door)
    app.router.add_get("/probe/tasks/", _list)
    app.router.add_post("/probe/tasks/", _add)
    app.router.add_delete("/probe/tasks/{task_id}", _cancel)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession() as session:
            yield Client(session, f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()


def _refusal(status: int, headers: dict[str, str], body: Any) -> dict[str, Any]:
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert set(body) == {"ok", "error"} and body["ok"] is False
    assert body["error"]["code"] == "API_KEY_REQUIRED"
    assert "qtqueue token show" in body["error"]["suggestion"]
    return body  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- the door


async def test_without_the_key_or_with_a_wrong_one_nothing_but_a_coded_401(
    probe: Client, queue: TaskQueue, keys: ApiKeys
) -> None:
    task_id = (await run_action(queue, {"action": "add_task", "params": SLEEPER}))["result"]["id"]
    right = (await probe.call("GET", "/probe/tasks/", keys.current().secret))[2]
    assert [t["id"] for t in right["tasks"]] == [task_id]  # the data is there to be leaked

    missing = _refusal(*await probe.call("GET", "/probe/tasks/"))
    wrong = _refusal(*await probe.call("GET", "/probe/tasks/", "qtq_" + "x" * 43))
    not_bearer = await probe.call(
        "GET", "/probe/tasks/", headers={"Authorization": keys.current().secret}
    )
    assert missing == wrong == _refusal(*not_bearer)  # the same body, whatever was wrong
    for body in (missing, wrong):
        assert task_id not in json.dumps(body) and "secret-plans" not in json.dumps(body)
    # an unknown route says no more than a known one: 401, not 404
    assert _refusal(*await probe.call("GET", "/no/such/route")) == missing
    # a refused request changes nothing
    _refusal(*await probe.call("DELETE", f"/probe/tasks/{task_id}"))
    assert (await queue.get_task(task_id)).status == "pending"


async def test_with_the_key_the_route_answers_as_the_keys_name(
    probe: Client, keys: ApiKeys
) -> None:
    key = keys.rotate(name="ci-bot")
    status, _, body = await probe.call("POST", "/probe/tasks/", key.secret, body=SLEEPER)
    assert status == 201 and body["caller"] == "ci-bot"
    status, _, body = await probe.call("GET", "/probe/tasks/", f"  {key.secret} ".strip())
    assert status == 200 and body["caller"] == "ci-bot"
    assert (await probe.call("GET", "/probe/tasks/", headers={
        "Authorization": f"bearer {key.secret}"}))[0] == 200  # fmt: skip


async def test_requests_are_checked_without_reading_the_keyring(
    probe: Client, keys: ApiKeys
) -> None:
    key = keys.current()
    keyring.set_keyring(fail.Keyring())  # the keyring goes away while the server runs
    for _ in range(3):
        assert (await probe.call("GET", "/probe/tasks/", key.secret))[0] == 200
    _refusal(*await probe.call("GET", "/probe/tasks/", "qtq_" + "y" * 43))


async def test_a_public_route_needs_no_key(probe: Client) -> None:
    status, _, body = await probe.call("GET", "/probe/open")
    assert (status, body) == (200, {"ok": True})


async def test_an_expired_key_is_refused_and_says_so(queue: TaskQueue, keys: ApiKeys) -> None:
    # the key the keyring holds ran out an hour ago
    made = time.time() - 7200
    expired = ApiKey("qtq_" + "e" * 43, "old-timer", made, expires_at=made + 3600)
    keyring.set_password(SERVICE, keys.username, expired.to_json())
    async with HttpServer(queue, "127.0.0.1", 0) as server, aiohttp.ClientSession() as s:
        body = _refusal(*await Client(s, server.url).call("GET", "/tasks/", expired.secret))
    assert "expired" in body["error"]["message"]
    assert "qtqueue token rotate" in body["error"]["message"]


async def test_rotating_refuses_the_old_key_at_once(probe: Client, keys: ApiKeys) -> None:
    old = keys.current()
    assert (await probe.call("GET", "/probe/tasks/", old.secret))[0] == 200
    new = keys.rotate()
    assert new.secret != old.secret and new.name == old.name
    _refusal(*await probe.call("GET", "/probe/tasks/", old.secret))
    assert (await probe.call("GET", "/probe/tasks/", new.secret))[0] == 200


async def test_rotating_through_the_engines_action_refuses_the_old_key_at_once(
    probe: Client, queue: TaskQueue, keys: ApiKeys
) -> None:
    old = keys.current()
    reply = await run_action(
        queue, {"action": "rotate_api_key", "params": {"name": "ops", "expires_at": 4e9}}
    )
    new = reply["result"]
    assert new["key"].startswith("qtq_") and new["key"] != old.secret
    assert (new["name"], new["expires_at"]) == ("ops", 4e9)
    _refusal(*await probe.call("GET", "/probe/tasks/", old.secret))
    status, _, body = await probe.call("GET", "/probe/tasks/", new["key"])
    assert (status, body["caller"]) == (200, "ops")
    # and the keyring holds it: a server started later reads the same
    assert ApiKeys(keys.data_dir).load() == ApiKey(new["key"], "ops", new["created_at"], 4e9)


async def test_a_bad_rotation_is_a_coded_error_and_keeps_the_key(
    queue: TaskQueue, keys: ApiKeys
) -> None:
    old = keys.current()
    bad = ({"name": " padded "}, {"name": "schedule:1234"}, {"expires_at": time.time() - 10},
           {"nme": "x"})  # fmt: skip
    for params in bad:
        reply = await run_action(queue, {"action": "rotate_api_key", "params": params})
        assert reply["ok"] is False
        assert reply["error"]["code"].startswith("VALIDATION_"), reply
    assert keys.current() == old


# --------------------------------------------------------------------------- the audit trail


async def test_state_changing_requests_leave_an_audit_line_without_the_key(
    probe: Client, queue: TaskQueue, keys: ApiKeys, caplog: pytest.LogCaptureFixture
) -> None:
    key = keys.rotate(name="auditor")
    caplog.set_level(logging.DEBUG)
    _, _, added = await probe.call("POST", "/probe/tasks/", key.secret, body=SLEEPER)
    task_id = added["task"]["id"]
    await probe.call("DELETE", f"/probe/tasks/{task_id}", key.secret)
    await probe.call("DELETE", f"/probe/tasks/{task_id}", "qtq_wrong")
    await probe.call("GET", "/probe/tasks/", key.secret)  # a read: no audit line
    audit = [r.getMessage() for r in caplog.records if r.name == "qtqueue.audit"]
    assert audit == [
        f"auditor POST /probe/tasks/ task_id={task_id} -> 201",
        f"auditor DELETE /probe/tasks/{{task_id}} task_id={task_id} -> 200",
        f"- DELETE /probe/tasks/{{task_id}} task_id={task_id} -> 401",
    ]
    assert key.secret not in caplog.text
    assert files_holding(queue.data_dir, key.secret) == []


async def test_the_audit_trail_is_kept_in_the_data_directory_whatever_the_log_level(
    queue: TaskQueue, keys: ApiKeys, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    caplog.set_level(logging.WARNING)  # as the window logs: no INFO line reaches a handler
    monkeypatch.setattr(auth, "AUDIT_MAX_BYTES", 400)  # a few lines a file: rotation shows
    key = keys.rotate(name="auditor")
    async with HttpServer(queue, "127.0.0.1", 0) as server, aiohttp.ClientSession() as s:
        client = Client(s, server.url)
        added = [
            (await client.call("POST", "/tasks/", key.secret, body=SLEEPER))[2]["task"]["id"]
            for _ in range(6)
        ]
        await client.call("DELETE", f"/tasks/{added[0]}", key.secret)
        await client.call("POST", "/tasks/", "qtq_wrong", body=SLEEPER)
    trail = queue.data_dir / auth.AUDIT_FILE
    files = [trail.with_name(f"{auth.AUDIT_FILE}.{n}") for n in range(auth.AUDIT_BACKUPS, 0, -1)]
    files.append(trail)
    lines = [line for f in files if f.exists() for line in f.read_text().splitlines()]
    said = [line.split(" ", 2)[2] for line in lines]  # after the date and the time
    assert said == [
        *(f"auditor POST /tasks/ task_id={task_id} -> 201" for task_id in added),
        f"auditor DELETE /tasks/{{task_id}} task_id={added[0]} -> 200",
        "- POST /tasks/ -> 401",
    ]
    assert trail.with_name(f"{auth.AUDIT_FILE}.1").exists()  # rotated
    for f in files:
        if f.exists():
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert not [r for r in caplog.records if r.name == "qtqueue.audit"]  # not in the log
    assert files_holding(queue.data_dir, key.secret) == []


# --------------------------------------------------------------------------- HttpServer


async def test_the_server_demands_the_key_on_every_route_not_public(
    queue: TaskQueue, keys: ApiKeys
) -> None:
    task_id = (await run_action(queue, {"action": "add_task", "params": SLEEPER}))["result"]["id"]
    async with HttpServer(queue, "127.0.0.1", 0) as server, aiohttp.ClientSession() as s:
        client = Client(s, server.url)
        assert (await client.call("GET", "/health"))[0] == 200  # public: no key needed
        refusals = [
            _refusal(*await client.call(method, path, body=body))
            for method, path, body in [
                ("GET", "/tasks/", None),
                ("GET", f"/tasks/{task_id}", None),
                ("POST", "/tasks/", SLEEPER),
                ("DELETE", f"/tasks/{task_id}", None),
                ("GET", "/tasks/stats/queue", None),
                ("GET", "/no/such/route", None),
            ]
        ]
        assert all(r == refusals[0] for r in refusals)
        assert (await queue.get_task(task_id)).status == "pending"
        assert len(await queue.list_tasks()) == 1
        status, _, body = await client.call("GET", f"/tasks/{task_id}", keys.current().secret)
        assert status == 200 and body["task"]["name"] == "secret-plans"


async def test_the_url_is_announced_in_engine_json_while_served(queue: TaskQueue) -> None:
    announced = queue.data_dir / "engine.json"
    async with ApiServer(queue) as api, HttpServer(queue, "127.0.0.1", 0) as http:
        api.announce(http=http.url)
        info = json.loads(announced.read_text())
        assert info["http"] == http.url and info["unix"] == str(api.socket_path)
        assert announced.stat().st_mode & 0o777 == 0o600
        api.announce(http=None)  # the HTTP face stops before the engine does
        assert "http" not in json.loads(announced.read_text())
    assert not announced.exists()


async def test_https_with_a_certificate(queue: TaskQueue, keys: ApiKeys, tmp_path: Path) -> None:
    from qtqueue.api.http.server import tls_context

    made = self_signed(tmp_path / "tls")
    trust = ssl.create_default_context(cafile=str(made.cert))
    tls = tls_context(made.cert, made.key)
    async with HttpServer(queue, "127.0.0.1", 0, tls=tls) as server:
        assert server.url.startswith("https://127.0.0.1:")
        async with aiohttp.ClientSession() as s:
            client = Client(s, server.url)
            _refusal(*await client.call("GET", "/tasks/", ssl=trust))
            status, _, _ = await client.call("GET", "/tasks/", keys.current().secret, ssl=trust)
            assert status == 200
            plain = Client(s, server.url.replace("https://", "http://"))
            with pytest.raises(aiohttp.ClientError):
                await plain.call("GET", "/tasks/", keys.current().secret)


async def test_tls_files_that_are_no_certificate_are_a_coded_error(tmp_path: Path) -> None:
    from qtqueue.api.http.server import tls_context

    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(QueueError) as caught:
        tls_context(junk, junk)
    assert caught.value.code == "NETWORK_SSL_ERROR" and str(junk) in caught.value.message
    with pytest.raises(QueueError) as caught:
        tls_context(tmp_path / "missing.pem", junk)
    assert caught.value.code == "NETWORK_SSL_ERROR"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.org"])
async def test_binding_beyond_loopback_without_tls_is_refused(queue: TaskQueue, host: str) -> None:
    with pytest.raises(QueueError) as caught:
        await HttpServer(queue, host, 0).start()
    assert caught.value.code == "API_TLS_REQUIRED"
    assert "--tls-cert FILE --tls-key FILE" in caught.value.message


@pytest.mark.parametrize("text", ["8080", "127.0.0.1", ":80", "host:x", "::1:80", "h:70000"])
def test_a_bad_address_is_a_coded_error(text: str) -> None:
    with pytest.raises(QueueError) as caught:
        parse_address(text)
    assert caught.value.code == "VALIDATION_INVALID_FORMAT"


def test_addresses() -> None:
    assert parse_address("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_address("[::1]:8080") == ("::1", 8080)
    assert parse_address("localhost:1") == ("localhost", 1)


# --------------------------------------------------------------------------- the keyring


async def test_the_key_is_kept_in_the_keyring_per_data_directory(tmp_path: Path) -> None:
    first, second = ApiKeys(tmp_path / "a"), ApiKeys(tmp_path / "b")
    key = first.current()
    assert key.secret.startswith("qtq_") and len(key.secret) >= 40
    assert key.name == "admin" and key.expires_at is None
    assert ApiKeys(tmp_path / "a" / ".." / "a").current() == key  # same directory, same key
    assert second.current() != key
    stored = keyring.get_password(SERVICE, first.username)
    assert stored is not None and ApiKey.from_json(stored) == key
    assert key.secret not in repr(key)


@pytest.mark.parametrize("backend", [fail.Keyring, null.Keyring])
async def test_without_a_usable_keyring_a_coded_error_names_the_fix(
    queue: TaskQueue, tmp_path: Path, backend: type[Any]
) -> None:
    keyring.set_keyring(backend())  # the fixture puts the Secret Service back afterwards
    with pytest.raises(QueueError) as caught:
        ApiKeys(tmp_path / "q").current()
    assert caught.value.code == "API_KEYRING_UNAVAILABLE"
    assert "gnome-keyring" in caught.value.suggestion
    with pytest.raises(QueueError) as caught:
        await HttpServer(queue, "127.0.0.1", 0).start()
    assert caught.value.code == "API_KEYRING_UNAVAILABLE"


def test_a_live_key_checks_in_constant_form() -> None:
    key = ApiKey("qtq_" + "a" * 43, "n", 0.0, expires_at=100.0)
    live = LiveKey(key)
    assert live.check(f"Bearer {key.secret}", now=99.0) == key
    assert live.check(f"Bearer {key.secret}", now=100.0) is None
    assert live.check(None, now=0) is None and live.check("", now=0) is None
    assert live.check(f"Basic {key.secret}", now=0) is None
    assert live.check(f"Bearer {key.secret}x", now=0) is None
    assert live.check("Bearer \udcff", now=0) is None  # undecodable bytes: refused, no crash
