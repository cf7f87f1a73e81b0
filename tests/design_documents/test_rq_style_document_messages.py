"""Design document 4 (the RQ-style queue design): its worker ↔ controller messages.

The document's "Worker Request Message" and "Controller Response Message" are, in qtqueue, one
`Question` record: a running task (the worker) asks with `ctx.ask(...)`, or `qtqueue ask` from
a command, and a person or a rule (the controller) answers through `TaskQueue.questions`, the
API or the CLI. Its "Communication Queues" (`worker_requests`, `controller_responses`, each
with a 30-minute TTL) are the open questions and their answers. Each test below takes one of
those sections, fills in what the document shows, and checks what a user of qtqueue sees.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, ClassVar

from helpers.queues import QueueFactory
from helpers.virtual_time import VirtualTimer
from pydantic import Field

from qtqueue.api.actions import run_action
from qtqueue.core.question import Question
from qtqueue.core.task import Task, TaskStatus
from qtqueue.engine.events import EventKind, TaskEvent
from qtqueue.engine.queue import TaskQueue
from qtqueue.executors.base import Executor, Params, RunContext


class WorkerParams(Params):
    request_type: str = "clarification"
    message: str = "Should the new endpoint require authentication?"
    context: dict[str, Any] = Field(default_factory=lambda: {"file": "api/routes.py", "line": 42})
    conversation_id: str | None = None
    follow_up: str = ""


class Worker(Executor[WorkerParams]):
    """A worker that asks its controller, as the document's workers do, and reports what it
    was told (a follow-up in the same conversation if `follow_up`)."""

    task_type: ClassVar[str] = "doc4.worker"

    async def run(self, ctx: RunContext[WorkerParams]) -> dict[str, Any] | None:
        p = ctx.params
        response = await ctx.ask(
            p.message,
            request_type=p.request_type,
            context=p.context,
            conversation_id=p.conversation_id,
        )
        told = {"response": response.to_dict()}
        if p.follow_up:
            again = await ctx.ask(p.follow_up, parent_id=response.id)
            told["follow_up"] = again.to_dict()
        return told


async def controller(queue: TaskQueue, action: str, **params: Any) -> dict[str, Any]:
    """What the controller (a person, a script) sends the engine's API."""
    reply = await run_action(queue, {"action": action, "params": params})
    assert reply["ok"], reply
    return reply["result"]  # type: ignore[no-any-return]


async def next_request(queue: TaskQueue, seen: asyncio.Queue[TaskEvent]) -> dict[str, Any]:
    """The next request in `worker_requests`, as the controller lists it."""
    while True:
        event = await asyncio.wait_for(seen.get(), 10)
        pending = (await controller(queue, "questions"))["questions"]
        found = [q for q in pending if q["id"] == event.detail]
        if found:
            return found[0]


async def worker_queue(make_queue: QueueFactory, **kwargs: Any) -> tuple[TaskQueue, Any]:
    queue = await make_queue(**kwargs)
    queue.register_executor(Worker())
    seen: asyncio.Queue[TaskEvent] = asyncio.Queue()

    def hear(events: list[TaskEvent]) -> None:
        for e in events:
            if e.kind == EventKind.QUESTION:
                seen.put_nowait(e)

    queue.subscribe(hear)
    return queue, seen


def is_uuid(value: str) -> bool:
    return str(uuid.UUID(value)) == value


async def test_rq_queue_design_doc_message_structure_worker_request_message(
    make_queue: QueueFactory,
) -> None:
    queue, seen = await worker_queue(make_queue)
    task_id = await queue.add_task(Task("doc4.worker", {"conversation_id": "conv-7"}))
    request = await next_request(queue, seen)

    # id, task_id: UUIDs; request_type, message, context; created_at, expires_at;
    # conversation_id and parent_message_id (here parent_id) for threads.
    assert is_uuid(request["id"]) and request["task_id"] == task_id and is_uuid(task_id)
    assert request["request_type"] == "clarification"
    assert request["message"] == "Should the new endpoint require authentication?"
    assert request["context"] == {"file": "api/routes.py", "line": 42}
    assert request["expires_at"] - request["created_at"] == 1800.0
    assert (request["conversation_id"], request["parent_id"]) == ("conv-7", None)
    assert (await queue.get_task(task_id)).status is TaskStatus.RUNNING
    await controller(queue, "answer_question", question_id=request["id"], message="Yes")
    await queue.wait_for(task_id, timeout_s=10)


