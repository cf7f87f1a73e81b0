"""The REST API's OpenAPI 3.1 description, served at `GET /openapi.json` (with the API key).

`describe(app)` walks the routes the application serves (`app.router`), so a route added to any
part is described: its summary is its handler's docstring, its path parameters come from the
path, and it answers the error envelope. The REST routes say more (`OPERATIONS`): their query
parameters, their body and their reply, each a JSON schema generated from the pydantic models
the actions themselves use (the actions' params models, `api/messages.py` replies, the error
envelope `ErrorReply`) — the description cannot drift from what the routes check.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from qtqueue.api.http.app import is_public
from qtqueue.api.messages import (
    ErrorReply,
    Message,
    QueuePaused,
    ScheduleList,
    ScheduleMessage,
    ScheduleRemoved,
    Stats,
    TaskDict,
    TaskMessage,
)
from qtqueue.api.order_actions import MoveParams, PriorityParams
from qtqueue.api.question_actions import AnswerParams, QuestionMessage
from qtqueue.api.schedule_actions import AddScheduleParams
from qtqueue.api.task_actions import RejectParams
from qtqueue.core.errors import TaskErrorCode
from qtqueue.core.task import Priority, Task, TaskStatus
from qtqueue.engine.validation import CALLER_FIELDS
from qtqueue.storage.rows import ORDERS

logger = logging.getLogger(__name__)

__all__ = ["OPERATIONS", "Operation", "add_routes", "describe"]

_REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"\{([^}:]+)\}")
_GROUP = re.compile(r"\(\?P<(\w+)>([^)]*)\)")
_ANY_SEGMENT = "[^{}/]+"


class TaskPage(Message):
    """`GET /tasks/`: a page of tasks, how many match the filters, and the page asked for."""

    tasks: list[TaskDict]
    total: int
    limit: int
    offset: int
    sort: str


class Health(Message):
    """`GET /health`: the engine answers."""

    ok: bool


@dataclass(frozen=True, slots=True)
class Query:
    """One query parameter: its name, JSON schema and meaning."""

    name: str
    schema: dict[str, Any]
    description: str


@dataclass(frozen=True, slots=True)
class Operation:
    """What one route takes and answers beyond its path."""

    reply: type[BaseModel] | None = None
    status: int = 200
    body: type[BaseModel] | str | None = None  # a model, "task" (a task's fields) or "edit"
    body_required: bool = True
    drop: tuple[str, ...] = ()  # body fields the URL or the API key gives
    query: tuple[Query, ...] = ()
    reply_type: str = "application/json"
    errors: tuple[int, ...] = (400,)
    extra: dict[str, Any] = field(default_factory=dict)


_LIST_QUERY = (
    Query(
        "status",
        {"type": "string"},
        "One status or a comma list: " + ", ".join(s.value for s in TaskStatus),
    ),
    Query("task_type", {"type": "string"}, "Only tasks of this type"),
    Query("category", {"type": "string"}, "Only tasks of this category"),
    Query("tag", {"type": "string"}, "Only tasks with this tag"),
    Query("queue", {"type": "string"}, "Only tasks of this named queue"),
    Query("limit", {"type": "integer", "minimum": 0, "maximum": 1000, "default": 100}, "Page"),
    Query("offset", {"type": "integer", "minimum": 0, "default": 0}, "Tasks skipped first"),
    Query("sort", {"enum": sorted(ORDERS), "default": "-created_at"}, '"-" first: descending'),
)
_LOG_QUERY = (
    Query("follow", {"type": "boolean"}, "Stream the log until the task is finished"),
    Query("tail_bytes", {"type": "integer", "minimum": 0}, "Only the log's last bytes"),
    Query("streams", {"type": "boolean"}, "Keep the marks around stderr output (ESC]7733;e BEL)"),
)

#: The REST routes' operations by (method, path as the router shows it).
OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/health"): Operation(Health, errors=()),
    ("GET", "/tasks/stats/queue"): Operation(Stats, errors=()),
    ("POST", "/tasks/worker/start"): Operation(QueuePaused, body_required=False),
    ("POST", "/tasks/worker/stop"): Operation(QueuePaused, body_required=False),
    ("POST", "/tasks/"): Operation(TaskMessage, 201, body="task", errors=(400, 409, 413)),
    ("GET", "/tasks/"): Operation(TaskPage, query=_LIST_QUERY),
    ("GET", "/tasks/{task_id}"): Operation(TaskMessage, errors=(400, 404)),
    ("DELETE", "/tasks/{task_id}"): Operation(TaskMessage, errors=(404, 409)),
    ("POST", "/tasks/{task_id}/{action}"): Operation(
        TaskMessage,
        body=RejectParams,
        body_required=False,
        drop=("task_id",),
        errors=(400, 404, 409),
    ),
    ("POST", "/tasks/{task_id}/move"): Operation(
        TaskMessage, body=MoveParams, drop=("task_id",), errors=(400, 404, 409)
    ),
    ("POST", "/tasks/{task_id}/priority"): Operation(
        TaskMessage, body=PriorityParams, drop=("task_id",), errors=(400, 404, 409)
    ),
    ("PATCH", "/tasks/{task_id}"): Operation(TaskMessage, body="edit", errors=(400, 404, 409)),
    ("POST", "/questions/{question_id}/answer"): Operation(
        QuestionMessage,
        body=AnswerParams,
        drop=("question_id", "responder_id"),
        errors=(400, 404, 409),
    ),
    ("GET", "/events"): Operation(reply_type="text/event-stream", errors=()),
    ("GET", "/tasks/{task_id}/log"): Operation(
        reply_type="text/plain", query=_LOG_QUERY, errors=(400, 404)
    ),
    ("GET", "/schedules/"): Operation(ScheduleList, errors=()),
    ("POST", "/schedules/"): Operation(ScheduleMessage, 201, body=AddScheduleParams),
    ("GET", "/schedules/{schedule_id}"): Operation(ScheduleMessage, errors=(404,)),
    ("DELETE", "/schedules/{schedule_id}"): Operation(ScheduleRemoved, errors=(404,)),
    ("POST", "/schedules/{schedule_id}/{action}"): Operation(
        ScheduleMessage, body_required=False, errors=(400, 404)
    ),
    ("GET", "/openapi.json"): Operation(reply_type="application/json", errors=()),
}

_STATUS_TEXT = {
    400: "Bad request: a VALIDATION_* code names the field",
    401: "No API key, or a wrong one",
    404: "No such task, question, schedule or route (QUEUE_*_NOT_FOUND)",
    405: "The route takes another method",
    409: "Not allowed in the task's state (QUEUE_INVALID_STATE…)",
    413: "The body is over the size limit",
}


@cache
def _task_schemas() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The task as the API shows it, a new task's fields, and their shared definitions."""
    schema = TypeAdapter(Task).json_schema(ref_template=_REF)
    defs = schema.pop("$defs", {})
    names = [p.name.lower() for p in Priority]
    defs["Priority"] = {
        "anyOf": [{"enum": sorted(set(names))}, {"type": "integer", "minimum": 0, "maximum": 3}],
        "description": "low, normal, high or urgent (critical: urgent), or 0-3",
    }
    shown = {**schema, "title": "Task"}
    shown["properties"] = {
        **schema["properties"],
        "priority": {"enum": sorted({"low", "normal", "high", "urgent"})},
    }
    allowed = CALLER_FIELDS - {"created_by"}
    new = {
        "title": "NewTask",
        "type": "object",
        "description": "A new task's fields (the engine sets the others; created_by is the "
        "API key's name and may not be given)",
        "properties": {k: v for k, v in schema["properties"].items() if k in allowed},
        "required": ["task_type"],
        "additionalProperties": False,
    }
    return shown, new, defs


def _model_schema(model: type[BaseModel], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF)
    schema.pop("$defs", None)
    for name in drop:
        schema.get("properties", {}).pop(name, None)
        if name in schema.get("required", []):
            schema["required"].remove(name)
    return schema


_EDIT = (
    "The fields of a waiting task to change, merged over its current ones (those left out "
    "keep their values); checked as a new task's. run_at or expires_at null keeps the task's "
    "own (give the current time to start it now). updated_at: the task's updated_at the edit "
    "started from; if it changed since, 409 QUEUE_TASK_CHANGED (reopen it and edit again)"
)


def _components(models: set[type[BaseModel]]) -> dict[str, Any]:
    shown, new, defs = _task_schemas()
    edit = {**new, "title": "TaskEdit", "required": [], "description": _EDIT}
    edit["properties"] = {**new["properties"], "updated_at": {"type": "number"}}
    schemas: dict[str, Any] = {"Task": shown, "NewTask": new, "TaskEdit": edit, **defs}
    for model in sorted(models, key=lambda m: m.__name__):
        full = model.model_json_schema(ref_template=_REF)
        schemas.update(full.pop("$defs", {}))
        schemas[model.__name__] = full
    return schemas


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _path_patterns(resource: Any) -> dict[str, str]:
    """Each path parameter's regular expression, as the router matches it."""
    pattern = resource.get_info().get("pattern")
    return dict(_GROUP.findall(pattern.pattern)) if pattern is not None else {}


