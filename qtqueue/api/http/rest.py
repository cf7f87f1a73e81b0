"""The REST API: the SQLite-queue document's `/tasks/...` routes over the JSON actions."""

from __future__ import annotations

from aiohttp import web

__all__ = ["add_routes"]


def add_routes(app: web.Application) -> None:
    """Add this part's routes to `app`."""