async def test_rq_queue_design_doc_message_structure_controller_response_message(
    make_queue: QueueFactory,
) -> None:
    queue, seen = await worker_queue(make_queue)
    task_id = await queue.add_task(Task("doc4.worker", {"follow_up": "Which scheme?"}))
    request = await next_request(queue, seen)

    # response_type "instruction", message, instructions, generated_by "automated" (a rule)
    answered = (
        await controller(
            queue,
            "answer_question",
            question_id=request["id"],
            message="Yes, behind the existing login",
            response_type="instruction",
            instructions=["reuse require_login", "add a test for 401"],
            generated_by="automated",
        )
    )["question"]
    follow = await next_request(queue, seen)
    assert (follow["parent_id"], follow["conversation_id"]) == (request["id"], request["id"])
    # a person answers the follow-up: generated_by "human" and who (responder_id)
    await queue.questions.answer(
        follow["id"], "Bearer tokens", response_type="answer", responder_id="alice"
    )

    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.status is TaskStatus.COMPLETED and done.result is not None
    response = Question.from_dict(done.result["response"])  # what the worker was told
    assert response.id == request["id"]  # request_id: the original worker request
    assert response.response_type == "instruction"
    assert response.answer == "Yes, behind the existing login"
    assert response.instructions == ["reuse require_login", "add a test for 401"]
    assert (response.generated_by, response.responder_id) == ("automated", None)
    assert response.answered_at is not None and response == Question.from_dict(answered)
    follow_up = done.result["follow_up"]
    assert (follow_up["generated_by"], follow_up["responder_id"]) == ("human", "alice")
    history = (await controller(queue, "questions", open_only=False, task_id=task_id))["questions"]
    assert [q["status"] for q in history] == ["answered", "answered"]


async def test_rq_queue_design_doc_queue_types_communication_queues_worker_requests(
    make_queue: QueueFactory,
) -> None:
    # TTL 30 minutes; flow Worker -> Queue -> Controller.
    timer = VirtualTimer()
    queue, seen = await worker_queue(make_queue, timer=timer, clock=timer.time)
    task_id = await queue.add_task(Task("doc4.worker", max_retries=0))
    request = await next_request(queue, seen)
    assert queue.questions.open_count() == 1

    timer.advance(30 * 60 - 1)
    await queue.settled()
    assert [q["id"] for q in (await controller(queue, "questions"))["questions"]] == [request["id"]]
    timer.advance(1)
    done = await queue.wait_for(task_id, timeout_s=10)
    assert (done.status, done.error_code) == (TaskStatus.FAILED, "QUEUE_QUESTION_TIMEOUT")
    assert (await controller(queue, "questions"))["questions"] == []
    (expired,) = (await controller(queue, "questions", open_only=False))["questions"]
    assert expired["status"] == "timed_out"


async def test_rq_queue_design_doc_queue_types_communication_queues_controller_responses(
    make_queue: QueueFactory,
) -> None:
    # Flow Controller -> Queue -> Worker: the worker goes on with what the controller sent.
    queue, seen = await worker_queue(make_queue)
    task_id = await queue.add_task(Task("doc4.worker", {"request_type": "approval"}))
    request = await next_request(queue, seen)
    await controller(
        queue, "answer_question", question_id=request["id"][:8], message="Go ahead",
        response_type="approval",
    )  # fmt: skip
    done = await queue.wait_for(task_id, timeout_s=10)
    assert done.result is not None
    assert done.result["response"]["response_type"] == "approval"
    assert done.result["response"]["answer"] == "Go ahead"
