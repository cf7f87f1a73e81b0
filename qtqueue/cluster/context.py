"""`WorkerRunContext`: the `RunContext` of a qtqueue task run by an RQ worker.

What the local engine keeps in its store and log files goes to Redis, where every client of
the cluster can read it:

- progress, current step, bytes moved, phase and the command's pid: the job's `meta`
  (`job.meta["progress"]`, `["step"]`, `["phase"]`, …), saved at most every
  `META_INTERVAL_S` (the first time that long after the start, so a short task costs one
  write, at its end; a phase change and the end of the attempt at once);
- the log: a capped Redis stream per task, `log_stream_key(task_id)`, one entry per line
  (`{"line": text}`), at most about `LOG_STREAM_MAXLEN` lines (XADD MAXLEN ~), kept as long as
  the job's failure TTL;
- credentials: from this worker machine's OS keyring, by name (`engine.credentials`), masked
  in the log, the step and the outcome from then on.

- a question (`ask`): kept in Redis and answered by any client (`cluster.questions`), the
  step saying what the task waits for, as locally.

Not yet on a worker: input to a running command.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from redis import Redis
from rq.job import Job

from qtqueue.cluster import questions
from qtqueue.cluster.events import publish
from qtqueue.core.log_streams import MARK_END_TEXT, MARK_ERR_TEXT, split_streams
from qtqueue.core.question import DEFAULT_QUESTION_TIMEOUT_S, Question
from qtqueue.core.task import INTERMEDIATE, Task, TaskStatus
from qtqueue.engine.credentials import CredentialStore, KeyringCredentials
from qtqueue.engine.logs import redact
from qtqueue.executors.base import Executor, InputSink, S, SuspendHook
from qtqueue.executors.spawn_client import SpawnerClient

logger = logging.getLogger(__name__)

LOG_STREAM_PREFIX = "qtqueue:log:"
#: About this many lines of a task's log are kept (older ones are trimmed).
LOG_STREAM_MAXLEN = 10_000
#: The longest line kept whole in the stream (longer ones are cut, saying so).
MAX_LINE_CHARS = 16_384
#: Progress is saved to job.meta at most this often (seconds).
META_INTERVAL_S = 0.5


def log_stream_key(task_id: str) -> str:
    """The Redis stream that holds a task's log."""
    return LOG_STREAM_PREFIX + task_id


class LogStream:
    """A task's log as a capped Redis stream: whole lines, secrets masked. A line a command
    wrote to stderr is kept between the stderr marks (`core.log_streams`), each line its own:
    the marks come in around each chunk read from stderr, and a line must not begin with the
    end of the one before."""

    def __init__(self, connection: Redis, task_id: str, ttl_s: int) -> None:
        self._redis = connection
        self.key = log_stream_key(task_id)
        self._ttl_s = max(1, ttl_s)
        self._partial = b""
        self._partial_err = False  # whether the partial line has stderr output in it
        self.secrets: list[bytes] = []

    def add_secret(self, secret: bytes) -> None:
        """Mask `secret` in every line written from now on."""
        if secret and secret not in self.secrets:
            self.secrets.append(secret)

    def write(self, chunk: bytes) -> None:
        """Append output; complete lines go to the stream now, a partial one waits."""
        lines: list[tuple[bool, bytes]] = []
        for err, piece in split_streams(chunk, cut=False):
            *whole, rest = piece.split(b"\n")
            for raw in whole:
                lines.append((err or self._partial_err, self._partial + raw))
                self._partial, self._partial_err = b"", False
            self._partial += rest
            self._partial_err = self._partial_err or (err and bool(rest))
        self._add(lines)

    def flush(self) -> None:
        """Write the last partial line (the stream is kept as long as the job's record)."""
        if self._partial:
            self._add([(self._partial_err, self._partial)])
            self._partial, self._partial_err = b"", False

    def _add(self, lines: list[tuple[bool, bytes]]) -> None:
        if not lines:
            return
        with self._redis.pipeline(transaction=False) as pipe:
            for err, raw in lines:
                text = raw.decode("utf-8", "replace").rstrip("\r")
                if len(text) > MAX_LINE_CHARS:
                    text = text[:MAX_LINE_CHARS] + " [qtqueue: line cut]"
                text = redact(text, self.secrets)
                if err:
                    text = MARK_ERR_TEXT + text + MARK_END_TEXT
                pipe.xadd(self.key, {"line": text}, maxlen=LOG_STREAM_MAXLEN, approximate=True)
            pipe.expire(self.key, self._ttl_s)
            pipe.execute()


