"""Questions a task on a cluster worker asks a person, and their answers, kept in Redis.

The local engine's question desk (`engine.questions`) for a cluster: a running task asks
(`WorkerRunContext.ask`, or `qtqueue ask` from its command, which reaches Redis through the
worker's environment: $QTQUEUE_REDIS_URL, the password from that machine's keyring), waits, and
goes on with the answer any client gives (`qtqueue --redis URL answer ID TEXT`). The same
`Question` records, JSON shapes and error codes as locally.

- `question_key(ID)`: the question's JSON (`Question.to_dict`), kept `KEEP_S` past its end;
  `INDEX_KEY`: a sorted set of the ids by when asked (listing never scans keys).
- Waiting: the asker blocks on the list `wake_key(ID)` (BLPOP, at most `WAIT_SLICE_S` at a
  time, so a cancelled attempt or a task that ended stops waiting soon; no poll in between);
  the answer is written and pushed there in one transaction, after checking the question is
  still open (WATCH), so two answers never both win and an answer never lands on a question
  that timed out.
- Unanswered by its time, the question ends TIMED_OUT and the asker gets
  QUEUE_QUESTION_TIMEOUT; a question whose task ends first (cancelled, its worker died) ends
  CANCELLED, by the asker when it can or by the next reader that sees it (`questions`).
- While it waits, the task's step says so ("Waiting for an answer: …", as locally) and its
  job's `meta["question"]` holds the question's id; the question, its answer and who gave it
  go to the task's log (`Reporter`, given by the caller).
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from redis import Redis
from redis.exceptions import WatchError
from rq.job import Job, JobStatus

from qtqueue.cluster.jobs import SERIALIZER
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.question import (
    DEFAULT_QUESTION_TIMEOUT_S,
    GENERATED_BY,
    Question,
    QuestionStatus,
    RequestType,
    ResponseType,
)
from qtqueue.engine import questions as local

logger = logging.getLogger(__name__)

QUESTION_PREFIX = "qtqueue:question:"
WAKE_PREFIX = "qtqueue:question-wake:"
INDEX_KEY = "qtqueue:questions"
#: How long a question is kept after it ended (a week, as failed jobs).
KEEP_S = 7 * 24 * 3600
#: The longest single BLPOP of an asker (seconds): it then checks its task still runs.
WAIT_SLICE_S = 5.0
#: The shortest prefix of a question id taken for it (as locally).
MIN_PREFIX_LEN = 4


def question_key(question_id: str) -> str:
    """The key of a question's JSON."""
    return QUESTION_PREFIX + question_id


def wake_key(question_id: str) -> str:
    """The list the asker of a question blocks on."""
    return WAKE_PREFIX + question_id


class Reporter(Protocol):
    """Where an asking task shows its question: its step and its log."""

    def step(self, text: str | None, question_id: str | None = None) -> None:
        """Show `text` as the task's current step and `question_id` as the question it waits
        for (`meta["question"]`); None: what it showed before, and no question."""

    def log(self, line: str) -> None:
        """Write a line to the task's log."""


def step_of(message: str) -> str:
    """The step a task shows while its question is open (as locally)."""
    return local.waiting_step(message)


def not_found(question_id: str) -> QueueError:
    """QUEUE_QUESTION_NOT_FOUND, as locally."""
    return local.QuestionDesk.not_found(question_id)


def _load(conn: Redis, question_id: str) -> Question | None:
    raw: Any = conn.get(question_key(question_id))
    return Question.from_dict(json.loads(raw)) if raw else None


def _job_running(conn: Redis, task_id: str) -> bool:
    job = Job.fetch_many([task_id], connection=conn, serializer=SERIALIZER)[0]
    return job is not None and job.get_status(refresh=False) == JobStatus.STARTED


def running_job(conn: Redis, task_id: str) -> Job:
    """The job of the running task `task_id`; QUEUE_TASK_NOT_FOUND, or QUEUE_INVALID_STATE
    when it does not run (only a running task can ask, as locally)."""
    job = Job.fetch_many([task_id], connection=conn, serializer=SERIALIZER)[0]
    if job is None:
        raise QueueError(
            TaskErrorCode.QUEUE_TASK_NOT_FOUND,
            f"the cluster has no task {task_id}",
            task_id=task_id,
        )
    status = job.get_status(refresh=False)
    if status != JobStatus.STARTED:
        state = status.value if status is not None else "unknown"
        raise QueueError(
            TaskErrorCode.QUEUE_INVALID_STATE,
            f"task {task_id} cannot ask: only a running task can (it is {state})",
            task_id=task_id,
            status=state,
            action="ask",
        )
    return job


# ----------------------------------------------------------------------------- reading


