"""The placer: moves held tasks (`placement.py`) onto the own queue of a worker with room.

**Why this design** — one placer under a Redis lock, per-worker queues — and not each worker
pulling from a shared queue and checking its own room: a worker that pulls a task it has no
room for must put it back, and with RQ's blocking pops every idle worker would pull, refuse
and push back the same big task over and over (a busy loop across the cluster), while a task
meant for one worker, or a label, could be taken by any. A worker also cannot see the others'
room, so it cannot say *why* a task waits ("Insufficient CPU: worker has 4.00 available, task
requires 8.00", "worker-1 offline") nor keep two big tasks off one machine in the window
before its next heartbeat. One placer sees every worker's published room at once, decides
each task once, says why it waits, and counts what it placed against the worker's room until
that worker's next heartbeat. Per-worker queues then keep RQ's own claiming, registries,
retries and stop-job intact: a placed task is an ordinary RQ job on an ordinary queue.

**Who places**: the placer runs inside every `qtqueue worker` (a thread, `PlacementAgent`);
whoever holds `placement.LOCK_KEY` places, the others only publish their room. The lock has
a TTL (`LOCK_TTL_S`) renewed every heartbeat while its holder lives; a holder that dies
(SIGKILL, a lost machine) stops renewing, the lock expires, and the next worker to try takes
it over — no separate daemon to deploy or to lose. The pass is cheap and idempotent: a task
leaves the waiting set by one ZREM, so even two placers in a lock's hand-over (a paused
holder) cannot place a task twice.

**When**: placing is event-driven — a kick on `placement.KICK_CHANNEL` when a task is held
(added, given back), when a worker's heartbeat shows more room than before (it joined, a task
ended) — with a slow safety pass every `SAFETY_PASS_S`, not a tight poll.

**Each worker** publishes its room every `HEARTBEAT_S` (a hash with a TTL of `ROOM_TTL_S`):
free CPU cores (its cores less what its running task reserved), available memory, free disk
on its data directory's filesystem and free memory of its best GPU (NVML; none without it),
each less what tasks already placed in its own queue need, plus its labels. It checks again
when it takes a placed task (`WorkerPlacement.admit`, the local engine's
`ResourceAccountant.try_reserve`): with no room (its heartbeat was stale, another program took
the memory) it gives the task back to the placer instead of running it. A worker that goes
offline (or is suspended) with tasks in its own queue: the placer takes them back (`rescue`).
A placed task with dependencies or a start time waits in RQ's deferred or scheduled registry
of the intake queue (`placement.INTAKE_QUEUE`) like any other; when RQ moves it there, the
worker that takes it hands it to the placer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from redis import Redis
from redis.exceptions import RedisError
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.registry import (
    BaseRegistry,
    CanceledJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
    clean_registries,
)

from qtqueue.cluster import abandoned
from qtqueue.cluster.jobs import SERIALIZER, rq_queue
from qtqueue.cluster.placement import (
    INTAKE_QUEUE,
    KICK_CHANNEL,
    LOCK_KEY,
    NOT_YET_CHECKED,
    QUEUES_KEY,
    STATE_KEY,
    WAITING_KEY,
    WORKERS_KEY,
    Ask,
    Room,
    choose,
    hold,
    job_ask,
    live_rooms,
    note,
    read_states,
    room_key,
    worker_queue_name,
)
from qtqueue.engine.resources import ResourceAccountant, SystemProbe

logger = logging.getLogger(__name__)

#: Seconds between a worker's room updates.
HEARTBEAT_S = 2.0
#: A worker's room expires this long after its last update (then it counts as offline).
ROOM_TTL_S = 6
#: The placer's lock lasts this long unless its holder renews it (every heartbeat).
LOCK_TTL_S = 6
#: Seconds between safety passes of the placer (placing is otherwise driven by kicks).
SAFETY_PASS_S = 10.0
#: A worker that gave a task back is not given it again for this long.
GIVE_BACK_COOLDOWN_S = 10.0
#: A heartbeat kicks the placer when free memory or disk grew by more than this (GB).
ROOM_GROWTH_GB = 0.25
#: The least time between two passes: the kicks that come during a pass or this soon after
#: it make one pass (a burst of adds is not a pass each).
MIN_PASS_GAP_S = 0.02
#: The room fields a placement changes (the rest stay as the worker published them).
_TAKEN = ("cpu_cores", "memory_gb", "disk_gb", "gpu_memory_gb", "busy")
#: The registries of a worker's own queue that keep its name known (see `rescue`).
_REGISTRIES: tuple[type[BaseRegistry], ...] = (
    StartedJobRegistry,
    FinishedJobRegistry,
    FailedJobRegistry,
    ScheduledJobRegistry,
    CanceledJobRegistry,
)
#: Job statuses of a held job the placer may place (others were cancelled or ended).
PLACEABLE = (JobStatus.CREATED, JobStatus.QUEUED)

_RENEW = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end"
)
_HSET_IF_LIVE = (
    "if redis.call('exists', KEYS[1]) == 1 then return redis.call('hset', KEYS[1], unpack(ARGV)) "
    "else return 0 end"
)


class OverrideProbe(SystemProbe):
    """The real machine, or less: `--cpu-cores N` and `--memory-gb G` declare a smaller
    capacity than psutil reports (a worker sharing its machine, or a test standing for a
    smaller machine)."""

    def __init__(self, cpu_cores: int | None = None, memory_gb: float | None = None) -> None:
        super().__init__()
        self.cpu_override = cpu_cores
        self.memory_override = memory_gb

    def cpu_cores(self) -> int:
        """The declared cores, else the machine's logical cores."""
        if self.cpu_override is not None:
            return self.cpu_override
        return super().cpu_cores()

    def memory_gb(self) -> tuple[float, float]:
        """(total, available), at most the declared memory."""
        total, available = super().memory_gb()
        if self.memory_override is None:
            return total, available
        return self.memory_override, min(available, self.memory_override)


