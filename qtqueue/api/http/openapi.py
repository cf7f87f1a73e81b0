"""The REST API's OpenAPI 3.1 description, served at `GET /openapi.json`."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

logger = logging.getLogger(__name__)

__all__ = ["add_routes", "describe"]


def describe(app: web.Application) -> dict[str, Any]:
    """The OpenAPI document of `app`'s routes."""
    return {"openapi": "3.1.0", "info": {"title": "qtqueue", "version": "1"}, "paths": {}}


async def openapi_json(request: web.Request) -> web.Response:
    """GET /openapi.json: the description of every route."""
    return web.json_response(describe(request.app))


def add_routes(app: web.Application) -> None:
    """Add `/openapi.json` to `app`."""
    app.router.add_get("/openapi.json", openapi_json)