def resolve_id(conn: Redis, question_id: str) -> str:
    """The full id `question_id` names (itself, or a unique prefix of 4+ characters);
    QUEUE_QUESTION_NOT_FOUND, VALIDATION_INVALID_FORMAT for a prefix several match."""
    if conn.exists(question_key(question_id)):
        return str(question_id)
    if len(question_id) >= MIN_PREFIX_LEN:
        ids = [i.decode() for i in conn.zrange(INDEX_KEY, 0, -1)]  # type: ignore[union-attr]
        matches = [i for i in ids if i.startswith(question_id)]
        if len(matches) == 1:
            return str(matches[0])
        if matches:
            raise QueueError(
                TaskErrorCode.VALIDATION_INVALID_FORMAT,
                f"question id prefix {question_id!r} matches {len(matches)} questions "
                f"({', '.join(matches[:5])}); give more of it",
                question_id=question_id,
                matches=matches[:6],
            )
    raise not_found(question_id)


def get(conn: Redis, question_id: str) -> Question:
    """One question (an id or a unique prefix), closed first if its time or its task is over
    (`settle`)."""
    question = _load(conn, resolve_id(conn, question_id))
    if question is None:
        raise not_found(question_id)
    return settle(conn, question)


def settle(conn: Redis, question: Question, now: float | None = None) -> Question:
    """An open question whose time is up ends TIMED_OUT, one whose task no longer runs
    CANCELLED (its asker died with its task); any other is returned as it is."""
    if not question.is_open:
        return question
    now = time.time() if now is None else now
    if now >= question.expires_at:
        return _end_quietly(conn, question, QuestionStatus.TIMED_OUT)
    if not _job_running(conn, question.task_id):
        return _end_quietly(conn, question, QuestionStatus.CANCELLED)
    return question


def _end_quietly(conn: Redis, question: Question, status: QuestionStatus) -> Question:
    try:
        return end(conn, question.id, lambda q: _closed(q, status))
    except QueueError:  # ended meanwhile
        return _load(conn, question.id) or question


def questions(conn: Redis, *, open_only: bool = True, task_id: str | None = None) -> list[Question]:
    """The questions, oldest first: the open ones (default) or all, of one task or every one."""
    ids = [i.decode() for i in conn.zrange(INDEX_KEY, 0, -1)]  # type: ignore[union-attr]
    if not ids:
        return []
    raws: list[Any] = conn.mget([question_key(i) for i in ids])  # type: ignore[assignment]
    gone = [i for i, raw in zip(ids, raws, strict=True) if raw is None]
    if gone:
        conn.zrem(INDEX_KEY, *gone)
    out = []
    now = time.time()
    for raw in raws:
        if raw is None:
            continue
        question = Question.from_dict(json.loads(raw))
        if task_id is not None and question.task_id != task_id:
            continue
        question = settle(conn, question, now)
        if open_only and not question.is_open:
            continue
        out.append(question)
    return out


# ----------------------------------------------------------------------------- ending


def _closed(question: Question, status: QuestionStatus) -> Question:
    return replace(question, status=status.value, answered_at=time.time())


def end(conn: Redis, question_id: str, ending: Callable[[Question], Question]) -> Question:
    """End the open question `question_id` as `ending` makes it, and wake its asker: one
    transaction, done only while the question is still open. QUEUE_QUESTION_NOT_FOUND;
    QUEUE_INVALID_STATE when it is already answered, timed out or cancelled."""
    key = question_key(question_id)
    with conn.pipeline() as pipe:
        while True:
            try:
                pipe.watch(key)  # type: ignore[no-untyped-call]
                raw: Any = pipe.get(key)
                if raw is None:
                    raise not_found(question_id)
                question = Question.from_dict(json.loads(raw))
                if not question.is_open:
                    raise QueueError(
                        TaskErrorCode.QUEUE_INVALID_STATE,
                        f"question {question_id} cannot be answered: it is {question.status}",
                        question_id=question_id,
                        status=question.status,
                        action="answer",
                    )
                ended = ending(question)
                data = json.dumps(ended.to_dict())
                pipe.multi()
                pipe.set(key, data, ex=KEEP_S)
                pipe.rpush(wake_key(question_id), data)
                pipe.expire(wake_key(question_id), math.ceil(WAIT_SLICE_S) * 4 + 60)
                pipe.execute()
                return ended
            except WatchError:
                continue


def answer(
    conn: Redis,
    question_id: str,
    message: str,
    *,
    response_type: str = ResponseType.ANSWER.value,
    instructions: Iterable[str] = (),
    generated_by: str = "human",
    responder_id: str | None = None,
) -> Question:
    """Answer an open question (an id or a unique prefix): its task goes on with it. The
    question as answered. QUEUE_QUESTION_NOT_FOUND; QUEUE_INVALID_STATE for one already
    answered, timed out or cancelled (as locally)."""
    local.required_text(message, "message")
    response_type = local.one_of(response_type, ResponseType, "response_type")
    generated_by = local.one_of(generated_by, GENERATED_BY, "generated_by")
    steps = [local.storable_text(str(s), "instructions") for s in instructions]
    full_id = resolve_id(conn, question_id)
    get(conn, full_id)  # one whose time or task is over ends first: not answerable

    def answered(q: Question) -> Question:
        return replace(
            q,
            status=QuestionStatus.ANSWERED.value,
            response_type=response_type,
            answer=message,
            instructions=steps,
            generated_by=generated_by,
            responder_id=responder_id,
            answered_at=time.time(),
        )

    return end(conn, full_id, answered)