# ----------------------------------------------------------------------------- the pass


def rescue(conn: Redis, rooms: dict[str, Room], deep: bool = True) -> int:
    """Take back the tasks waiting in the own queue of a worker that is offline or suspended
    (held again, "NAME offline", "NAME suspended"); how many. With `deep` (the safety
    passes) an offline worker's registries are cleaned as RQ's worker cleans its own (nobody
    else listens to its queue): a task it was running when it died is found abandoned once
    its heartbeat expires (QUEUE_TASK_INTERRUPTED through the job's failure callback; a retry
    lands in its queue, and a pass takes it back), and a retry due in its scheduled registry
    is taken back too (its scheduler died with it). The name is forgotten once nothing of it
    is left (its finished and failed tasks list until then)."""
    taken = 0
    for raw in cast(set[bytes], conn.smembers(QUEUES_KEY)):
        name = raw.decode()
        room = rooms.get(name)
        queue = rq_queue(conn, worker_queue_name(name))
        if room is not None:
            if room.suspended:  # alive, takes nothing until resumed: its tasks may go elsewhere
                for job_id in queue.get_job_ids():
                    if conn.lrem(queue.key, 1, job_id):
                        hold(conn, job_id, f"{name} suspended (taken back from its queue)")
                        taken += 1
            continue
        if deep:
            clean_registries(queue)
            scheduled = ScheduledJobRegistry(  # type: ignore[no-untyped-call]
                queue.name, connection=conn, serializer=SERIALIZER
            )
            for job_id in scheduled.get_jobs_to_schedule(int(time.time())):
                if conn.zrem(scheduled.key, job_id):
                    hold(conn, job_id, f"{name} offline (its retry taken back)")
                    taken += 1
        ids = queue.get_job_ids()
        for job_id in ids:
            if conn.lrem(queue.key, 1, job_id):
                hold(conn, job_id, f"{name} offline (taken back from its queue)")
                taken += 1
        if not deep or ids:
            continue
        if not any(
            cls(queue.name, connection=conn, serializer=SERIALIZER).get_job_ids(cleanup=False)
            for cls in _REGISTRIES
        ):
            conn.srem(QUEUES_KEY, name)
    return taken


def place(conn: Redis, job: Job, name: str, state: dict[str, Any] | None) -> bool:
    """Move the held `job` onto worker `name`'s own queue; False when it left the waiting set
    meanwhile (cancelled, placed by another)."""
    if job.get_status(refresh=True) not in PLACEABLE or not conn.zrem(WAITING_KEY, job.id):
        return False
    now = time.time()
    new = note(state, f"placed on {name}", now)
    job.meta.update(placed_on=name, placement_attempts=new["attempts"])
    rq_queue(conn, worker_queue_name(name)).enqueue_job(job)
    with conn.pipeline() as pipe:
        pipe.sadd(QUEUES_KEY, name)
        pipe.hset(STATE_KEY, job.id, json.dumps(new))
        pipe.execute()
    logger.info("placer: task %s placed on %s", job.id, name)
    return True


