"""The command line's standard-library client of a running engine's API, against the real
server (`ApiServer`) on its Unix socket and on its TCP fallback."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from qtqueue.api.light_client import LightClient, answers, read_engine_file
from qtqueue.api.local_backend import LocalBackend, open_backend
from qtqueue.api.server import ENGINE_FILE, UNIX_PATH_MAX, ApiServer
from qtqueue.core.errors import QueueError
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry


@pytest.fixture
async def server(queue: TaskQueue) -> AsyncIterator[ApiServer]:
    async with ApiServer(queue) as srv:
        yield srv


def _client(data_dir: Path) -> LightClient:
    info = read_engine_file(data_dir)
    assert info is not None
    return LightClient(data_dir, info)


def _shell(script: str) -> dict[str, object]:
    return {"task_type": "custom_command", "params": {"command": script, "shell": True}}


async def test_actions_and_their_errors_cross_the_socket(
    server: ApiServer, queue: TaskQueue
) -> None:
    client = _client(server.data_dir)
    task_id = (await client.call("add_task", _shell("echo one; echo two")))["id"]
    assert (await queue.wait_for(task_id, timeout_s=10)).status == "completed"
    listed = (await client.call("list_tasks"))["tasks"]
    assert [t["id"] for t in listed] == [task_id]

    with pytest.raises(QueueError) as caught:
        await client.call("get_task", {"task_id": "no-such-task"})
    assert caught.value.code == "QUEUE_TASK_NOT_FOUND"
    reply = await client.request({"action": "no_such_action"})
    assert reply["ok"] is False and reply["error"]["code"]


async def test_a_log_streams_until_its_task_ends(server: ApiServer, queue: TaskQueue) -> None:
    client = _client(server.data_dir)
    task_id = (await client.call("add_task", _shell("echo héllo; sleep 0.3; echo done")))["id"]
    chunks = [chunk async for chunk in client.follow_log(task_id)]
    assert "".join(chunks) == "héllo\ndone\n"
    assert (await queue.get_task(task_id)).status == "completed"


async def test_the_log_of_an_unknown_task_is_a_coded_error(server: ApiServer) -> None:
    with pytest.raises(QueueError) as caught:
        async for _ in _client(server.data_dir).follow_log("no-such-task"):
            pass
    assert caught.value.code == "QUEUE_TASK_NOT_FOUND"


async def test_the_tcp_fallback_carries_the_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    assert len(os.fsencode(deep / "api.sock")) > UNIX_PATH_MAX
    async with (
        TaskQueue(deep, registry=default_registry(entry_points=False)) as queue,
        ApiServer(queue),
    ):
        info = json.loads((deep / ENGINE_FILE).read_text())
        assert set(info) == {"pid", "host", "port", "token"}
        assert (await _client(deep).call("stats"))["summary"]["total_tasks"] == 0

        with pytest.raises(QueueError) as caught:
            await LightClient(deep, {**info, "token": "wrong"}).call("stats")
        assert "token" in caught.value.message

        with caplog.at_level(logging.DEBUG, logger="qtqueue.api.local_backend"):
            async with open_backend(deep) as backend:
                assert (await backend.call("stats"))["summary"]["total_tasks"] == 0
        assert str(info["port"]) in caplog.text  # it did say where the engine is,
        assert info["token"] not in caplog.text  # but never the token


async def test_an_engine_that_is_gone_is_unavailable(data_dir: Path) -> None:
    data_dir.mkdir()
    gone = {"pid": os.getpid(), "unix": str(data_dir / "api.sock")}
    assert not await answers(gone)
    with pytest.raises(QueueError) as caught:
        await LightClient(data_dir, gone).call("stats")
    assert caught.value.code == "QUEUE_ENGINE_UNAVAILABLE"
    assert str(data_dir) in caught.value.message


def test_an_engine_file_left_by_a_process_that_is_gone_is_ignored(tmp_path: Path) -> None:
    for pid in (0, -1, True, "12", 2**22 + 1):  # 2**22 + 1: above Linux's pid_max
        (tmp_path / ENGINE_FILE).write_text(json.dumps({"pid": pid, "unix": "x"}))
        assert read_engine_file(tmp_path) is None, pid
    (tmp_path / ENGINE_FILE).write_text("not json")
    assert read_engine_file(tmp_path) is None


async def test_open_backend_picks_the_light_client_while_an_engine_answers(
    server: ApiServer, queue: TaskQueue
) -> None:
    async with open_backend(server.data_dir) as backend:
        assert isinstance(backend, LightClient) and backend.remote
        task_id = (await backend.call("add_task", _shell("true")))["id"]
    assert (await queue.wait_for(task_id, timeout_s=10)).status == "completed"


async def test_a_stale_engine_file_is_passed_over_for_the_store(data_dir: Path) -> None:
    """engine.json naming a live process (this one) whose socket is gone: the store is
    opened directly, as when no engine runs."""
    data_dir.mkdir()
    (data_dir / ENGINE_FILE).write_text(
        json.dumps({"pid": os.getpid(), "unix": str(data_dir / "api.sock")})
    )
    async with open_backend(data_dir) as backend:
        assert isinstance(backend, LocalBackend)
        assert (await backend.call("list_tasks"))["tasks"] == []


class _OneReplyServer:
    """A Unix-socket server on `path` that reads a request's head and then sends `answer`
    (None: it never answers, as a stopped engine whose listen backlog still accepts)."""

    def __init__(self, path: Path, answer: bytes | None) -> None:
        self.path, self.answer = path, answer
        self.writers: list[asyncio.StreamWriter] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        await reader.readuntil(b"\r\n\r\n")
        if self.answer is not None:
            writer.write(self.answer)
            await writer.drain()
            writer.close()

    async def __aenter__(self) -> _OneReplyServer:
        self.server = await asyncio.start_unix_server(self._handle, str(self.path))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (None, "no reply within 0.5 s"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "ValueError"),
        (b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 200 + b"\r\n{}", "header lines"),
    ],
    ids=["silent", "bad-chunk", "endless-headers"],
)
async def test_a_reply_that_never_comes_or_is_malformed_is_a_coded_error(
    tmp_path: Path, answer: bytes | None, says: str
) -> None:
    sock = tmp_path / "api.sock"
    async with _OneReplyServer(sock, answer):
        client = LightClient(tmp_path, {"pid": os.getpid(), "unix": str(sock)}, reply_timeout_s=0.5)
        with pytest.raises(QueueError) as caught:
            await client.call("stats")
    assert caught.value.code == "QUEUE_ENGINE_UNAVAILABLE"
    assert says in caught.value.message
