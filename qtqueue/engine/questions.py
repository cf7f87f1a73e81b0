"""Questions a running task asks a person, and their answers (`TaskQueue.questions`).

The RQ-style design document's `worker_requests` / `controller_responses` channel, inside one
engine: a running task asks (`RunContext.ask`, or `qtqueue ask` from a command, through the
`ask` API action) and waits, keeping its slot and its RUNNING status, its current step saying
what it waits for; a person (or an automated rule) answers through the window, the CLI or the
API, and the task goes on with the answer. A question nobody answers in time ends TIMED_OUT and
the asker gets QueueError(QUEUE_QUESTION_TIMEOUT); one whose task ends first ends CANCELLED.

Every question is a row of the store's `questions` table, written before anything is announced
(a `TaskEvent(EventKind.QUESTION, task_id, detail=question_id)` follows each durable change);
the wait itself is live state of this engine only, so at start every question left open by an
engine that stopped is closed CANCELLED: nobody waits for it any more.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.question import (
    DEFAULT_QUESTION_TIMEOUT_S,
    GENERATED_BY,
    Question,
    QuestionStatus,
    RequestType,
    ResponseType,
)
from qtqueue.engine.context import RunHandle
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.logs import redact
from qtqueue.engine.runner import Runner
from qtqueue.engine.schedule_rules import MIN_PREFIX_LEN
from qtqueue.engine.state import EngineState, not_found
from qtqueue.engine.timer import TimerHandle

logger = logging.getLogger(__name__)

__all__ = ["WAITING_STEP", "QuestionDesk"]

#: The current step of a task while its question is open ("Waiting for an answer: Which?").
WAITING_STEP = "Waiting for an answer: {message}"
_STEP_CHARS = 120  # of the question shown in the step (the table's column)


@dataclass(eq=False)
class _Waiting:
    """An open question and who waits for it (live state, never persisted)."""

    question: Question
    answered: asyncio.Future[Question]
    timer: TimerHandle
    handle: RunHandle
    #: The task's step before it asked, given back once the question ends.
    step_before: str
    step_shown: str


def invalid_field(message: str, **details: Any) -> QueueError:
    """VALIDATION_INVALID_PARAMS with `message` (a question's field refused)."""
    return QueueError(TaskErrorCode.VALIDATION_INVALID_PARAMS, message, **details)


def one_of(value: str, allowed: Iterable[str], field: str) -> str:
    """`value` as a plain string, if it is one of `allowed`."""
    names = [str(a) for a in allowed]
    if value not in names:
        message = f"{field}: must be one of {', '.join(names)}, not {value!r}"
        raise invalid_field(message, field=field)
    return str(value)


def required_text(value: object, field: str) -> str:
    """`value`, a text that is not empty and can be stored (UTF-8)."""
    if not isinstance(value, str) or not value.strip():
        raise QueueError(
            TaskErrorCode.VALIDATION_MISSING_REQUIRED, f"{field}: must not be empty", field=field
        )
    return storable_text(value, field)


def storable_text(value: str, field: str) -> str:
    """`value`, if it can be stored (UTF-8: no lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise QueueError(
            TaskErrorCode.VALIDATION_INVALID_FORMAT,
            f"{field}: not valid text (a lone surrogate)",
            field=field,
        ) from None
    return value


def checked_question(
    message: object, request_type: str, timeout_s: object, context: Mapping[str, Any] | None
) -> tuple[str, dict[str, Any]]:
    """A new question's fields checked as every engine checks them (VALIDATION_*): its
    request type as a plain string and its context as a dict of JSON data."""
    required_text(message, "message")
    request_type = one_of(request_type, RequestType, "request_type")
    if (
        isinstance(timeout_s, bool)
        or not isinstance(timeout_s, int | float)
        or not math.isfinite(timeout_s)
        or timeout_s <= 0
    ):
        raise invalid_field(f"timeout_s: must be a positive number of seconds, not {timeout_s!r}")
    checked = dict(context or {})
    try:
        json.dumps(checked)
    except (TypeError, ValueError) as exc:
        raise invalid_field(f"context: must be JSON data ({exc})", field="context") from None
    return request_type, checked


def waiting_step(message: str) -> str:
    """The task's step while its question `message` is open (its first line, shortened)."""
    first = message.strip().splitlines()[0]
    if len(first) > _STEP_CHARS:
        first = first[: _STEP_CHARS - 1] + "…"
    return WAITING_STEP.format(message=first)


class QuestionDesk:
    """Where running tasks ask and people answer; one per engine (`TaskQueue.questions`)."""

    def __init__(self, state: EngineState, runner: Runner) -> None:
        self.state = state
        self.runner = runner
        self._open: dict[str, _Waiting] = {}
        runner.questions = self  # where RunContext.ask goes, and who hears attempts end

    # ------------------------------------------------------------------ start

    async def start(self) -> None:
        """Close, as CANCELLED, every question an engine that stopped left open."""
        closed = await self.state.store.close_open_questions(
            QuestionStatus.CANCELLED.value, self.state.clock()
        )
        if closed:
            logger.info("%d question(s) left open by the last engine were cancelled", len(closed))
            self._announce(Question.from_dict(r) for r in closed)

    # ------------------------------------------------------------------ reading

    def open_count(self) -> int:
        """How many questions wait for an answer now."""
        return len(self._open)

    async def list(self, *, open_only: bool = True, task_id: str | None = None) -> list[Question]:
        """Questions, oldest first: the open ones (default) or all, of one task or every one."""
        records = await self.state.store.list_questions(open_only=open_only, task_id=task_id)
        return [Question.from_dict(r) for r in records]

    async def get(self, question_id: str) -> Question:
        """One question; QUEUE_QUESTION_NOT_FOUND if there is none with that id."""
        waiting = self._open.get(question_id)
        if waiting is not None:
            return replace(waiting.question)
        record = await self.state.store.get_question(question_id)
        if record is None:
            raise self.not_found(question_id)
        return Question.from_dict(record)

    async def resolve_id(self, question_id: str) -> str:
        """The full id that `question_id` names: the id itself or a unique prefix of at least
        MIN_PREFIX_LEN characters. QUEUE_QUESTION_NOT_FOUND if none matches,
        VALIDATION_INVALID_FORMAT if several do."""
        if question_id in self._open or await self.state.store.get_question(question_id):
            return question_id
        if len(question_id) >= MIN_PREFIX_LEN:
            matches = await self.state.store.question_ids_with_prefix(question_id, 6)
            if len(matches) == 1:
                return matches[0]
            if matches:
                raise QueueError(
                    TaskErrorCode.VALIDATION_INVALID_FORMAT,
                    f"question id prefix {question_id!r} matches {len(matches)} or more "
                    f"questions ({', '.join(matches[:5])}); give more of it",
                    question_id=question_id,
                    matches=matches,
                )
        raise self.not_found(question_id)

    @staticmethod
    def not_found(question_id: str) -> QueueError:
        """QUEUE_QUESTION_NOT_FOUND for `question_id`."""
        return QueueError(
            TaskErrorCode.QUEUE_QUESTION_NOT_FOUND,
            f"no question with id {question_id!r}",
            question_id=question_id,
        )

    # ------------------------------------------------------------------ asking

    async def ask(
        self,
        task_id: str,
        message: str,
        *,
        request_type: str = RequestType.QUESTION.value,
        context: Mapping[str, Any] | None = None,
        timeout_s: float = DEFAULT_QUESTION_TIMEOUT_S,
        conversation_id: str | None = None,
        parent_id: str | None = None,
    ) -> Question:
        """Ask for the running task `task_id` and wait for the answer: the answered Question.

        The task must be running (QUEUE_INVALID_STATE otherwise; QUEUE_TASK_NOT_FOUND for an
        unknown id). Unanswered after `timeout_s`, the question ends TIMED_OUT and this raises
        QueueError(QUEUE_QUESTION_TIMEOUT); if the task ends first (cancelled, timed out, the
        engine stops), it ends CANCELLED and this raises QUEUE_INVALID_STATE. A follow-up names
        the question it follows (`parent_id`) and joins its conversation.
        """
        self.state.require_open()
        request_type, context = checked_question(message, request_type, timeout_s, context)
        for name, value in (("conversation_id", conversation_id), ("parent_id", parent_id)):
            if value is not None:
                storable_text(value, name)
        handle = await self._running(task_id)
        if parent_id is not None:
            parent = await self.get(parent_id)
            conversation_id = conversation_id or parent.conversation_id
        secrets = handle.log.secrets
        now = self.state.clock()
        question_id = str(uuid.uuid4())
        question = Question(
            id=question_id,
            task_id=task_id,
            request_type=request_type,
            message=redact(message, secrets),
            context=redact(context, secrets),
            created_at=now,
            expires_at=now + float(timeout_s),
            conversation_id=conversation_id or question_id,
            parent_id=parent_id,
        )
        await self.state.store.save_question(question.to_dict())
        if self.state.active.get(task_id) is not handle:  # it ended while the row was written
            question.status = QuestionStatus.CANCELLED.value
            question.answered_at = self.state.clock()
            await self.state.store.save_question(question.to_dict())
            self._announce([question])
            raise self._ended(question)
        waiting = self._wait_for(question, handle, float(timeout_s))
        try:
            return await asyncio.shield(waiting.answered)
        except asyncio.CancelledError:
            # The asker stopped waiting (its task is being stopped): the question ends too.
            waiting.answered.cancel()  # nobody will read how it ended
            if self._open.get(question_id) is waiting:
                # Durable before the attempt ends (a closing engine waits for that).
                with contextlib.suppress(Exception):
                    await self._end(waiting, QuestionStatus.CANCELLED)
            raise

    async def _running(self, task_id: str) -> RunHandle:
        handle = self.state.active.get(task_id)
        if handle is not None:
            return handle
        task = self.state.live.get(task_id) or await self.state.store.get_task(task_id)
        if task is None:
            raise not_found(task_id)
        if not self.state.dispatching:
            raise QueueError(
                TaskErrorCode.QUEUE_ENGINE_UNAVAILABLE,
                f"no engine runs the tasks of {self.state.data_dir}: a question is asked of "
                "the engine that runs its task",
                task_id=task_id,
                data_dir=str(self.state.data_dir),
            )
        raise QueueError(
            TaskErrorCode.QUEUE_INVALID_STATE,
            f"task {task_id} cannot ask: only a running task can (it is {task.status.value})",
            task_id=task_id,
            status=task.status.value,
            action="ask",
        )

    def _wait_for(self, question: Question, handle: RunHandle, timeout_s: float) -> _Waiting:
        """Register the open question: its timer, its step, its log line, its event."""
        task = handle.task
        asking = self._asked_by(task.id)  # its other open questions, oldest first
        waiting = _Waiting(
            question=question,
            answered=self.state.the_loop().create_future(),
            timer=self.state.the_timer().call_later(timeout_s, self._expire, question.id),
            handle=handle,
            step_before=asking[0].step_before if asking else task.current_step,
            step_shown=waiting_step(question.message),
        )
        self._open[question.id] = waiting
        self._log(handle, f"asked ({question.request_type}, {question.id}): {question.message}")
        self.runner.report_progress(task, -1, waiting.step_shown)
        self._announce([question])
        return waiting

    # ------------------------------------------------------------------ answering

    async def answer(
        self,
        question_id: str,
        message: str,
        *,
        response_type: str = ResponseType.ANSWER.value,
        instructions: Iterable[str] = (),
        generated_by: str = "human",
        responder_id: str | None = None,
    ) -> Question:
        """Answer an open question (its id, or a unique prefix of it): the task that asked goes
        on with the answer. Returns the question as answered (durable).
        QUEUE_QUESTION_NOT_FOUND for an unknown id;
        QUEUE_INVALID_STATE for a question already answered, timed out or cancelled."""
        self.state.require_open()
        required_text(message, "message")
        response_type = one_of(response_type, ResponseType, "response_type")
        generated_by = one_of(generated_by, GENERATED_BY, "generated_by")
        steps = [storable_text(str(s), "instructions") for s in instructions]
        if responder_id is not None:
            storable_text(responder_id, "responder_id")
        waiting = self._open.get(question_id)
        if waiting is None:
            question_id = await self.resolve_id(question_id)
            waiting = self._open.get(question_id)
        if waiting is None:
            known = await self.get(question_id)
            raise QueueError(
                TaskErrorCode.QUEUE_INVALID_STATE,
                f"question {question_id} cannot be answered: it is {known.status}",
                question_id=question_id,
                status=known.status,
                action="answer",
            )
        answered = replace(
            waiting.question,
            status=QuestionStatus.ANSWERED.value,
            response_type=response_type,
            answer=message,
            instructions=steps,
            generated_by=generated_by,
            responder_id=responder_id,
            answered_at=self.state.clock(),
        )
        done: asyncio.Future[Question] = self.state.the_loop().create_future()
        self._end(waiting, QuestionStatus.ANSWERED, answered, done)
        return await done

    # ------------------------------------------------------------------ ending

    def _asked_by(self, task_id: str) -> Sequence[_Waiting]:
        """The task's open questions, oldest first."""
        return [w for w in self._open.values() if w.question.task_id == task_id]

    def attempt_ended(self, task_id: str) -> None:
        """The task's attempt is over (finished, cancelled, timed out, stopped by a shutdown):
        its open questions end CANCELLED."""
        for waiting in self._asked_by(task_id):
            self._end(waiting, QuestionStatus.CANCELLED)

    def _expire(self, question_id: str) -> None:
        waiting = self._open.get(question_id)
        if waiting is not None:
            self._end(waiting, QuestionStatus.TIMED_OUT)

    def _end(
        self,
        waiting: _Waiting,
        status: QuestionStatus,
        ended: Question | None = None,
        done: asyncio.Future[Question] | None = None,
    ) -> asyncio.Task[None]:
        """Take the question off the open ones now (so that nothing else ends it), write its
        end, then announce it and let the asker go on; `done` (if given) gets the ended
        question once durable, or the write's error. The writing task."""
        question = waiting.question
        del self._open[question.id]
        waiting.timer.cancel()
        if ended is None:
            ended = replace(question, status=status.value, answered_at=self.state.clock())
        task = waiting.handle.task
        if self.state.active.get(task.id) is waiting.handle:
            if task.current_step == waiting.step_shown:
                # What it still waits for, else what it did before it asked.
                asking = self._asked_by(task.id)
                step = asking[-1].step_shown if asking else waiting.step_before
                self.runner.report_progress(task, -1, step)
            self._log(waiting.handle, self._outcome(ended))
        return self.state.spawn(
            self._record_end(waiting, ended, done), f"question {question.id} ends"
        )

    async def _record_end(
        self, waiting: _Waiting, ended: Question, done: asyncio.Future[Question] | None
    ) -> None:
        """Write the question's end; then announce it and settle both futures, however the
        write went (an engine closing cancels this: the asker still learns the end)."""
        error: BaseException | None = None
        try:
            await self.state.store.save_question(ended.to_dict())
        except BaseException as exc:
            error = exc
            raise
        finally:
            if error is None:
                self._announce([ended])
            self._settle(waiting.answered, ended)
            if done is not None and not done.done():
                if isinstance(error, Exception):
                    done.set_exception(error)
                else:
                    done.set_result(replace(ended))

    def _settle(self, answered: asyncio.Future[Question], ended: Question) -> None:
        if answered.done():
            return
        if ended.status == QuestionStatus.ANSWERED:
            answered.set_result(replace(ended))
        elif ended.status == QuestionStatus.TIMED_OUT:
            answered.set_exception(
                QueueError(
                    TaskErrorCode.QUEUE_QUESTION_TIMEOUT,
                    f"nobody answered question {ended.id} within "
                    f"{ended.expires_at - ended.created_at:g} s: {ended.message}",
                    question_id=ended.id,
                    task_id=ended.task_id,
                )
            )
        else:
            answered.set_exception(self._ended(ended))

    @staticmethod
    def _ended(question: Question) -> QueueError:
        return QueueError(
            TaskErrorCode.QUEUE_INVALID_STATE,
            f"question {question.id} was cancelled: its task's attempt ended",
            question_id=question.id,
            task_id=question.task_id,
            status=QuestionStatus.CANCELLED.value,
        )

    @staticmethod
    def _outcome(question: Question) -> str:
        if question.status != QuestionStatus.ANSWERED:
            return f"question {question.id} {question.status.replace('_', ' ')}"
        who = question.generated_by or "human"
        if question.responder_id:
            who += f" {question.responder_id}"
        steps = "".join(f"\n  - {s}" for s in question.instructions)
        return f"answered by {who} ({question.response_type}): {question.answer}{steps}"

    @staticmethod
    def _log(handle: RunHandle, text: str) -> None:
        handle.log.write(f"[qtqueue] question: {text}\n".encode("utf-8", "replace"))
        handle.log_written.set()

    def _announce(self, questions: Iterable[Question]) -> None:
        self.state.events.publish(
            [TaskEvent(EventKind.QUESTION, q.task_id, detail=q.id) for q in questions]
        )
