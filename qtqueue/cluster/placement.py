"""Resource-aware placement's pieces: what a task asks of a worker, what each worker has free,
where a task goes, and the Redis keys and moves of holding and placing a task.

The placer that uses them (who places, when, under which lock) is `placer.py`; this module is
the part every side shares: `jobs.enqueue` holds a new task here, the worker publishes its room
and gives back a task it has no room for, `reads.py` shows the held tasks and the rooms.

A task is *placed* when its `resources` name needs (`cpu_cores`, `memory_gb`, `disk_gb`,
`gpu_memory_gb`: the local engine's keys, parsed by `engine.resources.parse_needs`) or a
target: `worker` (a worker's name) or `label` (one of the labels a worker was started with,
`qtqueue worker --label gpu`). Such a task is not put on a shared queue: its RQ job is created
(status "created", in no queue) and its id waits in `WAITING_KEY` (a sorted set, scored by when
it was added: first come, first placed) until the placer moves it onto the chosen worker's own
queue (`qtqueue:worker:NAME`, which that worker takes from first).
A task with dependencies or a start time is held the same way once it is due (`INTAKE_QUEUE`).

Redis keys (all under `qtqueue:placement:` except the workers' own queues):

| key                                | what                                                       |
|------------------------------------|------------------------------------------------------------|
| `qtqueue:placement:waiting`        | zset: held task ids, scored by when they were added        |
| `qtqueue:placement:state`          | hash: task id -> JSON {reason, attempts, first/last check} |
| `qtqueue:placement:room:NAME`      | hash: a worker's free room and labels; expires (heartbeat) |
| `qtqueue:placement:workers`        | set: the names that published a room (pruned when gone)    |
| `qtqueue:placement:queues`         | set: the names whose own queue was given a task            |
| `qtqueue:placement:lock`           | string: the placer's lock (its holder's token), with a TTL |
| `rq:queue:qtqueue:placement:intake`| RQ queue: placed tasks due after dependencies or a time    |
| `qtqueue:placement:kick` (channel) | published when placing may now succeed                     |
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from redis import Redis

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.task import Priority
from qtqueue.engine.resources import Needs, parse_needs

logger = logging.getLogger(__name__)

PREFIX = "qtqueue:placement:"
WAITING_KEY = PREFIX + "waiting"
STATE_KEY = PREFIX + "state"
ROOM_PREFIX = PREFIX + "room:"
WORKERS_KEY = PREFIX + "workers"
QUEUES_KEY = PREFIX + "queues"
LOCK_KEY = PREFIX + "lock"
KICK_CHANNEL = PREFIX + "kick"
#: Where RQ delivers a placed task with dependencies or a start time when it is due (its
#: dependencies done, its time come): every worker takes from it last and holds what it
#: takes for the placer instead of running it.
INTAKE_QUEUE = "qtqueue:placement:intake"
#: A worker's own queue is the RQ queue named this plus its name.
WORKER_QUEUE_PREFIX = "qtqueue:worker:"
#: The `resources` keys that name where a task runs (the cluster's; the local engine refuses them).
TARGET_KEYS = ("worker", "label")
#: The reason a task held but not yet looked at by a placer shows.
NOT_YET_CHECKED = "waiting for the placer (no live worker has taken the placer's lock yet)"


def worker_queue_name(worker: str) -> str:
    """The name of `worker`'s own RQ queue (the placer puts tasks for it there)."""
    return WORKER_QUEUE_PREFIX + worker


def room_key(worker: str) -> str:
    """The key of `worker`'s published room."""
    return ROOM_PREFIX + worker


@dataclass(frozen=True, slots=True)
class Ask:
    """What a task asks of the worker that runs it: its needs and its target."""

    needs: Needs = field(default_factory=Needs)
    worker: str = ""
    label: str = ""
    #: The task's priority (`Priority`'s number): higher is placed first.
    priority: int = int(Priority.NORMAL)

    @property
    def placed(self) -> bool:
        """Whether the task goes through the placer (it has needs or a target)."""
        return bool(self.worker or self.label or not self.needs.empty)

    def target_words(self) -> str:
        """Where it may run, in words: 'worker-1', 'label gpu', 'worker-1 (label gpu)',
        'any worker'."""
        if self.worker and self.label:
            return f"{self.worker} (label {self.label})"
        if self.worker:
            return self.worker
        return f"label {self.label}" if self.label else "any worker"


def split_target(resources: Mapping[str, Any]) -> tuple[dict[str, Any], str, str]:
    """(the resources without the target keys, worker, label); VALIDATION_INVALID_PARAMS for a
    target that is not a non-empty name."""
    rest = {k: v for k, v in resources.items() if k not in TARGET_KEYS}
    found: list[str] = []
    for key in TARGET_KEYS:
        value = resources.get(key)
        if value is None:
            found.append("")
        elif isinstance(value, str) and value.strip() and value.strip() == value:
            found.append(value)
        else:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_PARAMS,
                f"resources.{key}: must be a {key} name (no spaces around it), got {value!r}",
                fields=[f"resources.{key}"],
            )
    return rest, found[0], found[1]


