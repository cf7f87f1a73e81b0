"""A running task can ask a person (issue 12): `ctx.ask` waits, keeping the task's slot and
status, until the question is answered, times out (virtual time here) or the task ends; every
question is a row of the store, and each change is announced only once it is durable."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path
from typing import Any, ClassVar

import pytest
from helpers.queues import QueueFactory
from helpers.virtual_time import VirtualTimer

from qtqueue.core.errors import QueueError, TaskErrorCode
from qtqueue.core.question import Question, QuestionStatus
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import DB_NAME, TaskQueue
from qtqueue.executors.base import Executor, Params, RunContext
from qtqueue.storage import SqliteTaskStore

S = TaskStatus
C = TaskErrorCode


class AskParams(Params):
    message: str = "Which branch?"
    request_type: str = "question"
    timeout_s: float = 1800.0
    then: str = ""  # a follow-up asked after the first answer


class AskingExecutor(Executor[AskParams]):
    """Asks a person, then returns what it was told (a second question, if `then`)."""

    task_type: ClassVar[str] = "asks"

    async def run(self, ctx: RunContext[AskParams]) -> dict[str, Any] | None:
        p = ctx.params
        ctx.progress(10, "cloning")
        q = await ctx.ask(
            p.message,
            request_type=p.request_type,
            context={"repository": "/srv/repo"},
            timeout_s=p.timeout_s,
        )
        result: dict[str, Any] = {"answer": q.answer, "type": q.response_type, "step": None}
        result["step"] = ctx.task.current_step
        if p.then:
            follow = await ctx.ask(p.then, parent_id=q.id)
            result["follow_up"] = follow.to_dict()
        return result


class QuestionEvents:
    """A subscriber that hands out QUESTION events and checks, while it is called, that the
    store (read by its own connection) already holds what each one announces."""

    def __init__(self, queue: TaskQueue) -> None:
        self.db = queue.data_dir / DB_NAME
        self.inbox: asyncio.Queue[tuple[TaskEvent, str | None]] = asyncio.Queue()
        queue.subscribe(self)

    def __call__(self, events: list[TaskEvent]) -> None:
        for e in events:
            if e.kind == EventKind.QUESTION:
                with contextlib.closing(sqlite3.connect(self.db)) as conn:
                    row = conn.execute(
                        "SELECT status FROM questions WHERE id = ?", (e.detail,)
                    ).fetchone()
                self.inbox.put_nowait((e, row[0] if row else None))

    async def next(self) -> tuple[TaskEvent, str | None]:
        return await asyncio.wait_for(self.inbox.get(), 10)


async def asking_queue(make_queue: QueueFactory, **kwargs: Any) -> TaskQueue:
    queue = await make_queue(**kwargs)
    queue.register_executor(AskingExecutor())
    return queue


async def asked(queue: TaskQueue, events: QuestionEvents) -> Question:
    """The question the next QUESTION event announces (it must be an open one)."""
    event, stored = await events.next()
    assert stored == "open"
    question = await queue.questions.get(event.detail)
    assert question.task_id == event.task_id and question.is_open
    return question


# --- Asking and answering ---------------------------------------------------------------------


async def test_a_task_waits_running_for_the_answer_and_goes_on_with_it(
    make_queue: QueueFactory,
) -> None:
    queue = await asking_queue(make_queue, max_concurrent=1)
    events = QuestionEvents(queue)
    task_id = await queue.add_task(Task("asks", name="deploy"))
    q = await asked(queue, events)

    assert (q.task_id, q.request_type, q.message) == (task_id, "question", "Which branch?")
    assert q.context == {"repository": "/srv/repo"}
    assert q.expires_at == pytest.approx(q.created_at + 1800.0)
    assert q.conversation_id == q.id and q.parent_id is None
    waiting = await queue.get_task(task_id)
    assert waiting.status is S.RUNNING  # it keeps its status and its slot
    assert waiting.current_step == "Waiting for an answer: Which branch?"
    assert queue.attempt_state(task_id) is not None and queue.attempt_state(task_id).holds_slot  # type: ignore[union-attr]
    assert queue.questions.open_count() == 1
    assert [x.id for x in await queue.questions.list()] == [q.id]

    answered = await queue.questions.answer(q.id, "main", responder_id="alice")
    assert (answered.status, answered.answer, answered.response_type) == (
        "answered",
        "main",
        "answer",
    )
    assert (answered.generated_by, answered.responder_id) == ("human", "alice")
    assert answered.answered_at is not None
    event, stored = await events.next()
    assert (event.detail, stored) == (q.id, "answered")

    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.COMPLETED
    assert done.result == {"answer": "main", "type": "answer", "step": "cloning"}
    assert queue.questions.open_count() == 0
    assert await queue.questions.list() == []
    (kept,) = await queue.questions.list(open_only=False, task_id=task_id)
    assert kept == answered
    log = queue.log_path(task_id).read_text()
    assert f"[qtqueue] question: asked (question, {q.id}): Which branch?" in log
    assert "[qtqueue] question: answered by human alice (answer): main" in log


async def test_an_approval_can_be_rejected_and_instructions_reach_the_task(
    make_queue: QueueFactory,
) -> None:
    queue = await asking_queue(make_queue)
    events = QuestionEvents(queue)
    rejected = await queue.add_task(
        Task("asks", {"message": "Push to prod?", "request_type": "approval"})
    )
    q = await asked(queue, events)
    assert q.request_type == "approval"
    await queue.questions.answer(q.id, "not today", response_type="rejection")
    assert (await queue.wait_for(rejected, timeout_s=10)).result == {
        "answer": "not today",
        "type": "rejection",
        "step": "cloning",
    }

    await events.next()  # the answer's
    instructed = await queue.add_task(Task("asks", {"then": "Done?"}))
    q = await asked(queue, events)
    await queue.questions.answer(
        q.id,
        "use the release branch",
        response_type="instruction",
        instructions=["git checkout release", "run the tests"],
        generated_by="automated",
    )
    await events.next()
    follow = await asked(queue, events)
    assert (follow.parent_id, follow.conversation_id) == (q.id, q.conversation_id)
    await queue.questions.answer(follow.id, "yes")
    result = (await queue.wait_for(instructed, timeout_s=10)).result
    assert result is not None and result["follow_up"]["answer"] == "yes"
    (first, second) = await queue.questions.list(open_only=False, task_id=instructed)
    assert first.instructions == ["git checkout release", "run the tests"]
    assert (first.generated_by, first.responder_id) == ("automated", None)
    assert second.id == follow.id


# --- Time limits (virtual time) ---------------------------------------------------------------


async def test_an_unanswered_question_times_out_with_its_code_after_30_minutes(
    make_queue: QueueFactory,
) -> None:
    timer = VirtualTimer()
    queue = await asking_queue(make_queue, timer=timer, clock=timer.time)
    events = QuestionEvents(queue)
    task_id = await queue.add_task(Task("asks", max_retries=0))
    q = await asked(queue, events)

    timer.advance(1799.0)
    await queue.settled()
    assert (await queue.questions.get(q.id)).is_open
    assert (await queue.get_task(task_id)).status is S.RUNNING

    timer.advance(1.0)
    event, stored = await events.next()
    assert (event.detail, stored) == (q.id, "timed_out")
    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.status is S.FAILED
    assert done.error_code == C.QUEUE_QUESTION_TIMEOUT
    ended = await queue.questions.get(q.id)
    assert ended.status == QuestionStatus.TIMED_OUT and ended.answer is None
    with pytest.raises(QueueError) as late:
        await queue.questions.answer(q.id, "too late")
    assert late.value.code == C.QUEUE_INVALID_STATE


async def test_a_shorter_time_limit_is_the_askers_choice(make_queue: QueueFactory) -> None:
    timer = VirtualTimer()
    queue = await asking_queue(make_queue, timer=timer, clock=timer.time)
    events = QuestionEvents(queue)
    task_id = await queue.add_task(Task("asks", {"timeout_s": 60.0}, max_retries=0))
    q = await asked(queue, events)
    assert q.expires_at == q.created_at + 60.0
    timer.advance(60.0)
    assert (await queue.wait_for(task_id, timeout_s=10)).error_code == C.QUEUE_QUESTION_TIMEOUT


# --- The task ends first ----------------------------------------------------------------------


async def test_cancelling_the_task_cancels_its_open_question(make_queue: QueueFactory) -> None:
    queue = await asking_queue(make_queue)
    events = QuestionEvents(queue)
    task_id = await queue.add_task(Task("asks"))
    q = await asked(queue, events)
    await queue.cancel_task(task_id)
    event, stored = await events.next()
    assert (event.detail, stored) == (q.id, "cancelled")
    assert (await queue.questions.get(q.id)).status == QuestionStatus.CANCELLED
    assert queue.questions.open_count() == 0
    with pytest.raises(QueueError) as exc:
        await queue.questions.answer(q.id, "main")
    assert exc.value.code == C.QUEUE_INVALID_STATE


async def test_a_restart_cancels_what_was_asked_and_keeps_what_was_answered(
    make_queue: QueueFactory, data_dir: Path
) -> None:
    queue = await asking_queue(make_queue)
    events = QuestionEvents(queue)
    answered_task = await queue.add_task(Task("asks"))
    first = await asked(queue, events)
    await queue.questions.answer(first.id, "main")
    await queue.wait_for(answered_task, timeout_s=10)
    await events.next()
    waiting_task = await queue.add_task(Task("asks"))
    open_q = await asked(queue, events)
    await queue.close()  # the waiting task is stopped, to run again at the next start

    assert (await reopened_question(data_dir, open_q.id))["status"] == "cancelled"
    again = await asking_queue(make_queue)
    events = QuestionEvents(again)
    rerun = await asked(again, events)  # the task runs again and asks again
    assert rerun.task_id == waiting_task and rerun.id != open_q.id
    history = await again.questions.list(open_only=False)
    assert [(x.id, x.status) for x in history] == [
        (first.id, "answered"),
        (open_q.id, "cancelled"),
        (rerun.id, "open"),
    ]


async def reopened_question(data_dir: Path, question_id: str) -> dict[str, Any]:
    store = SqliteTaskStore(data_dir / DB_NAME)
    await store.open()
    try:
        record = await store.get_question(question_id)
    finally:
        await store.close()
    assert record is not None
    return record


async def test_a_question_left_open_by_a_crashed_engine_is_cancelled_at_the_next_start(
    make_queue: QueueFactory, data_dir: Path
) -> None:
    store = SqliteTaskStore(data_dir / DB_NAME)
    await store.open()
    left = Question(
        id="30000000-0000-4000-8000-000000000001", task_id="t", request_type="question",
        message="Which?", context={}, created_at=1.0, expires_at=1801.0, conversation_id="c",
    )  # fmt: skip
    await store.save_question(left.to_dict())
    await store.close()

    queue = await make_queue()
    ended = await queue.questions.get(left.id)
    assert ended.status == QuestionStatus.CANCELLED and ended.answered_at is not None
    assert queue.questions.open_count() == 0


# --- Bad input --------------------------------------------------------------------------------


async def test_bad_answers_and_questions_get_clear_codes(make_queue: QueueFactory) -> None:
    queue = await asking_queue(make_queue)
    events = QuestionEvents(queue)
    task_id = await queue.add_task(Task("asks"))
    q = await asked(queue, events)

    async def code_of(call: Any) -> str:
        with pytest.raises(QueueError) as exc:
            await call
        return str(exc.value.code)

    assert await code_of(queue.questions.answer("nope", "x")) == C.QUEUE_QUESTION_NOT_FOUND
    assert await code_of(queue.questions.answer(q.id, "  ")) == C.VALIDATION_MISSING_REQUIRED
    assert await code_of(queue.questions.answer(q.id, "x", response_type="maybe")) == (
        C.VALIDATION_INVALID_PARAMS
    )
    assert await code_of(queue.questions.answer(q.id, "x", generated_by="robot")) == (
        C.VALIDATION_INVALID_PARAMS
    )
    assert await code_of(queue.questions.ask(task_id, "")) == C.VALIDATION_MISSING_REQUIRED
    assert await code_of(queue.questions.ask(task_id, "x", request_type="poll")) == (
        C.VALIDATION_INVALID_PARAMS
    )
    assert await code_of(queue.questions.ask(task_id, "x", timeout_s=0)) == (
        C.VALIDATION_INVALID_PARAMS
    )
    assert await code_of(queue.questions.ask("no-such-task", "x")) == C.QUEUE_TASK_NOT_FOUND
    assert queue.questions.open_count() == 1  # none of these asked anything

    await queue.questions.answer(q.id, "main")
    assert await code_of(queue.questions.answer(q.id, "again")) == C.QUEUE_INVALID_STATE
    await queue.wait_for(task_id, timeout_s=10)
    assert await code_of(queue.questions.ask(task_id, "late?")) == C.QUEUE_INVALID_STATE
    (only,) = await queue.questions.list(open_only=False)
    assert only.answer == "main"


async def test_a_question_is_found_by_a_unique_prefix_of_its_id(make_queue: QueueFactory) -> None:
    queue = await asking_queue(make_queue)
    events = QuestionEvents(queue)
    await queue.add_task(Task("asks"))
    q = await asked(queue, events)
    assert await queue.questions.resolve_id(q.id[:8]) == q.id
    with pytest.raises(QueueError) as exc:
        await queue.questions.resolve_id(q.id[:3])
    assert exc.value.code == C.QUEUE_QUESTION_NOT_FOUND


# --- What processes find in their environment -------------------------------------------------


async def test_every_command_finds_its_task_id_and_the_data_dir(queue: TaskQueue) -> None:
    task_id = await queue.add_task(
        Task(
            "custom_command",
            {
                "command": "sh",
                "args": ["-c", 'echo "task=$QTQUEUE_TASK_ID dir=$QTQUEUE_DATA_DIR"'],
                "env": {"QTQUEUE_TASK_ID": "not mine"},
            },
        )
    )
    done = await queue.wait_for(task_id, timeout_s=30)
    assert done.status is S.COMPLETED, done.error
    assert f"task={task_id} dir={queue.data_dir}\n" in queue.log_path(task_id).read_text()


async def test_a_store_opened_without_an_engine_takes_no_questions(
    make_queue: QueueFactory,
) -> None:
    queue = await make_queue(dispatch=False)  # what a command opens when no engine runs
    task_id = await queue.add_task(Task("custom_command", {"command": "true"}))
    with pytest.raises(QueueError) as exc:
        await queue.questions.ask(task_id, "Which?")
    assert exc.value.code == C.QUEUE_ENGINE_UNAVAILABLE
    assert await queue.questions.list(open_only=False) == []


async def test_removing_a_task_removes_its_questions(make_queue: QueueFactory) -> None:
    queue = await asking_queue(make_queue)
    events = QuestionEvents(queue)
    kept, removed = await queue.add_tasks([Task("asks"), Task("asks")])
    for q in [await asked(queue, events), await asked(queue, events)]:
        await queue.questions.answer(q.id, "main")
    await queue.wait_for(kept, timeout_s=10)
    await queue.wait_for(removed, timeout_s=10)
    await queue.remove_task(removed)
    assert [q.task_id for q in await queue.questions.list(open_only=False)] == [kept]


class TwoAtOnce(Executor[Params]):
    """Asks two questions at once (a command running two `qtqueue ask` side by side)."""

    task_type: ClassVar[str] = "asks_two"

    async def run(self, ctx: RunContext[Params]) -> dict[str, Any] | None:
        ctx.progress(5, "checking out")
        first, second = await asyncio.gather(ctx.ask("Which branch?"), ctx.ask("Which tag?"))
        return {"answers": [first.answer, second.answer], "step": ctx.task.current_step}


async def test_the_step_shows_what_the_task_still_waits_for(make_queue: QueueFactory) -> None:
    queue = await make_queue()
    queue.register_executor(TwoAtOnce())
    events = QuestionEvents(queue)
    task_id = await queue.add_task(Task("asks_two"))
    branch, tag = sorted([await asked(queue, events), await asked(queue, events)],
                         key=lambda q: q.message)  # fmt: skip
    assert (await queue.get_task(task_id)).current_step.startswith("Waiting for an answer: Which")

    await queue.questions.answer(branch.id, "main")
    assert (await queue.get_task(task_id)).current_step == "Waiting for an answer: Which tag?"
    await queue.questions.answer(tag.id, "v2")
    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.result == {"answers": ["main", "v2"], "step": "checking out"}


async def test_commands_without_an_env_of_their_own_each_get_their_own_task_id(
    queue: TaskQueue,
) -> None:
    """The spawner sets the engine's variables in its own environment for each command it
    starts: one after another, each command sees its own task, never the one before."""
    ids = []
    for _ in range(3):
        task_id = await queue.add_task(
            Task(
                "custom_command",
                {"command": "sh", "args": ["-c", 'echo "task=$QTQUEUE_TASK_ID"']},
                max_retries=0,
            )
        )
        assert (await queue.wait_for(task_id, timeout_s=30)).status is S.COMPLETED
        ids.append(task_id)
    for task_id in ids:
        assert f"task={task_id}\n" in queue.log_path(task_id).read_text()
