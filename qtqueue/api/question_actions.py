"""The local API's question actions: what running tasks ask people, and the answers
(`TaskQueue.questions`).

- `questions` {open_only?, task_id?} -> {"questions": [...]}: the open ones by default.
- `answer_question` {question_id, message, response_type?, instructions?, generated_by?,
  responder_id?} -> {"question": {...}} as answered.
- `ask` {task_id, message, request_type?, context?, timeout_s?, conversation_id?, parent_id?}
  -> {"question": {...}} once answered: the request waits that long (what `qtqueue ask` in a
  task's command sends); unanswered in time, the error QUEUE_QUESTION_TIMEOUT.

A question is carried as `Question.to_dict()` makes it. Wherever a `question_id` is taken, a
unique prefix of at least 4 characters is accepted too, as for task ids.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any

from pydantic import Field, SkipValidation

from qtqueue.api.messages import Message
from qtqueue.api.params import Params, parse_params
from qtqueue.api.task_ids import TaskRef, resolve_task_id
from qtqueue.core.question import DEFAULT_QUESTION_TIMEOUT_S, Question
from qtqueue.engine.queue import TaskQueue

logger = logging.getLogger(__name__)

__all__ = ["QUESTION_ACTIONS", "QuestionList", "QuestionMessage"]

#: A question as `Question.to_dict()` makes it.
QuestionDict = SkipValidation[dict[str, Any]]


class QuestionMessage(Message):
    """One question, as it is after the action."""

    question: QuestionDict


class QuestionList(Message):
    """Questions, oldest first."""

    questions: list[QuestionDict]


class QuestionsParams(Params):
    """`questions`: which ones to list."""

    open_only: bool = Field(True, description="Only those still waiting for an answer")
    task_id: str | None = Field(None, min_length=1, description="Only this task's (or a prefix)")


class AnswerParams(Params):
    """`answer_question`: the answer to one open question."""

    question_id: str = Field(..., min_length=1, description="A question id or a unique prefix")
    message: str = Field(..., description="The answer")
    response_type: str = Field("answer", description="answer, instruction, approval, rejection")
    instructions: list[str] = Field(default_factory=list, description="Steps to follow")
    generated_by: str = Field("human", description="human or automated")
    responder_id: str | None = Field(None, description="Who answers")


class AskParams(TaskRef):
    """`ask`: a question of a running task, answered before the reply comes."""

    message: str = Field(..., description="What the task asks")
    request_type: str = Field("question", description="clarification, approval or question")
    context: dict[str, Any] = Field(default_factory=dict, description="What helps to answer")
    timeout_s: float = Field(DEFAULT_QUESTION_TIMEOUT_S, description="Seconds to wait at most")
    conversation_id: str | None = Field(None, description="The conversation it belongs to")
    parent_id: str | None = Field(None, description="The question it follows up")


def _one(question: Question) -> dict[str, Any]:
    return QuestionMessage(question=question.to_dict()).dump()


async def questions(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """The questions, oldest first: `{"questions": [...]}`."""
    p = parse_params(QuestionsParams, "questions", params)
    task_id = await resolve_task_id(queue, p.task_id) if p.task_id is not None else None
    found = await queue.questions.list(open_only=p.open_only, task_id=task_id)
    return QuestionList(questions=[q.to_dict() for q in found]).dump()


async def answer_question(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Answer an open question: `{"question": ...}` as answered."""
    p = parse_params(AnswerParams, "answer_question", params)
    answered = await queue.questions.answer(
        p.question_id,
        p.message,
        response_type=p.response_type,
        instructions=p.instructions,
        generated_by=p.generated_by,
        responder_id=p.responder_id,
    )
    return _one(answered)


async def ask(queue: TaskQueue, params: dict[str, Any]) -> dict[str, Any]:
    """Ask for a running task and wait for the answer: `{"question": ...}` as answered."""
    p = parse_params(AskParams, "ask", params)
    task_id = await resolve_task_id(queue, p.task_id)
    parent_id = await queue.questions.resolve_id(p.parent_id) if p.parent_id else None
    answered = await queue.questions.ask(
        task_id,
        p.message,
        request_type=p.request_type,
        context=p.context,
        timeout_s=p.timeout_s,
        conversation_id=p.conversation_id,
        parent_id=parent_id,
    )
    return _one(answered)


QuestionAction = Callable[[TaskQueue, dict[str, Any]], Awaitable[dict[str, Any]]]

#: The question actions by name. Read-only.
QUESTION_ACTIONS: Mapping[str, QuestionAction] = MappingProxyType(
    {"questions": questions, "answer_question": answer_question, "ask": ask}
)
