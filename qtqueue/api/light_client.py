"""A small client of a running engine's local API, in the standard library only.

The command line reaches a running engine through this module: HTTP/1.1 over the Unix socket
(or the 127.0.0.1 port and its bearer token) that `<data_dir>/engine.json` names, written and
read by hand with asyncio's streams. It imports neither the engine, pydantic nor aiohttp, so a
command that talks to an engine starts in a fraction of the time importing those takes
(`bench/cli.py`). The requests and replies are the ones `qtqueue.api.server` serves to
`qtqueue.api.client.ApiClient` (aiohttp, used by the window): `POST /api` with
`{"action", "params"}`, and the log stream `GET /tasks/ID/log?follow=1`.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import logging
import os
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from qtqueue.api import ENGINE_FILE
from qtqueue.core.errors import QueueError, TaskErrorCode

logger = logging.getLogger(__name__)

__all__ = [
    "CONNECT_TIMEOUT_S",
    "LightClient",
    "answers",
    "decode_reply",
    "read_engine_file",
    "unwrap",
]

#: How long a client waits to connect to the engine's socket.
CONNECT_TIMEOUT_S = 5.0
#: How long a request waits for the engine's whole reply (a stopped or wedged engine still
#: accepts connections on its listen backlog; the command must not hang on it for ever).
REPLY_TIMEOUT_S = 60.0
_HEADER_LIMIT = 100  # header lines read at most from one reply


def read_engine_file(data_dir: Path) -> dict[str, Any] | None:
    """The engine's announced address, or None when no live engine announces one (no file,
    an unreadable one, or one left by a process that is gone)."""
    try:
        info = json.loads((data_dir / ENGINE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    pid = info.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only whether the process exists
    except ProcessLookupError:
        return None
    except OSError:
        # PermissionError included: that pid is another user's process, which can never be
        # this data directory's engine (the directory is private to its user) — the file is
        # stale and the pid reused; the token and requests must not go to whoever took it.
        return None
    return info


def unwrap(reply: dict[str, Any]) -> dict[str, Any]:
    """The result of an action reply; raises its error as a QueueError."""
    if reply.get("ok"):
        result = reply.get("result")
        return result if isinstance(result, dict) else {}
    error = reply.get("error")
    if not isinstance(error, dict):
        raise QueueError(TaskErrorCode.INTERNAL_ERROR, f"malformed reply from the engine: {reply}")
    raise QueueError.from_dict(error)


def decode_reply(body: bytes, status: int) -> dict[str, Any]:
    """A reply's body as the JSON object it must be; INTERNAL_ERROR when it is not."""
    try:
        reply = json.loads(body)
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        raise QueueError(
            TaskErrorCode.INTERNAL_ERROR, f"the engine replied HTTP {status} without a JSON reply"
        )
    return reply