def ask_of(resources: Mapping[str, Any]) -> Ask:
    """The `Ask` of a task's `resources`; QueueError VALIDATION_INVALID_PARAMS as
    `parse_needs` and `split_target` refuse it."""
    rest, worker, label = split_target(resources)
    return Ask(parse_needs(rest), worker, label)


def job_ask(job_args: Any) -> Ask:
    """The `Ask` of a qtqueue job's argument (a task's dict); an empty one if it reads badly."""
    try:
        task = job_args[0]
        ask = ask_of(task.get("resources") or {})
    except (QueueError, AttributeError, IndexError, TypeError):
        return Ask()
    try:
        priority = int(Priority.parse(task.get("priority", Priority.NORMAL)))
    except (ValueError, TypeError, KeyError):
        return ask  # a priority that reads badly places as a normal one
    return dataclasses.replace(ask, priority=priority)


def _num(value: Any) -> float | None:
    if value in (None, "", b""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass(slots=True)
class Room:
    """What one live worker has free now (GB for sizes; None: it has none of that, e.g. no
    GPU), its labels, and whether it runs a task or is suspended."""

    name: str
    cpu_cores: float
    memory_gb: float
    disk_gb: float | None = None
    gpu_memory_gb: float | None = None
    labels: tuple[str, ...] = ()
    busy: bool = False
    suspended: bool = False
    host: str = ""
    total_cpu_cores: float = 0.0
    total_memory_gb: float = 0.0
    at: float = 0.0

    def to_hash(self) -> dict[str, str]:
        """The room as the worker's Redis hash."""
        return {
            "cpu_cores": repr(self.cpu_cores),
            "memory_gb": repr(self.memory_gb),
            "disk_gb": "" if self.disk_gb is None else repr(self.disk_gb),
            "gpu_memory_gb": "" if self.gpu_memory_gb is None else repr(self.gpu_memory_gb),
            "labels": json.dumps(list(self.labels)),
            "busy": "1" if self.busy else "0",
            "suspended": "1" if self.suspended else "0",
            "host": self.host,
            "total_cpu_cores": repr(self.total_cpu_cores),
            "total_memory_gb": repr(self.total_memory_gb),
            "at": repr(self.at),
        }

    @classmethod
    def from_hash(cls, name: str, raw: Mapping[bytes, bytes]) -> Room:
        """A room from its Redis hash (a field that does not read counts as nothing free)."""
        h = {k.decode(): v.decode("utf-8", "replace") for k, v in raw.items()}
        try:
            labels = tuple(str(x) for x in json.loads(h.get("labels") or "[]"))
        except (ValueError, TypeError):
            labels = ()
        return cls(
            name,
            cpu_cores=_num(h.get("cpu_cores")) or 0.0,
            memory_gb=_num(h.get("memory_gb")) or 0.0,
            disk_gb=_num(h.get("disk_gb")),
            gpu_memory_gb=_num(h.get("gpu_memory_gb")),
            labels=labels,
            busy=h.get("busy") == "1",
            suspended=h.get("suspended") == "1",
            host=h.get("host", ""),
            total_cpu_cores=_num(h.get("total_cpu_cores")) or 0.0,
            total_memory_gb=_num(h.get("total_memory_gb")) or 0.0,
            at=_num(h.get("at")) or 0.0,
        )

    def free(self) -> dict[str, float | None]:
        """The free figures by need key (what `workers` shows)."""
        return {
            "cpu_cores": self.cpu_cores,
            "memory_gb": self.memory_gb,
            "disk_gb": self.disk_gb,
            "gpu_memory_gb": self.gpu_memory_gb,
        }

    def take(self, needs: Needs) -> None:
        """Count `needs` as used (a task was placed here), until the worker's next heartbeat."""
        self.cpu_cores -= needs.cpu_cores
        self.memory_gb -= needs.memory_gb
        if self.disk_gb is not None:
            self.disk_gb -= needs.disk_gb
        if self.gpu_memory_gb is not None:
            self.gpu_memory_gb -= needs.gpu_memory_gb
        self.busy = True


def shortage(room: Room, needs: Needs) -> str | None:
    """Why `room` cannot take `needs`, in the resource document's words ("Insufficient CPU:
    worker has 4.00 available, task requires 8.00"; several joined by "; "), or None."""
    short: list[str] = []
    if needs.cpu_cores > room.cpu_cores + 1e-9:
        short.append(
            f"Insufficient CPU: worker has {max(room.cpu_cores, 0):.2f} available, "
            f"task requires {needs.cpu_cores:.2f}"
        )
    if needs.memory_gb > room.memory_gb + 1e-9:
        short.append(
            f"Insufficient Memory: worker has {max(room.memory_gb, 0):.2f} GB available, "
            f"task requires {needs.memory_gb:.2f} GB"
        )
    if needs.disk_gb and needs.disk_gb > (room.disk_gb or 0.0) + 1e-9:
        short.append(
            f"Insufficient Storage: worker has {max(room.disk_gb or 0.0, 0):.2f} GB available, "
            f"task requires {needs.disk_gb:.2f} GB"
        )
    if needs.gpu_memory_gb:
        if room.gpu_memory_gb is None:
            short.append("Insufficient GPU: worker has no GPU")
        elif needs.gpu_memory_gb > room.gpu_memory_gb + 1e-9:
            short.append(
                f"Insufficient GPU: worker has {max(room.gpu_memory_gb, 0):.2f} GB available "
                f"on its best GPU, task requires {needs.gpu_memory_gb:.2f} GB"
            )
    return "; ".join(short) or None


def choose(ask: Ask, rooms: Mapping[str, Room]) -> tuple[str | None, str]:
    """(the worker to place a task on, "") or (None, why it waits). Among the live, not
    suspended workers its target allows, those with room; of those an idle one first (a
    busy one would keep it queued behind its current task), then the one with most free CPU,
    then by name. No fit: the shortage of the roomiest, or "worker-1 offline"."""
    if ask.worker:
        room = rooms.get(ask.worker)
        if room is None:
            return None, f"{ask.worker} offline"
        candidates = [room]
    else:
        candidates = sorted(rooms.values(), key=lambda r: r.name)
    if ask.label:
        candidates = [r for r in candidates if ask.label in r.labels]
        if not candidates:
            if ask.worker:
                return None, f"{ask.worker} does not have the label {ask.label!r}"
            return None, f"no live worker has the label {ask.label!r}"
    if not candidates:
        return None, "no live worker"
    awake = [r for r in candidates if not r.suspended]
    if not awake:
        if len(candidates) == 1:
            return None, f"{candidates[0].name} suspended"
        return None, "suspended: " + ", ".join(r.name for r in candidates)
    fits = [r for r in awake if shortage(r, ask.needs) is None]
    if fits:
        best = min(fits, key=lambda r: (r.busy, -r.cpu_cores, -r.memory_gb, r.name))
        return best.name, ""
    roomiest = max(awake, key=lambda r: (r.cpu_cores, r.memory_gb, r.name))
    why = cast(str, shortage(roomiest, ask.needs))
    if len(awake) == 1:
        return None, f"{why} ({roomiest.name})"
    return None, f"{why} ({roomiest.name}, the roomiest of {len(awake)} live workers)"


# ----------------------------------------------------------------------------- Redis moves


def kick(conn: Redis) -> None:
    """Tell the placer that placing may succeed now (a task was added, room grew)."""
    conn.publish(KICK_CHANNEL, b"1")


def live_rooms(conn: Redis) -> dict[str, Room]:
    """The rooms of the live workers (their heartbeat has not expired), by name; the names
    whose room expired are dropped from `WORKERS_KEY`."""
    names = sorted(n.decode() for n in cast(set[bytes], conn.smembers(WORKERS_KEY)))
    if not names:
        return {}
    with conn.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hgetall(room_key(name))
        raws = pipe.execute()
    rooms: dict[str, Room] = {}
    gone = []
    for name, raw in zip(names, raws, strict=True):
        if raw:
            rooms[name] = Room.from_hash(name, raw)
        else:
            gone.append(name)
    if gone:
        conn.srem(WORKERS_KEY, *gone)
    return rooms


def read_states(conn: Redis, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The placement state (reason, attempts, check times) of each of `ids` that has one."""
    if not ids:
        return {}
    raws = cast(list[bytes | None], conn.hmget(STATE_KEY, ids))
    out: dict[str, dict[str, Any]] = {}
    for job_id, raw in zip(ids, raws, strict=True):
        if raw:
            with_state = json.loads(raw)
            if isinstance(with_state, dict):
                out[job_id] = with_state
    return out


def note(state: dict[str, Any] | None, reason: str, now: float) -> dict[str, Any]:
    """A task's placement state after one more check that ended with `reason`."""
    out = dict(state or {})
    out["attempts"] = int(out.get("attempts") or 0) + 1
    out.setdefault("first_checked_at", now)
    out["last_checked_at"] = now
    out["reason"] = reason
    return out


def hold(conn: Redis, job_id: str, reason: str, score: float | None = None) -> None:
    """Hold the job `job_id` for the placer (again) with `reason`, and kick the placer. A
    task already waiting keeps its place (its first score)."""
    state = read_states(conn, [job_id]).get(job_id)
    now = time.time()
    new = dict(state or {}, reason=reason, last_checked_at=now)
    with conn.pipeline() as pipe:
        pipe.zadd(WAITING_KEY, {job_id: now if score is None else score}, nx=True)
        pipe.hset(STATE_KEY, job_id, json.dumps(new))
        pipe.publish(KICK_CHANNEL, b"1")
        pipe.execute()
    logger.info("task %s held for placement: %s", job_id, reason)