def place_pass(
    conn: Redis, now: float | None = None, deep: bool = True, asks: dict[str, Ask] | None = None
) -> int:
    """One pass over the held tasks, higher priority first, then first held first: each goes
    to a worker with room (counted against it until that worker's next heartbeat) or stays
    with the reason; how many were placed. First the tasks of offline workers are taken
    back (`rescue`, `deep`), and a dead worker's abandoned jobs handed to RQ
    (`abandoned.sweep`, `deep`).

    `asks`: what each held task asks, kept between passes by the caller (a job's argument
    never changes), so a pass reads only the jobs it has not seen: three commands for the
    held set (its ids, their states, the new states) and one fetch per placement, not one
    per held task. A `deep` pass reads them all again and drops the cancelled and expired."""
    now = time.time() if now is None else now
    asks = {} if asks is None else asks
    rooms = live_rooms(conn)
    rescue(conn, rooms, deep)
    if deep:
        abandoned.sweep(conn, now)
    ids = [i.decode() for i in cast(list[bytes], conn.zrange(WAITING_KEY, 0, -1))]
    for old in set(asks) - set(ids):
        del asks[old]
    if deep:
        prune_states(conn, set(ids))
    if not ids:
        return 0
    states = read_states(conn, ids)
    unread = ids if deep else [i for i in ids if i not in asks]
    gone: list[str] = []
    for job_id, job in zip(unread, _fetch(conn, unread), strict=True):
        if job is None or job.get_status(refresh=False) not in PLACEABLE:
            gone.append(job_id)
            asks.pop(job_id, None)
        else:
            asks[job_id] = job_ask(job.args)
    placed, updates = 0, {}
    # Higher priority first; within one priority, first held first (the sort is stable).
    for job_id in sorted((i for i in ids if i in asks), key=lambda i: -asks[i].priority):
        ask, state = asks[job_id], states.get(job_id) or {}
        name, why = choose(ask, rooms)
        refused_by = state.get("refused_by")
        if refused_by and now - float(state.get("refused_at") or 0) < GIVE_BACK_COOLDOWN_S:
            gave = f"{refused_by} gave it back: no room when it was to start it"
            if name == refused_by:  # its room reads wrong for now: not again at once
                name, why = None, gave
            elif name is None:
                why = f"{why}; {gave}"
        if name is None:
            updates[job_id] = json.dumps(note(state, why, now))
            continue
        job = _fetch(conn, [job_id])[0]
        if job is None or not place(conn, job, name, state):
            gone.append(job_id)  # cancelled or expired meanwhile
            asks.pop(job_id, None)
            continue
        placed += 1
        asks.pop(job_id, None)
        room = rooms[name]
        room.take(ask.needs)
        flat = [x for kv in room.to_hash().items() if kv[0] in _TAKEN for x in kv]
        conn.eval(_HSET_IF_LIVE, 1, room_key(name), *flat)
    with conn.pipeline() as pipe:
        if gone:
            pipe.zrem(WAITING_KEY, *gone)
            pipe.hdel(STATE_KEY, *gone)
        if updates:
            pipe.hset(STATE_KEY, mapping=updates)
        pipe.execute()
    return placed


def prune_states(conn: Redis, held: set[str]) -> int:
    """Drop the placement states of tasks neither held nor waiting in a worker's queue (a
    placed task cancelled, expired or deleted before it started); how many."""
    placed = [k.decode() for k in cast(list[bytes], conn.hkeys(STATE_KEY))]
    placed = [k for k in placed if k not in held]
    stale = [
        job_id
        for job_id, job in zip(placed, _fetch(conn, placed), strict=True)
        if job is None or job.get_status(refresh=False) not in PLACEABLE
    ]
    if stale:
        conn.hdel(STATE_KEY, *stale)
    return len(stale)


def _fetch(conn: Redis, ids: list[str]) -> list[Job | None]:
    return Job.fetch_many(ids, connection=conn, serializer=SERIALIZER) if ids else []


# ----------------------------------------------------------------------------- the worker's side