async def _open(info: dict[str, Any]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to the address `info` (engine.json's content) names."""
    if "unix" in info:
        opening = asyncio.open_unix_connection(str(info["unix"]))
    else:
        opening = asyncio.open_connection(str(info["host"]), int(info["port"]))
    return await asyncio.wait_for(opening, CONNECT_TIMEOUT_S)


async def answers(info: dict[str, Any]) -> bool:
    """Whether the address `info` names accepts a connection now (an engine that is gone, or
    still starting, does not)."""
    try:
        _, writer = await _open(info)
    except (OSError, KeyError, ValueError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class _Reply:
    """One HTTP reply: its status and its body, whole or as it comes."""

    def __init__(self, reader: asyncio.StreamReader, status: int, headers: dict[str, str]):
        self.reader = reader
        self.status = status
        self.headers = headers

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        """The body's bytes as they arrive (chunked, sized, or up to the end)."""
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await self.reader.readline()).split(b";")[0].strip() or b"x", 16)
                if size == 0:
                    while (await self.reader.readline()).strip():
                        pass  # trailers
                    return
                yield await self.reader.readexactly(size)
                await self.reader.readexactly(2)  # CRLF
        elif "content-length" in self.headers:
            yield await self.reader.readexactly(int(self.headers["content-length"]))
        else:
            while data := await self.reader.read(65536):
                yield data

    async def json(self) -> dict[str, Any]:
        """The body as a JSON object."""
        return decode_reply(b"".join([data async for data in self.chunks()]), self.status)


class LightClient:
    """A client of a running engine's local API, one connection per request.

    ```
    client = LightClient(data_dir, read_engine_file(data_dir))
    result = await client.call("list_tasks", {"limit": 10})
    ```

    When the engine does not answer, calls raise QueueError(QUEUE_ENGINE_UNAVAILABLE).
    """

    remote = True

    def __init__(
        self, data_dir: Path, info: dict[str, Any], *, reply_timeout_s: float = REPLY_TIMEOUT_S
    ) -> None:
        self.data_dir = data_dir
        self.info = info
        self.reply_timeout_s = reply_timeout_s

    def _unavailable(self, why: str) -> QueueError:
        return QueueError(
            TaskErrorCode.QUEUE_ENGINE_UNAVAILABLE,
            f"no qtqueue engine answers for {self.data_dir}: {why}",
            data_dir=str(self.data_dir),
        )

    async def _send(
        self, method: str, target: str, body: bytes | None = None
    ) -> tuple[asyncio.StreamWriter, _Reply]:
        """Send one request; the writer (to close) and the reply, its headers read."""
        lines = [f"{method} {target} HTTP/1.1", "Host: qtqueue", "Connection: close"]
        if "token" in self.info:
            lines.append(f"Authorization: Bearer {self.info['token']}")
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        try:
            reader, writer = await _open(self.info)
        except (OSError, TimeoutError) as exc:
            raise self._unavailable(f"{type(exc).__name__}: {exc}") from None
        try:
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
            await writer.drain()
            status_line = await reader.readline()
            parts = status_line.split()
            if len(parts) < 2 or not parts[1].isdigit():
                raise self._unavailable(f"no HTTP reply (got {status_line[:80]!r})")
            headers: dict[str, str] = {}
            for _ in range(_HEADER_LIMIT):
                line = (await reader.readline()).decode("latin-1").strip()
                if not line:
                    break
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            else:
                raise self._unavailable(f"a reply with more than {_HEADER_LIMIT} header lines")
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            writer.close()
            raise self._unavailable(f"{type(exc).__name__}: {exc}") from None
        except BaseException:
            writer.close()
            raise
        return writer, _Reply(reader, int(parts[1]), headers)

    async def request(self, body: object) -> dict[str, Any]:
        """POST one raw request to /api; returns the reply (ok or not)."""
        data = json.dumps(body).encode("utf-8")
        try:
            return await asyncio.wait_for(self._exchange(data), self.reply_timeout_s)
        except TimeoutError:
            raise self._unavailable(
                f"no reply within {self.reply_timeout_s:g} s (is the engine stopped or stuck?)"
            ) from None

    async def _exchange(self, data: bytes) -> dict[str, Any]:
        writer, reply = await self._send("POST", "/api", data)
        try:
            return await reply.json()
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            # ValueError: a malformed chunk size or a line past the stream's limit
            raise self._unavailable(f"{type(exc).__name__}: {exc}") from None
        finally:
            writer.close()

    async def call(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one action on the engine; returns its result or raises its QueueError."""
        return unwrap(await self.request({"action": action, "params": params or {}}))

    async def follow_log(self, task_id: str) -> AsyncGenerator[str, None]:
        """The task's log as text chunks, as it grows, until the task is finished (or the
        engine stops)."""
        writer, reply = await self._send("GET", f"/tasks/{quote(task_id, safe='')}/log?follow=1")
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        try:
            if reply.status != 200:
                unwrap(await reply.json())
            async for data in reply.chunks():
                text = decoder.decode(data)
                if text:
                    yield text
        except asyncio.IncompleteReadError as exc:
            raise self._unavailable(f"the engine stopped while streaming: {exc}") from None
        except (OSError, ValueError) as exc:
            raise self._unavailable(f"{type(exc).__name__}: {exc}") from None
        finally:
            writer.close()
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail
