"""The command line's backend on a cluster (`qtqueue --redis URL …`).

It answers the local API's actions the command line sends, in the same shapes, over RQ:

- `types` (a type's params schema, from this machine's executor registry), `add_task` (the
  task prepared as locally, then enqueued as an RQ job: `jobs.enqueue`) and `import_tasks` (a
  task file on this machine, checked as locally, all or none: `jobs.import_tasks`);
- the reads — `list_tasks`, `get_task`, `resolve_id`, `queue_task_status`, `read_log`,
  `workers`, `waiting` — from RQ's queues, registries and jobs (`reads.py`, the one place RQ's
  state becomes qtqueue's), and `follow_log` over the task's capped log stream;
- `stats`, computed from the listing (`ClusterReader.stats` says what differs);
- `queue_manage` cancel, retry and remove, and the dead letters' list, requeue and purge
  (`manage.py`);
- `move_task`, `set_priority` and `update_task` of a task waiting in its queue, each one
  atomic step no worker's pop can split (`ordering.py`).
- `pause_queue` / `resume_queue`: the whole cluster paused, every worker held until resumed
  (`cluster_pause.py`).

For the window's engine port over a cluster (`RemoteEngine` over this backend, see
`qtqueue.api.cluster_port`): `events()` (the cluster's changes as the local API's event
stream, `event_feed.py`) and the overview, queues, history, schedules (none) and settings
(read-only) in `port_actions.py`; questions, their answers and approval in
`question_actions.py`. What a cluster cannot do (schedules, settings, input) is refused
with CLUSTER_NOT_SUPPORTED and what to do instead. Redis is called from a worker thread
(`asyncio.to_thread`), so a slow server never blocks the event loop; Redis going away is
CLUSTER_REDIS_UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from qtqueue.cluster import cluster_pause, manage, port_actions, question_actions
from qtqueue.cluster.connection import NOT_SUPPORTED, connect, unavailable, where
from qtqueue.cluster.control import backend_action
from qtqueue.cluster.event_feed import follow
from qtqueue.cluster.jobs import enqueue, import_tasks
from qtqueue.cluster.ordering import ClusterOrder
from qtqueue.cluster.reads import ClusterReader, snapshot, task_ref
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.log_streams import strip_marks
from qtqueue.core.task import ACTIVE, TERMINAL, Task, TaskStatus, parse_task_type
from qtqueue.engine.context import AttemptState
from qtqueue.engine.summary import task_summary
from qtqueue.engine.task_definitions import absolute_path
from qtqueue.executors import ExecutorRegistry, default_registry

logger = logging.getLogger(__name__)

#: How long one wait for new log lines blocks (`follow_log`), in milliseconds.
FOLLOW_BLOCK_MS = 500
#: How much of the log `queue_task_status` adds with `include_logs` when not told (as locally).
DEFAULT_LOG_TAIL_BYTES = 2048


class _Source:
    """`engine.summary.TaskSource` over one task snapshot."""

    def __init__(self, task: Task) -> None:
        self._task = task
        self._now = time.time()

    async def get_task(self, task_id: str) -> Task:
        return self._task

    def clock(self) -> float:
        return self._now

    def attempt_state(self, task_id: str) -> AttemptState | None:
        t = self._task
        if t.started_at is None or not (t.status in ACTIVE or t.status == TaskStatus.PAUSED):
            return None
        return AttemptState(max(0.0, self._now - t.started_at), True, False)


def _statuses(value: object) -> list[TaskStatus] | None:
    if value is None:
        return None
    out = []
    for name in value if isinstance(value, list) else [value]:
        try:
            out.append(TaskStatus(str(name).lower()))
        except ValueError:
            known = ", ".join(s.value for s in TaskStatus)
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS,
                f"status: {name!r} is not a task status (one of: {known})",
                field="status",
            ) from None
    return out


class ClusterBackend:
    """`qtqueue.api.local_backend.Backend` for a cluster's Redis at `url` (connected on first
    use)."""

    remote = True

    def __init__(self, url: str, registry: ExecutorRegistry | None = None) -> None:
        self.url = url
        self._registry = registry
        self._redis: Redis | None = None
        self._actions: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "add_task": self._add,
            "list_tasks": self._list_tasks,
            "get_task": lambda p: {"task": self._reader().task(self._ref(p)).to_dict()},
            "resolve_id": lambda p: {"id": self._reader().resolve(self._ref(p))},
            "queue_task_status": self._task_status,
            "read_log": self._read_log,
            "queue_manage": self._manage,
            "list_dead_letters": lambda p: self._list_tasks({"dead_letter": True}),
            "requeue_dead_letters": lambda p: self._dead_letters(p, "requeue"),
            "purge_dead_letters": lambda p: self._dead_letters(p, "purge"),
            "workers": lambda p: self._reader().workers(),
            "waiting": lambda p: {"waiting": self._reader().waiting()},
            "stats": lambda p: self._reader().stats(),
            "engine_status": lambda p: port_actions.engine_status(self._connection(), self.url),
            "list_queues": lambda p: port_actions.list_queues(self._connection()),
            "history": lambda p: port_actions.history(self._reader(), p),
            "schedule_list": lambda p: {"schedules": []},
            "config_get": lambda p: port_actions.config_get(),
            "move_task": lambda p: self._order().move_task(p),
            "set_priority": lambda p: self._order().set_priority(p),
            "update_task": lambda p: self._order().update_task(p),
            "import_tasks": self._import,
            "pause_queue": lambda p: cluster_pause.pause_cluster(self._connection()),
            "resume_queue": lambda p: cluster_pause.resume_cluster(self._connection()),
        }
        for name, act in question_actions.ACTIONS.items():  # ask, answer_question, questions
            self._actions[name] = functools.partial(self._on_connection, act)

    def _on_connection(self, act: Callable[[Redis, Any], Any], params: Any) -> dict[str, Any]:
        out: dict[str, Any] = act(self._connection(), params)
        return out

    @property
    def registry(self) -> ExecutorRegistry:
        """The executor registry tasks are validated with (this machine's families)."""
        if self._registry is None:
            self._registry = default_registry()
        return self._registry

    def _connection(self) -> Redis:
        if self._redis is None:
            self._redis = connect(self.url)
        return self._redis

    def _reader(self) -> ClusterReader:
        return ClusterReader(self._connection())

    def _order(self) -> ClusterOrder:
        return ClusterOrder(self._connection(), self.registry)

    async def request(self, body: object) -> dict[str, Any]:
        """`{"action", "params"}` → `{"ok": True, "result"}` or `{"ok": False, "error"}`."""
        if not isinstance(body, dict):
            body = {}
        try:
            result = await self.call(str(body.get("action")), body.get("params") or {})
        except QueueError as exc:
            return {"ok": False, "error": exc.to_dict()}
        return {"ok": True, "result": result}

    async def call(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one of the actions the module lists on the cluster; any other:
        CLUSTER_NOT_SUPPORTED."""
        params = params or {}
        if action == "types":
            return self._types(params.get("name"))
        handler = self._actions.get(action)
        control = backend_action(action, params)  # pause/resume, workers suspend/resume
        if control is not None:
            handler = functools.partial(self._control, control)
        if action in port_actions.REFUSED:
            raise port_actions.refused(self.url, action)
        if handler is None or (action == "add_task" and "tasks" in params):
            raise QueueError(
                NOT_SUPPORTED,
                f"'{action}' on a cluster ({where(self.url)}) is not there yet: a cluster "
                "adds, imports, lists, shows, logs, cancels, retries, removes, pauses, resumes, "
                "moves, edits, approves and rejects tasks, asks and answers questions, pauses "
                "the whole cluster, and shows and suspends its workers, its queue, statistics "
                "and dead letters",
                action=action,
            )
        try:
            return await asyncio.to_thread(handler, params)
        except (RedisError, OSError) as exc:
            raise unavailable(self.url, exc) from None

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """The cluster's changes as the local API's event stream (`event_feed.follow`)."""
        try:
            conn = await asyncio.to_thread(self._connection)
        except (RedisError, OSError) as exc:
            raise unavailable(self.url, exc) from None
        async for event in follow(conn, self.url):
            yield event

    async def close(self) -> None:
        """Close the connection to Redis (a later call opens another)."""
        if self._redis is not None:
            conn, self._redis = self._redis, None
            await asyncio.to_thread(conn.close)

    def _control(
        self, control: Callable[[Redis], dict[str, Any]], params: dict[str, Any]
    ) -> dict[str, Any]:
        out = control(self._connection())
        if "task_id" in out:  # a task paused or resumed: the task as it is now, as locally
            out["task"] = self._reader().task(str(out["task_id"])).to_dict()
        return out

    _ref = staticmethod(task_ref)

    def _types(self, name: object) -> dict[str, Any]:
        executors = list(self.registry)
        if name is not None:
            wanted = parse_task_type(str(name))
            executors = [e for e in executors if e.name == wanted]
            if not executors:
                raise QueueError(
                    TaskErrorCode.QUEUE_UNKNOWN_TASK_TYPE, f"no task type {name!r}", task_type=name
                )
        return {
            "types": [
                {"name": e.name, "summary": e.describe(), "params_schema": e.schema()}
                for e in executors
            ]
        }

    def _add(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            task = Task.from_dict(params)
        except (TypeError, ValueError) as exc:
            raise QueueError(TaskErrorCode.VALIDATION_INVALID_PARAMS, str(exc)) from None
        job = enqueue(self._connection(), task, self.registry)
        return {"id": job.id}

    def _import(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = params.get("path")
        path = absolute_path(raw if isinstance(raw, str) else "")
        return {"ids": import_tasks(self._connection(), path, self.registry)}

    def _list_tasks(self, params: dict[str, Any]) -> dict[str, Any]:
        tasks = self._reader().tasks(
            _statuses(params.get("status")),
            category=params.get("category"),
            tag=params.get("tag"),
            task_type=params.get("type"),
            dead_letter=params.get("dead_letter"),
        )
        if params.get("queue") is not None:
            tasks = [t for t in tasks if t.queue == params["queue"]]
        total = len(tasks)
        if params.get("newest_first"):
            tasks.reverse()
        offset = int(params.get("offset") or 0)
        limit = params.get("limit")
        tasks = tasks[offset : None if limit is None else offset + int(limit)]
        out: dict[str, Any] = {"tasks": [t.to_dict() for t in tasks], "count": len(tasks)}
        if params.get("with_total"):
            out["total"] = total
        return out

    def _task_status(self, params: dict[str, Any]) -> dict[str, Any]:
        reader = self._reader()
        task = reader.task(self._ref(params))
        out = asyncio.run(task_summary(_Source(task), task.id))
        if params.get("detailed"):
            out["task"] = task.to_dict()
            out["transitions"] = _transitions(task)
        if params.get("include_logs"):
            tail = params.get("log_tail_bytes", DEFAULT_LOG_TAIL_BYTES)
            out["log_tail"] = strip_marks(reader.read_log(task.id, int(tail)))
        return out

    def _read_log(self, params: dict[str, Any]) -> dict[str, Any]:
        reader = self._reader()
        task_id = reader.resolve(self._ref(params))
        tail = params.get("tail_bytes")
        return {"task_id": task_id, "log": reader.read_log(task_id, tail)}

    def _manage(self, params: dict[str, Any]) -> dict[str, Any]:
        action, ref, reader = params.get("action"), self._ref(params), self._reader()
        if action == "remove":
            return manage.remove(reader, ref)
        if action == "cancel":
            return {"task": manage.cancel(reader, ref).to_dict()}
        if action == "retry":
            return {"task": manage.retry(reader, ref).to_dict()}
        raise QueueError(
            NOT_SUPPORTED,
            f"{action} of a task on a cluster ({where(self.url)}) is not there yet",
            action=action,
        )

    def _dead_letters(self, params: dict[str, Any], action: str) -> dict[str, Any]:
        reader = self._reader()
        ids = None if params.get("all") else params.get("ids")
        chosen = manage.dead_letters(reader, ids, action)
        for task in chosen:
            (manage.retry if action == "requeue" else manage.remove)(reader, task.id)
        return {"ids": [t.id for t in chosen]}

    async def follow_log(self, task_id: str) -> AsyncIterator[str]:
        """The task's log as it grows (RQ's log stream, read with XREAD BLOCK), until its
        job has ended for good (not a retry waiting) and the last lines are read; Redis going
        away: CLUSTER_REDIS_UNAVAILABLE."""
        try:
            async for chunk in self._follow_log(task_id):
                yield chunk
        except (RedisError, OSError) as exc:
            raise unavailable(self.url, exc) from None

    async def _follow_log(self, task_id: str) -> AsyncIterator[str]:
        reader = await asyncio.to_thread(self._reader)
        job_id = await asyncio.to_thread(reader.resolve, task_id)
        after = "-"
        while True:
            entries = await asyncio.to_thread(reader.wait_log, job_id, after, FOLLOW_BLOCK_MS)
            if entries:
                after = entries[-1][0]
                yield "".join(line + "\n" for _, line in entries)
                continue
            if await asyncio.to_thread(_ended, reader, job_id):
                rest = await asyncio.to_thread(reader.log_entries, job_id, after)
                if rest:
                    yield "".join(line + "\n" for _, line in rest)
                return


def _ended(reader: ClusterReader, job_id: str) -> bool:
    try:
        return snapshot(reader.job(job_id)).status in TERMINAL
    except QueueError:
        return True  # removed meanwhile


def _transitions(task: Task) -> list[dict[str, Any]]:
    """What a cluster's job tells of its status history: added (pending), its last attempt's
    start (running) and end. RQ keeps no transitions; earlier attempts are in the log."""
    out: list[dict[str, Any]] = [
        {"at": task.created_at, "from_status": None, "to_status": "pending",
         "error_code": None, "duration_s": None}
    ]  # fmt: skip
    if task.started_at is not None:
        out.append({"at": task.started_at, "from_status": "pending", "to_status": "running",
                    "error_code": None, "duration_s": None})  # fmt: skip
    if task.status in TERMINAL and task.completed_at is not None:
        out.append({"at": task.completed_at, "from_status": "running",
                    "to_status": task.status.value, "error_code": task.error_code,
                    "duration_s": task.duration_s})  # fmt: skip
    return out


def cluster_backend(url: str) -> ClusterBackend:
    """The command line's backend for the cluster at `url`."""
    return ClusterBackend(url)
