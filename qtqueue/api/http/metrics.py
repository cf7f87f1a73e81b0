"""`/metrics`: the engine's figures in Prometheus's text format (prometheus_client)."""

from __future__ import annotations

from aiohttp import web

__all__ = ["add_routes"]


def add_routes(app: web.Application) -> None:
    """Add this part's routes to `app`."""