def _parameters(path: str, patterns: dict[str, str], op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for name in _PATH_PARAM.findall(path):
        pattern = patterns.get(name, _ANY_SEGMENT)
        schema: dict[str, Any] = {"type": "string"}
        if pattern != _ANY_SEGMENT and re.fullmatch(r"[\w|]+", pattern):
            schema = {"enum": pattern.split("|")}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    for q in op.query:
        params.append(
            {"name": q.name, "in": "query", "schema": q.schema, "description": q.description}
        )
    return params


def _operation(
    route: web.AbstractRoute, op: Operation, models: set[type[BaseModel]]
) -> dict[str, Any]:
    method, handler = route.method, route.handler
    assert route.resource is not None
    path = route.resource.canonical
    doc = (handler.__doc__ or "").strip()
    out: dict[str, Any] = {
        "operationId": f"{method.lower()}_{getattr(handler, '__name__', 'route')}",
        "summary": doc.splitlines()[0] if doc else f"{method} {path}",
        "description": doc,
        "parameters": _parameters(path, _path_patterns(route.resource), op),
    }
    if op.body is not None:
        if op.body in ("task", "edit"):
            name = "NewTask" if op.body == "task" else "TaskEdit"
            schema: dict[str, Any] = {"$ref": _REF.format(model=name)}
        else:
            assert isinstance(op.body, type)
            schema = _model_schema(op.body, op.drop)
        out["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": schema}},
        }
    content: dict[str, Any] = {op.reply_type: {}}
    if op.reply is not None:
        models.add(op.reply)
        content = {"application/json": {"schema": _ref(op.reply)}}
    responses: dict[str, Any] = {str(op.status): {"description": "Success", "content": content}}
    errors = set(op.errors) | {405}
    if not is_public(handler):
        errors.add(401)
    else:
        out["security"] = []
    for status in sorted(errors):
        responses[str(status)] = {
            "description": _STATUS_TEXT[status],
            "content": {"application/json": {"schema": _ref(ErrorReply)}},
        }
    out["responses"] = responses
    return out


def describe(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route `app` serves."""
    paths: dict[str, dict[str, Any]] = {}
    models: set[type[BaseModel]] = {ErrorReply}
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        path = route.resource.canonical
        op = OPERATIONS.get((route.method, path))
        if op is None:  # another part's route: described by its handler alone
            op = Operation(reply_type="*/*", errors=())
        paths.setdefault(path, {})[route.method.lower()] = _operation(route, op, models)
    codes = sorted(c.value for c in TaskErrorCode)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "qtqueue REST API",
            "version": "1",
            "description": "The engine's tasks, schedules and questions over HTTP. Every "
            "error is {ok: false, error: {code, message, description, suggestion}}; the codes: "
            + ", ".join(codes),
        },
        "paths": paths,
        "components": {
            "schemas": _components(models),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


async def openapi_json(request: web.Request) -> web.Response:
    """GET /openapi.json: the OpenAPI 3.1 description of every route."""
    return web.json_response(describe(request.app))


def add_routes(app: web.Application) -> None:
    """Add `/openapi.json` to `app`."""
    app.router.add_get("/openapi.json", openapi_json)
