"""`HttpServer`: the HTTP application (`app.build_app`) served on a TCP address.

`async with HttpServer(queue, "127.0.0.1", 0) as server: server.url` — port 0 picks a free
port; `url` is what clients use. The queue must be started first and outlive the server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from qtqueue.api.http.app import build_app
from qtqueue.engine.queue import TaskQueue

logger = logging.getLogger(__name__)

__all__ = ["HttpServer"]


class HttpServer:
    """Serves the REST API, the admin page and the metrics of one `TaskQueue` on TCP."""

    def __init__(
        self,
        queue: TaskQueue,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        middlewares: Iterable[Any] = (),
    ) -> None:
        self.queue = queue
        self.host = host
        self.port = port
        self._middlewares = tuple(middlewares)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The base URL clients reach (no trailing slash)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def __aenter__(self) -> HttpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen; `port` becomes the port bound (when 0 was asked)."""
        if self._runner is not None:
            return
        app = build_app(self.queue, middlewares=self._middlewares)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            server = site._server  # aiohttp keeps the bound socket only here
            if self.port == 0 and server is not None and server.sockets:  # type: ignore[attr-defined]
                self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        logger.info("HTTP API listening on %s", self.url)

    async def stop(self) -> None:
        """Close the listener and every open connection."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            logger.info("HTTP API stopped")
