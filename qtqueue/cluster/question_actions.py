"""The cluster backend's question and approval actions, in the local API's shapes
(`api.question_actions`, `approve_task`/`reject_task`):

- `questions` {open_only?, task_id?} -> {"questions": [...]}, oldest first;
- `answer_question` {question_id, message, response_type?, instructions?, generated_by?,
  responder_id?} -> {"question": {...}} as answered;
- `ask` {task_id, message, request_type?, context?, timeout_s?, conversation_id?,
  parent_id?} -> {"question": {...}} once answered (what `qtqueue ask` in a task's command on a
  worker sends; it blocks until then).

- `approve_task` {task_id} -> {"task"}: a task awaiting approval (permission human_required,
  held since it was added: `holding.park`) goes to its queue; `reject_task` {task_id, reason?}
  -> {"task"}: it ends cancelled with QUEUE_REJECTED and the reason, and its dependents
  settle (`dependents.py`). Any other task: QUEUE_INVALID_STATE, as locally.

The asker's step and log lines are written to the task's job meta and log stream
(`JobReporter`), as `WorkerRunContext.ask` does from inside the attempt.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from redis import Redis
from rq.exceptions import InvalidJobOperation
from rq.job import Job

from qtqueue.cluster import dependents, holding
from qtqueue.cluster import questions as desk
from qtqueue.cluster.context import LogStream
from qtqueue.cluster.reads import ClusterReader, snapshot
from qtqueue.core.actions import TaskAction, applies
from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.engine.named_queues import DEFAULT_FAILURE_TTL_S
from qtqueue.engine.state import invalid_state

logger = logging.getLogger(__name__)

#: The meta field that keeps a task's step from before it asked.
STEP_BEFORE = "step_before_question"


class JobReporter:
    """`questions.Reporter` for a task asking from another process than its attempt (a
    command's `qtqueue ask`): its job's meta and its log stream."""

    def __init__(self, conn: Redis, task_id: str) -> None:
        self.conn = conn
        self.task_id = task_id

    def step(self, text: str | None, question_id: str | None = None) -> None:
        """Set the job's `meta["step"]` and `["question"]` (None: the step from before the
        question, and no question)."""
        job = ClusterReader(self.conn).job(self.task_id)
        meta = job.get_meta(refresh=True)
        meta["question"] = question_id
        if text is not None:
            meta.setdefault(STEP_BEFORE, meta.get("step") or "")
            meta["step"] = text
        else:
            meta["step"] = meta.pop(STEP_BEFORE, meta.get("step") or "")
        job.save_meta()  # type: ignore[no-untyped-call]

    def log(self, line: str) -> None:
        """Add a line to the task's log stream."""
        log = LogStream(self.conn, self.task_id, round(DEFAULT_FAILURE_TTL_S))
        log.write((line + "\n").encode("utf-8", "replace"))
        log.flush()


def _str(params: Mapping[str, Any], name: str, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS, f"{name}: give a text", field=name
        )
    return value


def _questions(conn: Redis, params: dict[str, Any]) -> dict[str, Any]:
    ref = _str(params, "task_id")
    task_id = ClusterReader(conn).resolve(ref) if ref is not None else None
    found = desk.questions(conn, open_only=params.get("open_only", True) is not False,
                           task_id=task_id)  # fmt: skip
    return {"questions": [q.to_dict() for q in found]}


def _answer(conn: Redis, params: dict[str, Any]) -> dict[str, Any]:
    instructions = params.get("instructions") or []
    if not isinstance(instructions, list):
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            "instructions: give a list of steps",
            field="instructions",
        )
    question = desk.answer(
        conn,
        str(_str(params, "question_id", required=True)),
        params.get("message"),  # type: ignore[arg-type]  # checked there
        response_type=params.get("response_type") or "answer",
        instructions=instructions,
        generated_by=params.get("generated_by") or "human",
        responder_id=_str(params, "responder_id"),
    )
    return {"question": question.to_dict()}


def _ask(conn: Redis, params: dict[str, Any]) -> dict[str, Any]:
    task_id = ClusterReader(conn).resolve(str(_str(params, "task_id", required=True)))
    context = params.get("context") or {}
    if not isinstance(context, dict):
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_PARAMS,
            "context: give a JSON object",
            field="context",
        )
    options: dict[str, Any] = {
        "request_type": params.get("request_type") or "question",
        "context": context,
        "conversation_id": _str(params, "conversation_id"),
        "parent_id": _str(params, "parent_id"),
    }
    if params.get("timeout_s") is not None:
        options["timeout_s"] = params["timeout_s"]
    question = desk.ask(
        conn, JobReporter(conn, task_id), task_id, params.get("message"),  # type: ignore[arg-type]
        **options,
    )  # fmt: skip
    return {"question": question.to_dict()}


def _approvable(conn: Redis, params: dict[str, Any], action: TaskAction) -> Job:
    job = ClusterReader(conn).job(str(_str(params, "task_id", required=True)))
    task = snapshot(job)
    if not applies(action, task) or job.meta.get("held") != holding.APPROVAL:
        raise invalid_state(task, action.value)
    return job


def _note(conn: Redis, task_id: str, line: str) -> None:
    JobReporter(conn, task_id).log(f"[qtqueue] {line}")


def _approve(conn: Redis, params: dict[str, Any]) -> dict[str, Any]:
    job = _approvable(conn, params, TaskAction.APPROVE)
    if holding.release(conn, job.id, holding.APPROVAL, approved_at=time.time()) is None:
        raise invalid_state(snapshot(job), TaskAction.APPROVE.value)  # rejected meanwhile
    _note(conn, job.id, "approved: queued")
    return {"task": snapshot(ClusterReader(conn).job(job.id)).to_dict()}


def _reject(conn: Redis, params: dict[str, Any]) -> dict[str, Any]:
    job = _approvable(conn, params, TaskAction.REJECT)
    reason = str(params.get("reason") or "").strip()
    error = QueueError(
        TaskErrorCode.QUEUE_REJECTED,
        f"rejected: {reason}" if reason else "rejected when asked for approval",
        reason=reason,
    )
    with contextlib.suppress(InvalidJobOperation):  # cancelled meanwhile
        job.cancel()
    conn.hdel(holding.HELD_KEY, job.id)
    job.meta.pop("held", None)
    job.meta.update(
        status="cancelled", message=error.message, error=error.to_dict(), ended_at=time.time()
    )
    job.save_meta()  # type: ignore[no-untyped-call]
    _note(conn, job.id, f"cancelled: {error.message}")
    dependents.after_cancel(conn, job.id)
    return {"task": snapshot(ClusterReader(conn).job(job.id)).to_dict()}


#: The question actions by name: each runs (in a thread) with the backend's connection.
ACTIONS: Mapping[str, Callable[[Redis, dict[str, Any]], dict[str, Any]]] = {
    "questions": _questions,
    "answer_question": _answer,
    "ask": _ask,
    "approve_task": _approve,
    "reject_task": _reject,
}
