"""What the admin page's browser tests stand on: a real engine and HTTP server in a thread of
their own, a small HTTP client for the test's own requests, Debian's chromium driven by
selenium, and a PNG reader for the screenshot check."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import struct
import threading
import urllib.error
import urllib.request
import zlib
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psutil

from qtqueue.api.http.server import HttpServer
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors import default_registry

T = TypeVar("T")

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WINDOW = (1280, 860)


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(path) is None:
            return f"{path} is not installed (Debian packages chromium and chromium-driver)"
    return None


# --------------------------------------------------------------------------- engine + server


class EngineThread:
    """A started `TaskQueue` and `HttpServer` on 127.0.0.1, on an event loop in a thread, so
    that blocking browser calls and the engine run side by side."""

    def __init__(self, data_dir: Path, server_options: Callable[[], dict[str, Any]]) -> None:
        self.data_dir = data_dir
        self._server_options = server_options
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="admin-engine")
        self.queue: TaskQueue | None = None
        self.server: HttpServer | None = None

    def run(self, coro: Awaitable[T], timeout_s: float = 30.0) -> T:
        """Run `coro` on the engine's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def start(self) -> None:
        self._thread.start()

        async def start() -> None:
            self.queue = TaskQueue(
                self.data_dir, max_concurrent=2, registry=default_registry(entry_points=False)
            )
            await self.queue.start()
            self.server = HttpServer(self.queue, "127.0.0.1", 0, **self._server_options())
            await self.server.start()

        self.run(start())

    def stop_server(self) -> None:
        """Stop serving HTTP (every open stream ends); the engine keeps running."""
        assert self.server is not None
        self.run(self.server.stop())

    def start_server(self) -> None:
        """Serve HTTP again, on the port it had."""
        assert self.server is not None and self.queue is not None
        self.server = HttpServer(
            self.queue, "127.0.0.1", self.server.port, **self._server_options()
        )
        self.run(self.server.start())

    def stop(self) -> None:
        async def stop() -> None:
            if self.server is not None:
                await self.server.stop()
            if self.queue is not None:
                await self.queue.close()

        try:
            self.run(stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


@dataclass
class Reply:
    """An HTTP reply: status and JSON body."""

    status: int
    body: Any


def http(url: str, method: str = "GET", body: Any = None, key: str | None = None) -> Reply:
    """One request with the standard library (the test's own client, not the page's)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return Reply(status, json.loads(raw))
    except ValueError:
        return Reply(status, raw.decode(errors="replace"))


# --------------------------------------------------------------------------- the browser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def chromium(profile_dir: Path) -> Iterator[Any]:
    """Debian's chromium, headless, on a fresh profile, driven through chromedriver on a free
    port. On exit the driver quits and every process it started (chromedriver, chromium and
    chromium's helpers, found by pid) must be gone; one left over is killed and fails the test."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        f"--user-data-dir={profile_dir}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--force-device-scale-factor=1",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        # nothing but the test's server is to be reached
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--lang=en-US",
    ):
        options.add_argument(arg)
    service = Service(executable_path=CHROMEDRIVER, port=free_port())
    driver = webdriver.Chrome(service=service, options=options)
    driver_process = psutil.Process(service.process.pid)
    started = {driver_process, *driver_process.children(recursive=True)}
    try:
        yield driver
    finally:
        # chromium starts renderers as pages open: every descendant now, by pid
        with suppress(psutil.Error):
            started.update(driver_process.children(recursive=True))
        driver.quit()
        _, alive = psutil.wait_procs(list(started), timeout=10)
        for process in alive:
            process.kill()
        assert not alive, f"browser processes left running: {[p.pid for p in alive]}"


# --------------------------------------------------------------------------- PNG


@dataclass
class Png:
    """A decoded 8-bit RGB(A) PNG: size and pixel rows (filters undone)."""

    width: int
    height: int
    channels: int
    rows: list[bytes]

    def colours(self, step: int = 7) -> set[bytes]:
        """The distinct pixel values of a sample (every `step`-th pixel of every row)."""
        c = self.channels
        return {row[i : i + c] for row in self.rows for i in range(0, len(row), c * step)}


def read_png(data: bytes, max_rows: int | None = None) -> Png:
    """Parse `data` as a PNG, checking its signature and every chunk's CRC; the pixels of
    its first `max_rows` rows (all by default) are decoded."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunk = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + chunk) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        elif kind == b"IEND":
            break
        pos += 12 + length
    assert header is not None, "no IHDR"
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, f"unexpected PNG {header}"
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height if max_rows is None else min(max_rows, height)):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    return Png(width, height, channels, rows)
