"""The local API server on its Unix socket (or TCP fallback), and the client that talks to it."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from qtqueue.api.client import ApiClient, LocalBackend, open_backend
from qtqueue.api.log_limit import DEFAULT_PER_MINUTE
from qtqueue.api.server import ENGINE_FILE, UNIX_PATH_MAX, ApiServer
from qtqueue.api.wire import MAX_BODY_BYTES
from qtqueue.core.errors import QueueError
from qtqueue.core.log_streams import split_streams
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry


@pytest.fixture
async def server(queue: TaskQueue) -> AsyncIterator[ApiServer]:
    async with ApiServer(queue) as srv:
        yield srv


@pytest.fixture
async def client(server: ApiServer) -> AsyncIterator[ApiClient]:
    async with ApiClient(server.data_dir) as c:
        yield c


def command(*argv: str) -> dict[str, Any]:
    return {"task_type": "custom_command", "params": {"command": argv[0], "args": list(argv[1:])}}


async def test_announces_its_socket_in_a_private_engine_file(
    server: ApiServer, data_dir: Path
) -> None:
    engine_file = data_dir / ENGINE_FILE
    info = json.loads(engine_file.read_text())
    assert info == {"pid": os.getpid(), "unix": str(data_dir / "api.sock")}
    assert stat.S_IMODE(engine_file.stat().st_mode) == 0o600
    assert stat.S_ISSOCK((data_dir / "api.sock").stat().st_mode)

    await server.stop()
    assert not engine_file.exists()
    assert not (data_dir / "api.sock").exists()


async def test_actions_run_through_the_socket(client: ApiClient, queue: TaskQueue) -> None:
    task_id = (await client.call("add_task", command("echo", "hi")))["id"]
    await queue.wait_for(task_id, timeout_s=10)
    status = await client.call("queue_task_status", {"task_id": task_id[:6]})
    assert status["status"] == "completed"

    with pytest.raises(QueueError) as caught:
        await client.call("get_task", {"task_id": "no-such-task"})
    assert caught.value.code == "QUEUE_TASK_NOT_FOUND"

    reply = await client.request({"action": "queue_status", "params": {"detailed": True}})
    assert reply["ok"] is True
    assert reply["result"]["summary"]["total_tasks"] == 1


async def test_a_body_that_is_not_json_is_a_format_error(server: ApiServer) -> None:
    assert server.socket_path is not None
    connector = aiohttp.UnixConnector(path=str(server.socket_path))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post("http://qtqueue/api", data=b"{nope") as resp,
    ):
        assert resp.status == 400
        reply = await resp.json()
    assert reply["ok"] is False
    assert reply["error"]["code"] == "VALIDATION_INVALID_FORMAT"


async def test_events_stream_delivers_a_task_added_through_the_api(
    client: ApiClient, queue: TaskQueue
) -> None:
    events = client.events()
    hello = await anext(events)
    assert (hello["kind"], hello["detail"]) == ("queue", "subscribed")
    task_id = (await client.call("add_task", command("true")))["id"]

    seen = [await asyncio.wait_for(anext(events), 10)]
    while not (seen[-1]["task_id"] == task_id and seen[-1]["status"] == "completed"):
        seen.append(await asyncio.wait_for(anext(events), 10))
    await events.aclose()

    assert seen[0] == {
        "kind": "added",
        "task_id": task_id,
        "status": "pending",
        "task": seen[0]["task"],
        "detail": "",
    }
    assert seen[0]["task"]["params"]["command"] == "true"
    statuses = [e["status"] for e in seen]
    assert [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]] == [
        "pending",
        "running",
        "completed",
    ]


async def test_log_follow_streams_a_running_command_until_it_finishes(
    client: ApiClient, queue: TaskQueue, data_dir: Path
) -> None:
    script = "echo one; while [ ! -e release ]; do sleep 0.02; done; echo two"
    task_id = (
        await client.call(
            "add_task",
            {
                "task_type": "custom_command",
                "params": {"command": script, "shell": True, "cwd": str(data_dir)},
            },
        )
    )["id"]
    received = ""
    async for chunk in client.follow_log(task_id):
        received += chunk
        if received == "one\n":
            (data_dir / "release").touch()  # the command goes on only once "one" came through
    assert received == "one\ntwo\n"
    assert (await queue.get_task(task_id)).status == "completed"


async def test_an_attached_client_gets_the_stderr_marks_its_log_viewer_shows(
    client: ApiClient, queue: TaskQueue
) -> None:
    """The local API (an attached window) carries the log as stored, stderr marked."""
    params = {"command": "echo out; echo err >&2", "shell": True}
    task_id = (await client.call("add_task", {"task_type": "custom_command", "params": params}))[
        "id"
    ]
    followed = "".join([chunk async for chunk in client.follow_log(task_id)])
    read = (await client.call("read_log", {"task_id": task_id}))["log"]
    for log in (followed, read):
        assert (True, "err\n") in split_streams(log) and (False, "out\n") in split_streams(log)


async def test_log_of_an_unknown_task_is_an_error(client: ApiClient) -> None:
    with pytest.raises(QueueError) as caught:
        async for _ in client.follow_log("no-such-task"):
            pass
    assert caught.value.code == "QUEUE_TASK_NOT_FOUND"


async def test_stopping_ends_open_streams_cleanly(
    server: ApiServer, client: ApiClient, queue: TaskQueue
) -> None:
    task_id = (await client.call("add_task", command("sh", "-c", "echo up; sleep 30")))["id"]
    events = client.events()
    await anext(events)  # subscribed
    follow = client.follow_log(task_id)
    assert await anext(follow) == "up\n"

    await server.stop()

    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(follow), 10)
    remaining = [e async for e in events]  # ends, without an error
    assert {e["task_id"] for e in remaining} <= {task_id}
    assert (await queue.cancel_task(task_id)).status == "cancelled"


async def test_an_engine_that_is_gone_is_unavailable(data_dir: Path) -> None:
    async with ApiClient(data_dir) as client:
        with pytest.raises(QueueError) as caught:
            await client.call("stats")
    assert caught.value.code == "QUEUE_ENGINE_UNAVAILABLE"
    assert str(data_dir) in caught.value.message


async def test_a_path_too_long_for_a_socket_falls_back_to_tcp_with_a_token(
    tmp_path: Path,
) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    assert len(os.fsencode(deep / "api.sock")) > UNIX_PATH_MAX
    async with (
        TaskQueue(deep, registry=default_registry(entry_points=False)) as queue,
        ApiServer(queue) as server,
    ):
        info = json.loads((deep / ENGINE_FILE).read_text())
        assert set(info) == {"pid", "host", "port", "token"}
        assert info["host"] == "127.0.0.1" and info["port"] == server.port
        async with ApiClient(deep) as client:
            assert (await client.call("stats"))["summary"]["total_tasks"] == 0

        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"http://127.0.0.1:{info['port']}/api",
                json={"action": "stats"},
                headers={"Authorization": "Bearer wrong"},
            ) as resp,
        ):
            assert resp.status == 401
            assert (await resp.json())["ok"] is False


async def test_open_backend_is_local_without_an_engine(data_dir: Path) -> None:
    async with open_backend(data_dir) as backend:
        assert isinstance(backend, LocalBackend)
        assert backend.remote is False
        task_id = (await backend.call("add_task", command("true")))["id"]
        assert (await backend.call("get_task", {"task_id": task_id}))["task"]["status"] == (
            "pending"
        )
    assert not (data_dir / ENGINE_FILE).exists()


async def test_open_backend_uses_the_api_of_a_running_engine(
    server: ApiServer, queue: TaskQueue
) -> None:
    async with open_backend(server.data_dir) as backend:
        assert isinstance(backend, ApiClient)
        assert backend.remote is True
        task_id = (await backend.call("add_task", command("true")))["id"]
        assert (await queue.wait_for(task_id, timeout_s=10)).status == "completed"


async def test_open_backend_gives_up_on_an_engine_that_never_announces_itself(
    data_dir: Path,
) -> None:
    async with TaskQueue(data_dir, registry=default_registry(entry_points=False)):
        with pytest.raises(QueueError) as caught:
            async with open_backend(data_dir, announce_wait_s=0.2):
                pass
    assert caught.value.code == "QUEUE_ENGINE_UNAVAILABLE"


# --- Bodies no action may see -----------------------------------------------------------------


def _add(**fields: Any) -> bytes:
    """An add_task request written out by hand (so it can hold what json.dumps would not)."""
    task = {"task_type": "custom_command", "params": {"command": "true"}, **fields}
    return json.dumps({"action": "add_task", "params": task}).encode()


BAD_BODIES = {
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
    "nested past the limit": _add(params={"command": "true", "env": {}}).replace(
        b'"env": {}', b'"env": ' + b'{"a": ' * 70 + b"1" + b"}" * 70
    ),
    "a lone surrogate": _add(name="\ud800"),
    "an integer of 2^63": _add(max_retries=0).replace(b'"max_retries": 0', b'"max_retries": '
                                                       + str(2**63).encode()),
    "NaN": _add(run_at=0).replace(b'"run_at": 0', b'"run_at": NaN'),
    "over the size limit": _add(name="x" * MAX_BODY_BYTES),
    "not UTF-8": b'{"action": "stats", "params": {"\xff": 1}}',
}  # fmt: skip


@pytest.mark.parametrize("what", sorted(BAD_BODIES))
async def test_a_body_no_action_may_see_gets_a_coded_error_on_both_paths(
    server: ApiServer, client: ApiClient, queue: TaskQueue, what: str
) -> None:
    """With an engine (its socket) and without (the local backend the CLI uses) alike: a
    coded VALIDATION_INVALID_FORMAT reply, never HTTP 500, plain text, or a stored task."""
    sentinel = (await client.call("add_task", command("true")))["id"]
    body = BAD_BODIES[what]
    assert server.socket_path is not None
    connector = aiohttp.UnixConnector(path=str(server.socket_path))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post("http://qtqueue/api", data=io.BytesIO(body)) as resp,
    ):
        assert resp.content_type == "application/json"
        assert 400 <= resp.status < 500, resp.status
        remote = await resp.json()
    assert remote["ok"] is False and remote["error"]["code"] == "VALIDATION_INVALID_FORMAT"

    local = await LocalBackend(queue).request(_decoded_as_the_cli_sends_it(body))
    assert local["ok"] is False and local["error"]["code"] == "VALIDATION_INVALID_FORMAT", local
    assert [t.id for t in await queue.list_tasks()] == [sentinel]


def _decoded_as_the_cli_sends_it(body: bytes) -> object:
    """The Python value a client holds for `body`, which it could send either way."""
    try:
        return json.loads(body.decode("utf-8", "surrogateescape"))
    except RecursionError:  # too deep for the parser: built without recursion
        nested: list[Any] = []
        for _ in range(body.count(b"[") - 1):
            nested = [nested]
        return nested


async def test_abandoned_requests_log_one_line_each_and_only_so_many(
    server: ApiServer, client: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    """300 clients that send half a request and leave wrote 300 tracebacks into the engine's
    log; now each is one line, at most DEFAULT_PER_MINUTE a minute, then a count."""
    assert server.socket_path is not None
    head = b"POST /api HTTP/1.1\r\nHost: qtqueue\r\nContent-Length: 100\r\n\r\n{"

    async def abandon() -> None:
        reader, writer = await asyncio.open_unix_connection(str(server.socket_path))
        writer.write(head)
        await writer.drain()
        writer.write_eof()
        await reader.read()  # EOF: the server is done with this request
        writer.close()
        await writer.wait_closed()

    with caplog.at_level(logging.DEBUG):
        for _ in range(6):
            await asyncio.gather(*(abandon() for _ in range(50)))
        assert (await client.call("stats"))["summary"]["total_tasks"] == 0  # still serving
        await server.stop()
    lines = [
        r for r in caplog.records
        if r.name in ("aiohttp.server", "qtqueue.api.server.requests") and r.levelno >= logging.INFO
    ]  # fmt: skip
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in lines)
    assert len(lines) <= DEFAULT_PER_MINUTE + 1
    assert "suppressed" in lines[-1].getMessage()