class MetaReporter:
    """Writes what an attempt reports into `job.meta`, at most every `interval_s` unless
    told to save now."""

    def __init__(
        self,
        job: Job,
        interval_s: float = META_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job = job
        self._interval_s = interval_s
        self._clock = clock
        self._saved_at = clock()  # what is set at start waits for the first save
        self._dirty = False
        self._trailing: asyncio.TimerHandle | None = None

    def update(self, now: bool = False, **fields: Any) -> None:
        """Set `fields` in the job's meta; save if `now` or the interval has passed, else
        once it has (a quiet command's last figure is not left unsaved until its end)."""
        self.job.meta.update(fields)
        self._dirty = True
        wait = self._interval_s - (self._clock() - self._saved_at)
        if now or wait <= 0:
            self.flush()
        elif self._trailing is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop to wait on: the next update or the end saves it
            self._trailing = loop.call_later(wait, self.flush)

    def flush(self) -> None:
        """Save the meta if anything changed since the last save."""
        if self._trailing is not None:
            self._trailing.cancel()
            self._trailing = None
        if self._dirty:
            self.job.save_meta()  # type: ignore[no-untyped-call]
            if self.job.meta.get("status") == "running":  # an end is published as "ended"
                publish(self.job.connection, "progress", self.job.id)
            self._dirty = False
            self._saved_at = self._clock()


class WorkerRunContext:
    """`RunContext` for one attempt of one task on a worker (see the module's notes)."""

    def __init__(
        self,
        task: Task,
        executor: Executor,
        meta: MetaReporter,
        log: LogStream,
        data_dir: Path,
        credentials: CredentialStore | None = None,
    ) -> None:
        self._task = task
        self._executor = executor
        self._meta = meta
        self._log = log
        self._data_dir = data_dir
        self._credentials = credentials
        self._params: Any = None
        self.pid: int | None = None
        self.suspend_hooks: tuple[SuspendHook, SuspendHook] | None = None
        self.resumed = asyncio.Event()  # cleared while paused (control.HorsePause)
        self.resumed.set()
        self.hook_run: asyncio.Future[Any] | None = None  # a suspend hook's, while it runs

    @property
    def task(self) -> Task:
        return self._task

    @property
    def params(self) -> Any:
        if self._params is None:
            self._params = self._executor.parse(self._task.params)
        return self._params

    @property
    def secrets(self) -> list[bytes]:
        """The secrets this attempt has read (masked everywhere)."""
        return self._log.secrets

    def progress(
        self,
        percent: float,
        step: str | None = None,
        *,
        done_bytes: int | None = None,
        total_bytes: int | None = None,
    ) -> None:
        fields: dict[str, Any] = {}
        if percent >= 0:
            fields["progress"] = round(min(100.0, max(0.0, float(percent))), 1)
        if step is not None:
            fields["step"] = redact(step, self._log.secrets)
        if done_bytes is not None and done_bytes >= 0:
            fields["done_bytes"] = done_bytes
        if total_bytes is not None and total_bytes >= 0:
            fields["total_bytes"] = total_bytes
        if fields:
            self._meta.update(**fields)

    def phase(self, status: TaskStatus) -> None:
        if status not in INTERMEDIATE and status != TaskStatus.RUNNING:
            raise ValueError(f"{status} is not a phase a running task can enter")
        self._meta.update(now=True, phase=status.value)

    def log(self, line: str) -> None:
        self.log_bytes((line if line.endswith("\n") else line + "\n").encode("utf-8", "replace"))

    def log_bytes(self, chunk: bytes) -> None:
        self._log.write(chunk)

    async def credential(self, name: str) -> str:
        if self._credentials is None:
            self._credentials = KeyringCredentials()
        value = await self._credentials.get(name)
        self.add_secret(value)
        return value

    def add_secret(self, secret: str) -> None:
        if secret:
            self._log.add_secret(secret.encode())

    async def checkpoint(self) -> None:
        await self.resumed.wait()

    def set_suspend_hooks(self, pause: SuspendHook, resume: SuspendHook) -> None:
        self.suspend_hooks = (pause, resume)
        if not self.resumed.is_set():  # paused before its work started (control.HorsePause)
            out = pause()
            if inspect.isawaitable(out):
                self.hook_run = asyncio.ensure_future(out)

    def alert(self, text: str) -> None:
        self.log(f"[qtqueue] notice: {text}")
        self._meta.update(now=True, notice=redact(text, self._log.secrets))

    def attach_pid(self, pid: int) -> None:
        self.pid = pid
        self._meta.update(now=True, pid=pid)  # a stopped or killed horse's command is found by it

    def set_input_sink(self, sink: InputSink | None) -> None:
        return None  # input to a running command on a worker comes later

    async def ask(
        self,
        message: str,
        *,
        request_type: str = "question",
        context: Mapping[str, Any] | None = None,
        timeout_s: float = DEFAULT_QUESTION_TIMEOUT_S,
        conversation_id: str | None = None,
        parent_id: str | None = None,
    ) -> Question:
        """Ask a person through the cluster's Redis and wait for the answer
        (`cluster.questions`): the waiting runs in a thread, a cancelled attempt ends its
        question CANCELLED."""
        conn = self._meta.job.connection
        question = await asyncio.to_thread(
            questions.open_question,
            conn,
            self._task.id,
            message,
            request_type=request_type,
            context=context,
            timeout_s=timeout_s,
            conversation_id=conversation_id,
            parent_id=parent_id,
            secrets=lambda value: redact(value, self._log.secrets),
        )
        before = str(self._meta.job.meta.get("step") or "")
        self.log(f"[qtqueue] question: asked ({question.request_type}, {question.id}): "
                 f"{question.message}")  # fmt: skip
        self._meta.update(now=True, step=questions.step_of(question.message), question=question.id)
        stop = threading.Event()
        ended: Question | None = None
        try:
            going = lambda: not stop.is_set()  # noqa: E731
            ended = await asyncio.to_thread(questions.wait, conn, question, going)
            return ended
        except asyncio.CancelledError:
            stop.set()
            await asyncio.to_thread(questions.cancel, conn, question)
            raise
        finally:
            stop.set()
            last: Question = (
                ended
                if ended is not None
                else await asyncio.to_thread(questions.get, conn, question.id)
            )
            self.log(questions.outcome_line(last))
            self._meta.update(now=True, step=before, question=None)

    @property
    def data_dir(self) -> str:
        return str(self._data_dir)

    @property
    def log_path(self) -> str:
        return str(self._data_dir / "logs" / f"{self._task.id}.log")

    @property
    def spawner(self) -> SpawnerClient | None:
        return None

    @property
    def settings(self) -> Mapping[str, Any]:
        return MappingProxyType({})

    def family_settings(self, model: type[S]) -> S:
        return model.model_validate({})
