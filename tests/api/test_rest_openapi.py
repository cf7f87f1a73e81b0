"""`GET /openapi.json`: every route the application serves, described from the pydantic models
the routes answer with, and the replies as described."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from api.rest_env import Rest, command, serve
from qtqueue.api.http.app import build_app, is_public
from qtqueue.api.http.openapi import OPERATIONS, TaskPage
from qtqueue.api.messages import ErrorReply, Stats, TaskMessage
from qtqueue.engine.queue import TaskQueue

#: The routes sit behind the API key, kept in the real keyring.
pytestmark = pytest.mark.usefixtures("secret_service")

@pytest.fixture
async def rest(queue: TaskQueue) -> AsyncIterator[Rest]:
    async with serve(queue) as client:
        yield client


def _resolve(doc: dict[str, Any], node: Any) -> None:
    """Fail on a `$ref` that points at no schema of the document."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.removeprefix("#/components/schemas/")
            assert name in doc["components"]["schemas"], ref
        for value in node.values():
            _resolve(doc, value)
    elif isinstance(node, list):
        for value in node:
            _resolve(doc, value)


async def test_every_served_route_is_described(rest: Rest, queue: TaskQueue) -> None:
    status, doc = await rest.get("/openapi.json")
    assert status == 200
    assert doc["openapi"].startswith("3.1")
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in build_app(queue).router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    described = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert served == described
    _resolve(doc, doc)
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["summary"], (method, path)
            errors = [s for s in op["responses"] if s.startswith("4")]
            for status_code in errors:
                schema = op["responses"][status_code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorReply"}
    assert doc["paths"]["/health"]["get"]["security"] == []
    assert "security" not in doc["paths"]["/tasks/"]["get"]  # the key, like every API route


async def test_the_description_says_what_the_routes_take_and_answer(rest: Rest) -> None:
    _, doc = await rest.get("/openapi.json")
    schemas = doc["components"]["schemas"]
    new_task = schemas["NewTask"]
    assert {"task_type", "params", "name", "priority", "max_retries"} <= set(new_task["properties"])
    assert not {"created_by", "status", "result"} & set(new_task["properties"])
    assert new_task["required"] == ["task_type"]
    error = schemas[schemas["ErrorReply"]["properties"]["error"]["$ref"].rsplit("/", 1)[1]]
    assert {"code", "message", "description", "suggestion"} <= set(error["required"])
    listing = doc["paths"]["/tasks/"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {
        "status", "task_type", "category", "tag", "queue", "limit", "offset", "sort"
    }  # fmt: skip
    action = doc["paths"]["/tasks/{task_id}/{action}"]["post"]
    (choice,) = [p for p in action["parameters"] if p["name"] == "action"]
    assert choice["schema"]["enum"] == ["pause", "resume", "retry", "approve", "reject"]
    created = doc["paths"]["/tasks/"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("/TaskMessage")

    # The replies are what the description says (each validated by its model).
    status, body = await rest.post("/tasks/", command("true"))
    assert status == 201
    TaskMessage.model_validate(body)
    _, body = await rest.get("/tasks/", status="pending")
    TaskPage.model_validate(body)
    _, body = await rest.get("/tasks/stats/queue")
    Stats.model_validate(body)
    _, body = await rest.get("/tasks/nope")
    ErrorReply.model_validate(body)


def test_only_the_health_check_is_public() -> None:
    app = build_app(None)  # type: ignore[arg-type]  # routes only
    rest_routes = [
        r
        for r in app.router.routes()
        if (r.method, r.resource.canonical) in OPERATIONS  # type: ignore[union-attr]
    ]
    assert len(rest_routes) == len(OPERATIONS)
    public = {r.resource.canonical for r in rest_routes if is_public(r.handler)}  # type: ignore[union-attr]
    assert public == {"/health"}