class WorkerPlacement:
    """A worker's part: its room (published every heartbeat), its start check, and the
    placer thread that places while this worker holds the lock."""

    def __init__(
        self,
        conn: Redis,
        name: str,
        work_dir: Path,
        *,
        labels: Sequence[str] = (),
        probe: OverrideProbe | None = None,
        host: str = "",
        suspended: Callable[[], bool] = lambda: False,
    ) -> None:
        self.conn = conn
        self.name = name
        self.queue_name = worker_queue_name(name)
        self.work_dir = work_dir
        self.labels = tuple(dict.fromkeys(labels))
        self.accountant = ResourceAccountant(probe if probe is not None else OverrideProbe())
        self.host = host
        self.suspended = suspended
        self.token = f"{name}:{id(self)}:{time.time()}"
        self.holder = False
        self.running: str | None = None
        self._last: Room | None = None
        self._publishing = threading.Lock()
        self._asks: dict[str, Ask] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def started_thread(self) -> bool:
        """Whether `start` ran (the room was published: `stop` withdraws it)."""
        return self._thread is not None

    # -- room

    def _queued_needs(self) -> tuple[float, float, float, float]:
        ids = [i.decode() for i in cast(list[bytes], self.conn.lrange(
            rq_queue(self.conn, self.queue_name).key, 0, -1))]  # fmt: skip
        cpu = mem = disk = gpu = 0.0
        for job in Job.fetch_many(ids, connection=self.conn, serializer=SERIALIZER) if ids else []:
            if job is not None:
                needs = job_ask(job.args).needs
                cpu, mem = cpu + needs.cpu_cores, mem + needs.memory_gb
                disk, gpu = disk + needs.disk_gb, gpu + needs.gpu_memory_gb
        return cpu, mem, disk, gpu

    def measure(self) -> Room:
        """This worker's room now: what it has free less what its running task reserved and
        what the tasks already in its own queue need."""
        probe = self.accountant.probe
        held = self.accountant.holdings()
        q_cpu, q_mem, q_disk, q_gpu = self._queued_needs()
        total_cpu = float(probe.cpu_cores())
        total_mem, available = probe.memory_gb()
        disk: float | None
        try:
            fs, _, free = probe.disk_gb(str(self.work_dir))
            disk = free - sum(r.disk_gb for r in held if r.disk_fs == fs) - q_disk
        except OSError:
            disk = None
        gpus = [
            free - sum(r.gpu_memory_gb for r in held if r.gpu_index == i)
            for i, (_, free) in enumerate(probe.gpus_gb())
        ]
        return Room(
            self.name,
            cpu_cores=total_cpu - sum(r.cpu_cores for r in held) - q_cpu,
            memory_gb=available - sum(r.memory_gb for r in held) - q_mem,
            disk_gb=disk,
            gpu_memory_gb=max(gpus) - q_gpu if gpus else None,
            labels=self.labels,
            busy=self.running is not None,
            suspended=self.suspended(),
            host=self.host,
            total_cpu_cores=total_cpu,
            total_memory_gb=total_mem,
            at=time.time(),
        )

    def publish(self, kick: bool = False) -> None:
        """Publish the room now (with its TTL); kick the placer when it grew since the last
        heartbeat, or with `kick` (a placed task ended: its room grew since it was placed,
        which the last heartbeat may not have seen)."""
        with self._publishing:
            room = self.measure()
            with self.conn.pipeline() as pipe:
                pipe.hset(room_key(self.name), mapping=room.to_hash())
                pipe.expire(room_key(self.name), ROOM_TTL_S)
                pipe.sadd(WORKERS_KEY, self.name)
                pipe.execute()
            if kick or _grew(self._last, room):
                self.conn.publish(KICK_CHANNEL, b"1")
            self._last = room

    # -- start check

    def admit(self, job: Job, queue: Queue) -> bool:
        """Whether to run a job taken from `queue`: a task from this worker's own queue runs
        only if its needs can be reserved now, else it goes back to the placer; one from the
        intake queue goes to the placer (True: run)."""
        if queue.name == INTAKE_QUEUE:  # due now (dependencies done, its time come): place it
            self.conn.lrem(queue.intermediate_queue_key, 1, job.id)
            hold(self.conn, job.id, NOT_YET_CHECKED)
            return False
        if queue.name != self.queue_name:
            return True
        needs = job_ask(job.args).needs
        if needs.disk_gb and not needs.disk_path:  # the disk its room counts: its data dir's
            needs = dataclasses.replace(needs, disk_path=str(self.work_dir))
        why = self.accountant.try_reserve(job.id, needs)
        if why is None:
            self.running = job.id
            self.conn.hdel(STATE_KEY, job.id)
            return True
        self.conn.lrem(queue.intermediate_queue_key, 1, job.id)
        self.publish()  # the placer must see the room as it is
        state = read_states(self.conn, [job.id]).get(job.id) or {}
        state.update(refused_by=self.name, refused_at=time.time())
        self.conn.hset(STATE_KEY, job.id, json.dumps(state))
        hold(self.conn, job.id, f"{self.name} gave it back: no room when it was to start it: {why}")
        logger.warning("worker %s: no room for task %s (%s): gave it back", self.name, job.id, why)
        return False

    def control_changed(self) -> None:
        """A control command was handled (suspend, resume): the room says so at once (a
        change of suspended kicks the placer: it takes back what waits in this worker's
        queue while suspended, or places on it again)."""
        if self._thread is None:
            return
        try:
            self.publish()
        except RedisError as exc:
            logger.warning("worker %s: could not publish its room: %s", self.name, exc)

    def started(self, job: Job) -> None:
        """A job starts (from any queue): the room shows this worker busy."""
        self.running = job.id

    def ended(self, job: Job) -> None:
        """A job ended: give back what it reserved and, if it reserved anything (a placed
        task), publish the room at once (it grew: kicks the placer). Other jobs wait for the
        next heartbeat: a no-op task pays nothing for placement."""
        self.running = None
        if not self.accountant.release(job.id):
            return
        try:
            self.publish(kick=True)
        except RedisError as exc:
            logger.warning("worker %s: could not publish its room: %s", self.name, exc)

    # -- the thread

    def start(self) -> None:
        """Publish the room, then heartbeat and place (when holding the lock) in a thread
        (once: a second call does nothing)."""
        if self._thread is not None:
            return
        self.publish()
        self._thread = threading.Thread(target=self._run, name="qtqueue-placer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, give up the lock, withdraw the room (offline at once)."""
        self._stop.set()
        with contextlib.suppress(RedisError):
            self.conn.publish(KICK_CHANNEL, b"1")  # wakes the thread from its wait
        if self._thread is not None:
            self._thread.join(timeout=HEARTBEAT_S * 3)
        try:
            self.conn.eval(_RELEASE, 1, LOCK_KEY, self.token)
            self.conn.delete(room_key(self.name))
            self.conn.srem(WORKERS_KEY, self.name)
            self.conn.publish(KICK_CHANNEL, b"1")
        except RedisError as exc:
            logger.warning("worker %s: could not withdraw its room: %s", self.name, exc)

    def _lock(self) -> bool:
        ms = LOCK_TTL_S * 1000
        if self.holder and self.conn.eval(_RENEW, 1, LOCK_KEY, self.token, ms):
            return True
        got = bool(self.conn.set(LOCK_KEY, self.token, nx=True, px=ms))
        if got:
            logger.info("worker %s: holds the placer's lock", self.name)
        return got

    def _run(self) -> None:
        pubsub = self.conn.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        beat = safety = gap = 0.0
        kicked = True
        while not self._stop.is_set():
            try:
                if not pubsub.subscribed:
                    pubsub.subscribe(KICK_CHANNEL)
                now = time.monotonic()
                if now >= beat:
                    self.publish()
                    was, self.holder = self.holder, self._lock()
                    kicked = kicked or (self.holder and not was)
                    beat = now + HEARTBEAT_S
                if self.holder and ((kicked and now >= gap) or now >= safety):
                    kicked = False
                    place_pass(self.conn, deep=now >= safety, asks=self._asks)
                    gap = time.monotonic() + MIN_PASS_GAP_S
                    safety = time.monotonic() + SAFETY_PASS_S
                until = min(beat, safety) if self.holder else beat
                if self.holder and kicked:
                    until = min(until, gap)
                wait = max(0.01, until - time.monotonic())
                if pubsub.get_message(timeout=wait) is not None:
                    kicked = True
                    while pubsub.get_message(timeout=0.0) is not None:
                        pass  # one pass for every kick that came meanwhile
            except RedisError as exc:
                logger.warning("worker %s: placement: %s", self.name, exc)
                self.holder = False
                self._stop.wait(HEARTBEAT_S)
                pubsub = self.conn.pubsub(  # type: ignore[no-untyped-call]
                    ignore_subscribe_messages=True
                )
            except Exception:  # the thread must go on: a bad job must not stop placing
                logger.exception("worker %s: placement pass failed", self.name)
                self._stop.wait(HEARTBEAT_S)
        pubsub.close()


def _grew(before: Room | None, after: Room) -> bool:
    if before is None:
        return True
    return (
        after.cpu_cores > before.cpu_cores + 1e-9
        or after.memory_gb > before.memory_gb + ROOM_GROWTH_GB
        or (after.disk_gb or 0.0) > (before.disk_gb or 0.0) + ROOM_GROWTH_GB
        or (after.gpu_memory_gb or 0.0) > (before.gpu_memory_gb or 0.0) + ROOM_GROWTH_GB
        or before.suspended != after.suspended
    )