# ----------------------------------------------------------------------------- asking


def open_question(
    conn: Redis,
    task_id: str,
    message: str,
    *,
    request_type: str = RequestType.QUESTION.value,
    context: Mapping[str, Any] | None = None,
    timeout_s: float = DEFAULT_QUESTION_TIMEOUT_S,
    conversation_id: str | None = None,
    parent_id: str | None = None,
    secrets: Callable[[Any], Any] = lambda value: value,
) -> Question:
    """Store a new open question of the running task `task_id` (checked as locally:
    VALIDATION_*, QUEUE_TASK_NOT_FOUND, QUEUE_INVALID_STATE); `secrets` masks what the task
    read from the keyring."""
    request_type, ctx = local.checked_question(message, request_type, timeout_s, context)
    running_job(conn, task_id)
    if parent_id is not None:
        parent = get(conn, parent_id)
        parent_id = parent.id
        conversation_id = conversation_id or parent.conversation_id
    now = time.time()
    question_id = str(uuid.uuid4())
    question = Question(
        id=question_id,
        task_id=task_id,
        request_type=request_type,
        message=secrets(message),
        context=secrets(ctx),
        created_at=now,
        expires_at=now + float(timeout_s),
        conversation_id=conversation_id or question_id,
        parent_id=parent_id,
    )
    with conn.pipeline() as pipe:
        pipe.set(question_key(question_id), json.dumps(question.to_dict()), ex=_ttl(question))
        pipe.zadd(INDEX_KEY, {question_id: now})
        pipe.execute()
    logger.info("task %s asks (%s): %s", task_id, question_id, question.message)
    return question


def _ttl(question: Question) -> int:
    return math.ceil(question.expires_at - question.created_at) + KEEP_S


def wait(
    conn: Redis, question: Question, still_waiting: Callable[[], bool] = lambda: True
) -> Question:
    """Block until the question ends (BLPOP on its wake list, `WAIT_SLICE_S` at a time) and
    return it answered. QUEUE_QUESTION_TIMEOUT when its time is up; QUEUE_INVALID_STATE when
    it ended otherwise (its task no longer runs, or `still_waiting` says the asker stopped)."""
    while True:
        left = question.expires_at - time.time()
        if left > 0:
            got: Any = conn.blpop([wake_key(question.id)], timeout=min(left, WAIT_SLICE_S))
            if got is not None:
                return _outcome(Question.from_dict(json.loads(got[1])))
        current = _load(conn, question.id)
        if current is None:
            raise not_found(question.id)
        if not current.is_open:
            return _outcome(current)
        if left <= 0:
            return _outcome(_end_quietly(conn, current, QuestionStatus.TIMED_OUT))
        if not still_waiting() or not _job_running(conn, question.task_id):
            return _outcome(_end_quietly(conn, current, QuestionStatus.CANCELLED))


def _outcome(question: Question) -> Question:
    """The answered question, or the error its asker gets (as locally)."""
    if question.status == QuestionStatus.ANSWERED:
        return question
    if question.status == QuestionStatus.TIMED_OUT:
        raise QueueError(
            TaskErrorCode.QUEUE_QUESTION_TIMEOUT,
            f"nobody answered question {question.id} within "
            f"{question.expires_at - question.created_at:g} s: {question.message}",
            question_id=question.id,
            task_id=question.task_id,
        )
    raise local.QuestionDesk._ended(question)


def cancel(conn: Redis, question: Question) -> None:
    """End the open question CANCELLED (its asker stopped waiting)."""
    _end_quietly(conn, question, QuestionStatus.CANCELLED)


def outcome_line(question: Question) -> str:
    """The log line of how a question ended (as locally)."""
    return f"[qtqueue] question: {local.QuestionDesk._outcome(question)}"


def ask(conn: Redis, reporter: Reporter, task_id: str, message: str, **options: Any) -> Question:
    """Ask for the running task `task_id` and wait for the answer (see the module's notes):
    the question as answered. What `qtqueue ask` does through the backend; a task's own
    `ctx.ask` runs the same steps on its event loop."""
    question = open_question(conn, task_id, message, **options)
    reporter.log(f"[qtqueue] question: asked ({question.request_type}, {question.id}): "
                 f"{question.message}")  # fmt: skip
    reporter.step(step_of(question.message), question.id)
    ended: Question | None = None
    try:
        ended = wait(conn, question)
        return ended
    except QueueError:
        ended = _load(conn, question.id)
        raise
    finally:
        if ended is None:  # interrupted: nobody waits for it any more
            cancel(conn, question)
            ended = _load(conn, question.id)
        reporter.step(None)
        if ended is not None:
            reporter.log(outcome_line(ended))
