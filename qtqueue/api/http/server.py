"""`HttpServer`: the HTTP application (`app.build_app`) served on a TCP address.

`async with HttpServer(queue, "127.0.0.1", 0) as server: server.url` — port 0 picks a free
port; `url` is what clients use. The queue must be started first and outlive the server. In
place of a queue it serves any `app.HttpEngine` — a cluster's (`cluster.http_engine`) — with
the key and audit trail of that engine's `data_dir`.

Every request passes the authentication middleware (`auth.auth_middleware`) over the data
directory's API key, read from the OS keyring once at start (made there if there is none):
no usable keyring, no server (API_KEYRING_UNAVAILABLE). With `tls` (an `ssl.SSLContext`,
`tls_context(cert, key)`) it serves HTTPS; without one it only binds a loopback address, and
refuses any other with API_TLS_REQUIRED. Every state-changing request leaves a line in the
data directory's `audit.log` (`auth.audit_file`), whatever the process's log level.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiohttp import web

from qtqueue.api.http.app import HttpEngine, build_app
from qtqueue.api.http.auth import audit_file, auth_middleware
from qtqueue.api.keys import ApiKeys, LiveKey, live_key
from qtqueue.core.addresses import check_bind, is_loopback, parse_address
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.engine.queue import TaskQueue

logger = logging.getLogger(__name__)

__all__ = [
    "HttpServer",
    "check_bind",
    "from_settings",
    "is_loopback",
    "parse_address",
    "tls_context",
]

def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server TLS context from a PEM certificate (chain) and its unencrypted private key;
    QueueError NETWORK_SSL_ERROR (naming the files) if they cannot be loaded."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        # A key with a passphrase is refused rather than prompted for on the terminal.
        context.load_cert_chain(str(cert), str(key), password=lambda: b"")
    except (OSError, ssl.SSLError) as exc:
        raise QueueError(
            TaskErrorCode.NETWORK_SSL_ERROR,
            f"cannot load the TLS certificate {cert} with the key {key}: "
            f"{getattr(exc, 'strerror', None) or exc} (both must be PEM files, the key "
            "without a passphrase)",
            cert=str(cert),
            key=str(key),
        ) from None
    return context


class HttpServer:
    """Serves the REST API, the admin page and the metrics of one `TaskQueue` (or another
    `HttpEngine`: a cluster's) on TCP."""

    def __init__(
        self,
        queue: TaskQueue | HttpEngine,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        middlewares: Iterable[Any] = (),
        tls: ssl.SSLContext | None = None,
        keys: ApiKeys | None = None,
    ) -> None:
        self.queue = queue
        self.host = host
        self.port = port
        self.tls = tls
        #: Where the API key is kept (the queue's data directory's key by default).
        self.keys = keys if keys is not None else ApiKeys(queue.data_dir)
        self._middlewares = tuple(middlewares)
        self._runner: web.AppRunner | None = None
        self._live: LiveKey | None = None  # held while serving: `keys.live_key` keeps it weakly
        self._trail: logging.Handler | None = None  # the data directory's audit.log

    @property
    def app(self) -> web.Application | None:
        """The application served, while it is."""
        return self._runner.app if self._runner is not None else None

    @property
    def url(self) -> str:
        """The base URL clients reach (no trailing slash)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    async def __aenter__(self) -> HttpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen; `port` becomes the port bound (when 0 was asked)."""
        if self._runner is not None:
            return
        check_bind(self.host, self.tls is not None)
        live = await asyncio.to_thread(live_key, self.keys)
        try:
            trail = audit_file(self.queue.data_dir)
        except OSError as exc:
            raise QueueError(
                TaskErrorCode.SYSTEM_PERMISSION_DENIED,
                f"cannot write the web API's audit trail {exc.filename}: {exc.strerror or exc}",
                path=str(exc.filename),
            ) from None
        middlewares = (auth_middleware(live, trail), *self._middlewares)
        app = build_app(self.queue, middlewares=middlewares, live=live)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        try:
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port, ssl_context=self.tls)
            try:
                await site.start()
            except OSError as exc:
                raise QueueError(
                    TaskErrorCode.NETWORK_CONNECTION_FAILED,
                    f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}",
                    host=self.host,
                    port=self.port,
                ) from None
            server = site._server  # aiohttp keeps the bound socket only here
            if self.port == 0 and server is not None and server.sockets:  # type: ignore[attr-defined]
                self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        except BaseException:
            await runner.cleanup()
            trail.close()
            raise
        self._runner, self._live, self._trail = runner, live, trail
        logger.info("HTTP API listening on %s", self.url)
        if live.key.expired(time.time()):
            logger.warning("the API key has expired: run 'qtqueue token rotate' for a new one")

    async def stop(self) -> None:
        """Close the listener and every open connection."""
        runner, self._runner = self._runner, None
        trail, self._trail = self._trail, None
        self._live = None
        if runner is not None:
            await runner.cleanup()
            logger.info("HTTP API stopped")
        if trail is not None:
            trail.close()


def from_settings(queue: TaskQueue) -> HttpServer | None:
    """The server the engine's settings ask for (`queue.web_api`: `http_address`, and
    `http_tls_cert` with `http_tls_keyfile` for HTTPS), not yet started; None when they name
    no address. QueueError when they cannot be served (a bad address, unreadable TLS files,
    a non-loopback address without TLS)."""
    address = queue.web_api.get("http_address", "").strip()
    if not address:
        return None
    host, port = parse_address(address)
    cert = queue.web_api.get("http_tls_cert", "").strip()
    key = queue.web_api.get("http_tls_keyfile", "").strip()
    tls = tls_context(Path(cert), Path(key)) if cert and key else None
    check_bind(host, tls is not None)
    return HttpServer(queue, host, port, tls=tls)
