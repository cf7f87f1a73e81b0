"""The admin page: `/admin/tasks` and its assets, shipped inside the package."""

from __future__ import annotations

from aiohttp import web

__all__ = ["add_routes"]


def add_routes(app: web.Application) -> None:
    """Add this part's routes to `app`."""
