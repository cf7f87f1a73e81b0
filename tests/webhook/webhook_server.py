"""Local receivers on 127.0.0.1 for the webhook tests, started and stopped by them:

- `Receiver`: an aiohttp app that records every request and answers per path: `/echo` (200),
  `/status/<code>`, `/flaky/<n>` (503 with `Retry-After` n times, then 200), `/busy` (429),
  `/hang` (never answers), `/big` (4 KiB body); optionally over TLS with a self-signed
  certificate the test makes (`self_signed`).
- `reset_server`: accepts a connection, reads the request and resets it (SO_LINGER 0): a port
  known to be open whose connections are cut, as a filtering firewall does.
- `proxy_407`: an HTTP proxy that answers every request 407 Proxy Authentication Required.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web


@dataclass
class Seen:
    """One request a receiver got."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


class Receiver:
    """The aiohttp receiver; `url(path)` is where it listens; `seen` what it got."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.counts: dict[str, int] = {}
        self.base = ""
        self._runner: web.AppRunner | None = None
        self._never = asyncio.Event()

    def url(self, path: str) -> str:
        return self.base + path

    def on(self, path: str) -> list[Seen]:
        """The requests to `path`."""
        return [s for s in self.seen if s.path == path]

    async def _record(self, request: web.Request) -> int:
        body = await request.read()
        self.seen.append(
            Seen(request.method, request.path, dict(request.query), dict(request.headers), body)
        )
        self.counts[request.path] = self.counts.get(request.path, 0) + 1
        return self.counts[request.path]

    async def _echo(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"received": True}, headers={"X-Receiver": "echo"})

    async def _status(self, request: web.Request) -> web.Response:
        await self._record(request)
        code = int(request.match_info["code"])
        return web.Response(status=code, text=f"answered {code}")

    async def _flaky(self, request: web.Request) -> web.Response:
        n = await self._record(request)
        if n <= int(request.match_info["n"]):
            if request.query.get("form") == "date":
                after = email.utils.formatdate(time.time() + 2, usegmt=True)
            else:
                after = request.query.get("after", "1")
            return web.Response(status=503, text="busy", headers={"Retry-After": after})
        return web.Response(text="finally")

    async def _busy(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(status=429, text="slow down", headers={"Retry-After": "0"})

    async def _hang(self, request: web.Request) -> web.Response:
        await self._record(request)
        await self._never.wait()
        return web.Response(text="never")

    async def _big(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(text="x" * 4096)

    async def start(self, tls: ssl.SSLContext | None = None) -> str:
        app = web.Application()
        app.add_routes(
            [
                web.route("*", "/echo", self._echo),
                web.route("*", "/status/{code}", self._status),
                web.route("*", "/flaky/{n}", self._flaky),
                web.route("*", "/busy", self._busy),
                web.route("*", "/hang", self._hang),
                web.route("*", "/big", self._big),
            ]
        )
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        return self.base

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def self_signed(where: Path) -> ssl.SSLContext:
    """A server TLS context with a certificate for 127.0.0.1 that no CA signed (openssl)."""
    key, cert = where / "key.pem", where / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@asynccontextmanager
async def _raw_server(answer: bytes | None, lines: list[str]) -> AsyncIterator[str]:
    """A TCP server on 127.0.0.1 that reads a request's head (its first line into `lines`),
    then writes `answer`, or resets the connection when `answer` is None."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines.append(head.split(b"\r\n", 1)[0].decode())
        if answer is None:
            sock: socket.socket = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()  # closed with linger 0: an RST, no FIN
            return
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


def reset_server(lines: list[str]) -> AbstractAsyncContextManager[str]:
    """Accepts, reads the request, resets the connection (SO_LINGER 0)."""
    return _raw_server(None, lines)


def proxy_407(lines: list[str]) -> AbstractAsyncContextManager[str]:
    """An HTTP proxy answering every request 407."""
    return _raw_server(
        b"HTTP/1.1 407 Proxy Authentication Required\r\n"
        b'Proxy-Authenticate: Basic realm="proxy"\r\nContent-Length: 0\r\n'
        b"Connection: close\r\n\r\n",
        lines,
    )


def json_of(seen: Seen) -> object:
    return json.loads(seen.body)
